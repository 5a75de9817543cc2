//! Given/when/then tests of the user aggregate and property tests of convergence.

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

const USER: Uuid = Uuid::from_u128(0xA);
const PHONE: Uuid = Uuid::from_u128(0x1);
const TV: Uuid = Uuid::from_u128(0x2);
const DRIFT: u64 = 60_000;

fn op(id: u128, device: Uuid, ms: u64, t: OperationType) -> CrdtOperation {
    CrdtOperation {
        operation_id: Uuid::from_u128(id),
        operation_type: t,
        timestamp: Hlc {
            physical_ms: ms,
            logical: 0,
            device_id: device,
        },
        device_id: device,
        payload: serde_json::Value::Null,
    }
}

fn apply_cmd(device: Uuid, ops: Vec<CrdtOperation>, now_ms: u64) -> SyncCommand {
    SyncCommand::Apply {
        user_id: USER,
        device_id: device,
        operations: ops,
        now_ms,
        max_drift_ms: DRIFT,
    }
}

/// given `history`, when `command`, then the events (or error) it produces.
fn given(history: Vec<SyncEvent>) -> UserSync {
    let mut agg = UserSync::default();
    for e in history {
        agg.apply(e);
    }
    agg
}

fn recorded(events: &[SyncEvent]) -> Vec<(Uuid, Hlc)> {
    events
        .iter()
        .map(
            |SyncEvent::OperationRecorded {
                 operation, cursor, ..
             }| (operation.operation_id, *cursor),
        )
        .collect()
}

#[test]
fn operations_are_recorded_with_increasing_cursors() {
    let movie = Uuid::from_u128(99);
    let ops = vec![
        op(
            1,
            PHONE,
            1_000,
            OperationType::WatchlistAdd {
                content_id: movie,
                tag: Uuid::from_u128(7),
            },
        ),
        op(
            2,
            PHONE,
            1_000,
            OperationType::PlaybackUpdate {
                content_id: movie,
                position_ms: 5,
                duration_ms: None,
            },
        ),
    ];
    let events = given(vec![]).handle(apply_cmd(PHONE, ops, 1_000)).unwrap();
    let r = recorded(&events);
    assert_eq!(r.len(), 2);
    assert!(r[0].1 < r[1].1, "cursor strictly increases");
    assert_eq!(r[0].1.device_id, SERVER_CLOCK);
}

#[test]
fn a_duplicate_operation_is_a_no_op() {
    let o = op(
        1,
        PHONE,
        1_000,
        OperationType::ViewCount {
            content_id: Uuid::from_u128(5),
            count: 1,
        },
    );
    let first = given(vec![])
        .handle(apply_cmd(PHONE, vec![o.clone()], 1_000))
        .unwrap();
    assert_eq!(first.len(), 1);
    let agg = given(first);
    assert!(agg
        .handle(apply_cmd(PHONE, vec![o.clone()], 2_000))
        .unwrap()
        .is_empty());
    // … also twice within one batch.
    let twice = given(vec![])
        .handle(apply_cmd(PHONE, vec![o.clone(), o], 1_000))
        .unwrap();
    assert_eq!(twice.len(), 1);
}

#[test]
fn clocks_too_far_ahead_and_foreign_devices_are_refused_whole() {
    let good = op(1, PHONE, 1_000, OperationType::DeviceOnline);
    let ahead = op(2, PHONE, 1_000 + DRIFT + 1, OperationType::DeviceOffline);
    let foreign = op(3, TV, 1_000, OperationType::DeviceOnline);
    let err = given(vec![])
        .handle(apply_cmd(PHONE, vec![good, ahead, foreign], 1_000))
        .unwrap_err();
    let SyncError::Invalid(e) = err else {
        panic!("{err:?}")
    };
    let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        ["operations[1].timestamp", "operations[2].device_id"]
    );
}

