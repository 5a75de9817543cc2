//! The I/O around the pure playback rules: offers from the catalog, the user's services, the
//! device, presence and resume positions from sync; sessions through the command port; control
//! frames through the sync hub.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mediagw_domain::catalog::AvailabilityType;
use mediagw_domain::playback::deeplink::{self, display_name};
use mediagw_domain::playback::device::{Capabilities, Device, DeviceType};
use mediagw_domain::playback::routing::{self, Candidate, Quality, Routed, Unusable};
use mediagw_domain::playback::session::{Control, PlaybackSession, Started};
use mediagw_domain::sync::{Hlc, LwwRegister};
use serde_json::json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::contract::*;
use super::port::{PlaybackCommands, PlaybackWriteError};
use crate::error::ApiError;
use crate::sync::hub::{ControlFrame, SyncHub};

#[derive(Debug, Clone)]
pub struct PlaybackSettings {
    /// Region of a user who has not said (`PUT /v1/user/{id}/services`).
    pub default_region: String,
}

/// A session not touched for this long no longer makes its device "Watching".
const WATCHING_WINDOW_H: i64 = 6;

pub struct PlaybackService {
    pool: PgPool,
    commands: Arc<dyn PlaybackCommands>,
    hub: Arc<SyncHub>,
    settings: PlaybackSettings,
}

/// The device a decision is for.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub device_type: DeviceType,
    pub capabilities: Capabilities,
}

/// What routing needs from the request.
pub struct Wish {
    pub preferred_platform: Option<String>,
    pub quality_preference: Option<Quality>,
}

/// A routing decision with the links to open.
pub struct Decision {
    pub content_id: Uuid,
    pub candidates: Vec<Candidate>,
    pub routed: Routed,
    pub links: Vec<deeplink::DeepLink>,
}

pub fn write_error(e: PlaybackWriteError) -> ApiError {
    match e {
        PlaybackWriteError::Invalid(v) => ApiError::Invalid(v),
        PlaybackWriteError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
        PlaybackWriteError::Forbidden(m) => ApiError::Forbidden(m),
        PlaybackWriteError::Conflict(m) => ApiError::Conflict(m),
        PlaybackWriteError::Contention => {
            ApiError::Conflict("too many concurrent writes; retry".into())
        }
        PlaybackWriteError::Unavailable(m) => ApiError::Backend(m),
    }
}

fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl PlaybackService {
    pub fn new(
        pool: PgPool,
        commands: Arc<dyn PlaybackCommands>,
        hub: Arc<SyncHub>,
        settings: PlaybackSettings,
    ) -> Self {
        Self {
            pool,
            commands,
            hub,
            settings,
        }
    }

    pub async fn register(
        &self,
        user_id: Uuid,
        device: Device,
    ) -> Result<(DeviceBody, bool), ApiError> {
        let (d, created) = self
            .commands
            .register_device(user_id, device)
            .await
            .map_err(write_error)?;
        let presence = self.presence(user_id).await?;
        Ok((self.body(user_id, &d, &presence, &BTreeMap::new()), created))
    }

    pub async fn remove(&self, user_id: Uuid, device_id: Uuid) -> Result<(), ApiError> {
        self.commands
            .remove_device(user_id, device_id)
            .await
            .map_err(write_error)
    }

    /// Online / last seen per device from the sync state, plus sockets open here right now.
    async fn presence(&self, user_id: Uuid) -> Result<Presence, ApiError> {
        let row = sqlx::query(
            "SELECT state->'presence', state->'last_seen' FROM sync.user_state WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let mut p = Presence::default();
        if let Some(row) = row {
            let online: Option<serde_json::Value> = row.get(0);
            let seen: Option<serde_json::Value> = row.get(1);
            let online: BTreeMap<Uuid, LwwRegister<bool>> = online
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| ApiError::Backend(format!("stored presence: {e}")))?
                .unwrap_or_default();
            let seen: BTreeMap<Uuid, Hlc> = seen
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| ApiError::Backend(format!("stored last_seen: {e}")))?
                .unwrap_or_default();
            p.online = online
                .into_iter()
                .filter(|(_, r)| r.value)
                .map(|(d, _)| d)
                .collect();
            p.last_seen = seen
                .into_iter()
                .map(|(d, h)| (d, ms_time(h.physical_ms as i64)))
                .collect();
        }
        Ok(p)
    }

    fn body(
        &self,
        user_id: Uuid,
        d: &Device,
        presence: &Presence,
        watching: &BTreeMap<Uuid, Uuid>,
    ) -> DeviceBody {
        let online =
            presence.online.contains(&d.device_id) || self.hub.connected_here(user_id, d.device_id);
        let registered_at = ms_time(d.registered_at_ms);
        let session_id = watching.get(&d.device_id).copied().filter(|_| online);
        DeviceBody {
            device_id: d.device_id,
            user_id,
            device_name: d.device_name.clone(),
            device_type: d.device_type.as_str().to_string(),
            capabilities: DeviceCapabilitiesBody {
                supports_4k: d.capabilities.supports_4k,
                supports_hdr: d.capabilities.supports_hdr,
                supports_dolby_atmos: d.capabilities.supports_dolby_atmos,
                supported_platforms: d.capabilities.supported_platforms.clone(),
            },
            last_seen: presence
                .last_seen
                .get(&d.device_id)
                .copied()
                .map_or(registered_at, |s| s.max(registered_at)),
            status: match (online, session_id) {
                (true, Some(_)) => DeviceStatus::Watching,
                (true, None) => DeviceStatus::Online,
                (false, _) => DeviceStatus::Offline,
            },
            registered_at,
            session_id,
        }
    }

    /// The user's devices from the read model, with their status.
    pub async fn devices(&self, user_id: Uuid) -> Result<Vec<DeviceBody>, ApiError> {
        let rows = sqlx::query(
            "SELECT device_id, device_name, device_type, supports_4k, supports_hdr,
                    supports_dolby_atmos, supported_platforms, registered_at
             FROM playback.devices WHERE user_id = $1 ORDER BY registered_at, device_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool);
        let live = sqlx::query(
            "SELECT DISTINCT ON (device_id) device_id, session_id FROM playback.sessions
             WHERE user_id = $1 AND state <> 'ended' AND updated_at > now() - make_interval(hours => $2)
             ORDER BY device_id, updated_at DESC",
        )
        .bind(user_id)
        .bind(WATCHING_WINDOW_H as i32)
        .fetch_all(&self.pool);
        let (rows, live, presence) = tokio::join!(rows, live, self.presence(user_id));
        let watching: BTreeMap<Uuid, Uuid> = live?.iter().map(|r| (r.get(0), r.get(1))).collect();
        let presence = presence?;
        let mut out = Vec::new();
        for r in rows? {
            let device_type: String = r.get(2);
            let registered_at: DateTime<Utc> = r.get(7);
            let d = Device {
                device_id: r.get(0),
                device_name: r.get(1),
                device_type: DeviceType::parse(&device_type).ok_or_else(|| {
                    ApiError::Backend(format!("stored device type `{device_type}`"))
                })?,
                capabilities: Capabilities {
                    supports_4k: r.get(3),
                    supports_hdr: r.get(4),
                    supports_dolby_atmos: r.get(5),
                    supported_platforms: r.get(6),
                },
                push_token: None,
                registered_at_ms: registered_at.timestamp_millis(),
            };
            out.push(self.body(user_id, &d, &presence, &watching));
        }
        Ok(out)
    }

    /// One of the user's devices: the read model, else the write side (just registered).
    pub async fn device(&self, user_id: Uuid, device_id: Uuid) -> Result<DeviceFacts, ApiError> {
        let row = sqlx::query(
            "SELECT device_type, supports_4k, supports_hdr, supports_dolby_atmos, supported_platforms
             FROM playback.devices WHERE user_id = $1 AND device_id = $2",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = row {
            let t: String = r.get(0);
            return Ok(DeviceFacts {
                device_type: DeviceType::parse(&t)
                    .ok_or_else(|| ApiError::Backend(format!("stored device type `{t}`")))?,
                capabilities: Capabilities {
                    supports_4k: r.get(1),
                    supports_hdr: r.get(2),
                    supports_dolby_atmos: r.get(3),
                    supported_platforms: r.get(4),
                },
            });
        }
        let devices = self.commands.devices(user_id).await.map_err(write_error)?;
        devices
            .into_iter()
            .find(|d| d.device_id == device_id)
            .map(|d| DeviceFacts {
                device_type: d.device_type,
                capabilities: d.capabilities,
            })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "device {device_id} is not registered to this user (`device_id`)"
                ))
            })
    }

    /// The routing decision for a title on a device (404: no such title; 409: nothing now).
    pub async fn decide(
        &self,
        user_id: Uuid,
        content_id: Uuid,
        device: &DeviceFacts,
        wish: &Wish,
    ) -> Result<(Decision, String), ApiError> {
        let title = sqlx::query(
            "SELECT c.id, c.title FROM catalog.content c
             WHERE c.id = COALESCE(
                 (SELECT survivor_id FROM catalog.content_redirects WHERE old_id = $1), $1)",
        )
        .bind(content_id)
        .fetch_optional(&self.pool);
        let user = sqlx::query("SELECT region, services FROM profiles.users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool);
        let (title, user) = tokio::join!(title, user);
        let title = title?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "content {content_id} does not exist (`content_id`)"
            ))
        })?;
        let (content_id, name): (Uuid, String) = (title.get(0), title.get(1));
        let (region, services) = match user? {
            Some(r) => {
                let region: Option<String> = r.get(0);
                let services: serde_json::Value = r.get(1);
                let services: BTreeSet<String> = services
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("platform").and_then(|p| p.as_str()))
                    .map(str::to_string)
                    .collect();
                (
                    region.unwrap_or_else(|| self.settings.default_region.clone()),
                    services,
                )
            }
            None => (self.settings.default_region.clone(), BTreeSet::new()),
        };
        let rows = sqlx::query(
            "SELECT platform, region, availability_type, price_amount, price_currency,
                    video_quality, available_from, expires_at, deep_link, web_url
             FROM catalog.platform_availability WHERE content_id = $1",
        )
        .bind(content_id)
        .fetch_all(&self.pool)
        .await?;
        let candidates: Vec<Candidate> = rows
            .iter()
            .filter_map(|r| {
                let kind: String = r.get(2);
                let quality: Option<String> = r.get(5);
                Some(Candidate {
                    platform: r.get(0),
                    region: r.get(1),
                    availability_type: AvailabilityType::parse(&kind)?,
                    price_amount: r.get(3),
                    price_currency: r.get(4),
                    video_quality: quality.as_deref().and_then(Quality::parse),
                    available_from: r.get(6),
                    expires_at: r.get(7),
                    deep_link: r.get(8),
                    web_url: r.get(9),
                })
            })
            .collect();
        let ask = routing::Ask {
            now: Utc::now(),
            region: &region,
            services: &services,
            capabilities: &device.capabilities,
            preferred_platform: wish.preferred_platform.as_deref(),
            quality_preference: wish.quality_preference,
        };
        match routing::route(&candidates, &ask) {
            Ok(routed) => {
                let links = std::iter::once(&routed.best)
                    .chain(&routed.alternatives)
                    .map(|r| {
                        let c = &candidates[r.index];
                        deeplink::link(
                            &c.platform,
                            device.device_type,
                            &c.deep_link,
                            &c.web_url,
                            &name,
                        )
                    })
                    .collect();
                Ok((
                    Decision {
                        content_id,
                        candidates,
                        routed,
                        links,
                    },
                    name,
                ))
            }
            Err(na) => Err(self
                .not_available(content_id, &name, &region, &candidates, &na.unusable)
                .await),
        }
    }

    /// 409 `not_available` with where and when the title was last available, what is coming,
    /// and where else it plays.
    async fn not_available(
        &self,
        content_id: Uuid,
        name: &str,
        region: &str,
        candidates: &[Candidate],
        unusable: &[(usize, Unusable)],
    ) -> ApiError {
        let mut last = Vec::new();
        let mut upcoming = Vec::new();
        let mut elsewhere = Vec::new();
        let mut unsupported = Vec::new();
        for (i, why) in unusable {
            let c = &candidates[*i];
            match why {
                Unusable::Expired => last.push((c.expires_at.unwrap_or_default(), c.platform.clone(), c.region.clone())),
                Unusable::NotYet => upcoming.push(json!({"platform": c.platform, "region": c.region, "from": c.available_from, "availability_type": c.availability_type.as_str()})),
                Unusable::OtherRegion => elsewhere.push(json!({"platform": c.platform, "region": c.region, "availability_type": c.availability_type.as_str()})),
                Unusable::UnsupportedPlatform => unsupported.push(json!({"platform": c.platform, "availability_type": c.availability_type.as_str()})),
            }
        }
        // Offers that left the catalog: the availability change feed remembers them.
        let left = sqlx::query(
            "SELECT platform, region, occurred_at FROM catalog.availability_changes
             WHERE content_id = $1 AND change = 'left' ORDER BY occurred_at DESC LIMIT 10",
        )
        .bind(content_id)
        .fetch_all(&self.pool)
        .await;
        match left {
            Ok(rows) => {
                for r in rows {
                    last.push((r.get(2), r.get(0), r.get(1)));
                }
            }
            Err(e) => tracing::warn!(error = %e, "availability history not read"),
        }
        last.sort_by_key(|l| std::cmp::Reverse(l.0));
        last.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        let mut message = format!("“{name}” cannot be watched in {region} right now");
        if let Some((until, platform, r)) = last.first() {
            message.push_str(&format!(
                "; it was last available on {} in {r} until {}",
                display_name(platform),
                until.format("%Y-%m-%d")
            ));
        } else if !unsupported.is_empty() {
            message.push_str("; it is on platforms this device does not support");
        }
        let mut details = serde_json::Map::new();
        details.insert("content_id".into(), json!(content_id));
        details.insert("region".into(), json!(region));
        details.insert(
            "last_available".into(),
            json!(last
                .iter()
                .take(5)
                .map(|(until, p, r)| json!({"platform": p, "region": r, "until": until}))
                .collect::<Vec<_>>()),
        );
        details.insert("upcoming".into(), json!(upcoming));
        details.insert("elsewhere".into(), json!(elsewhere));
        details.insert("unsupported_on_device".into(), json!(unsupported));
        ApiError::ConflictWith {
            code: "not_available",
            message,
            details,
        }
    }

    /// The last position synced for a title (CRDT state).
    async fn resume_position(
        &self,
        user_id: Uuid,
        content_id: Uuid,
    ) -> Result<Option<u64>, ApiError> {
        let pos: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT (state->'positions'->$2->'value'->>'position_ms')::bigint
             FROM sync.user_state WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(content_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(pos.flatten().and_then(|p| u64::try_from(p).ok()))
    }

    pub async fn initiate(
        &self,
        user_id: Uuid,
        req: &InitiatePlaybackRequest,
        wish: Wish,
    ) -> Result<InitiatePlaybackResponse, ApiError> {
        let device = self.device(user_id, req.device_id).await?;
        let resume = async {
            if req.resume {
                self.resume_position(user_id, req.content_id).await
            } else {
                Ok(None)
            }
        };
        let (decision, resume) =
            tokio::join!(self.decide(user_id, req.content_id, &device, &wish), resume);
        let (decision, _) = decision?;
        let resume_position_ms = resume?;
        let best = &decision.routed.best;
        let offer = &decision.candidates[best.index];
        let link = &decision.links[0];
        let session_id = Uuid::new_v4();
        self.commands
            .start_session(Started {
                session_id,
                user_id,
                device_id: req.device_id,
                content_id: decision.content_id,
                platform: offer.platform.clone(),
                deep_link: link.deep_link.clone(),
                web_fallback: link.web_fallback.clone(),
                resume_position_ms,
                at_ms: Utc::now().timestamp_millis(),
            })
            .await
            .map_err(write_error)?;
        metrics::counter!(
            "playback_initiated_total",
            "platform" => metric_platform(&offer.platform),
            "device_type" => device.device_type.as_str()
        )
        .increment(1);
        Ok(InitiatePlaybackResponse {
            deep_link: link.deep_link.clone(),
            web_fallback: link.web_fallback.clone(),
            session_id,
            platform: offer.platform.clone(),
            resume_position_ms,
            reason: best.reason.clone(),
            availability_type: offer.availability_type.as_str().to_string(),
            price_amount: offer.price_amount,
            price_currency: offer.price_currency.clone(),
            video_quality: offer.video_quality.map(|q| q.as_str().to_string()),
            native_app: link.native,
            expires_at: offer.expires_at,
            alternatives: alternatives(&decision),
        })
    }

    /// "Can I watch it now?" on a device (or in a browser): the decision without a session.
    pub async fn watch(
        &self,
        user_id: Uuid,
        content_id: Uuid,
        device_id: Option<Uuid>,
        wish: Wish,
    ) -> Result<WatchResponse, ApiError> {
        let device = match device_id {
            Some(d) => self.device(user_id, d).await?,
            None => DeviceFacts {
                device_type: DeviceType::Web,
                capabilities: Capabilities::default(),
            },
        };
        let (decision, _) = self.decide(user_id, content_id, &device, &wish).await?;
        let best = &decision.routed.best;
        let offer = &decision.candidates[best.index];
        let link = &decision.links[0];
        Ok(WatchResponse {
            content_id: decision.content_id,
            available: true,
            platform: offer.platform.clone(),
            deep_link: link.deep_link.clone(),
            web_fallback: link.web_fallback.clone(),
            reason: best.reason.clone(),
            availability_type: offer.availability_type.as_str().to_string(),
            price_amount: offer.price_amount,
            price_currency: offer.price_currency.clone(),
            native_app: link.native,
            expires_at: offer.expires_at,
            alternatives: alternatives(&decision),
        })
    }

    /// Remote control: checked, handed to the device's socket (409 when it has none), then
    /// recorded. Delivering first keeps the phone → TV path off the database commit.
    pub async fn control(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        command: Control,
        position_ms: Option<i64>,
    ) -> Result<SessionBody, ApiError> {
        let session = self
            .commands
            .check_control(session_id, user_id, command, position_ms)
            .await
            .map_err(write_error)?;
        let started = session
            .started
            .as_ref()
            .ok_or_else(|| ApiError::NotFound("playback session not found".into()))?;
        let delivered = self
            .hub
            .control(ControlFrame {
                user_id,
                device_id: started.device_id,
                session_id,
                command: command.as_str().to_string(),
                position_ms: position_ms.and_then(|p| u64::try_from(p).ok()),
            })
            .await
            .map_err(|e| ApiError::Backend(e.to_string()))?;
        if !delivered {
            let mut details = serde_json::Map::new();
            details.insert("device_id".into(), json!(started.device_id));
            details.insert("session_id".into(), json!(session_id));
            return Err(ApiError::ConflictWith {
                code: "device_offline",
                message: "the device playing this session is offline; nothing was sent".into(),
                details,
            });
        }
        let after = self
            .commands
            .control(session_id, user_id, command, position_ms)
            .await
            .map_err(write_error)?;
        metrics::counter!("playback_controls_total", "command" => command.as_str()).increment(1);
        session_body(&after).ok_or_else(|| ApiError::NotFound("playback session not found".into()))
    }

    /// A session: the read model, else the write side (just started). 403 for another user's.
    pub async fn session(&self, user_id: Uuid, session_id: Uuid) -> Result<SessionBody, ApiError> {
        let row = sqlx::query(
            "SELECT user_id, device_id, content_id, platform, deep_link, web_fallback, state,
                    position_ms, resume_position_ms, started_at, updated_at
             FROM playback.sessions WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        let body = match row {
            Some(r) => {
                let pos = |v: Option<i64>| v.and_then(|p| u64::try_from(p).ok());
                SessionBody {
                    session_id,
                    user_id: r.get(0),
                    device_id: r.get(1),
                    content_id: r.get(2),
                    platform: r.get(3),
                    deep_link: r.get(4),
                    web_fallback: r.get(5),
                    state: r.get(6),
                    position_ms: pos(r.get(7)),
                    resume_position_ms: pos(r.get(8)),
                    started_at: r.get(9),
                    updated_at: r.get(10),
                }
            }
            None => {
                let s = self
                    .commands
                    .session(session_id)
                    .await
                    .map_err(write_error)?;
                s.as_ref()
                    .and_then(session_body)
                    .ok_or_else(|| ApiError::NotFound("playback session not found".into()))?
            }
        };
        if body.user_id != user_id {
            return Err(ApiError::Forbidden(
                "the session belongs to another user".into(),
            ));
        }
        Ok(body)
    }
}

/// Sync presence of a user's devices.
#[derive(Default)]
struct Presence {
    online: BTreeSet<Uuid>,
    last_seen: BTreeMap<Uuid, DateTime<Utc>>,
}

/// Platform label for metrics: known platforms by slug, the rest as `other` (bounded cardinality).
fn metric_platform(slug: &str) -> &'static str {
    deeplink::platform(slug).map_or("other", |p| p.slug)
}

