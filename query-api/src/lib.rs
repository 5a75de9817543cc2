//! Query side: thin HTTP services over the read models. Routes never write; they read tables that
//! projectors own (schema `catalog`) and answer in the seed's contracts, over REST and gRPC.

pub mod availability;
pub mod content;
pub mod error;
pub mod gateway;
pub mod grpc;
pub mod health;
pub mod search;

pub use error::ApiError;
pub use health::{Readiness, ReadinessProbe};
