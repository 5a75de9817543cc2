//! Cross-device sync end to end: real `mediagw` processes, PostgreSQL, Redis pub/sub and tansu.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::Stack;
use futures::{SinkExt, StreamExt};
use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, SyncState};
use mediagw_query_api::sync::protocol::{AckStatus, ClientMessage, DeviceEvent, ServerMessage};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis() as u64
}

/// A device as a client app would implement it: a local replica, an HLC, an offline queue.
struct Device {
    token: String,
    user: Uuid,
    id: Uuid,
    api: String,
    ws: Option<Ws>,
    clock: Hlc,
    replica: SyncState,
    queue: Vec<CrdtOperation>,
    last_seen: Option<Hlc>,
    acked: HashSet<Uuid>,
    events: Vec<(Uuid, DeviceEvent)>,
}

impl Device {
    fn new(s: &Stack, user: Uuid, api: &str) -> Self {
        let id = Uuid::new_v4();
        Self {
            token: s.token(user, ""),
            user,
            id,
            api: api.to_string(),
            ws: None,
            clock: Hlc::zero(id),
            replica: SyncState::default(),
            queue: vec![],
            last_seen: None,
            acked: HashSet::new(),
            events: vec![],
        }
    }

    /// Connects and subscribes; returns the catch-up operations.
    async fn connect(&mut self) -> Vec<CrdtOperation> {
        let url = self.api.replace("http://", "ws://") + "/v1/sync/ws";
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        send(
            &mut ws,
            &ClientMessage::Subscribe {
                user_id: self.user,
                device_id: self.id,
                last_seen: self.last_seen,
                device_name: Some(format!("device {}", &self.id.to_string()[..4])),
                platform: Some("test".into()),
            },
        )
        .await;
        self.ws = Some(ws);
        // The subscription is confirmed by a StateDelta with what this device missed.
        let ServerMessage::StateDelta { operations, .. } = self
            .until(|m| matches!(m, ServerMessage::StateDelta { .. }))
            .await
        else {
            unreachable!()
        };
        let queued = std::mem::take(&mut self.queue);
        if !queued.is_empty() {
            self.send_ops(queued).await;
        }
        operations
    }

    async fn disconnect(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
    }

    /// Makes a change locally; sends it now when online, queues it otherwise.
    async fn edit(&mut self, t: OperationType) -> Uuid {
        self.clock = self.clock.tick(now_ms());
        let op = CrdtOperation {
            operation_id: Uuid::new_v4(),
            operation_type: t,
            timestamp: self.clock,
            device_id: self.id,
            payload: Value::Null,
        };
        self.replica.apply(&op);
        let id = op.operation_id;
        if self.ws.is_some() {
            self.send_ops(vec![op]).await;
        } else {
            self.queue.push(op);
        }
        id
    }

    async fn send_ops(&mut self, ops: Vec<CrdtOperation>) {
        let mut want: HashSet<Uuid> = ops.iter().map(|o| o.operation_id).collect();
        send(
            self.ws.as_mut().unwrap(),
            &ClientMessage::StateUpdate { operations: ops },
        )
        .await;
        while !want.is_empty() {
            if let ServerMessage::Acknowledge { operation_id, .. } = self
                .until(|m| matches!(m, ServerMessage::Acknowledge { .. }))
                .await
            {
                want.remove(&operation_id);
            }
        }
    }

    /// Reads (and folds) messages until one matches.
    async fn until(&mut self, pred: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
        loop {
            let m = self
                .recv(Duration::from_secs(15))
                .await
                .expect("a message in 15 s");
            if pred(&m) {
                return m;
            }
        }
    }

    async fn recv(&mut self, wait: Duration) -> Option<ServerMessage> {
        let ws = self.ws.as_mut()?;
        loop {
            let frame = tokio::time::timeout(wait, ws.next()).await.ok()??.ok()?;
            let Message::Text(t) = frame else { continue };
            let m: ServerMessage = serde_json::from_str(t.as_str()).unwrap();
            self.fold(&m);
            return Some(m);
        }
    }

