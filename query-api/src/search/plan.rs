//! Plan stage, the request's side: validate and normalise it. What it means together with the
//! query's intent (filter, depth) is `mediagw_domain::search::plan`.

use mediagw_domain::catalog::{normalize_genre, normalize_region, ContentType};
use mediagw_domain::providers::platform_slug;
use mediagw_domain::search::plan::Constraints;
use serde::Serialize;
use uuid::Uuid;

use super::contract::{SearchMode, SearchRequest};
use super::errors::bad;
use crate::error::ApiError;

const MAX_QUERY_CHARS: usize = 500;

/// A validated request: everything normalised, ready to run and to key the cache.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Plan {
    pub query: String,
    pub page: u32,
    pub page_size: u32,
    pub user_id: Option<Uuid>,
    pub region: String,
    pub mode: SearchMode,
    pub explain: bool,
    #[serde(flatten)]
    pub constraints: Constraints,
}

pub(super) fn validate(req: SearchRequest, default_region: &str) -> Result<Plan, ApiError> {
    let query = req.query.split_whitespace().collect::<Vec<_>>().join(" ");
    if query.is_empty() {
        return Err(bad("query", "must not be empty"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(bad(
            "query",
            format!("at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if req.page < 1 {
        return Err(bad("page", "starts at 1"));
    }
    if !(1..=100).contains(&req.page_size) {
        return Err(bad("page_size", "must be between 1 and 100"));
    }
    if req.page.saturating_mul(req.page_size) > 1000 {
        return Err(bad("page", "results are paged up to the first 1000"));
    }
    let region = match req.region.as_deref() {
        None | Some("") => default_region.to_string(),
        Some(r) => normalize_region(r)
            .ok_or_else(|| bad("region", format!("`{r}` is not an ISO 3166-1 alpha-2 code")))?,
    };
    let f = req.filters.unwrap_or_default();
    let genres: Vec<String> = f
        .genres
        .unwrap_or_default()
        .iter()
        .map(|g| normalize_genre(g))
        .filter(|g| !g.is_empty())
        .collect();
    let mut content_types = Vec::new();
    for t in f.content_types.unwrap_or_default() {
        let parsed = ContentType::parse(&t.trim().to_lowercase()).ok_or_else(|| {
            bad(
                "filters.content_types",
                format!(
                    "`{t}` is not one of {}",
                    ContentType::ALL.map(|c| c.as_str()).join(", ")
                ),
            )
        })?;
        content_types.push(parsed.as_str().to_string());
    }
    if let Some((a, b)) = f.year_range {
        if a > b || !(1800..=2200).contains(&a) || !(1800..=2200).contains(&b) {
            return Err(bad(
                "filters.year_range",
                "must be [from, to] with 1800 ≤ from ≤ to ≤ 2200",
            ));
        }
    }
    if let Some((a, b)) = f.rating_range {
        if !(a.is_finite() && b.is_finite()) || a > b || a < 0.0 || b > 10.0 {
            return Err(bad(
                "filters.rating_range",
                "must be [min, max] with 0 ≤ min ≤ max ≤ 10",
            ));
        }
    }
    let mut platforms = Vec::new();
    for p in f.platforms.unwrap_or_default() {
        let slug = platform_slug(&p)
            .ok_or_else(|| bad("filters.platforms", format!("`{p}` is not a platform name")))?;
        platforms.push(slug);
    }
    Ok(Plan {
        query,
        page: req.page,
        page_size: req.page_size,
        user_id: req.user_id,
        region,
        mode: req.mode,
        explain: req.explain,
        constraints: Constraints {
            genres,
            content_types,
            year_range: f.year_range,
            rating_range: f.rating_range,
            platforms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> SearchRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let e = |v| match validate(req(v), "US") {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert_eq!(e(serde_json::json!({"query": "  "})), "query");
        assert_eq!(e(serde_json::json!({"query": "x", "page": 0})), "page");
        assert_eq!(
            e(serde_json::json!({"query": "x", "page_size": 101})),
            "page_size"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "region": "Mars"})),
            "region"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "filters": {"content_types": ["opera"]}})),
            "filters.content_types"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "filters": {"year_range": [2000, 1990]}})),
            "filters.year_range"
        );
        let ok = validate(
            req(serde_json::json!({"query": " the   matrix ", "filters": {"genres": ["Sci  Fi"], "platforms": ["Disney+"]}})),
            "US",
        )
        .unwrap();
        assert_eq!(ok.query, "the matrix");
        assert_eq!(ok.constraints.genres, vec!["sci fi"]);
        assert_eq!(ok.constraints.platforms, vec!["disney_plus"]);
        assert_eq!(ok.region, "US");
    }

    /// The plan keys the result cache: its JSON is the request, normalised, field by field.
    #[test]
    fn the_cache_key_reads_the_whole_plan() {
        let plan = validate(
            req(serde_json::json!({"query": "heist", "page": 2, "filters": {"year_range": [1990, 1999], "content_types": ["Movie"]}})),
            "GB",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&plan).unwrap(),
            r#"{"query":"heist","page":2,"page_size":20,"user_id":null,"region":"GB","mode":"hybrid","explain":false,"genres":[],"content_types":["movie"],"year_range":[1990,1999],"rating_range":null,"platforms":[]}"#
        );
    }
}
