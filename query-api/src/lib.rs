//! Query side: thin HTTP services over the read models, answering in the seed's contracts over REST and
//! gRPC. Routes read tables that projectors own; the one exception is [`sync`], the devices' gateway,
//! which hands their operations to the sync command service and fans deltas out.

pub mod account;
pub mod availability;
pub mod content;
pub mod error;
pub mod gateway;
pub mod grpc;
pub mod grpc_edge;
pub mod grpc_gate;
pub mod grpc_metrics;
pub mod health;
pub mod mcp;
pub mod openapi;
pub mod playback;
pub mod recommend;
pub mod search;
pub mod sync;

pub use error::ApiError;
pub use health::{Readiness, ReadinessProbe};
