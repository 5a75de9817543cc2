//! Operator and data-engineer subcommands.

pub mod bench;
pub mod ingest;
pub mod replay;
pub mod schemas;
