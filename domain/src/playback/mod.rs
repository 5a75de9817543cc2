//! Playback and devices (seed §6): the device registry, the deep-link table, best-platform
//! routing and playback sessions. Pure: the query side brings offers, services and presence.

pub mod deeplink;
pub mod device;
pub mod routing;
pub mod session;
