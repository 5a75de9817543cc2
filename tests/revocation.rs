//! Revocation holds when Redis fails (issue 22): every revocation is recorded in PostgreSQL and
//! each API instance keeps its own copy of the deny list, so a revoked token is refused by every
//! instance while Redis (a server of the test's own, killed mid-test) is down, and an open sync
//! socket closes as soon as its token is revoked.

mod common;

use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use mediagw_query_api::sync::protocol::ClientMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

async fn status(api: &str, user: Uuid, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{api}/v1/sync/state/{user}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn revoke(api: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{api}/oauth/revoke"))
        .form(&[
            ("token", token),
            ("token_type_hint", "access_token"),
            ("client_id", "revoker"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stays_revoked_while_redis_is_down() {
    let redis = OwnRedis::start().await;
    let mut s = Stack::new("revocation").await;
    s.set_env("MEDIAGW__REDIS__URL", &redis.url());
    s.start("api,registry,relay,projector:sync");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    // A second instance behind the same load balancer.
    let (api2_port, ops2_port, grpc2_port) =
        (Stack::free_port(), Stack::free_port(), Stack::free_port());
    s.start_as(
        "api2",
        "api",
        &[
            ("MEDIAGW__HTTP__ADDR", format!("127.0.0.1:{api2_port}")),
            (
                "MEDIAGW__HTTP__INTERNAL_ADDR",
                format!("127.0.0.1:{ops2_port}"),
            ),
            ("MEDIAGW__GRPC__ADDR", format!("127.0.0.1:{grpc2_port}")),
        ],
    );
    let api2 = format!("http://127.0.0.1:{api2_port}");
    s.wait_http(&format!("http://127.0.0.1:{ops2_port}/health/ready"))
        .await;
    s.run_ok(&[
        "auth",
        "add-client",
        "--name",
        "Revoker",
        "--client-id",
        "revoker",
        "--redirect-uri",
        "http://localhost/cb",
    ]);

    // Redis up: a revoked token is refused, and its open socket is closed.
    let user = Uuid::new_v4();
    let first = s.token_for_client(user, "revoker", "");
    assert_eq!(status(&s.api, user, &first).await, 200);
    let mut req = (s.api.replace("http://", "ws://") + "/v1/sync/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {first}").parse().unwrap());
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
    let _delta = ws.next().await.unwrap().unwrap();
    assert_eq!(revoke(&s.api, &first).await, 200);
    assert_eq!(status(&s.api, user, &first).await, 401);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) if t.contains("token_revoked") => return true,
                Message::Close(_) => return false,
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(closed, Ok(true), "the socket outlived its revoked token");

    // Redis down: rate limits fail open, revocation does not, on this instance or the other.
    drop(redis);
    let second = s.token_for_client(user, "revoker", "");
    assert_eq!(
        status(&s.api, user, &second).await,
        200,
        "the API must stay up without Redis"
    );
    assert_eq!(
        revoke(&s.api, &second).await,
        200,
        "revocation must not need Redis"
    );
    assert_eq!(status(&s.api, user, &second).await, 401);
    s.eventually(10, "the other instance refusing the token", || {
        let (api2, second) = (api2.clone(), second.clone());
        async move { (status(&api2, user, &second).await == 401).then_some(()) }
    })
    .await;
    assert_eq!(status(&api2, user, &first).await, 401);
    // Nothing else is refused.
    let third = s.token_for_client(user, "revoker", "");
    assert_eq!(status(&api2, user, &third).await, 200);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.revoked_access_tokens")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
}
