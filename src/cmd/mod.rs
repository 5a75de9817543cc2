//! Operator and data-engineer subcommands (benchmarks and evaluations are in `bench` and `eval`).

pub mod account;
pub mod auth;
pub mod connectors;
pub mod feedback;
pub mod history;
pub mod ingest;
pub mod mcp;
pub mod parquet;
pub mod replay;
pub mod schemas;
