//! Search rules: query intent, the text features both index adapters store (BM25 terms, title
//! trigrams, the embedded text) and rank fusion. Pure: the index, the model and the cache are ports
//! in the `mediagw-search` crate.

pub mod intent;
pub mod rank;
pub mod text;

pub use intent::{parse_intent, ParsedIntent};
pub use rank::{fuse, Channel, Fused, RRF_K};
pub use text::{Bm25, SparseVector};
