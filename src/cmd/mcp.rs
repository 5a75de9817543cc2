//! `mediagw mcp`: the MCP server over stdio (desktop agents). stdout carries only JSON-RPC; logs
//! and the sign-in prompt go to stderr.

use std::time::Duration;

use anyhow::Context;
use mediagw_query_api::mcp::api::ApiClient;
use mediagw_query_api::mcp::{Agent, MediaGatewayMcp};
use rmcp::ServiceExt;
use secrecy::{ExposeSecret, SecretString};

pub async fn stdio(api: &str, sign_in: bool, client_id: &str) -> anyhow::Result<()> {
    let client = ApiClient::new(api);
    let token: SecretString = match std::env::var("MEDIAGW_TOKEN") {
        Ok(t) if !t.trim().is_empty() => SecretString::from(t.trim().to_string()),
        _ if sign_in => device_sign_in(api, client_id).await?,
        _ => anyhow::bail!("set MEDIAGW_TOKEN to an access token, or pass --sign-in"),
    };
    let agent = Agent::resolve(&client, token.expose_secret())
        .await
        .map_err(|e| anyhow::anyhow!("the token was refused by {api}: {e}"))?;
    tracing::info!(user_id = %agent.user_id, client_id = %agent.client_id, "MCP over stdio");
    let service = MediaGatewayMcp::for_agent(client, agent)
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session on stdio")?;
    service.waiting().await?;
    Ok(())
}

/// RFC 8628 against the API's own OAuth server; the person approves on `/device`.
async fn device_sign_in(api: &str, client_id: &str) -> anyhow::Result<SecretString> {
    let http = reqwest::Client::new();
    let start: serde_json::Value = http
        .post(format!("{api}/oauth/device"))
        .form(&[
            ("client_id", client_id),
            (
                "scope",
                "read:content read:preferences write:preferences write:playback read:devices",
            ),
        ])
        .send()
        .await?
        .json()
        .await?;
    let device_code = start["device_code"]
        .as_str()
        .with_context(|| format!("the device grant was refused: {start}"))?
        .to_string();
    eprintln!(
        "To sign in, open {} and enter the code {}",
        start["verification_uri"].as_str().unwrap_or("/device"),
        start["user_code"].as_str().unwrap_or("?")
    );
    let mut interval = start["interval"].as_u64().unwrap_or(5);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        let r: serde_json::Value = http
            .post(format!("{api}/oauth/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code.as_str()),
                ("client_id", client_id),
            ])
            .send()
            .await?
            .json()
            .await?;
        if let Some(t) = r["access_token"].as_str() {
            eprintln!("signed in");
            return Ok(SecretString::from(t.to_string()));
        }
        match r["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            _ => anyhow::bail!("sign-in failed: {r}"),
        }
    }
}