fn alternatives(d: &Decision) -> Vec<Alternative> {
    d.routed
        .alternatives
        .iter()
        .zip(d.links.iter().skip(1))
        .map(|(r, l)| {
            let c = &d.candidates[r.index];
            Alternative {
                platform: c.platform.clone(),
                availability_type: c.availability_type.as_str().to_string(),
                price_amount: c.price_amount,
                price_currency: c.price_currency.clone(),
                video_quality: c.video_quality.map(|q| q.as_str().to_string()),
                deep_link: l.deep_link.clone(),
                web_fallback: l.web_fallback.clone(),
                reason: r.reason.clone(),
            }
        })
        .collect()
}

pub fn session_body(s: &PlaybackSession) -> Option<SessionBody> {
    let st = s.started.as_ref()?;
    Some(SessionBody {
        session_id: st.session_id,
        user_id: st.user_id,
        device_id: st.device_id,
        content_id: st.content_id,
        platform: st.platform.clone(),
        deep_link: st.deep_link.clone(),
        web_fallback: st.web_fallback.clone(),
        state: s.state.as_str().to_string(),
        position_ms: s.position_ms,
        resume_position_ms: st.resume_position_ms,
        started_at: ms_time(st.at_ms),
        updated_at: ms_time(s.updated_at_ms),
    })
}
