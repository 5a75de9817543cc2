//! What the index holds per title and the constraints it applies, as plain values: the indexer
//! writes them, the index ports carry them and the ranking stages read them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// Directors the overview credits ([`super::text::directors`]), for "same director" probes
    /// and match reasons. Empty in points indexed before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directors: Vec<String>,
    /// Minutes; 0 = not known (so "under 90 minutes" keeps titles whose runtime is unknown).
    #[serde(default)]
    pub runtime: i64,
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

/// Hard constraints, applied inside the index so every channel returns only eligible titles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub genres_any: Vec<String>,
    pub content_types: Vec<String>,
    pub year_range: Option<(i64, i64)>,
    pub rating_range: Option<(f64, f64)>,
    /// Runtime at most this (minutes); titles of unknown runtime (0) pass.
    pub max_runtime: Option<i64>,
    /// Any of these `platform:REGION` pairs.
    pub offers_any: Vec<String>,
    pub exclude: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
    /// Shared: the embedded index hands out its in-memory brief payloads without copying them.
    pub payload: Arc<DocPayload>,
}