    fn fold(&mut self, m: &ServerMessage) {
        match m {
            ServerMessage::StateDelta { operations, cursor } => {
                for op in operations {
                    assert_ne!(
                        op.device_id, self.id,
                        "a device is never sent its own operations"
                    );
                    self.replica.apply(op);
                    self.clock = self
                        .clock
                        .receive(op.timestamp, now_ms(), u64::MAX)
                        .unwrap();
                }
                if cursor.is_some() {
                    self.last_seen = *cursor;
                }
            }
            ServerMessage::Acknowledge { operation_id, .. } => {
                self.acked.insert(*operation_id);
            }
            ServerMessage::DeviceEvent { device_id, event } => {
                self.events.push((*device_id, event.clone()))
            }
            ServerMessage::Error { .. } | ServerMessage::PlaybackControl { .. } => {}
        }
    }

    /// Heartbeat, answered with whatever was missed.
    async fn heartbeat(&mut self) -> Vec<CrdtOperation> {
        send(self.ws.as_mut().unwrap(), &ClientMessage::Heartbeat).await;
        match self
            .until(|m| matches!(m, ServerMessage::StateDelta { .. }))
            .await
        {
            ServerMessage::StateDelta { operations, .. } => operations,
            _ => unreachable!(),
        }
    }

    /// Every delta that arrives within `wait`.
    async fn drain(&mut self, wait: Duration) -> Vec<ServerMessage> {
        let mut out = vec![];
        while let Some(m) = self.recv(wait).await {
            out.push(m);
        }
        out
    }

    /// The parts of the replica every device must agree on.
    fn view(
        &self,
    ) -> (
        BTreeMap<Uuid, Hlc>,
        BTreeMap<Uuid, u64>,
        BTreeMap<Uuid, u64>,
    ) {
        view(&self.replica)
    }
}

fn view(
    s: &SyncState,
) -> (
    BTreeMap<Uuid, Hlc>,
    BTreeMap<Uuid, u64>,
    BTreeMap<Uuid, u64>,
) {
    (
        s.watchlist.elements(),
        s.positions
            .iter()
            .map(|(k, r)| (*k, r.value.position_ms))
            .collect(),
        s.views.iter().map(|(k, g)| (*k, g.value())).collect(),
    )
}

async fn send(ws: &mut Ws, m: &ClientMessage) {
    ws.send(Message::Text(serde_json::to_string(m).unwrap().into()))
        .await
        .unwrap();
}

fn ops_of(msgs: &[ServerMessage]) -> Vec<CrdtOperation> {
    msgs.iter()
        .flat_map(|m| match m {
            ServerMessage::StateDelta { operations, .. } => operations.clone(),
            _ => vec![],
        })
        .collect()
}

