//! Details stage: the page's titles get their whole payloads from the index (cast, offers) and,
//! from the catalog, their overviews and offers in the region; then each becomes a result with
//! its scores and match reasons (`mediagw_domain::search::details`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mediagw_domain::search::details::{overview, Explain};
use mediagw_domain::search::index::DocPayload;
use mediagw_domain::search::page::{relevance, RankedPage};
use mediagw_domain::search::rerank::FEATURES;
use mediagw_domain::search::Channel;
use uuid::Uuid;

use super::contract::{ContentSummary, Offer, SearchResult};
use super::errors::{backend, stage};
use super::service::SearchService;
use crate::error::ApiError;

impl SearchService {
    pub(super) async fn details(
        &self,
        generation: i64,
        ranked: RankedPage,
        mut payloads: HashMap<Uuid, Arc<DocPayload>>,
        region: &str,
        explain: &Explain<'_>,
    ) -> Result<Vec<SearchResult>, ApiError> {
        let RankedPage {
            hits: page,
            max_score,
            mut features,
        } = ranked;
        let ids: Vec<Uuid> = page.iter().map(|f| f.id).collect();
        let t = Instant::now();
        // Candidates came with brief payloads: the page gets its titles' whole payloads.
        let (mut catalog, full) = tokio::try_join!(self.catalog(&ids, region), async {
            self.index
                .payloads(generation, ids.clone())
                .await
                .map_err(backend)
        })?;
        payloads.extend(full.into_iter().map(|(id, p)| (id, Arc::new(p))));
        stage("details", t);
        Ok(page
            .into_iter()
            .map(|f| {
                let p = &payloads[&f.id];
                let (overview, availability) = catalog.remove(&f.id).unwrap_or_default();
                SearchResult {
                    match_reasons: explain.reasons(&f, p),
                    relevance_score: relevance(f.score, max_score),
                    vector_similarity: f.channel_score(Channel::Dense),
                    graph_score: explain.graph_score(&f, p),
                    keyword_score: f.channel_score(Channel::Keyword),
                    title_score: f.channel_score(Channel::Title),
                    ranking_features: features
                        .remove(&f.id)
                        .map(|x| FEATURES.iter().map(|n| n.to_string()).zip(x).collect()),
                    content: ContentSummary {
                        id: f.id,
                        title: p.title.clone(),
                        content_type: p.content_type.clone(),
                        release_year: p.year,
                        genres: p.genres.clone(),
                        overview,
                        average_rating: (p.rating > 0.0).then_some(p.rating as f32),
                        availability,
                    },
                }
            })
            .collect())
    }

    /// Overview and the offers in `region` for a page of titles, from the catalog.
    async fn catalog(
        &self,
        ids: &[Uuid],
        region: &str,
    ) -> Result<HashMap<Uuid, (Option<String>, Vec<Offer>)>, ApiError> {
        let mut out: HashMap<Uuid, (Option<String>, Vec<Offer>)> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(Uuid, Option<String>)> =
            sqlx::query_as("SELECT id, overview FROM catalog.content WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        for (id, o) in rows {
            out.entry(id).or_default().0 = o.map(overview);
        }
        let offers: Vec<OfferRow> = sqlx::query_as(
            "SELECT content_id, platform, availability_type, deep_link, web_url,
                        price_amount::text, price_currency
                 FROM catalog.platform_availability
                 WHERE content_id = ANY($1) AND region = $2
                   AND (expires_at IS NULL OR expires_at > now())
                 ORDER BY content_id, platform, availability_type",
        )
        .bind(ids)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        for o in offers {
            out.entry(o.content_id).or_default().1.push(Offer {
                platform: o.platform,
                availability_type: o.availability_type,
                deep_link: o.deep_link,
                web_url: o.web_url,
                price_amount: o.price_amount,
                price_currency: o.price_currency,
            });
        }
        Ok(out)
    }
}

#[derive(sqlx::FromRow)]
struct OfferRow {
    content_id: Uuid,
    platform: String,
    availability_type: String,
    deep_link: String,
    web_url: String,
    price_amount: Option<String>,
    price_currency: Option<String>,
}
