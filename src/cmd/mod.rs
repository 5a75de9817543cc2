//! Operator and data-engineer subcommands.

pub mod bench;
pub mod connectors;
pub mod eval;
pub mod ingest;
pub mod replay;
pub mod schemas;
pub mod search;
pub mod sync;