async fn get_as(s: &Stack, user: Uuid, path: &str) -> (u16, Value) {
    let r = s
        .http
        .get(format!("{}{path}", s.api))
        .bearer_auth(s.token(user, ""))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_stay_in_sync_across_disconnects() {
    let mut s = Stack::new("sync").await;
    s.start_all().await;
    let user = Uuid::new_v4();
    let movie = Uuid::new_v4();
    let show = Uuid::new_v4();

    // Only the user themself: no identity → 401, another user → 403 (REST and socket).
    let anonymous = reqwest::get(format!("{}/v1/sync/state/{user}", s.api))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (st, body) = get_as(&s, Uuid::new_v4(), &format!("/v1/sync/state/{user}")).await;
    assert_eq!(st, 403, "{body}");
    let (st, _) = get_as(&s, Uuid::new_v4(), &format!("/v1/sync/devices/{user}")).await;
    assert_eq!(st, 403);
    {
        let mut intruder = Device::new(&s, Uuid::new_v4(), &s.api);
        let url = s.api.replace("http://", "ws://") + "/v1/sync/ws";
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", intruder.token).parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        send(
            &mut ws,
            &ClientMessage::Subscribe {
                user_id: user,
                device_id: intruder.id,
                last_seen: None,
                device_name: None,
                platform: None,
            },
        )
        .await;
        intruder.ws = Some(ws);
        let m = intruder.recv(Duration::from_secs(10)).await.unwrap();
        assert!(
            matches!(&m, ServerMessage::Error { code, .. } if code == "forbidden"),
            "{m:?}"
        );
    }

    let mut phone = Device::new(&s, user, &s.api);
    let mut tv = Device::new(&s, user, &s.api);
    phone.connect().await;
    tv.connect().await;
    // The phone hears the TV come online.
    phone
        .until(|m| {
            matches!(
                m,
                ServerMessage::DeviceEvent {
                    event: DeviceEvent::Online,
                    ..
                }
            )
        })
        .await;

    // Phone → TV: watchlist add and a playback position, acknowledged once durable.
    let tag1 = Uuid::new_v4();
    phone
        .edit(OperationType::WatchlistAdd {
            content_id: movie,
            tag: tag1,
        })
        .await;
    let pos_op = phone
        .edit(OperationType::PlaybackUpdate {
            content_id: movie,
            position_ms: 1_234,
            duration_ms: Some(7_200_000),
        })
        .await;
    tv.until(|m| {
        matches!(
            m,
            ServerMessage::DeviceEvent {
                event: DeviceEvent::Watching {
                    position_ms: 1_234,
                    ..
                },
                ..
            }
        )
    })
    .await;
    assert!(tv.replica.watchlist.contains(&movie));
    assert_eq!(tv.replica.positions[&movie].value.position_ms, 1_234);

    // A duplicate is acknowledged as such and reaches nobody.
    let dup = CrdtOperation {
        operation_id: pos_op,
        operation_type: OperationType::PlaybackUpdate {
            content_id: movie,
            position_ms: 1,
            duration_ms: None,
        },
        timestamp: phone.clock,
        device_id: phone.id,
        payload: Value::Null,
    };
    send(
        phone.ws.as_mut().unwrap(),
        &ClientMessage::StateUpdate {
            operations: vec![dup],
        },
    )
    .await;
    let ack = phone
        .until(|m| matches!(m, ServerMessage::Acknowledge { .. }))
        .await;
    assert!(
        matches!(ack, ServerMessage::Acknowledge { status: AckStatus::Duplicate, operation_id, .. } if operation_id == pos_op)
    );
    assert!(tv.heartbeat().await.is_empty(), "nothing new for the TV");

    // A clock far in the future is refused, naming the field; nothing is recorded.
    let mut bad = phone.clock;
    bad.physical_ms += 10 * 60_000;
    let future = CrdtOperation {
        operation_id: Uuid::new_v4(),
        operation_type: OperationType::ViewCount {
            content_id: movie,
            count: 1,
        },
        timestamp: bad,
        device_id: phone.id,
        payload: Value::Null,
    };
    send(
        phone.ws.as_mut().unwrap(),
        &ClientMessage::StateUpdate {
            operations: vec![future],
        },
    )
    .await;
    match phone
        .until(|m| matches!(m, ServerMessage::Error { .. }))
        .await
    {
        ServerMessage::Error { code, fields, .. } => {
            assert_eq!(code, "invalid_operation");
            assert_eq!(fields[0].field, "operations[0].timestamp");
        }
        _ => unreachable!(),
    }
    // Malformed messages get a readable error too.
    phone
        .ws
        .as_mut()
        .unwrap()
        .send(Message::Text(
            r#"{"type":"StateUpdate","operations":[{"operation_id":"x"}]}"#.into(),
        ))
        .await
        .unwrap();
    match phone
        .until(|m| matches!(m, ServerMessage::Error { .. }))
        .await
    {
        ServerMessage::Error { code, message, .. } => {
            assert_eq!(code, "invalid_message");
            assert!(message.contains("operations[0].operation_id"), "{message}");
        }
        _ => unreachable!(),
    }

    // The TV goes offline; the phone sees it and keeps editing.
    tv.disconnect().await;
    phone.until(|m| matches!(m, ServerMessage::DeviceEvent { event: DeviceEvent::Offline, device_id, .. } if *device_id == tv.id)).await;
    let missed = phone
        .edit(OperationType::PlaybackUpdate {
            content_id: movie,
            position_ms: 5_678,
            duration_ms: Some(7_200_000),
        })
        .await;
    // Offline on the TV: remove the movie (the tag it saw) and add a show.
    tv.edit(OperationType::WatchlistRemove {
        content_id: movie,
        tags: vec![tag1],
    })
    .await;
    tv.edit(OperationType::WatchlistAdd {
        content_id: show,
        tag: Uuid::new_v4(),
    })
    .await;
    assert_eq!(tv.queue.len(), 2);
    // Reconnecting with its last-seen cursor, the TV gets exactly what it missed, then flushes.
    let got: Vec<Uuid> = tv.connect().await.iter().map(|o| o.operation_id).collect();
    assert_eq!(
        got,
        [missed],
        "exactly the missed position, nothing seen before"
    );
    assert_eq!(tv.replica.positions[&movie].value.position_ms, 5_678);
    assert!(tv.queue.is_empty());
    let tv_msgs = phone.drain(Duration::from_millis(1_500)).await;
    let from_tv = ops_of(&tv_msgs);
    assert_eq!(
        from_tv
            .iter()
            .filter(|o| o.device_id == tv.id && o.operation_type.content_id().is_some())
            .count(),
        2
    );
    assert!(!phone.replica.watchlist.contains(&movie) && phone.replica.watchlist.contains(&show));

    // A new device gets the whole state.
    let mut laptop = Device::new(&s, user, &s.api);
    laptop.connect().await;
    assert_eq!(laptop.view(), phone.view());
    let laptop_id = laptop.id;
    tv.until(|m| matches!(m, ServerMessage::DeviceEvent { event: DeviceEvent::Online, device_id } if *device_id == laptop_id))
        .await;
    assert!(tv.heartbeat().await.is_empty(), "nothing else was missed");
    assert_eq!(tv.view(), phone.view());

    // REST merge: field-level errors, then a real upload.
    let r = s.http.post(format!("{}/v1/sync/merge", s.api)).bearer_auth(s.token(user, ""))
        .json(&json!({"device_id": laptop.id, "operations": [{"operation_id": Uuid::new_v4(), "operation_type": {"type": "Teleport"}, "timestamp": laptop.clock, "device_id": laptop.id}]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"][0]["field"], "operations[0].operation_type.type",
        "{body}"
    );
    let r = s.http.post(format!("{}/v1/sync/merge", s.api)).bearer_auth(s.token(user, ""))
        .json(&json!({"device_id": laptop.id, "operations": [{"operation_id": Uuid::new_v4(), "operation_type": {"type": "DeviceOnline"}, "timestamp": {"physical_ms": now_ms(), "logical": 0, "device_id": tv.id}, "device_id": tv.id}]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"][0]["field"], "operations[0].device_id",
        "{body}"
    );
    laptop.clock = laptop.clock.tick(now_ms());
    let views = CrdtOperation {
        operation_id: Uuid::new_v4(),
        operation_type: OperationType::ViewCount {
            content_id: show,
            count: 2,
        },
        timestamp: laptop.clock,
        device_id: laptop.id,
        payload: Value::Null,
    };
    laptop.replica.apply(&views);
    let r = s
        .http
        .post(format!("{}/v1/sync/merge", s.api))
        .bearer_auth(s.token(user, ""))
        .json(&json!({"device_id": laptop.id, "operations": [views, views]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["acknowledgements"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    assert_eq!(body["acknowledgements"][0]["status"], "recorded");
    let views_id = views.operation_id;
    phone.until(|m| matches!(m, ServerMessage::StateDelta { operations, .. } if operations.iter().any(|o| o.operation_id == views_id))).await;
    assert_eq!(phone.replica.views[&show].value(), 2);

    // The canonical state (projection) converges to what the devices hold.
    let path = format!("/v1/sync/state/{user}");
    let state = s
        .eventually(30, "sync state projected", || async {
            let (st, b) = get_as(&s, user, &path).await;
            (st == 200 && b["view_counts"][show.to_string()] == 2).then_some(b)
        })
        .await;
    let watch: Vec<&str> = state["watchlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["content_id"].as_str().unwrap())
        .collect();
    assert_eq!(watch, [show.to_string().as_str()]);
    assert_eq!(
        state["playback_positions"][movie.to_string()]["position_ms"],
        5_678
    );
    assert_eq!(
        state["playback_positions"][movie.to_string()]["device_id"],
        phone.id.to_string()
    );
    let devices = state["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    assert!(
        devices
            .iter()
            .all(|d| d["online"] == true && d["platform"] == "test"),
        "{devices:?}"
    );
    let (st, d) = get_as(&s, user, &format!("/v1/sync/devices/{user}")).await;
    assert_eq!(st, 200);
    assert_eq!(d["devices"].as_array().unwrap().len(), 3);

    // A rebuild from the log gives the same state.
    s.run_ok(&["replay", "sync"]);
    let (_, rebuilt) = get_as(&s, user, &path).await;
    assert_eq!(rebuilt, state);

    // Every recorded operation is on `sync.operations` (Avro), once.
    let in_store = s.count(&format!("SELECT count(*) FROM events WHERE aggregate_type = 'user_sync' AND aggregate_id = '{user}'")).await;
    let topic = s.topic("sync.operations");
    let on_topic = s
        .eventually(20, "sync operations relayed", || async {
            let n = common::read_topic(&topic).await.len() as i64;
            (n == in_store).then_some(n)
        })
        .await;
    assert!(on_topic >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_and_chaos_converge_without_losing_acknowledged_operations() {
    let mut s = Stack::new("sync_chaos").await;
    s.start_all().await;
    // A second API instance behind the same "load balancer": its own ports and index directory.
    let (http, grpc, ops) = (Stack::free_port(), Stack::free_port(), Stack::free_port());
    let second = format!("http://127.0.0.1:{http}");
    s.start_as(
        "api2",
        "api",
        &[
            ("MEDIAGW__HTTP__ADDR", format!("127.0.0.1:{http}")),
            ("MEDIAGW__GRPC__ADDR", format!("127.0.0.1:{grpc}")),
            ("MEDIAGW__HTTP__INTERNAL_ADDR", format!("127.0.0.1:{ops}")),
            (
                "MEDIAGW__SEARCH__INDEX_DIR",
                format!("{}/{}/index2", env!("CARGO_TARGET_TMPDIR"), s.name),
            ),
        ],
    );
    s.wait_http(&format!("http://127.0.0.1:{ops}/health/ready"))
        .await;
    let user = Uuid::new_v4();
    let apis = [s.api.clone(), second.clone()];

    // A delta recorded on one instance reaches a socket held by the other.
    let mut a = Device::new(&s, user, &apis[0]);
    let mut b = Device::new(&s, user, &apis[1]);
    a.connect().await;
    b.connect().await;
    let c = Uuid::new_v4();
    a.edit(OperationType::WatchlistAdd {
        content_id: c,
        tag: Uuid::new_v4(),
    })
    .await;
    b.until(|m| matches!(m, ServerMessage::StateDelta { operations, .. } if operations.iter().any(|o| o.operation_type.content_id() == Some(c)))).await;

    // Chaos: four devices on both instances; random edits, disconnects, offline queues and
    // reconnects (to either instance), from a fixed seed so a failure replays.
    let mut devices: Vec<Device> = vec![
        a,
        b,
        Device::new(&s, user, &apis[0]),
        Device::new(&s, user, &apis[1]),
    ];
    let contents: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut acked_all: HashSet<Uuid> = HashSet::new();
    for _ in 0..120 {
        let d = next(4) as usize;
        let content = contents[next(4) as usize];
        let dev = &mut devices[d];
        match next(10) {
            0 if dev.ws.is_some() => dev.disconnect().await,
            1 if dev.ws.is_none() => {
                dev.api = apis[next(2) as usize].clone();
                dev.connect().await;
            }
            2 => {
                let tags: Vec<Uuid> = dev.replica.watchlist.tags_of(&content).collect();
                if !tags.is_empty() {
                    dev.edit(OperationType::WatchlistRemove {
                        content_id: content,
                        tags,
                    })
                    .await;
                }
            }
            3 | 4 => {
                dev.edit(OperationType::WatchlistAdd {
                    content_id: content,
                    tag: Uuid::new_v4(),
                })
                .await;
            }
            5..=7 => {
                let p = next(10_000);
                dev.edit(OperationType::PlaybackUpdate {
                    content_id: content,
                    position_ms: p,
                    duration_ms: None,
                })
                .await;
            }
            8 => {
                let mine = dev.replica.views.get(&content).map_or(0, |g| g.of(dev.id));
                dev.edit(OperationType::ViewCount {
                    content_id: content,
                    count: mine + 1,
                })
                .await;
            }
            _ => {
                if dev.ws.is_some() {
                    dev.drain(Duration::from_millis(20)).await;
                }
            }
        }
    }
    // Everyone comes back and flushes; heartbeats drain what is left.
    for dev in devices.iter_mut() {
        if dev.ws.is_none() {
            dev.connect().await;
        }
    }
    for dev in devices.iter_mut() {
        dev.heartbeat().await;
        acked_all.extend(dev.acked.iter().copied());
    }
    for dev in devices.iter_mut() {
        dev.heartbeat().await;
        dev.drain(Duration::from_millis(300)).await;
    }
    let expected = devices[0].view();
    for (i, dev) in devices.iter().enumerate() {
        assert_eq!(dev.view(), expected, "device {i} diverged");
        assert!(dev.queue.is_empty());
    }
    // No acknowledged operation is lost: all are in the user's log, and the projection agrees.
    let logged: HashSet<Uuid> = sqlx::query_scalar::<_, String>(
        "SELECT payload->'OperationRecorded'->'operation'->>'operation_id' FROM events WHERE aggregate_type = 'user_sync' AND aggregate_id = $1",
    )
    .bind(user.to_string())
    .fetch_all(&s.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|s| Uuid::parse_str(&s).unwrap())
    .collect();
    assert!(
        acked_all.len() > 30,
        "the run made real traffic ({})",
        acked_all.len()
    );
    assert!(acked_all.is_subset(&logged));
    let path = format!("/v1/sync/state/{user}");
    let watch: BTreeMap<Uuid, Hlc> = expected.0.clone();
    s.eventually(30, "projection converged", || async {
        let (_, b) = get_as(&s, user, &path).await;
        let items: HashSet<String> = b["watchlist"]
            .as_array()?
            .iter()
            .map(|w| w["content_id"].as_str().unwrap().to_string())
            .collect();
        let want: HashSet<String> = watch.keys().map(Uuid::to_string).collect();
        let positions_ok = expected
            .1
            .iter()
            .all(|(k, v)| b["playback_positions"][k.to_string()]["position_ms"] == *v);
        (items == want && positions_ok).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_devices_time_out_and_go_offline() {
    let mut s = Stack::new("sync_timeout").await;
    s.set_env("MEDIAGW__SYNC__HEARTBEAT_TIMEOUT_S", "2");
    s.start_all().await;
    let user = Uuid::new_v4();
    let mut watcher = Device::new(&s, user, &s.api);
    let mut silent = Device::new(&s, user, &s.api);
    let silent_id = silent.id;
    // Anyone may listen to a device's presence channel.
    let redis = redis::Client::open(
        std::env::var("MEDIAGW__REDIS__URL").unwrap_or("redis://127.0.0.1:6379".into()),
    )
    .unwrap();
    let mut presence = redis.get_async_pubsub().await.unwrap();
    presence
        .subscribe(format!("mediagw:{}:device.{silent_id}.presence", s.name))
        .await
        .unwrap();
    watcher.connect().await;
    silent.connect().await;
    // The watcher heartbeats every half second; the other device says nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !watcher
        .events
        .iter()
        .any(|(d, e)| *d == silent_id && *e == DeviceEvent::Offline)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no Offline event for the silent device"
        );
        watcher.heartbeat().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The server closed the silent socket, and the state says who is online.
    let ws = silent.ws.as_mut().unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the silent socket");
    let mut stream = presence.on_message();
    let mut seen = vec![];
    while seen.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("presence messages")
            .unwrap();
        let v: Value = serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
        seen.push(v["online"].as_bool().unwrap());
    }
    assert_eq!(seen, [true, false]);
    let path = format!("/v1/sync/devices/{user}");
    s.eventually(20, "presence projected", || async {
        let (_, b) = get_as(&s, user, &path).await;
        let online: BTreeMap<String, bool> = b["devices"]
            .as_array()?
            .iter()
            .map(|d| {
                (
                    d["device_id"].as_str().unwrap().to_string(),
                    d["online"].as_bool().unwrap(),
                )
            })
            .collect();
        (online.get(&silent_id.to_string()) == Some(&false)
            && online.get(&watcher.id.to_string()) == Some(&true))
        .then_some(())
    })
    .await;
}
