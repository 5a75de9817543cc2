//! The hybrid index port: one point per title with a dense embedding, three sparse vectors (BM25
//! terms of the text, trigrams of the title, names of the cast) and a filterable payload.
//!
//! Points live in numbered *generations* (a directory or a collection each) so a rebuild
//! (`mediagw replay search-index`) fills a fresh generation while the live one keeps serving, then
//! the projector's schema swap makes the new one current.

pub mod edge;
pub mod qdrant;

use std::sync::Arc;

use async_trait::async_trait;
use mediagw_domain::search::SparseVector;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

pub const DENSE: &str = "dense";
pub const TEXT: &str = "text";
pub const TITLE: &str = "title";
/// Names of the leading cast: the graph's "shared cast" edges.
pub const CAST: &str = "cast";
pub const DIM: usize = 384;

/// What a result shows without a database round trip, and what filters match on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocPayload {
    pub title: String,
    pub year: i64,
    pub content_type: String,
    pub genres: Vec<String>,
    /// Platform slugs with any offer (any region).
    pub platforms: Vec<String>,
    /// `platform:REGION` pairs, for "on Netflix in GB".
    pub offers: Vec<String>,
    pub rating: f64,
    pub popularity: f64,
    /// Leading cast (billing order), for graph probes and match reasons.
    #[serde(default)]
    pub cast: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IndexDoc {
    pub id: Uuid,
    pub dense: Vec<f32>,
    pub text: SparseVector,
    pub title: SparseVector,
    pub cast: SparseVector,
    pub payload: DocPayload,
}

/// Hard constraints, applied inside the index so every channel returns only eligible titles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub genres_any: Vec<String>,
    pub content_types: Vec<String>,
    pub year_range: Option<(i64, i64)>,
    pub rating_range: Option<(f64, f64)>,
    /// Any of these `platform:REGION` pairs.
    pub offers_any: Vec<String>,
    pub exclude: Vec<Uuid>,
}

/// One retrieval channel's query.
#[derive(Debug, Clone)]
pub enum Probe {
    Dense(Vec<f32>),
    /// A sparse vector against [`TEXT`], [`TITLE`] or [`CAST`].
    Sparse(&'static str, SparseVector),
}

/// Which payload fields hits carry. A search ranks hundreds of candidates but shows a page:
/// decoding every candidate's whole payload (cast, offers…) was a large share of its CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFields {
    #[default]
    All,
    /// [`BRIEF_FIELDS`] only; the other fields are left at their defaults.
    Brief,
}

/// What ranking and suggestions read from candidates.
pub const BRIEF_FIELDS: &[&str] = &["title", "year", "content_type", "genres", "popularity"];

impl DocPayload {
    /// Only the [`BRIEF_FIELDS`].
    pub fn brief(&self) -> DocPayload {
        DocPayload {
            title: self.title.clone(),
            year: self.year,
            content_type: self.content_type.clone(),
            genres: self.genres.clone(),
            popularity: self.popularity,
            ..DocPayload::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelQuery {
    pub probe: Probe,
    pub filter: Filter,
    pub limit: usize,
    pub fields: PayloadFields,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
    /// Shared: the embedded index hands out its in-memory brief payloads without copying them.
    pub payload: Arc<DocPayload>,
}

#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Inserts or replaces points (idempotent: replaying a batch gives the same state).
    async fn upsert(&self, generation: i64, docs: Vec<IndexDoc>) -> Result<()>;
    async fn delete(&self, generation: i64, ids: Vec<Uuid>) -> Result<()>;
    /// Replaces the payload of existing points (offers changed); unknown ids are ignored.
    async fn set_payload(&self, generation: i64, updates: Vec<(Uuid, DocPayload)>) -> Result<()>;
    /// Runs several channel queries (one round trip where the backend allows).
    async fn query(&self, generation: i64, queries: Vec<ChannelQuery>) -> Result<Vec<Vec<Hit>>>;
    /// Stored dense vectors and payloads of some points (graph neighbours, reference titles).
    async fn get(
        &self,
        generation: i64,
        ids: Vec<Uuid>,
    ) -> Result<Vec<(Uuid, Vec<f32>, DocPayload)>>;
    /// Whole payloads of some points (a result page), in no particular order; unknown ids are
    /// left out.
    async fn payloads(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, DocPayload)>>;
    async fn count(&self, generation: i64) -> Result<usize>;
    /// Makes writes durable (called before the projector commits its offsets).
    async fn flush(&self, generation: i64) -> Result<()>;
    /// Removes a generation entirely (after a rebuild replaced it).
    async fn drop_generation(&self, generation: i64) -> Result<()>;
    /// Lets go of a generation this process opened, so another process may take it over.
    async fn release(&self, generation: i64) -> Result<()>;
    /// Points not yet covered by an ANN index (0 where the backend indexes by itself).
    async fn unindexed(&self, _generation: i64) -> Result<usize> {
        Ok(0)
    }
    /// Builds pending ANN indexes (a no-op where the backend does it in the background).
    async fn optimize(&self, _generation: i64) -> Result<bool> {
        Ok(false)
    }
}
