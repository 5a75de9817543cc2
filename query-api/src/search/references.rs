//! References stage: looks up the titles a query names ("like The Matrix") in the index.

use std::collections::HashMap;

use mediagw_domain::search::index::Filter;
use mediagw_domain::search::references::{best_match, is_a_title, Referenced, CANDIDATES};
use mediagw_domain::search::text::title_trigrams;
use mediagw_domain::search::ParsedIntent;
use mediagw_search_adapters::index::{ChannelQuery, PayloadFields, Probe, TITLE};
use uuid::Uuid;

use super::contract::Reference;
use super::errors::backend;
use super::service::SearchService;
use crate::error::ApiError;

impl SearchService {
    /// Whether the query as typed is a title in the index (one title-trigram probe).
    pub(super) async fn names_a_title(
        &self,
        generation: i64,
        query: &str,
    ) -> Result<bool, ApiError> {
        let found = self
            .index
            .query(
                generation,
                vec![ChannelQuery {
                    probe: Probe::Sparse(TITLE, title_trigrams(query)),
                    filter: Filter::default(),
                    limit: CANDIDATES,
                    fields: PayloadFields::Brief,
                }],
            )
            .await
            .map_err(backend)?;
        Ok(found.iter().any(|hits| is_a_title(query, hits)))
    }

    /// Each name's best title match (in the query's order, unmatched ones too) and the stored
    /// vector and payload of every title found.
    pub(super) async fn references(
        &self,
        generation: i64,
        intent: &ParsedIntent,
    ) -> Result<(Vec<Reference>, Vec<Referenced>), ApiError> {
        if intent.references.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let probes = intent
            .references
            .iter()
            .map(|r| ChannelQuery {
                probe: Probe::Sparse(TITLE, title_trigrams(r)),
                filter: Filter::default(),
                limit: CANDIDATES,
                fields: PayloadFields::Brief,
            })
            .collect();
        let found = self
            .index
            .query(generation, probes)
            .await
            .map_err(backend)?;
        let mut references = Vec::new();
        let mut ids = Vec::new();
        for (r, hits) in intent.references.iter().zip(found) {
            references.push(match best_match(r, hits) {
                Some(h) => {
                    ids.push(h.id);
                    Reference {
                        query: r.clone(),
                        id: Some(h.id),
                        title: Some(h.payload.title.clone()),
                        year: Some(h.payload.year),
                    }
                }
                None => Reference {
                    query: r.clone(),
                    id: None,
                    title: None,
                    year: None,
                },
            });
        }
        let (stored, terms) = tokio::try_join!(
            self.index.get(generation, ids.clone()),
            self.index.text_terms(generation, ids),
        )
        .map_err(backend)?;
        let mut terms: HashMap<Uuid, Vec<u32>> = terms.into_iter().collect();
        let referenced = stored
            .into_iter()
            .map(|(id, vector, payload)| Referenced {
                id,
                vector,
                payload,
                terms: terms.remove(&id).unwrap_or_default(),
            })
            .collect();
        Ok((references, referenced))
    }
}
