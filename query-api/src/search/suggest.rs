//! `GET /v1/search/suggestions`: title completions, cached until the index changes. Ranking is
//! `mediagw_domain::search::suggest`.

use mediagw_domain::search::index::Filter;
use mediagw_domain::search::suggest::{rank, CANDIDATES};
use mediagw_domain::search::text::title_trigrams;
use mediagw_search_adapters::index::{ChannelQuery, PayloadFields, Probe, TITLE};

use super::contract::Suggestion;
use super::errors::{backend, bad};
use super::service::SearchService;
use crate::error::ApiError;

impl SearchService {
    pub async fn suggestions(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Suggestion>, ApiError> {
        let prefix = prefix.split_whitespace().collect::<Vec<_>>().join(" ");
        if prefix.is_empty() {
            return Err(bad("prefix", "must not be empty"));
        }
        if prefix.chars().count() > 100 {
            return Err(bad("prefix", "at most 100 characters"));
        }
        if !(1..=20).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 20"));
        }
        let key = self
            .cache_key("suggest", &format!("{limit}|{}", prefix.to_lowercase()))
            .await;
        if let Some(k) = &key {
            if let Some(v) = self.cache_get(k).await {
                if let Ok(s) = serde_json::from_slice(&v) {
                    return Ok(s);
                }
            }
        }
        let generation = self.generation().await?;
        let hits = self
            .index
            .query(
                generation,
                vec![ChannelQuery {
                    probe: Probe::Sparse(TITLE, title_trigrams(&prefix)),
                    filter: Filter::default(),
                    limit: CANDIDATES,
                    fields: PayloadFields::Brief,
                }],
            )
            .await
            .map_err(backend)?
            .pop()
            .unwrap_or_default();
        let out: Vec<Suggestion> = rank(&prefix, hits)
            .into_iter()
            .take(limit)
            .map(|(s, h)| Suggestion {
                id: h.id,
                title: h.payload.title.clone(),
                release_year: h.payload.year,
                content_type: h.payload.content_type.clone(),
                score: s,
            })
            .collect();
        if let Some(k) = &key {
            let bytes = serde_json::to_vec(&out).expect("suggestions serialise");
            self.cache_put(k, &bytes, self.settings.suggestion_ttl)
                .await;
        }
        Ok(out)
    }
}
