//! The hybrid index port: one point per title with a dense embedding, three sparse vectors (BM25
//! terms of the text, trigrams of the title, names of the cast) and a filterable payload.
//!
//! Points live in numbered *generations* (a directory or a collection each) so a rebuild
//! (`mediagw replay search-index`) fills a fresh generation while the live one keeps serving, then
//! the projector's schema swap makes the new one current.

pub mod edge;
pub mod qdrant;

use async_trait::async_trait;
pub use mediagw_domain::search::index::{DocPayload, Filter, Hit, BRIEF_FIELDS};
use mediagw_domain::search::SparseVector;
use uuid::Uuid;

use crate::Result;

pub const DENSE: &str = "dense";
pub const TEXT: &str = "text";
pub const TITLE: &str = "title";
/// Names of the leading cast: the graph's "shared cast" edges.
pub const CAST: &str = "cast";
pub const DIM: usize = 384;

#[derive(Debug, Clone)]
pub struct IndexDoc {
    pub id: Uuid,
    pub dense: Vec<f32>,
    pub text: SparseVector,
    pub title: SparseVector,
    pub cast: SparseVector,
    pub payload: DocPayload,
}

/// One retrieval channel's query.
#[derive(Debug, Clone)]
pub enum Probe {
    Dense(Vec<f32>),
    /// A sparse vector against [`TEXT`], [`TITLE`] or [`CAST`].
    Sparse(&'static str, SparseVector),
    /// The filter's points by payload [`POPULARITY`], highest first; the hit's score is it.
    Popular,
}

/// The payload field [`Probe::Popular`] orders by (the catalog prior, 0–1).
pub const POPULARITY: &str = "popularity";

/// Which payload fields hits carry. A search ranks hundreds of candidates but shows a page:
/// decoding every candidate's whole payload (cast, offers…) was a large share of its CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFields {
    #[default]
    All,
    /// [`BRIEF_FIELDS`] only; the other fields are left at their defaults.
    Brief,
}

#[derive(Debug, Clone)]
pub struct ChannelQuery {
    pub probe: Probe,
    pub filter: Filter,
    pub limit: usize,
    pub fields: PayloadFields,
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
    /// The [`TEXT`] term ids each point holds (the reranker's query-term coverage), in no
    /// particular order; unknown ids are left out.
    async fn text_terms(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, Vec<u32>)>>;
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
