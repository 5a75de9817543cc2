//! A user's operation log as devices see it: what a write recorded and what a reconnecting
//! device missed. Shared by the command side that writes it and the socket gateway that serves it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CrdtOperation, Hlc};

/// An operation in a user's log: its position (`sequence`, gap-free per user) and the server
/// stamp a device resumes after (`cursor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub sequence: i64,
    pub operation: CrdtOperation,
    pub cursor: Hlc,
}

/// What became of a batch: operations newly recorded, and ids that were already known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub recorded: Vec<Recorded>,
    pub duplicates: Vec<Uuid>,
}

/// A slice of a user's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catchup {
    pub operations: Vec<Recorded>,
    /// Position of the newest operation in the log when read.
    pub head: i64,
}

/// Where a device resumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// Everything (a new device).
    Start,
    /// After this log position.
    Sequence(i64),
    /// After this server stamp (what devices remember).
    Cursor(Hlc),
}