#[test]
fn a_late_operation_with_an_old_stamp_still_gets_a_later_cursor() {
    // The TV queued an edit offline at t=500; the phone's t=2000 edit reached the server first.
    let movie = Uuid::from_u128(9);
    let phone = op(
        1,
        PHONE,
        2_000,
        OperationType::PlaybackUpdate {
            content_id: movie,
            position_ms: 200,
            duration_ms: None,
        },
    );
    let tv = op(
        2,
        TV,
        500,
        OperationType::PlaybackUpdate {
            content_id: movie,
            position_ms: 100,
            duration_ms: None,
        },
    );
    let e1 = given(vec![])
        .handle(apply_cmd(PHONE, vec![phone], 2_000))
        .unwrap();
    let agg = given(e1.clone());
    let e2 = agg.handle(apply_cmd(TV, vec![tv], 2_100)).unwrap();
    assert!(
        recorded(&e2)[0].1 > recorded(&e1)[0].1,
        "resume-after-cursor sees the TV's edit"
    );
    let agg = given([e1, e2].concat());
    assert_eq!(
        agg.state.positions[&movie].value.position_ms, 200,
        "but the later HLC wins"
    );
}

#[test]
fn presence_is_recorded_on_change_only() {
    let cmd = |online, id| SyncCommand::SetPresence {
        user_id: USER,
        device_id: TV,
        session: Uuid::from_u128(0x5E55),
        online,
        operation_id: Uuid::from_u128(id),
        now_ms: 10_000,
        payload: serde_json::Value::Null,
    };
    let on = given(vec![]).handle(cmd(true, 1)).unwrap();
    assert_eq!(on.len(), 1);
    let agg = given(on);
    assert!(agg.state.is_online(TV));
    assert!(agg.handle(cmd(true, 2)).unwrap().is_empty());
    let off = agg.handle(cmd(false, 3)).unwrap();
    let agg = given(off);
    assert!(!agg.state.is_online(TV));
}

#[test]
fn an_old_connection_going_away_does_not_mark_a_reconnected_device_offline() {
    let presence = |session: u128, online, id: u128, now_ms| SyncCommand::SetPresence {
        user_id: USER,
        device_id: TV,
        session: Uuid::from_u128(session),
        online,
        operation_id: Uuid::from_u128(id),
        now_ms,
        payload: serde_json::Value::Null,
    };
    let run = |agg: &mut UserSync, c| {
        let events = agg.handle(c).unwrap();
        let n = events.len();
        for e in events {
            agg.apply(e);
        }
        n
    };
    let mut agg = UserSync::default();
    assert_eq!(run(&mut agg, presence(1, true, 1, 1_000)), 1);
    // The TV reconnects (a new connection) before the old one times out …
    assert_eq!(
        run(&mut agg, presence(2, true, 2, 2_000)),
        1,
        "the new connection claims presence"
    );
    // … so the old connection's offline is ignored; the new one's counts.
    assert_eq!(run(&mut agg, presence(1, false, 3, 3_000)), 0);
    assert!(agg.state.is_online(TV));
    assert_eq!(run(&mut agg, presence(2, false, 4, 4_000)), 1);
    assert!(!agg.state.is_online(TV));
}

#[test]
fn out_of_range_numbers_and_nul_characters_are_refused() {
    let mut o = op(
        1,
        PHONE,
        1_000,
        OperationType::ViewCount {
            content_id: Uuid::from_u128(5),
            count: u64::MAX,
        },
    );
    o.timestamp.logical = u32::MAX;
    o.payload = serde_json::json!({"name": "a\u{0}b"});
    let Err(SyncError::Invalid(e)) = given(vec![]).handle(apply_cmd(PHONE, vec![o], 1_000)) else {
        panic!("accepted")
    };
    let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "operations[0].timestamp.logical",
            "operations[0].payload",
            "operations[0].operation_type.count"
        ]
    );
}

