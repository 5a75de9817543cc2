//! The operations devices exchange (seed §5 `CRDTOperation`) and the replica state they fold into.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::crdt::{GCounter, LwwRegister, OrSet};
use super::hlc::Hlc;

/// One change made on one device. `operation_id` makes delivery idempotent: a replica applies an
/// operation once however often it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrdtOperation {
    pub operation_id: Uuid,
    pub operation_type: OperationType,
    /// The authoring device's HLC when the change was made.
    pub timestamp: Hlc,
    pub device_id: Uuid,
    /// Free-form extras (seed field); `DeviceOnline` reads `name` and `platform` from it.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub payload: serde_json::Value,
}

/// What changed. JSON: `{"type": "WatchlistAdd", "content_id": …, "tag": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OperationType {
    /// OR-Set add with a fresh unique tag.
    WatchlistAdd {
        content_id: Uuid,
        tag: Uuid,
    },
    /// OR-Set remove of the tags the device observed for `content_id` (`tag` or `tags`).
    WatchlistRemove {
        content_id: Uuid,
        #[serde(alias = "tag", deserialize_with = "one_or_many")]
        tags: Vec<Uuid>,
    },
    /// LWW-Register per content: where playback stands.
    PlaybackUpdate {
        content_id: Uuid,
        position_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// G-Counter per content: the device's running total of views (never decreases).
    ViewCount {
        content_id: Uuid,
        count: u64,
    },
    DeviceOnline,
    DeviceOffline,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Uuid>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Uuid),
        Many(Vec<Uuid>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(t) => vec![t],
        OneOrMany::Many(v) => v,
    })
}

impl OperationType {
    pub fn name(&self) -> &'static str {
        match self {
            OperationType::WatchlistAdd { .. } => "WatchlistAdd",
            OperationType::WatchlistRemove { .. } => "WatchlistRemove",
            OperationType::PlaybackUpdate { .. } => "PlaybackUpdate",
            OperationType::ViewCount { .. } => "ViewCount",
            OperationType::DeviceOnline => "DeviceOnline",
            OperationType::DeviceOffline => "DeviceOffline",
        }
    }

    pub fn content_id(&self) -> Option<Uuid> {
        match self {
            OperationType::WatchlistAdd { content_id, .. }
            | OperationType::WatchlistRemove { content_id, .. }
            | OperationType::PlaybackUpdate { content_id, .. }
            | OperationType::ViewCount { content_id, .. } => Some(*content_id),
            OperationType::DeviceOnline | OperationType::DeviceOffline => None,
        }
    }
}

/// A playback position (LWW value). Ordered only so equal-stamp ties resolve deterministically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub position_ms: u64,
    pub duration_ms: Option<u64>,
}

/// What a device says about itself when it comes online.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceProfile {
    pub name: Option<String>,
    pub platform: Option<String>,
}

impl DeviceProfile {
    fn from_payload(p: &serde_json::Value) -> Option<Self> {
        let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let profile = DeviceProfile {
            name: s("name"),
            platform: s("platform"),
        };
        (profile != DeviceProfile::default()).then_some(profile)
    }
}

/// One user's synced state as a replica (a device, the server) holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub watchlist: OrSet<Uuid>,
    pub positions: BTreeMap<Uuid, LwwRegister<Position>>,
    pub views: BTreeMap<Uuid, GCounter>,
    /// Online (true) / offline per device, last writer wins.
    pub presence: BTreeMap<Uuid, LwwRegister<bool>>,
    pub profiles: BTreeMap<Uuid, LwwRegister<DeviceProfile>>,
    /// Latest stamp seen from each device.
    pub last_seen: BTreeMap<Uuid, Hlc>,
    /// Operation ids already applied (the idempotence guard).
    pub applied: BTreeSet<Uuid>,
}

impl SyncState {
    /// Applies one operation; false (and no change) when it was applied before.
    pub fn apply(&mut self, op: &CrdtOperation) -> bool {
        if !self.applied.insert(op.operation_id) {
            return false;
        }
        let seen = self.last_seen.entry(op.device_id).or_insert(op.timestamp);
        *seen = (*seen).max(op.timestamp);
        match &op.operation_type {
            OperationType::WatchlistAdd { content_id, tag } => {
                self.watchlist.add(*content_id, *tag, op.timestamp);
            }
            OperationType::WatchlistRemove { tags, .. } => {
                self.watchlist.remove(tags.iter().copied());
            }
            OperationType::PlaybackUpdate {
                content_id,
                position_ms,
                duration_ms,
            } => {
                let new = LwwRegister::new(
                    Position {
                        position_ms: *position_ms,
                        duration_ms: *duration_ms,
                    },
                    op.timestamp,
                );
                merge_register(&mut self.positions, *content_id, &new);
            }
            OperationType::ViewCount { content_id, count } => {
                self.views
                    .entry(*content_id)
                    .or_default()
                    .observe(op.device_id, *count);
            }
            OperationType::DeviceOnline | OperationType::DeviceOffline => {
                let online = matches!(op.operation_type, OperationType::DeviceOnline);
                let new = LwwRegister::new(online, op.timestamp);
                merge_register(&mut self.presence, op.device_id, &new);
                if let Some(p) = DeviceProfile::from_payload(&op.payload) {
                    let new = LwwRegister::new(p, op.timestamp);
                    merge_register(&mut self.profiles, op.device_id, &new);
                }
            }
        }
        true
    }

    /// Folds another replica's state into this one.
    pub fn merge(&mut self, other: &SyncState) {
        self.watchlist.merge(&other.watchlist);
        for (k, r) in &other.positions {
            merge_register(&mut self.positions, *k, r);
        }
        for (k, c) in &other.views {
            self.views.entry(*k).or_default().merge(c);
        }
        for (k, r) in &other.presence {
            merge_register(&mut self.presence, *k, r);
        }
        for (k, r) in &other.profiles {
            merge_register(&mut self.profiles, *k, r);
        }
        for (d, h) in &other.last_seen {
            let seen = self.last_seen.entry(*d).or_insert(*h);
            *seen = (*seen).max(*h);
        }
        self.applied.extend(other.applied.iter().copied());
    }

    pub fn is_online(&self, device: Uuid) -> bool {
        self.presence.get(&device).is_some_and(|r| r.value)
    }
}

fn merge_register<T: Ord + Clone>(
    map: &mut BTreeMap<Uuid, LwwRegister<T>>,
    key: Uuid,
    new: &LwwRegister<T>,
) {
    match map.get_mut(&key) {
        Some(r) => {
            r.merge(new);
        }
        None => {
            map.insert(key, new.clone());
        }
    }
}
