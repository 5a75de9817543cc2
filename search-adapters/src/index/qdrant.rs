//! Qdrant server adapter (`search.index = "qdrant"`): one collection per generation
//! (`{prefix}g{generation}`), the same named vectors, payload indexes and query semantics as the
//! embedded adapter. Every channel query of a search goes in one `QueryBatch` round trip; fusion
//! stays in the domain (ADR 0009), so both adapters rank identically by construction.
//!
//! Writes use `wait = true`: the server has applied them (and written its WAL) before the projector
//! commits offsets, which is what `flush` means for the embedded adapter. The server builds HNSW in
//! the background by itself, so `optimize` and `unindexed` keep the port's defaults.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use qdrant_client::qdrant::{
    self, point_id::PointIdOptions, vector_output, with_payload_selector::SelectorOptions,
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Direction, FieldType, GetPointsBuilder, HnswConfigDiffBuilder, Modifier,
    OrderByBuilder, PayloadIncludeSelector, PointId, PointStruct, PointsIdsList,
    QueryBatchPointsBuilder, QueryPoints, QueryPointsBuilder, RetrievedPoint, SearchParamsBuilder,
    SetPayloadPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, VectorInput, VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector,
};
use qdrant_client::{Payload, Qdrant};
use uuid::Uuid;

use super::{
    ChannelQuery, DocPayload, Filter, Hit, IndexDoc, PayloadFields, Probe, SearchIndex,
    BRIEF_FIELDS, CAST, DENSE, DIM, POPULARITY, TEXT, TITLE,
};
use crate::{Result, SearchError};

/// Search-time HNSW beam, as in the embedded adapter.
const HNSW_EF: u64 = super::edge::HNSW_EF as u64;
/// Points per upsert request.
const UPSERT_CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct QdrantConfig {
    /// gRPC endpoint, e.g. `http://127.0.0.1:6334`.
    pub url: String,
    pub api_key: Option<String>,
    /// Collections are named `{prefix}g{generation}`.
    pub collection_prefix: String,
}

pub struct QdrantIndex {
    client: Qdrant,
    prefix: String,
    /// Generations whose collection is known to exist (with its payload indexes).
    ready: Mutex<HashSet<i64>>,
}

fn ierr(e: impl std::fmt::Display) -> SearchError {
    SearchError::Index(e.to_string())
}

/// Payload fields with an index, and their types (the filters of [`Filter`]).
const INDEXED_FIELDS: [(&str, FieldType); 8] = [
    ("genres", FieldType::Keyword),
    ("platforms", FieldType::Keyword),
    ("offers", FieldType::Keyword),
    ("content_type", FieldType::Keyword),
    ("year", FieldType::Integer),
    ("rating", FieldType::Float),
    (POPULARITY, FieldType::Float),
    ("runtime", FieldType::Integer),
];

/// Our hard filters as a Qdrant filter (`None` when nothing is constrained).
pub(crate) fn filter(f: &Filter) -> Option<qdrant::Filter> {
    let mut must = Vec::new();
    if !f.genres_any.is_empty() {
        must.push(Condition::matches("genres", f.genres_any.clone()));
    }
    if !f.content_types.is_empty() {
        must.push(Condition::matches("content_type", f.content_types.clone()));
    }
    if !f.offers_any.is_empty() {
        must.push(Condition::matches("offers", f.offers_any.clone()));
    }
    if let Some((lo, hi)) = f.year_range {
        must.push(Condition::range(
            "year",
            qdrant::Range {
                gte: Some(lo as f64),
                lte: Some(hi as f64),
                ..Default::default()
            },
        ));
    }
    if let Some((lo, hi)) = f.rating_range {
        must.push(Condition::range(
            "rating",
            qdrant::Range {
                gte: Some(lo),
                lte: Some(hi),
                ..Default::default()
            },
        ));
    }
    if let Some(max) = f.max_runtime {
        // Unknown runtimes are 0, so they pass.
        must.push(Condition::range(
            "runtime",
            qdrant::Range {
                lte: Some(max as f64),
                ..Default::default()
            },
        ));
    }
    let must_not: Vec<Condition> = if f.exclude.is_empty() {
        Vec::new()
    } else {
        vec![Condition::has_id(f.exclude.iter().map(|u| point_id(*u)))]
    };
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(qdrant::Filter {
        must,
        must_not,
        ..Default::default()
    })
}

