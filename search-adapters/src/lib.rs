//! Search ports and their adapters. The indexer (a projector) and the query side share them; the
//! binary picks the adapters from configuration.
//!
//! - [`embed::Embedder`]: text → 384-d unit vector; [`embed::OnnxEmbedder`] runs all-MiniLM-L6-v2
//!   through ONNX Runtime, fully offline.
//! - [`index::SearchIndex`]: dense + sparse (BM25, title trigrams) vectors with payload filters;
//!   [`index::edge::EdgeIndex`] embeds qdrant-edge in the process (default);
//!   [`index::qdrant::QdrantIndex`] talks to a Qdrant server (scale-out).
//! - [`cache::Cache`]: query results with TTLs; [`cache::RedisCache`].

pub mod cache;
pub mod embed;
pub mod index;

/// Errors of the search adapters.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("embedding model: {0}")]
    Model(String),
    #[error("search index: {0}")]
    Index(String),
    #[error("cache: {0}")]
    Cache(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;
