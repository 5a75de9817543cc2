//! Public routes that hold a connection cannot exhaust the server (issue 22): live availability
//! streams are capped per client address, sync sockets per account, and a socket that floods
//! messages is closed; readiness answers with statuses only.

mod common;

use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use mediagw_query_api::sync::protocol::ClientMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(s: &Stack, user: Uuid) -> Ws {
    let mut req = (s.api.replace("http://", "ws://") + "/v1/sync/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.token(user, "")).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let subscribe = ClientMessage::Subscribe {
        user_id: user,
        device_id: Uuid::new_v4(),
        last_seen: None,
        device_name: None,
        platform: None,
    };
    ws.send(Message::Text(
        serde_json::to_string(&subscribe).unwrap().into(),
    ))
    .await
    .unwrap();
    ws
}

/// The first text message (or `closed`) within 5 s.
async fn first_text(ws: &mut Ws) -> String {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => return t.to_string(),
                Message::Close(_) => return "closed".to_string(),
                _ => {}
            }
        }
        "closed".to_string()
    })
    .await
    .unwrap_or_else(|_| "silent".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_sockets_are_capped() {
    let mut s = Stack::new("caps").await;
    s.start_all().await;

    // Availability streams: four per client address, the fifth is told to come back later.
    let url = format!("{}/v1/availability/changes/stream?region=US", s.api);
    let mut open = Vec::new();
    for _ in 0..4 {
        let r = reqwest::Client::new().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let refused = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    drop(open.pop());
    s.eventually(10, "a closed stream's slot freed", || {
        let url = url.clone();
        async move {
            let r = reqwest::Client::new().get(&url).send().await.unwrap();
            (r.status() == 200).then_some(())
        }
    })
    .await;

    // Sync sockets: 32 per account on an instance; the 33rd is refused.
    let user = Uuid::new_v4();
    let mut sockets = Vec::new();
    for _ in 0..32 {
        let mut ws = socket(&s, user).await;
        let first = first_text(&mut ws).await;
        assert!(
            first.contains("StateDelta")
                || first.contains("state_delta")
                || first.contains("delta"),
            "{first}"
        );
        sockets.push(ws);
    }
    let mut extra = socket(&s, user).await;
    let refusal = first_text(&mut extra).await;
    assert!(refusal.contains("too_many_sockets"), "{refusal}");
    // Another account is not affected.
    let mut other = socket(&s, Uuid::new_v4()).await;
    assert!(!first_text(&mut other).await.contains("too_many_sockets"));

    // A socket that floods messages is closed with a reason.
    let mut flood = sockets.pop().unwrap();
    let heartbeat = serde_json::to_string(&ClientMessage::Heartbeat).unwrap();
    for _ in 0..400 {
        if flood
            .send(Message::Text(heartbeat.clone().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let told = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = flood.next().await {
            if let Message::Text(t) = m {
                if t.contains("rate_limited") {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(told, Ok(true), "a flooding socket was not stopped");
}

/// Every `/v1` error is the API's JSON shape, also the ones the framework answers by itself
/// (issue 22): a query string that does not parse names the parameter, unknown routes and wrong
/// methods say so in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_answer_in_the_json_error_shape() {
    let mut s = Stack::new("jsonerr").await;
    s.start("api");
    s.wait_http(&format!("{}/health/live", s.api)).await;
    let token = s.token(Uuid::new_v4(), "");
    let cases = [
        (
            reqwest::Method::GET,
            "/v1/availability/changes".to_string(),
            400,
            Some("region"),
        ),
        (
            reqwest::Method::GET,
            "/v1/availability/changes?region=US&limit=lots".to_string(),
            400,
            Some("limit"),
        ),
        (
            reqwest::Method::GET,
            "/v1/no-such-route".to_string(),
            404,
            None,
        ),
        (reqwest::Method::DELETE, "/v1/search".to_string(), 405, None),
        (
            reqwest::Method::POST,
            format!("/v1/user/{}/import", Uuid::new_v4()),
            400,
            Some("format"),
        ),
    ];
    for (method, path, status, names) in cases {
        let r = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", s.api))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.contains("json"), "{method} {path}: {ct}");
        let body: serde_json::Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            body["error"]["code"].is_string() && !message.is_empty(),
            "{body}"
        );
        if let Some(field) = names {
            assert!(message.contains(field), "{method} {path}: {body}");
        }
    }
}

/// The `access_token` query parameter is read on the sync socket only (browsers cannot set headers
/// on a WebSocket); anywhere else a token in a URL is ignored (issue 22).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_url_opens_the_socket_and_nothing_else() {
    let mut s = Stack::new("urltoken").await;
    s.start("api,registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    let user = Uuid::new_v4();
    let token = s.token(user, "");
    let r = reqwest::Client::new()
        .get(format!("{}/v1/devices?access_token={token}", s.api))
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a token in the URL of another route was accepted"
    );
    let url = format!(
        "{}/v1/sync/ws?access_token={token}",
        s.api.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let subscribe = ClientMessage::Subscribe {
        user_id: user,
        device_id: Uuid::new_v4(),
        last_seen: None,
        device_name: None,
        platform: None,
    };
    ws.send(Message::Text(
        serde_json::to_string(&subscribe).unwrap().into(),
    ))
    .await
    .unwrap();
    let first = first_text(&mut ws).await;
    assert!(first.contains("StateDelta"), "{first}");
}
