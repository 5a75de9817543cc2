//! Hybrid search (seed §3): `POST /v1/search`, `GET /v1/search`, suggestions and trending.
//!
//! A search runs in stages; the pure part of each is in `mediagw_domain::search`, the part that
//! reads the index, the model or the database is here:
//!
//! | stage | here | pure |
//! |---|---|---|
//! | plan: validate the request, parse the intent, hard filter | `plan` | `plan`, `intent` |
//! | references: the titles the query names | `references` | `references` |
//! | probes: one query per channel, in one round trip | `probes` | `probes` |
//! | fuse: ranked lists, weighted Reciprocal Rank Fusion | — | `fuse` |
//! | boost: wanted genres, the user's taste | `boost` | `boost` |
//! | rerank: the fused top reordered by a learned model (channel strength, prior) | `rerank` | `rerank`, `prior` |
//! | page: sort by (score, id), cut the page | — | `page` |
//! | details: whole payloads, overviews, offers, match reasons | `details` | `details` |
//!
//! `service` runs the stages in order; routes are in `http`, their bodies in `contract`, stage
//! errors in `errors`; suggestions and trending in `suggest` and `trending`. Answers are cached in
//! Redis under the index's change counter, so a title change invalidates them.

mod boost;
mod contract;
mod details;
mod errors;
mod http;
mod plan;
mod probes;
mod references;
mod rerank;
mod service;
mod suggest;
mod trending;

pub use contract::{
    ContentSummary, Offer, QueryParsed, Reference, SearchFilters, SearchMode, SearchRequest,
    SearchResponse, SearchResult, Suggestion, Trending, TrendingQuery,
};
pub use http::router;
pub use mediagw_domain::search::fuse::ChannelWeights;
pub use mediagw_domain::search::rerank::Ranker;
pub use service::{SearchEvent, SearchEvents, SearchService, SearchSettings};
