//! Search rules, pure: query intent, the text features both index adapters store (BM25 terms,
//! title trigrams, the embedded text), what the index holds per title, and every stage of a
//! search that needs no I/O. The index, the model and the cache are ports in the
//! `mediagw-search-adapters` crate; `mediagw-query-api` runs the stages against them.
//!
//! A search's stages, in order: [`plan`] (filter, depth) → [`references`] (titles the query
//! names) → [`probes`] (channel queries) → [`fuse`] (ranked lists, RRF) → [`boost`] (genres,
//! taste) → [`rerank`] (a learned model over channel strength, the [`prior`] and [`sequels`]) → [`page`] (order, paging) → [`details`] (match reasons, graph score, overview).
//! [`suggest`] ranks title completions.

pub mod boost;
pub mod details;
pub mod fuse;
pub mod index;
pub mod intent;
pub mod page;
pub mod people;
pub mod plan;
pub mod prior;
pub mod probes;
pub mod references;
pub mod related;
pub mod rerank;
pub mod sequels;
pub mod soundalike;
pub mod suggest;
pub mod text;

pub use fuse::{fuse, Channel, Fused, RRF_K};
pub use intent::{parse_intent, ParsedIntent};
pub use text::{Bm25, SparseVector};
