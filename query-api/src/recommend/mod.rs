//! Recommendations (seed §4, SONA): `POST /v1/recommendations`, `POST /v1/recommendations/cold-start`,
//! `POST /v1/user/{id}/feedback`, `GET /v1/user/{id}/profile`, `PUT|GET /v1/user/{id}/services`.
//!
//! Feedback and services go through the [`port::FeedbackCommands`] port (the `UserInteractions`
//! aggregate); profiles come from the `profiles` projection, the collaborative model from the
//! training job (`recommend.models`), content neighbours from the search index. The ranking itself
//! is pure code in `mediagw_domain::recommend::rank`; [`service`] does the I/O around it.

pub mod contract;
pub mod grpc;
mod http;
pub mod port;
pub mod service;

pub use contract::*;
pub use http::router;
pub use service::{RecommendSettings, RecommendationService};