fn point_id(u: Uuid) -> PointId {
    PointId::from(u.to_string())
}

fn uuid_of(id: Option<PointId>) -> Option<Uuid> {
    match id?.point_id_options? {
        PointIdOptions::Uuid(s) => s.parse().ok(),
        PointIdOptions::Num(_) => None,
    }
}

/// One channel as a Qdrant query (`None` for an empty sparse probe: nothing can match it).
pub(crate) fn query_points(collection: &str, q: &ChannelQuery) -> Option<QueryPoints> {
    let (input, using) = match &q.probe {
        Probe::Popular => {
            let order = OrderByBuilder::new(POPULARITY).direction(Direction::Desc as i32);
            let mut b = QueryPointsBuilder::new(collection)
                .query(qdrant::Query::new_order_by(order))
                .limit(q.limit as u64)
                .with_payload(selector(q.fields));
            if let Some(f) = filter(&q.filter) {
                b = b.filter(f);
            }
            return Some(b.build());
        }
        Probe::Dense(v) => (VectorInput::new_dense(v.clone()), DENSE),
        Probe::Sparse(name, v) => {
            if v.is_empty() {
                return None;
            }
            (
                VectorInput::new_sparse(v.indices.clone(), v.values.clone()),
                *name,
            )
        }
    };
    let mut b = QueryPointsBuilder::new(collection)
        .query(qdrant::Query::new_nearest(input))
        .using(using)
        .limit(q.limit as u64)
        .with_payload(selector(q.fields))
        .params(SearchParamsBuilder::default().hnsw_ef(HNSW_EF));
    if let Some(f) = filter(&q.filter) {
        b = b.filter(f);
    }
    Some(b.build())
}

fn selector(fields: PayloadFields) -> SelectorOptions {
    match fields {
        PayloadFields::All => SelectorOptions::from(true),
        PayloadFields::Brief => SelectorOptions::from(PayloadIncludeSelector {
            fields: BRIEF_FIELDS.iter().map(|f| f.to_string()).collect(),
        }),
    }
}

fn payload(p: &DocPayload) -> Result<Payload> {
    Payload::try_from(serde_json::to_value(p).map_err(ierr)?).map_err(ierr)
}

fn doc_payload(p: HashMap<String, qdrant::Value>) -> DocPayload {
    let json: serde_json::Map<String, serde_json::Value> =
        p.into_iter().map(|(k, v)| (k, v.into_json())).collect();
    serde_json::from_value(serde_json::Value::Object(json)).unwrap_or_default()
}

