//! MCP end to end (seed §8) with a client nobody here wrote: the official Python SDK (PyPI `mcp`,
//! installed by `scripts/lib.sh` into `.mediagw/mcp-venv`) drives Streamable HTTP at `/mcp` and
//! `mediagw mcp` over stdio against the real stack: listings, a search, a refused tool without its
//! scope, the consent flow approved on `/device`, approved playback reaching the TV's socket,
//! revocation, another client's consent, malformed JSON-RPC.

mod common;

use std::time::Duration;

use common::{title, Stack};
use futures::{SinkExt, StreamExt};
use mediagw_query_api::sync::protocol::{ClientMessage, ServerMessage};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

fn python() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/.mediagw/mcp-venv/bin/python").to_string()
}

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py").to_string()
}

/// Runs the Python client; returns its results, one per op (after the `initialize` summary).
async fn http_client(s: &Stack, token: &str, ops: Value) -> Vec<Value> {
    let out = tokio::process::Command::new(python())
        .args([
            script(),
            "http".into(),
            format!("{}/mcp", s.api),
            token.into(),
            ops.to_string(),
        ])
        .output()
        .await
        .expect("the MCP venv (scripts/lib.sh ensure_mcp_client)");
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn stdio_client(s: &Stack, token: &str, ops: Value) -> Vec<Value> {
    let mut cmd = tokio::process::Command::new(python());
    cmd.args([
        script(),
        "stdio".into(),
        env!("CARGO_BIN_EXE_mediagw").into(),
        s.api.clone(),
        token.into(),
        ops.to_string(),
    ]);
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "python stdio client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The person approves a pending consent on the device page (sign-in, consent, allow).
async fn approve_on_device_page(s: &Stack, user_code: &str, email: &str) {
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(format!("{}/device?user_code={user_code}", s.api))
        .send()
        .await
        .unwrap();
    let cookie = page
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .unwrap_or_default();
    let html = page.text().await.unwrap();
    let hidden = |html: &str, name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no {name} in {html}"))
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let entered = browser
        .post(format!("{}/device", s.api))
        .header("cookie", &cookie)
        .form(&[
            ("user_code", user_code),
            ("email", email),
            ("password", PASSWORD),
            ("csrf", &hidden(&html, "csrf")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(entered.status(), 200);
    let session = entered.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = entered.text().await.unwrap();
    assert!(html.contains("write:playback"), "{html}");
    let approved = browser
        .post(format!("{}/device/approve", s.api))
        .header("cookie", &session)
        .form(&[
            ("user_code", user_code),
            ("csrf", &hidden(&html, "csrf")),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_searches_and_starts_playback_with_consent() {
    let mut s = Stack::new("mcp").await;
    s.start_all().await;

    let mut record = title(
        "tt0113277",
        "Heat",
        1995,
        json!([{"platform": "netflix", "availability_type": "subscription",
                "deep_link": "https://www.netflix.com/title/70020185", "web_url": "https://www.netflix.com/title/70020185"}]),
    );
    record["raw_content"]["average_rating"] = json!(8.3);
    let (st, v) = s.ingest(&record).await;
    assert_eq!(st, 200, "{v}");
    let heat = v["content_id"].as_str().unwrap().to_string();
    s.eventually(60, "Heat searchable", || async {
        let (_, r) = s.get("/v1/search?q=Heat").await;
        (r["results"][0]["content"]["id"] == json!(heat)).then_some(())
    })
    .await;

    // A person with an account (the device page signs them in) and a TV.
    let email = "agent-owner@example.com";
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/register", s.api))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user: Uuid = r.json::<Value>().await.unwrap()["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token = s.token_for_client(user, "claude-desktop", "");
    let tv = Uuid::new_v4();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/devices/register", s.api))
        .bearer_auth(&token)
        .json(&json!({"device_name": "Living room", "device_type": "roku", "device_id": tv}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Without a token: 401 naming the protected-resource metadata.
    let r = reqwest::Client::new()
        .post(format!("{}/mcp", s.api))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("resource_metadata="));

    // Listings, a prompt, a resource and a search over Streamable HTTP.
    let out = http_client(
        &s,
        &token,
        json!([
            {"op": "list"},
            {"op": "call", "name": "semantic_search", "args": {"query": "Heat", "limit": 3, "region": "USA"}},
            {"op": "prompt", "name": "tonight", "args": {"mood": "tense"}},
            {"op": "read", "uri": "mediagw://config"},
            {"op": "read", "uri": format!("mediagw://content/{heat}")},
            {"op": "call", "name": "no_such_tool", "args": {}},
            {"op": "call", "name": "semantic_search", "args": {"limit": 3}},
            {"op": "call", "name": "get_content_details", "args": {"entity_id": heat, "region": "Narnia"}},
            {"op": "call", "name": "list_devices", "args": {"status_filter": "all"}},
            {"op": "call", "name": "semantic_search", "args": {"query": "Heat", "filters": {"rating_range": [8.0, 10.0]}}},
            {"op": "call", "name": "semantic_search", "args": {"query": "Heat", "filters": {"rating_range": [9.0, 10.0]}}}
        ]),
    )
    .await;
    assert_eq!(out[0]["server"], "media-gateway");
    for capability in ["prompts", "resources", "tools"] {
        assert!(
            out[0]["capabilities"]
                .as_array()
                .unwrap()
                .contains(&json!(capability)),
            "{}",
            out[0]
        );
    }
    assert!(
        out[0]["protocol"].as_str().unwrap().starts_with("20"),
        "a negotiated version: {}",
        out[0]
    );
    let listed = &out[1];
    let tools: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tools.len(), 14, "{tools:?}");
    for t in [
        "semantic_search",
        "get_content_details",
        "get_availability",
        "what_is_leaving",
        "new_arrivals",
        "get_trending",
        "find_similar",
        "get_recommendations",
        "get_watchlist",
        "add_to_watchlist",
        "remove_from_watchlist",
        "list_devices",
        "initiate_playback",
        "control_playback",
    ] {
        assert!(tools.contains(&t), "{t} missing");
    }
    assert_eq!(
        listed["schemas"]["semantic_search"]["required"],
        json!(["query"])
    );
    assert_eq!(
        listed["prompts"],
        json!(["discovery_assistant", "recommendation_guide", "tonight"])
    );
    assert_eq!(
        listed["resources"],
        json!([
            "mediagw://config",
            "mediagw://trending",
            "mediagw://watchlist"
        ])
    );
    assert_eq!(listed["templates"], json!(["mediagw://content/{id}"]));
    let search = &out[2];
    assert_eq!(search["is_error"], false, "{search}");
    assert!(
        search["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Heat (1995) [id {heat}] — netflix (subscription)")),
        "{search}"
    );
    assert_eq!(search["structured"]["results"][0]["id"], json!(heat));
    assert!(out[3]["text"].as_str().unwrap().contains("tense"));
    assert!(out[4]["text"].as_str().unwrap().contains("netflix"));
    assert!(out[5]["text"].as_str().unwrap().contains("Heat"));
    assert!(
        out[6]["exception"].as_str().is_some(),
        "unknown tool → JSON-RPC error: {}",
        out[6]
    );
    // Bad arguments: since MCP 2025-11-25 an input-validation failure is a tool error the model can
    // correct (a JSON-RPC error under older protocol versions); either way it names the field.
    assert!(
        out[7]["exception"]
            .as_str()
            .is_some_and(|e| e.contains("query"))
            || (out[7]["is_error"] == true && out[7]["text"].as_str().unwrap().contains("`query`")),
        "missing argument: {}",
        out[7]
    );
    assert_eq!(out[8]["is_error"], true);
    assert!(
        out[8]["text"].as_str().unwrap().contains("`region`"),
        "{}",
        out[8]
    );
    assert!(out[9]["text"].as_str().unwrap().contains(&tv.to_string()));
    // Filters reach the search: Heat is rated 8.3, inside the first range and outside the second.
    assert_eq!(
        out[10]["structured"]["results"][0]["id"],
        json!(heat),
        "{}",
        out[10]
    );
    assert!(
        out[11]["text"]
            .as_str()
            .unwrap()
            .starts_with("No titles found"),
        "{}",
        out[11]
    );

    // A token without write:playback: a clear tool error, nothing started.
    let reader = s.token_for_client(user, "claude-desktop", "read:content read:devices");
    let out = http_client(&s, &reader, json!([{"op": "call", "name": "initiate_playback", "args": {"entity_id": heat, "device_id": tv}}])).await;
    assert_eq!(out[1]["is_error"], true);
    assert!(
        out[1]["text"]
            .as_str()
            .unwrap()
            .contains("needs the `write:playback` scope"),
        "{}",
        out[1]
    );

    // Acting needs consent: pending with a code, approved on /device, then it runs.
    let play = json!({"op": "call", "name": "initiate_playback", "args": {"entity_id": heat, "device_id": tv}});
    let out = http_client(&s, &token, json!([play])).await;
    assert_eq!(out[1]["structured"]["done"], false, "{}", out[1]);
    let code = out[1]["structured"]["consent"]["user_code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out[1]["text"].as_str().unwrap().contains(&code));
    assert_eq!(s.count("SELECT count(*) FROM playback.sessions").await, 0);
    approve_on_device_page(&s, &code, email).await;

    // The TV listens on its socket; approved playback starts and control reaches it.
    let url = s.api.replace("http://", "ws://") + "/v1/sync/ws";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let sub = ClientMessage::Subscribe {
        user_id: user,
        device_id: tv,
        last_seen: None,
        device_name: None,
        platform: None,
    };
    ws.send(Message::Text(serde_json::to_string(&sub).unwrap().into()))
        .await
        .unwrap();
    let out = http_client(&s, &token, json!([play])).await;
    assert_eq!(out[1]["is_error"], false, "{}", out[1]);
    let session = out[1]["structured"]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        out[1]["text"]
            .as_str()
            .unwrap()
            .contains("roku-ecp://launch/12?contentId=70020185"),
        "{}",
        out[1]
    );
    let out = http_client(&s, &token, json!([{"op": "call", "name": "control_playback", "args": {"session_id": session, "command": "pause"}}])).await;
    assert_eq!(out[1]["is_error"], false, "{}", out[1]);
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                if let Ok(m @ ServerMessage::PlaybackControl { .. }) =
                    serde_json::from_str(t.as_str())
                {
                    return m;
                }
            }
        }
    })
    .await
    .expect("the TV got the control frame");
    assert_eq!(
        frame,
        ServerMessage::PlaybackControl {
            session_id: session.parse().unwrap(),
            command: "pause".into(),
            position_ms: None
        }
    );

    // Another client of the same person has no consent; revoking makes it pending again.
    let other = s.token_for_client(user, "other-agent", "");
    let out = http_client(&s, &other, json!([play])).await;
    assert_eq!(
        out[1]["structured"]["done"], false,
        "one client's approval never carries over"
    );
    let r = reqwest::Client::new()
        .delete(format!("{}/v1/mcp/consents/claude-desktop", s.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 1);
    let out = http_client(&s, &token, json!([play])).await;
    assert_eq!(
        out[1]["structured"]["done"], false,
        "revoked → pending again"
    );
    let audited = s.count("SELECT count(*) FROM events WHERE aggregate_type = 'auth_audit' AND event_type IN ('AgentActed', 'AgentConsentRevoked')").await;
    assert_eq!(audited, 3, "two actions and a revocation audited");

    // stdio: `mediagw mcp` with MEDIAGW_TOKEN.
    let out = stdio_client(&s, &token, json!([{"op": "list"}, {"op": "call", "name": "get_availability", "args": {"entity_id": heat}}])).await;
    assert_eq!(out[1]["tools"].as_array().unwrap().len(), 14);
    assert!(
        out[2]["text"].as_str().unwrap().contains("netflix"),
        "{}",
        out[2]
    );

    // Malformed JSON-RPC: an error answer, and the server keeps serving.
    let r = reqwest::Client::new()
        .post(format!("{}/mcp", s.api))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    // Manifests for non-MCP clients.
    let (_, manifest) = s.get("/.well-known/arw-manifest.json").await;
    let playback = manifest["capabilities"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "playback")
        .unwrap()
        .clone();
    assert_eq!(playback["requires_user_consent"], true);
    assert!(playback["oauth_scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("write:playback")));
    assert_eq!(
        manifest["authentication"]["oauth2"]["token_endpoint"],
        "/oauth/token"
    );
    let (_, listed) = s.get("/mcp/tools").await;
    assert_eq!(listed["tools"].as_array().unwrap().len(), 14);
    let (_, meta) = s.get("/.well-known/oauth-protected-resource").await;
    assert!(meta["resource"].as_str().unwrap().ends_with("/mcp"));
}
