//! Playback and devices (seed §6): `POST /v1/devices/register`, `GET /v1/devices`,
//! `DELETE /v1/devices/{id}`, `POST /v1/playback/initiate`, `POST /v1/playback/control`,
//! `GET /v1/playback/session/{id}`, `GET /v1/content/{id}/watch`; gRPC `PlaybackService`.
//!
//! Registrations and sessions go through the [`port::PlaybackCommands`] port (the `UserDevices`
//! and `PlaybackSession` aggregates); devices and sessions are read from the `playback`
//! projection, offers from the catalog, services from the `profiles` projection, presence and
//! resume positions from the `sync` projection. Routing and deep links are pure code in
//! `mediagw_domain::playback`; control frames reach the TV through the sync hub.

pub mod contract;
pub mod grpc;
mod http;
pub mod port;
pub mod service;

pub use contract::*;
pub use http::router;
pub use service::{PlaybackService, PlaybackSettings};
