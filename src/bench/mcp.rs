//! `mediagw bench mcp`: what the MCP layer adds over calling the API directly. The same read
//! (`get_content_details` ↔ `GET /v1/content/{id}`) alternates between the two paths, one at a
//! time, over one MCP session on Streamable HTTP (JSON-RPC by hand, the SSE answer parsed).

use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::app::App;
use crate::sample::percentile;

struct Session {
    http: reqwest::Client,
    url: String,
    token: String,
    id: Option<String>,
    next: u64,
}

impl Session {
    async fn rpc(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next += 1;
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}));
        if let Some(id) = &self.id {
            req = req.header("mcp-session-id", id);
        }
        let r = req.send().await?;
        anyhow::ensure!(r.status().is_success(), "{method}: {}", r.status());
        if let Some(id) = r.headers().get("mcp-session-id") {
            self.id = Some(id.to_str()?.to_string());
        }
        let body = r.text().await?;
        // An SSE stream of JSON-RPC messages (or one JSON body): the answer to our id.
        let answer = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:").map(str::trim).or(Some(l.trim())))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["id"] == json!(self.next))
            .with_context(|| format!("{method}: no answer in {body}"))?;
        anyhow::ensure!(answer.get("error").is_none(), "{method}: {answer}");
        Ok(answer["result"].clone())
    }

    async fn notify(&self, method: &str) -> anyhow::Result<()> {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "method": method}));
        if let Some(id) = &self.id {
            req = req.header("mcp-session-id", id);
        }
        req.send().await?;
        Ok(())
    }
}

pub async fn run(app: &App, api: &str, requests: usize) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let token = super::user_token(&tokens, Uuid::new_v4(), false)?;
    let titles: Vec<Uuid> = sqlx::query_scalar(
        "SELECT content_id FROM catalog.platform_availability GROUP BY content_id LIMIT 500",
    )
    .fetch_all(&app.pool)
    .await?;
    anyhow::ensure!(
        !titles.is_empty(),
        "no title with offers: load the sample catalog first"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(8)
        .build()?;
    let mut s = Session {
        http: http.clone(),
        url: format!("{api}/mcp"),
        token: token.clone(),
        id: None,
        next: 0,
    };
    let init = s
        .rpc(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "mediagw-bench", "version": "1"}}),
        )
        .await?;
    s.notify("notifications/initialized").await?;
    println!(
        "mcp: session {} (protocol {}), {requests} pairs, one request at a time",
        s.id.as_deref().unwrap_or("-"),
        init["protocolVersion"]
    );
    let (mut direct, mut via, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..requests + 50 {
        let id = titles[i % titles.len()];
        let t = Instant::now();
        let r = http
            .get(format!("{api}/v1/content/{id}?region=US"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "direct: {}", r.status());
        let _ = r.bytes().await?;
        let d = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let out = s
            .rpc("tools/call", json!({"name": "get_content_details", "arguments": {"entity_id": id, "region": "USA"}}))
            .await?;
        anyhow::ensure!(out["isError"] != true, "tool failed: {out}");
        let m = t.elapsed().as_secs_f64() * 1000.0;
        if i >= 50 {
            direct.push(d);
            via.push(m);
            diff.push(m - d);
        }
    }
    for (name, l) in [
        ("direct GET /v1/content/{id}", &mut direct),
        ("MCP tools/call get_content_details", &mut via),
        ("MCP − direct (per pair)", &mut diff),
    ] {
        l.sort_by(f64::total_cmp);
        println!(
            "  {name}: p50 {:.2} p95 {:.2} p99 {:.2} ms",
            percentile(l, 0.5),
            percentile(l, 0.95),
            percentile(l, 0.99)
        );
    }
    println!(
        "  overhead at p95: {:.2} ms",
        percentile(&via, 0.95) - percentile(&direct, 0.95)
    );
    Ok(())
}
