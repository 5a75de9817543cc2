//! Playback and devices end to end (seed §6) on the real stack: device registration commands →
//! `playback.devices` → the playback projection; best-platform routing over the catalog with the
//! user's services; sessions on `playback.sessions`; remote control from a phone reaching the
//! TV's sync WebSocket, and the TV's position flowing back through CRDT sync.

mod common;

use std::time::Duration;

use common::{call, get, post, title, Stack};
use futures::{SinkExt, StreamExt};
use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType};
use mediagw_query_api::sync::protocol::{ClientMessage, DeviceEvent, ServerMessage};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn link_offer(platform: &str, kind: &str, price: Option<f64>, web_url: &str) -> Value {
    let mut o = json!({"platform": platform, "availability_type": kind, "deep_link": web_url, "web_url": web_url});
    if let Some(p) = price {
        o["price_amount"] = json!(p);
        o["price_currency"] = json!("USD");
    }
    o
}

async fn ingest(s: &Stack, body: Value) -> String {
    let (status, v) = s.ingest(&body).await;
    assert_eq!(status, 200, "{v}");
    v["content_id"].as_str().unwrap().to_string()
}

/// Opens a device's sync socket and waits for the subscription to be confirmed.
async fn connect(s: &Stack, token: &str, user: Uuid, device: Uuid) -> Ws {
    let url = s.api.replace("http://", "ws://") + "/v1/sync/ws";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let sub = ClientMessage::Subscribe {
        user_id: user,
        device_id: device,
        last_seen: None,
        device_name: None,
        platform: None,
    };
    ws.send(Message::Text(serde_json::to_string(&sub).unwrap().into()))
        .await
        .unwrap();
    until(&mut ws, |m| matches!(m, ServerMessage::StateDelta { .. })).await;
    ws
}

/// Reads server messages until one matches (15 s at most).
async fn until(ws: &mut Ws, pred: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no matching message within 15 s")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(t) = msg {
            let m: ServerMessage = serde_json::from_str(t.as_str()).unwrap();
            if pred(&m) {
                return m;
            }
        }
    }
}

fn position_op(device: Uuid, content: Uuid, position_ms: u64) -> CrdtOperation {
    let now = chrono::Utc::now().timestamp_millis() as u64;
    CrdtOperation {
        operation_id: Uuid::new_v4(),
        operation_type: OperationType::PlaybackUpdate {
            content_id: content,
            position_ms,
            duration_ms: Some(10_200_000),
        },
        timestamp: Hlc {
            physical_ms: now,
            logical: 0,
            device_id: device,
        },
        device_id: device,
        payload: Value::Null,
    }
}

