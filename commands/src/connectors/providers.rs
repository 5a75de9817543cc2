//! Endpoints and pagination of each provider, as documented by them:
//! - TMDb v3: `/3/discover/{movie,tv}` (catalog) and `/3/{movie,tv}/changes` (sync, enrichment),
//!   `page`/`total_pages`; details with `append_to_response=external_ids,watch/providers,credits`.
//! - Watchmode v1: `/v1/list-titles/` and `/v1/changes/titles_sources_changed/`, `page`/`total_pages`;
//!   details `/v1/title/{id}/details/?append_to_response=sources`.
//! - Streaming Availability v4: `/shows/search/filters` and `/changes` per country,
//!   `hasMore`/`nextCursor`; shows come whole.
//! - YouTube Data v3: `playlistItems` (`nextPageToken`) then `videos` for up to 50 ids.
//! - Gracenote OnConnect-style: `/v1.1/programs/availabilities` with `offset`/`limit`.

use serde_json::Value;

use super::{Connector, ConnectorError, Job, Page};
use mediagw_domain::catalog::IngestSource;

const TMDB_MAX_PAGE: u64 = 500; // TMDb serves at most 500 pages of any list

impl Connector {
    pub async fn page(
        &self,
        job: Job,
        cursor: Option<&str>,
        regions: &[String],
    ) -> Result<Page, ConnectorError> {
        match self.source {
            IngestSource::Tmdb => self.tmdb(job, cursor).await,
            IngestSource::Watchmode => self.watchmode(job, cursor).await,
            IngestSource::StreamingAvailability => {
                self.streaming_availability(job, cursor, regions).await
            }
            IngestSource::Youtube => self.youtube(cursor).await,
            IngestSource::Gracenote => self.gracenote(job, cursor).await,
            IngestSource::Generic => Ok(Page {
                records: vec![],
                next: None,
            }),
        }
    }

    fn shape(&self, path: &str, message: &str) -> ConnectorError {
        ConnectorError::Shape {
            provider: self.http.provider,
            path: path.to_string(),
            message: message.to_string(),
        }
    }