impl QdrantIndex {
    /// Points by id in one round trip, with or without their payload and with one named vector
    /// or none.
    async fn retrieve(
        &self,
        generation: i64,
        ids: Vec<Uuid>,
        payload: bool,
        vector: Option<&str>,
    ) -> Result<Vec<RetrievedPoint>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let name = self.ensure(generation).await?;
        let request =
            GetPointsBuilder::new(&name, ids.into_iter().map(point_id).collect::<Vec<_>>())
                .with_payload(payload);
        let request = match vector {
            Some(v) => request.with_vectors(VectorsSelector {
                names: vec![v.to_string()],
            }),
            None => request.with_vectors(false),
        };
        let got = self.client.get_points(request).await.map_err(ierr)?;
        Ok(got.result)
    }

    pub fn connect(cfg: &QdrantConfig) -> Result<Self> {
        let mut b = Qdrant::from_url(&cfg.url).skip_compatibility_check();
        if let Some(k) = &cfg.api_key {
            b = b.api_key(k.clone());
        }
        Ok(Self {
            client: b.build().map_err(ierr)?,
            prefix: cfg.collection_prefix.clone(),
            ready: Mutex::new(HashSet::new()),
        })
    }

    fn collection(&self, generation: i64) -> String {
        format!("{}g{generation}", self.prefix)
    }

    /// The generation's collection, created with its vectors and payload indexes on first use.
    async fn ensure(&self, generation: i64) -> Result<String> {
        let name = self.collection(generation);
        if self.ready.lock().expect("ready set").contains(&generation) {
            return Ok(name);
        }
        if !self.client.collection_exists(&name).await.map_err(ierr)? {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                DENSE,
                VectorParamsBuilder::new(DIM as u64, qdrant::Distance::Cosine),
            );
            let mut sparse = SparseVectorsConfigBuilder::default();
            for v in [TEXT, TITLE, CAST] {
                sparse.add_named_vector_params(
                    v,
                    SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
                );
            }
            let created = self
                .client
                .create_collection(
                    CreateCollectionBuilder::new(&name)
                        .vectors_config(vectors)
                        .sparse_vectors_config(sparse)
                        .hnsw_config(HnswConfigDiffBuilder::default().m(16).ef_construct(100)),
                )
                .await;
            // Another instance may have created it meanwhile.
            if let Err(e) = created {
                if !self.client.collection_exists(&name).await.map_err(ierr)? {
                    return Err(ierr(e));
                }
            }
        }
        for (field, ty) in INDEXED_FIELDS {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(&name, field, ty).wait(true),
                )
                .await
                .map_err(ierr)?;
        }
        self.ready.lock().expect("ready set").insert(generation);
        Ok(name)
    }
}

fn point(d: IndexDoc) -> Result<PointStruct> {
    let vectors: HashMap<String, qdrant::Vector> = [
        (DENSE.to_string(), qdrant::Vector::new_dense(d.dense)),
        (
            TEXT.to_string(),
            qdrant::Vector::new_sparse(d.text.indices, d.text.values),
        ),
        (
            TITLE.to_string(),
            qdrant::Vector::new_sparse(d.title.indices, d.title.values),
        ),
        (
            CAST.to_string(),
            qdrant::Vector::new_sparse(d.cast.indices, d.cast.values),
        ),
    ]
    .into();
    Ok(PointStruct::new(
        point_id(d.id),
        vectors,
        payload(&d.payload)?,
    ))
}

#[async_trait]
impl SearchIndex for QdrantIndex {
    async fn upsert(&self, generation: i64, docs: Vec<IndexDoc>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let name = self.ensure(generation).await?;
        let points = docs.into_iter().map(point).collect::<Result<Vec<_>>>()?;
        for chunk in points.chunks(UPSERT_CHUNK) {
            self.client
                .upsert_points(UpsertPointsBuilder::new(&name, chunk.to_vec()).wait(true))
                .await
                .map_err(ierr)?;
        }
        Ok(())
    }

    async fn delete(&self, generation: i64, ids: Vec<Uuid>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let name = self.ensure(generation).await?;
        self.client
            .delete_points(
                DeletePointsBuilder::new(&name)
                    .points(PointsIdsList {
                        ids: ids.into_iter().map(point_id).collect(),
                    })
                    .wait(true),
            )
            .await
            .map_err(ierr)?;
        Ok(())
    }