#[test]
fn commands_for_another_user_are_refused() {
    let agg = given(
        given(vec![])
            .handle(apply_cmd(
                PHONE,
                vec![op(1, PHONE, 1, OperationType::DeviceOnline)],
                1,
            ))
            .unwrap(),
    );
    let err = agg
        .handle(SyncCommand::Apply {
            user_id: Uuid::from_u128(0xB),
            device_id: PHONE,
            operations: vec![],
            now_ms: 1,
            max_drift_ms: DRIFT,
        })
        .unwrap_err();
    assert!(matches!(err, SyncError::WrongAggregate { .. }));
}

#[test]
fn wire_format_follows_the_seed() {
    let json = serde_json::json!({
        "operation_id": Uuid::from_u128(1),
        "operation_type": {"type": "WatchlistRemove", "content_id": Uuid::from_u128(2), "tag": Uuid::from_u128(3)},
        "timestamp": {"physical_ms": 5, "logical": 0, "device_id": PHONE},
        "device_id": PHONE
    });
    let op: CrdtOperation = serde_json::from_value(json).unwrap();
    assert_eq!(
        op.operation_type,
        OperationType::WatchlistRemove {
            content_id: Uuid::from_u128(2),
            tags: vec![Uuid::from_u128(3)]
        }
    );
}

// ---------- convergence properties ----------

/// One step of a simulated device session.
#[derive(Debug, Clone)]
enum Step {
    /// Device `d` makes a change of kind `k` about content `c` after `dt` ms of its own clock.
    Edit {
        d: usize,
        k: u8,
        c: u8,
        dt: u16,
        v: u16,
    },
    /// Device `d` receives everything device `from` holds (a partial sync).
    Sync { d: usize, from: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 0..6u8, 0..4u8, 0..50u16, any::<u16>())
            .prop_map(|(d, k, c, dt, v)| Step::Edit { d, k, c, dt, v }),
        1 => (0..3usize, 0..3usize).prop_map(|(d, from)| Step::Sync { d, from }),
    ]
}

/// Runs the steps on three devices (with skewed clocks); returns every operation made, and the
/// devices' replicas.
fn simulate(steps: &[Step], skew: [u64; 3]) -> (Vec<CrdtOperation>, Vec<SyncState>) {
    let devices: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
    let mut replicas = vec![SyncState::default(); 3];
    let mut clocks: Vec<Hlc> = devices.iter().map(|d| Hlc::zero(*d)).collect();
    let mut wall = skew;
    let mut ops = Vec::new();
    let mut next_id = 1u128;
    let mut fresh = || {
        next_id += 1;
        Uuid::from_u128(next_id << 64 | 0xF00D)
    };
    for s in steps {
        match *s {
            Step::Sync { d, from } => {
                let other = replicas[from].clone();
                for t in other.last_seen.values() {
                    clocks[d] = clocks[d].receive(*t, wall[d], u64::MAX).unwrap();
                }
                replicas[d].merge(&other);
            }
            Step::Edit { d, k, c, dt, v } => {
                wall[d] += dt as u64;
                clocks[d] = clocks[d].tick(wall[d]);
                let content = Uuid::from_u128(100 + c as u128);
                let t = match k {
                    0 => OperationType::WatchlistAdd {
                        content_id: content,
                        tag: fresh(),
                    },
                    1 => {
                        let mut tags: Vec<_> = replicas[d].watchlist.tags_of(&content).collect();
                        if tags.is_empty() {
                            tags.push(fresh());
                        }
                        OperationType::WatchlistRemove {
                            content_id: content,
                            tags,
                        }
                    }
                    2 => OperationType::PlaybackUpdate {
                        content_id: content,
                        position_ms: v as u64,
                        duration_ms: None,
                    },
                    3 => {
                        let mine = replicas[d]
                            .views
                            .get(&content)
                            .map_or(0, |g| g.of(devices[d]));
                        OperationType::ViewCount {
                            content_id: content,
                            count: mine + 1 + (v % 2) as u64,
                        }
                    }
                    4 => OperationType::DeviceOnline,
                    _ => OperationType::DeviceOffline,
                };
                let op = CrdtOperation {
                    operation_id: fresh(),
                    operation_type: t,
                    timestamp: clocks[d],
                    device_id: devices[d],
                    payload: serde_json::Value::Null,
                };
                replicas[d].apply(&op);
                ops.push(op);
            }
        }
    }
    (ops, replicas)
}