    /// Details of one item; a 404 means the provider dropped it since the listing (skipped).
    async fn details(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Value>, ConnectorError> {
        match self.http.get_json(path, query).await {
            Ok(v) => Ok(Some(v)),
            Err(ConnectorError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn tmdb(&self, job: Job, cursor: Option<&str>) -> Result<Page, ConnectorError> {
        let (kind, page) = match cursor.and_then(|c| c.split_once(':')) {
            Some((k, p)) => (k.to_string(), p.parse::<u64>().unwrap_or(1)),
            None => ("movie".to_string(), 1),
        };
        let path = match job {
            Job::CatalogRefresh => format!("/3/discover/{kind}"),
            Job::AvailabilitySync | Job::MetadataEnrichment => format!("/3/{kind}/changes"),
        };
        let list = self
            .http
            .get_json(&path, &[("page", page.to_string())])
            .await?;
        let results = list["results"]
            .as_array()
            .ok_or_else(|| self.shape(&path, "`results` is not an array"))?;
        let mut records = Vec::new();
        for r in results {
            let Some(id) = r["id"].as_u64() else {
                continue;
            };
            let q = [(
                "append_to_response",
                "external_ids,watch/providers,credits".to_string(),
            )];
            if let Some(mut d) = self.details(&format!("/3/{kind}/{id}"), &q).await? {
                d["media_type"] = Value::from(kind.as_str());
                records.push((None, d));
            }
        }
        let total = list["total_pages"]
            .as_u64()
            .unwrap_or(page)
            .min(TMDB_MAX_PAGE);
        let next = if page < total {
            Some(format!("{kind}:{}", page + 1))
        } else if kind == "movie" {
            Some("tv:1".to_string())
        } else {
            None
        };
        Ok(Page { records, next })
    }

    async fn watchmode(&self, job: Job, cursor: Option<&str>) -> Result<Page, ConnectorError> {
        let page: u64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(1);
        let path = match job {
            Job::CatalogRefresh => "/v1/list-titles/",
            Job::AvailabilitySync => "/v1/changes/titles_sources_changed/",
            Job::MetadataEnrichment => "/v1/changes/titles_details_changed/",
        };
        let mut q = self.key_param("apiKey");
        q.push(("page", page.to_string()));
        q.push(("limit", "250".into()));
        let list = self.http.get_json(path, &q).await?;
        let titles = list["titles"]
            .as_array()
            .ok_or_else(|| self.shape(path, "`titles` is not an array"))?;
        let mut records = Vec::new();
        for t in titles {
            // list-titles gives objects, the changes endpoints bare ids.
            let Some(id) = t.as_u64().or_else(|| t["id"].as_u64()) else {
                continue;
            };
            let mut q = self.key_param("apiKey");
            q.push(("append_to_response", "sources".into()));
            if let Some(d) = self
                .details(&format!("/v1/title/{id}/details/"), &q)
                .await?
            {
                records.push((None, d));
            }
        }
        let total = list["total_pages"].as_u64().unwrap_or(page);
        Ok(Page {
            records,
            next: (page < total).then(|| (page + 1).to_string()),
        })
    }

    async fn streaming_availability(
        &self,
        job: Job,
        cursor: Option<&str>,
        regions: &[String],
    ) -> Result<Page, ConnectorError> {
        // Cursor: "<region index>|<provider cursor>"; listings are per country.
        let (ri, inner) = match cursor.and_then(|c| c.split_once('|')) {
            Some((i, c)) => (i.parse::<usize>().unwrap_or(0), c.to_string()),
            None => (0, String::new()),
        };
        let Some(region) = regions.get(ri) else {
            return Ok(Page {
                records: vec![],
                next: None,
            });
        };
        let country = region.to_ascii_lowercase();
        let mut q = vec![("country", country), ("output_language", "en".to_string())];
        if !inner.is_empty() {
            q.push(("cursor", inner));
        }
        let (v, shows): (Value, Vec<Value>) = match job {
            Job::CatalogRefresh | Job::MetadataEnrichment => {
                q.push(("series_granularity", "show".into()));
                let v = self.http.get_json("/shows/search/filters", &q).await?;
                let shows = v["shows"]
                    .as_array()
                    .ok_or_else(|| self.shape("/shows/search/filters", "`shows` is not an array"))?
                    .clone();
                (v, shows)
            }
            Job::AvailabilitySync => {
                q.push(("change_type", "updated".into()));
                q.push(("item_type", "show".into()));
                let v = self.http.get_json("/changes", &q).await?;
                let shows = v["shows"]
                    .as_object()
                    .map(|m| m.values().cloned().collect())
                    .ok_or_else(|| self.shape("/changes", "`shows` is not an object"))?;
                (v, shows)
            }
        };
        let next = if v["hasMore"].as_bool() == Some(true) {
            v["nextCursor"].as_str().map(|c| format!("{ri}|{c}"))
        } else if ri + 1 < regions.len() {
            Some(format!("{}|", ri + 1))
        } else {
            None
        };
        Ok(Page {
            records: shows
                .into_iter()
                .map(|s| (Some(region.clone()), s))
                .collect(),
            next,
        })
    }

    async fn youtube(&self, cursor: Option<&str>) -> Result<Page, ConnectorError> {
        let (pi, token) = match cursor.and_then(|c| c.split_once('|')) {
            Some((i, t)) => (i.parse::<usize>().unwrap_or(0), t.to_string()),
            None => (0, String::new()),
        };
        let Some(playlist) = self.playlists.get(pi) else {
            return Ok(Page {
                records: vec![],
                next: None,
            });
        };
        let mut q = self.key_param("key");
        q.extend([
            ("part", "contentDetails".to_string()),
            ("playlistId", playlist.clone()),
            ("maxResults", "50".to_string()),
        ]);
        if !token.is_empty() {
            q.push(("pageToken", token));
        }
        let path = "/youtube/v3/playlistItems";
        let items = self.http.get_json(path, &q).await?;
        let ids: Vec<&str> = items["items"]
            .as_array()
            .ok_or_else(|| self.shape(path, "`items` is not an array"))?
            .iter()
            .filter_map(|i| i["contentDetails"]["videoId"].as_str())
            .collect();
        let mut records = Vec::new();
        if !ids.is_empty() {
            let mut q = self.key_param("key");
            q.push(("part", "snippet,contentDetails,status".into()));
            q.push(("id", ids.join(",")));
            let videos = self.http.get_json("/youtube/v3/videos", &q).await?;
            for v in videos["items"].as_array().into_iter().flatten() {
                records.push((None, v.clone()));
            }
        }
        let next = match items["nextPageToken"].as_str() {
            Some(t) => Some(format!("{pi}|{t}")),
            None if pi + 1 < self.playlists.len() => Some(format!("{}|", pi + 1)),
            None => None,
        };
        Ok(Page { records, next })
    }

    async fn gracenote(&self, job: Job, cursor: Option<&str>) -> Result<Page, ConnectorError> {
        const LIMIT: usize = 100;
        let offset: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let mut q = self.key_param("api_key");
        q.push(("offset", offset.to_string()));
        q.push(("limit", LIMIT.to_string()));
        if job != Job::CatalogRefresh {
            let since = chrono::Utc::now() - chrono::Duration::days(1);
            q.push(("updatedSince", since.format("%Y-%m-%dT%H:%MZ").to_string()));
        }
        let path = "/v1.1/programs/availabilities";
        let v = self.http.get_json(path, &q).await?;
        let programs = v
            .as_array()
            .or_else(|| v["programs"].as_array())
            .ok_or_else(|| self.shape(path, "expected an array of programs"))?;
        Ok(Page {
            next: (programs.len() == LIMIT).then(|| (offset + LIMIT).to_string()),
            records: programs.iter().map(|p| (None, p.clone())).collect(),
        })
    }
}