    async fn set_payload(&self, generation: i64, updates: Vec<(Uuid, DocPayload)>) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let name = self.ensure(generation).await?;
        for (id, p) in updates {
            self.client
                .overwrite_payload(
                    SetPayloadPointsBuilder::new(&name, payload(&p)?)
                        .points_selector(PointsIdsList {
                            ids: vec![point_id(id)],
                        })
                        .wait(true),
                )
                .await
                .map_err(ierr)?;
        }
        Ok(())
    }

    async fn query(&self, generation: i64, queries: Vec<ChannelQuery>) -> Result<Vec<Vec<Hit>>> {
        let name = self.ensure(generation).await?;
        let built: Vec<Option<QueryPoints>> =
            queries.iter().map(|q| query_points(&name, q)).collect();
        let sent: Vec<QueryPoints> = built.iter().flatten().cloned().collect();
        let mut answers = if sent.is_empty() {
            Vec::new()
        } else {
            self.client
                .query_batch(QueryBatchPointsBuilder::new(&name, sent))
                .await
                .map_err(ierr)?
                .result
        }
        .into_iter();
        Ok(built
            .iter()
            .zip(&queries)
            .map(|(b, q)| match b {
                None => Vec::new(),
                Some(_) => answers
                    .next()
                    .map(|r| {
                        r.result
                            .into_iter()
                            .filter_map(|p| {
                                let payload = doc_payload(p.payload);
                                Some(Hit {
                                    id: uuid_of(p.id)?,
                                    // An ordered query scores nothing: its order is the value.
                                    score: match q.probe {
                                        Probe::Popular => payload.popularity as f32,
                                        _ => p.score,
                                    },
                                    payload: std::sync::Arc::new(payload),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn get(
        &self,
        generation: i64,
        ids: Vec<Uuid>,
    ) -> Result<Vec<(Uuid, Vec<f32>, DocPayload)>> {
        let got = self.retrieve(generation, ids, true, Some(DENSE)).await?;
        Ok(got
            .into_iter()
            .filter_map(|r| {
                let id = uuid_of(r.id)?;
                let dense = match r.vectors?.get_vector_by_name(DENSE)? {
                    vector_output::Vector::Dense(d) => d.data,
                    _ => return None,
                };
                Some((id, dense, doc_payload(r.payload)))
            })
            .collect())
    }

    async fn text_terms(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, Vec<u32>)>> {
        let got = self.retrieve(generation, ids, false, Some(TEXT)).await?;
        Ok(got
            .into_iter()
            .filter_map(|r| {
                let id = uuid_of(r.id)?;
                let terms = match r.vectors.and_then(|v| v.get_vector_by_name(TEXT)) {
                    Some(vector_output::Vector::Sparse(v)) => v.indices,
                    _ => Vec::new(),
                };
                Some((id, terms))
            })
            .collect())
    }

    async fn payloads(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, DocPayload)>> {
        let got = self.retrieve(generation, ids, true, None).await?;
        Ok(got
            .into_iter()
            .filter_map(|r| Some((uuid_of(r.id)?, doc_payload(r.payload))))
            .collect())
    }

    async fn count(&self, generation: i64) -> Result<usize> {
        let name = self.ensure(generation).await?;
        let r = self
            .client
            .count(CountPointsBuilder::new(&name).exact(true))
            .await
            .map_err(ierr)?;
        Ok(r.result.map_or(0, |c| c.count as usize))
    }

    /// Writes are acknowledged after the server applied them (`wait = true`).
    async fn flush(&self, _generation: i64) -> Result<()> {
        Ok(())
    }

    async fn drop_generation(&self, generation: i64) -> Result<()> {
        self.ready.lock().expect("ready set").remove(&generation);
        let name = self.collection(generation);
        if self.client.collection_exists(&name).await.map_err(ierr)? {
            self.client.delete_collection(&name).await.map_err(ierr)?;
        }
        Ok(())
    }

    async fn release(&self, generation: i64) -> Result<()> {
        self.ready.lock().expect("ready set").remove(&generation);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediagw_domain::search::SparseVector;
    use qdrant::condition::ConditionOneOf;
    use qdrant::query::Variant;

    fn fields(f: &qdrant::Filter) -> Vec<String> {
        f.must
            .iter()
            .filter_map(|c| match &c.condition_one_of {
                Some(ConditionOneOf::Field(fc)) => Some(fc.key.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn no_constraint_is_no_filter() {
        assert_eq!(filter(&Filter::default()), None);
    }

    #[test]
    fn every_hard_filter_maps_to_a_condition() {
        // Given every kind of constraint,
        let f = Filter {
            genres_any: vec!["comedy".into()],
            content_types: vec!["movie".into()],
            year_range: Some((1990, 1999)),
            rating_range: Some((6.0, 10.0)),
            offers_any: vec!["netflix:US".into()],
            max_runtime: Some(90),
            exclude: vec![Uuid::from_u128(1)],
        };
        // when mapped,
        let q = filter(&f).expect("a filter");
        // then each is a `must` condition on its indexed field, and the exclusion a `must_not`.
        assert_eq!(
            fields(&q),
            vec![
                "genres",
                "content_type",
                "offers",
                "year",
                "rating",
                "runtime"
            ]
        );
        for name in fields(&q) {
            assert!(INDEXED_FIELDS.iter().any(|(n, _)| *n == name), "{name}");
        }
        let Some(ConditionOneOf::Field(year)) = &q.must[3].condition_one_of else {
            panic!("year is a field condition");
        };
        let r = year.range.as_ref().expect("a range");
        assert_eq!((r.gte, r.lte), (Some(1990.0), Some(1999.0)));
        assert!(matches!(
            &q.must_not[0].condition_one_of,
            Some(ConditionOneOf::HasId(h)) if h.has_id == vec![point_id(Uuid::from_u128(1))]
        ));
    }

    #[test]
    fn channels_map_to_nearest_queries_on_their_vector() {
        let dense = ChannelQuery {
            probe: Probe::Dense(vec![0.5; DIM]),
            filter: Filter::default(),
            limit: 100,
            fields: PayloadFields::All,
        };
        let q = query_points("mediagw_g1", &dense).expect("dense query");
        assert_eq!(q.collection_name, "mediagw_g1");
        assert_eq!(q.using.as_deref(), Some(DENSE));
        assert_eq!(q.limit, Some(100));
        assert!(q.filter.is_none());
        assert!(matches!(
            q.query.and_then(|x| x.variant),
            Some(Variant::Nearest(_))
        ));
        let sparse = ChannelQuery {
            probe: Probe::Sparse(
                CAST,
                SparseVector {
                    indices: vec![3, 9],
                    values: vec![1.0, 1.0],
                },
            ),
            filter: Filter {
                year_range: Some((1980, 1989)),
                ..Filter::default()
            },
            limit: 50,
            fields: PayloadFields::Brief,
        };
        let q = query_points("mediagw_g1", &sparse).expect("sparse query");
        assert_eq!(q.using.as_deref(), Some(CAST));
        assert_eq!(fields(q.filter.as_ref().unwrap()), vec!["year"]);
        // An empty sparse probe is not sent at all.
        let empty = ChannelQuery {
            probe: Probe::Sparse(TEXT, SparseVector::default()),
            filter: Filter::default(),
            limit: 10,
            fields: PayloadFields::All,
        };
        assert!(query_points("mediagw_g1", &empty).is_none());
    }

    #[test]
    fn a_browse_query_orders_the_filters_points_by_popularity() {
        let popular = ChannelQuery {
            probe: Probe::Popular,
            filter: Filter {
                genres_any: vec!["comedy".into()],
                ..Filter::default()
            },
            limit: 200,
            fields: PayloadFields::Brief,
        };
        let q = query_points("mediagw_g1", &popular).expect("ordered query");
        assert_eq!(q.limit, Some(200));
        assert!(q.using.is_none());
        assert!(q.filter.is_some());
        match q.query.and_then(|x| x.variant) {
            Some(Variant::OrderBy(o)) => {
                assert_eq!(o.key, POPULARITY);
                assert_eq!(o.direction, Some(Direction::Desc as i32));
            }
            other => panic!("an order-by query, got {other:?}"),
        }
    }

    #[test]
    fn payload_round_trips_through_qdrant_values() {
        let p = DocPayload {
            title: "Speed".into(),
            year: 1994,
            content_type: "movie".into(),
            genres: vec!["action".into()],
            platforms: vec!["max".into()],
            offers: vec!["max:US".into()],
            rating: 7.5,
            popularity: 0.5,
            cast: vec!["Keanu Reeves".into()],
            directors: vec!["Jan de Bont".into()],
            runtime: 116,
        };
        let back = doc_payload(payload(&p).unwrap().into());
        assert_eq!(back, p);
    }
}