fn field_of(body: &Value) -> String {
    body["error"]["fields"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_routing_sessions_and_remote_control() {
    let mut s = Stack::new("play").await;
    s.start_all().await;

    let far_past = "2026-01-01T00:00:00Z";
    let heat = ingest(
        &s,
        title(
            "tt0113277",
            "Heat",
            1995,
            json!([
                link_offer(
                    "netflix",
                    "subscription",
                    None,
                    "https://www.netflix.com/title/70020185"
                ),
                link_offer(
                    "apple_tv",
                    "rent",
                    Some(3.99),
                    "https://tv.apple.com/movie/umc.cmc.heat"
                ),
                link_offer(
                    "apple_tv",
                    "buy",
                    Some(14.99),
                    "https://tv.apple.com/movie/umc.cmc.heat"
                ),
                link_offer(
                    "prime_video",
                    "rent",
                    Some(4.99),
                    "https://www.primevideo.com/detail/B00HEAT"
                ),
                link_offer(
                    "max",
                    "subscription",
                    None,
                    "https://play.max.com/title/heat"
                )
            ]),
        ),
    )
    .await;
    let mut gone = title(
        "tt0097165",
        "Dead Poets Society",
        1989,
        json!([{"platform": "hulu", "availability_type": "subscription", "deep_link": "https://www.hulu.com/watch/dps",
                "web_url": "https://www.hulu.com/watch/dps", "available_from": "2025-01-01T00:00:00Z",
                "expires_at": far_past}]),
    );
    gone["raw_content"]["genres"] = json!(["drama"]);
    let gone = ingest(&s, gone).await;
    let mut abroad = title(
        "tt0094625",
        "Akira",
        1988,
        json!([link_offer(
            "crunchyroll",
            "subscription",
            None,
            "https://www.crunchyroll.com/watch/akira"
        )]),
    );
    abroad["region"] = json!("GB");
    let abroad = ingest(&s, abroad).await;
    s.eventually(20, "titles in the catalog", || async {
        (s.count("SELECT count(*) FROM catalog.platform_availability")
            .await
            == 7)
            .then_some(())
    })
    .await;

    let ann = Uuid::new_v4();
    let bob = Uuid::new_v4();
    let tv_id = Uuid::new_v4();
    let ann_t = s.token(ann, "");
    let tv_t = s.token_for_device(ann, tv_id);
    let bob_t = s.token(bob, "");

    // Bad input names the field; nothing is registered.
    let (st, b) = post(
        &s,
        "/v1/devices/register",
        &ann_t,
        json!({"device_name": "TV", "device_type": "toaster"}),
    )
    .await;
    assert_eq!((st, field_of(&b)), (400, "device_type".into()), "{b}");
    let (st, b) = post(
        &s,
        "/v1/devices/register",
        &ann_t,
        json!({"device_name": " ", "device_type": "roku"}),
    )
    .await;
    assert_eq!((st, field_of(&b)), (400, "device_name".into()), "{b}");
    let (st, b) = post(
        &s,
        "/v1/devices/register",
        &ann_t,
        json!({"device_type": "roku"}),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(b.to_string().contains("device_name"), "{b}");

    // The TV signed in through the device grant registers under its token's device id.
    let tv_body = json!({
        "device_name": "Living room",
        "device_type": "tizen",
        "capabilities": {"supports_4k": false, "supports_hdr": true, "supports_dolby_atmos": false,
                         "supported_platforms": ["netflix", "apple_tv", "prime_video", "hulu", "crunchyroll"]},
        "push_token": "push-secret-1"
    });
    let (st, tv) = post(&s, "/v1/devices/register", &tv_t, tv_body.clone()).await;
    assert_eq!(st, 201, "{tv}");
    assert_eq!(tv["device_id"], json!(tv_id));
    assert_eq!(tv["status"], "Offline");
    assert!(
        tv.get("push_token").is_none(),
        "the push token is never served back"
    );
    let (st, again) = post(&s, "/v1/devices/register", &tv_t, tv_body).await;
    assert_eq!(st, 200, "re-registering is an update: {again}");
    let (st, phone) = post(
        &s,
        "/v1/devices/register",
        &ann_t,
        json!({"device_name": "Ann's phone", "device_type": "mobile"}),
    )
    .await;
    assert_eq!(st, 201, "{phone}");
    assert_eq!(phone["device_type"], "android", "the seed's `mobile` alias");
    let phone_id: Uuid = serde_json::from_value(phone["device_id"].clone()).unwrap();

    let devices = s
        .eventually(20, "both devices in the read model", || async {
            let (_, b) = get(&s, "/v1/devices", &ann_t).await;
            (b["devices"].as_array().map(Vec::len) == Some(2)).then_some(b)
        })
        .await;
    let names: Vec<_> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Living room", "Ann's phone"]);

    // Own devices only.
    let (st, b) = get(&s, "/v1/devices", &bob_t).await;
    assert_eq!((st, b["devices"].as_array().unwrap().len()), (200, 0));
    let (st, _) = call(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/devices/{tv_id}"),
        &bob_t,
        None,
    )
    .await;
    assert_eq!(st, 404, "another user's device is not theirs to remove");
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &bob_t,
        json!({"content_id": heat, "device_id": tv_id}),
    )
    .await;
    assert_eq!(st, 404, "{b}");
    let no_devices = s.token(bob, "read:content");
    let (st, _) = get(&s, "/v1/devices", &no_devices).await;
    assert_eq!(st, 403, "read:devices is required");

    // Routing: the user's own Netflix on the TV, with the TV's deep link.
    let (st, _) = call(
        &s,
        reqwest::Method::PUT,
        &format!("/v1/user/{ann}/services"),
        &ann_t,
        Some(json!({"region": "US", "services": [{"platform": "netflix"}]})),
    )
    .await;
    assert_eq!(st, 200);
    let r = s
        .eventually(20, "services reach the profile", || async {
            let (st, r) = post(
                &s,
                "/v1/playback/initiate",
                &ann_t,
                json!({"content_id": heat, "device_id": tv_id}),
            )
            .await;
            (st == 200 && r["platform"] == "netflix").then_some(r)
        })
        .await;
    assert_eq!(r["reason"], "included in your Netflix");
    assert_eq!(r["deep_link"], "tizen-app://11101200001?contentId=70020185");
    assert_eq!(r["web_fallback"], "https://www.netflix.com/title/70020185");
    assert_eq!(r["native_app"], true);
    let alts: Vec<_> = r["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["platform"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        alts,
        [
            ("apple_tv", "cheapest rental: $3.99 on Apple TV"),
            ("prime_video", "rent for $4.99 on Prime Video")
        ],
        "max is not on this TV; one route per platform"
    );
    let (st, r) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": heat, "device_id": tv_id, "preferred_platform": "prime_video"}),
    )
    .await;
    assert_eq!(
        (st, r["platform"].as_str()),
        (200, Some("prime_video")),
        "{r}"
    );
    assert!(
        r["deep_link"]
            .as_str()
            .unwrap()
            .starts_with("tizen-app://3201512006785?contentId=B00HEAT"),
        "{r}"
    );

    // Bad input and unknown content.
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": heat, "device_id": tv_id, "quality_preference": "8k"}),
    )
    .await;
    assert_eq!(
        (st, field_of(&b)),
        (400, "quality_preference".into()),
        "{b}"
    );
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": "nope", "device_id": tv_id}),
    )
    .await;
    assert_eq!((st, field_of(&b)), (400, "content_id".into()), "{b}");
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": Uuid::new_v4(), "device_id": tv_id}),
    )
    .await;
    assert_eq!(st, 404, "{b}");
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": heat, "device_id": Uuid::new_v4()}),
    )
    .await;
    assert_eq!(st, 404, "an unregistered device: {b}");

    // Nothing available now: 409 saying where and when, not an empty link.
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": gone, "device_id": tv_id}),
    )
    .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("not_available")),
        "{b}"
    );
    assert_eq!(b["error"]["last_available"][0]["platform"], "hulu", "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last available on Hulu in US until 2026-01-01"),
        "{b}"
    );
    let (st, b) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": abroad, "device_id": tv_id}),
    )
    .await;
    assert_eq!(st, 409, "{b}");
    assert_eq!(b["error"]["elsewhere"][0]["region"], "GB", "{b}");

    // "Can I watch it now?" without a session: in a browser, and on the TV.
    let (st, w) = get(&s, &format!("/v1/content/{heat}/watch"), &ann_t).await;
    assert_eq!(
        (st, w["platform"].as_str(), w["deep_link"].as_str()),
        (
            200,
            Some("netflix"),
            Some("https://www.netflix.com/title/70020185")
        ),
        "{w}"
    );
    let (st, w) = get(
        &s,
        &format!("/v1/content/{heat}/watch?device_id={tv_id}"),
        &ann_t,
    )
    .await;
    assert_eq!((st, w["native_app"].as_bool()), (200, Some(true)), "{w}");

    // Resume from the position the phone synced.
    let heat_id: Uuid = heat.parse().unwrap();
    let (st, b) = post(
        &s,
        "/v1/sync/merge",
        &ann_t,
        json!({"device_id": phone_id, "operations": [position_op(phone_id, heat_id, 754_000)]}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let started = s
        .eventually(20, "the synced position is resumed", || async {
            let (st, r) = post(
                &s,
                "/v1/playback/initiate",
                &ann_t,
                json!({"content_id": heat, "device_id": tv_id, "resume": true}),
            )
            .await;
            (st == 200 && r["resume_position_ms"] == 754_000).then_some(r)
        })
        .await;
    let session: Uuid = serde_json::from_value(started["session_id"].clone()).unwrap();

    // Remote control: phone → TV over the TV's sync socket.
    let mut tv_ws = connect(&s, &tv_t, ann, tv_id).await;
    let mut phone_ws = connect(&s, &ann_t, ann, phone_id).await;
    let (st, b) = post(
        &s,
        "/v1/playback/control",
        &ann_t,
        json!({"session_id": session, "command": "pause"}),
    )
    .await;
    assert_eq!((st, b["state"].as_str()), (200, Some("paused")), "{b}");
    let frame = until(&mut tv_ws, |m| {
        matches!(m, ServerMessage::PlaybackControl { .. })
    })
    .await;
    assert_eq!(
        frame,
        ServerMessage::PlaybackControl {
            session_id: session,
            command: "pause".into(),
            position_ms: None
        }
    );
    let (st, b) = post(
        &s,
        "/v1/playback/control",
        &ann_t,
        json!({"session_id": session, "command": "seek", "position_ms": 900_000}),
    )
    .await;
    assert_eq!((st, b["position_ms"].as_u64()), (200, Some(900_000)), "{b}");
    let frame = until(&mut tv_ws, |m| {
        matches!(m, ServerMessage::PlaybackControl { .. })
    })
    .await;
    assert_eq!(
        frame,
        ServerMessage::PlaybackControl {
            session_id: session,
            command: "seek".into(),
            position_ms: Some(900_000)
        }
    );
    for (body, field) in [
        (
            json!({"session_id": session, "command": "seek", "position_ms": -1}),
            "position_ms",
        ),
        (
            json!({"session_id": session, "command": "seek"}),
            "position_ms",
        ),
        (
            json!({"session_id": session, "command": "rewind"}),
            "command",
        ),
    ] {
        let (st, b) = post(&s, "/v1/playback/control", &ann_t, body).await;
        assert_eq!((st, field_of(&b)), (400, field.to_string()), "{b}");
    }

    // The TV's position flows back to the phone through CRDT sync.
    let op = position_op(tv_id, heat_id, 901_500);
    tv_ws
        .send(Message::Text(
            serde_json::to_string(&ClientMessage::StateUpdate {
                operations: vec![op],
            })
            .unwrap()
            .into(),
        ))
        .await
        .unwrap();
    let watching = until(&mut phone_ws, |m| {
        matches!(
            m,
            ServerMessage::DeviceEvent {
                event: DeviceEvent::Watching { .. },
                ..
            }
        )
    })
    .await;
    assert_eq!(
        watching,
        ServerMessage::DeviceEvent {
            device_id: tv_id,
            event: DeviceEvent::Watching {
                content_id: heat_id,
                position_ms: 901_500
            }
        }
    );

    // The TV is watching; the phone is online.
    s.eventually(20, "device status from presence and sessions", || async {
        let (_, b) = get(&s, "/v1/devices", &ann_t).await;
        let status = |id: Uuid| {
            b["devices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["device_id"] == json!(id))
                .map(|d| d["status"].clone())
        };
        (status(tv_id) == Some(json!("Watching")) && status(phone_id) == Some(json!("Online")))
            .then_some(())
    })
    .await;

    // Another user's session: 403, for reading and for control.
    let (st, _) = post(
        &s,
        "/v1/playback/control",
        &bob_t,
        json!({"session_id": session, "command": "play"}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = get(&s, &format!("/v1/playback/session/{session}"), &bob_t).await;
    assert_eq!(st, 403);

    // Stop ends it; the projection shows it; a later control is refused.
    let (st, b) = post(
        &s,
        "/v1/playback/control",
        &ann_t,
        json!({"session_id": session, "command": "stop"}),
    )
    .await;
    assert_eq!((st, b["state"].as_str()), (200, Some("ended")), "{b}");
    s.eventually(20, "the session ends in the read model", || async {
        let (_, b) = get(&s, &format!("/v1/playback/session/{session}"), &ann_t).await;
        (b["state"] == "ended" && b["position_ms"] == 900_000).then_some(())
    })
    .await;
    let (st, _) = post(
        &s,
        "/v1/playback/control",
        &ann_t,
        json!({"session_id": session, "command": "play"}),
    )
    .await;
    assert_eq!(st, 409);

    // An offline TV: 409, nothing recorded.
    let (_, r) = post(
        &s,
        "/v1/playback/initiate",
        &ann_t,
        json!({"content_id": heat, "device_id": tv_id}),
    )
    .await;
    let second: Uuid = serde_json::from_value(r["session_id"].clone()).unwrap();
    tv_ws.close(None).await.unwrap();
    drop(tv_ws);
    let b = s
        .eventually(20, "the TV's socket is gone", || async {
            let (st, b) = post(
                &s,
                "/v1/playback/control",
                &ann_t,
                json!({"session_id": second, "command": "pause"}),
            )
            .await;
            (st == 409).then_some(b)
        })
        .await;
    assert_eq!(b["error"]["code"], "device_offline", "{b}");
    let (st, b) = get(&s, &format!("/v1/playback/session/{second}"), &ann_t).await;
    assert_eq!((st, b["state"].as_str()), (200, Some("playing")), "{b}");
    let (st, _) = post(
        &s,
        "/v1/playback/control",
        &ann_t,
        json!({"session_id": Uuid::new_v4(), "command": "pause"}),
    )
    .await;
    assert_eq!(st, 404);

    // The same over gRPC, with the token in the metadata.
    {
        fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
            let mut r = tonic::Request::new(msg);
            r.metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            r
        }
        use mediagw_query_api::playback::grpc::pb;
        use pb::playback_service_client::PlaybackServiceClient;
        let mut client = PlaybackServiceClient::connect(s.grpc.clone())
            .await
            .unwrap();
        let list = client
            .get_devices(with_token(
                pb::GetDevicesRequest {
                    user_id: ann.to_string(),
                },
                &ann_t,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.devices.len(), 2);
        let other = client
            .get_devices(with_token(
                pb::GetDevicesRequest {
                    user_id: ann.to_string(),
                },
                &bob_t,
            ))
            .await
            .unwrap_err();
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
        let ask = pb::InitiatePlaybackRequest {
            content_id: heat.clone(),
            device_id: tv_id.to_string(),
            ..Default::default()
        };
        let denied = client
            .initiate_playback(tonic::Request::new(ask.clone()))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        let started = client
            .initiate_playback(with_token(ask, &ann_t))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (started.platform.as_str(), started.reason.as_str()),
            ("netflix", "included in your Netflix")
        );
        let offline = client
            .control_playback(with_token(
                pb::ControlPlaybackRequest {
                    session_id: started.session_id,
                    command: "pause".into(),
                    position_ms: None,
                },
                &ann_t,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            offline.code(),
            tonic::Code::FailedPrecondition,
            "{offline:?}"
        );
        assert!(offline.message().contains("device_offline"));
        let bad = client
            .control_playback(with_token(
                pb::ControlPlaybackRequest {
                    session_id: second.to_string(),
                    command: "seek".into(),
                    position_ms: Some(-5),
                },
                &ann_t,
            ))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().contains("position_ms"));
    }

    // Removing a device.
    let (st, _) = call(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/devices/{phone_id}"),
        &ann_t,
        None,
    )
    .await;
    assert_eq!(st, 204);
    s.eventually(20, "the phone leaves the read model", || async {
        let (_, b) = get(&s, "/v1/devices", &ann_t).await;
        (b["devices"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let (st, _) = call(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/devices/{phone_id}"),
        &ann_t,
        None,
    )
    .await;
    assert_eq!(st, 404);

    // The events went out on their topics; the push token did not.
    let sessions = common::read_topic(&s.topic("playback.sessions")).await;
    assert!(sessions.len() >= 6, "{} session events", sessions.len());
    let devices = common::read_topic(&s.topic("playback.devices")).await;
    assert_eq!(devices.len(), 3, "two registrations and a removal");
    for m in &devices {
        let raw = rdkafka::Message::payload(m).unwrap_or_default();
        assert!(!String::from_utf8_lossy(raw).contains("push-secret-1"));
    }
    let metrics = s.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("playback_initiated_total")
                && l.contains("platform=\"netflix\"")
                && l.contains("device_type=\"tizen\"")),
        "{metrics}"
    );
}
