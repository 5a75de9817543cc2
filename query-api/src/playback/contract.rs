//! The playback API's request and response bodies (seed §6 field names).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Seed `DeviceCapabilities`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCapabilitiesBody {
    #[serde(default)]
    pub supports_4k: bool,
    #[serde(default)]
    pub supports_hdr: bool,
    #[serde(default)]
    pub supports_dolby_atmos: bool,
    /// Platform slugs the device can open; empty: any.
    #[serde(default)]
    pub supported_platforms: Vec<String>,
}

/// Seed `RegisterDeviceRequest`. `device_id` is optional: a device signed in through the device
/// grant is registered under its token's `device_id`; otherwise one is assigned.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    pub device_name: String,
    /// ios, android, web, tvos, androidtv, roku, tizen, webos, firetv, chromecast (`tv`, `mobile`
    /// accepted as aliases).
    pub device_type: String,
    #[serde(default)]
    pub capabilities: DeviceCapabilitiesBody,
    #[serde(default)]
    pub push_token: Option<String>,
    #[serde(default)]
    pub device_id: Option<Uuid>,
}

/// Seed `DeviceStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum DeviceStatus {
    Online,
    Offline,
    Watching,
}

/// Seed `Device`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceBody {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub device_name: String,
    pub device_type: String,
    pub capabilities: DeviceCapabilitiesBody,
    pub last_seen: DateTime<Utc>,
    pub status: DeviceStatus,
    pub registered_at: DateTime<Utc>,
    /// The session playing on it, when `Watching`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceBody>,
}

/// Seed `InitiatePlaybackRequest`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiatePlaybackRequest {
    pub content_id: Uuid,
    pub device_id: Uuid,
    #[serde(default)]
    pub preferred_platform: Option<String>,
    /// `sd`, `hd` or `uhd` (`4k`).
    #[serde(default)]
    pub quality_preference: Option<String>,
    /// Resume from the last position synced for this title.
    #[serde(default)]
    pub resume: bool,
}

/// Another way to watch, in routing order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alternative {
    pub platform: String,
    pub availability_type: String,
    /// Decimal as a string, e.g. "3.99".
    #[schema(value_type = Option<String>)]
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub video_quality: Option<String>,
    pub deep_link: String,
    pub web_fallback: String,
    pub reason: String,
}

/// Seed `InitiatePlaybackResponse`, plus why this route and the others.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InitiatePlaybackResponse {
    pub deep_link: String,
    pub web_fallback: String,
    pub session_id: Uuid,
    pub platform: String,
    pub resume_position_ms: Option<u64>,
    pub reason: String,
    pub availability_type: String,
    /// Decimal as a string, e.g. "3.99".
    #[schema(value_type = Option<String>)]
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub video_quality: Option<String>,
    /// Whether `deep_link` opens a native app (false: the web player).
    pub native_app: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub alternatives: Vec<Alternative>,
}

/// `GET /v1/content/{id}/watch`: the same decision, no session.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchResponse {
    pub content_id: Uuid,
    pub available: bool,
    pub platform: String,
    pub deep_link: String,
    pub web_fallback: String,
    pub reason: String,
    pub availability_type: String,
    /// Decimal as a string, e.g. "3.99".
    #[schema(value_type = Option<String>)]
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub native_app: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub alternatives: Vec<Alternative>,
}

/// `POST /v1/playback/control`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    pub session_id: Uuid,
    /// play, pause, seek (with `position_ms`) or stop.
    pub command: String,
    #[serde(default)]
    pub position_ms: Option<i64>,
}

/// A session as served (`GET /v1/playback/session/{id}`, and the answer to a control).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionBody {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub content_id: Uuid,
    pub platform: String,
    pub deep_link: String,
    pub web_fallback: String,
    /// playing, paused or ended.
    pub state: String,
    pub position_ms: Option<u64>,
    pub resume_position_ms: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