/// `ops` in the order given by `keys` (a random permutation), with the `dups` positions repeated.
fn delivery(ops: &[CrdtOperation], keys: &[u32], dups: &[usize]) -> Vec<CrdtOperation> {
    let mut idx: Vec<usize> = (0..ops.len()).collect();
    idx.sort_by_key(|i| (keys.get(*i).copied().unwrap_or(0), *i));
    let mut out: Vec<CrdtOperation> = idx.iter().map(|i| ops[*i].clone()).collect();
    for d in dups {
        if !ops.is_empty() {
            let o = ops[d % ops.len()].clone();
            out.insert(d % (out.len() + 1), o);
        }
    }
    out
}

fn fold(ops: &[CrdtOperation]) -> SyncState {
    let mut s = SyncState::default();
    for o in ops {
        s.apply(o);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Any delivery order, with duplicates, and any partitioning merged back in any grouping,
    /// converges to one state, and the devices' own replicas reach it once they sync.
    #[test]
    fn every_replica_converges(
        steps in prop::collection::vec(step(), 1..40),
        skew in [0u64..5_000, 0u64..5_000, 0u64..5_000],
        keys_a in prop::collection::vec(any::<u32>(), 40),
        keys_b in prop::collection::vec(any::<u32>(), 40),
        dups in prop::collection::vec(any::<usize>(), 0..8),
        part in prop::collection::vec(0..3usize, 40),
    ) {
        let (ops, devices) = simulate(&steps, skew);
        let reference = fold(&ops);
        // Two independent delivery orders with duplicates.
        prop_assert_eq!(&fold(&delivery(&ops, &keys_a, &dups)), &reference);
        prop_assert_eq!(&fold(&delivery(&ops, &keys_b, &[])), &reference);
        // Three partitions, each applying its share in its own order, merged two ways.
        let shares: Vec<SyncState> = (0..3)
            .map(|p| {
                let mine: Vec<_> = ops.iter().enumerate().filter(|(i, _)| part[*i % part.len()] == p).map(|(_, o)| o.clone()).collect();
                fold(&delivery(&mine, &keys_b, &[]))
            })
            .collect();
        let mut left = shares[0].clone();
        left.merge(&shares[1]);
        left.merge(&shares[2]);
        let mut right = shares[1].clone();
        right.merge(&shares[2]);
        let mut right_all = shares[2].clone();
        right_all.merge(&right);
        right_all.merge(&shares[0]);
        right_all.merge(&shares[0]); // idempotent
        prop_assert_eq!(&left, &reference);
        prop_assert_eq!(&right_all, &reference);
        // Devices that exchanged partial states converge after a full exchange.
        for d in devices {
            let mut s = d.clone();
            s.merge(&reference);
            prop_assert_eq!(&s, &reference);
        }
    }

    /// The server aggregate records a permuted, duplicated stream into the same state.
    #[test]
    fn the_aggregate_converges_like_a_replica(
        steps in prop::collection::vec(step(), 1..25),
        keys in prop::collection::vec(any::<u32>(), 25),
        dups in prop::collection::vec(any::<usize>(), 0..5),
    ) {
        let (ops, _) = simulate(&steps, [0, 10, 20]);
        let mut agg = UserSync::default();
        for o in delivery(&ops, &keys, &dups) {
            let events = agg
                .handle(SyncCommand::Apply { user_id: USER, device_id: o.device_id, operations: vec![o], now_ms: 1_000_000, max_drift_ms: DRIFT })
                .unwrap();
            for e in events {
                agg.apply(e);
            }
        }
        prop_assert_eq!(&agg.state, &fold(&ops));
    }
}
