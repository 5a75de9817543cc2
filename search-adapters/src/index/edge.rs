//! Embedded qdrant-edge adapter (default): one `EdgeShard` per generation under a base directory.
//!
//! qdrant-edge calls block the thread, so each runs on `spawn_blocking`. Its WAL is not replayed on
//! load, so durability comes from `flush()`, which the projector calls before committing offsets;
//! `flush` must not race an update or an index build (it panics), hence the write lock. HNSW is
//! built only by `optimize()`: [`EdgeIndex::optimize`] is run by the indexer when it is idle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Direction, Distance, EdgeConfig, EdgeOptimizersConfig,
    EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations,
    Filter as QFilter, HasIdCondition, HnswIndexConfig, JsonPath, Match, Modifier, NamedQuery,
    OrderBy, OrderByInterface, Payload, PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, Range, Record,
    ScoringQuery, ScrollRequest, SearchParams, SetPayloadOp, UpdateOperation, Vector,
    VectorInternal, VectorStructInternal, Vectors, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::{
    ChannelQuery, DocPayload, Filter, Hit, IndexDoc, PayloadFields, Probe, SearchIndex,
    BRIEF_FIELDS, CAST, DENSE, DIM, POPULARITY, TEXT, TITLE,
};
use crate::{Result, SearchError};

/// Search-time HNSW beam. 96 ranks the labeled set exactly as 128 did (hybrid MRR@10 0.575, 64
/// loses 0.016) at a quarter less CPU per search (docs/perf.md); BRIEF §5 has recall ≥ 0.99 at 128.
pub(crate) const HNSW_EF: usize = 96;

/// Brief payloads ([`BRIEF_FIELDS`]) of every point, in memory beside the shard: a search ranks
/// hundreds of candidates, and decoding their stored payloads (lz4 + JSON, per hit) was a quarter
/// of its CPU (docs/perf.md). About 200 bytes a title. Kept in step under the write lock.
type Briefs = std::sync::RwLock<HashMap<Uuid, Arc<DocPayload>>>;

struct Shard {
    shard: EdgeShard,
    briefs: Briefs,
    /// Serialises update / flush / optimize (flush panics if it races them).
    write: Mutex<()>,
    /// Points written since the last index build (all of them after opening).
    dirty: std::sync::atomic::AtomicUsize,
    /// Generations built before the cast vector existed have none (rebuild to add it).
    has_cast: bool,
}

pub struct EdgeIndex {
    base: PathBuf,
    shards: Mutex<HashMap<i64, Arc<Shard>>>,
}

fn ierr(e: impl std::fmt::Display) -> SearchError {
    SearchError::Index(e.to_string())
}

fn config() -> EdgeConfig {
    let idf = EdgeSparseVectorParams::builder()
        .modifier(Modifier::Idf)
        .build();
    EdgeConfig::builder()
        .vector(
            DENSE,
            EdgeVectorParams::builder(DIM, Distance::Cosine)
                .on_disk(false)
                .build(),
        )
        .sparse_vector(TEXT, idf.clone())
        .sparse_vector(TITLE, idf.clone())
        .sparse_vector(CAST, idf)
        .on_disk_payload(false)
        .hnsw_config(HnswIndexConfig {
            m: 16,
            ef_construct: 100,
            ..Default::default()
        })
        .optimizers(EdgeOptimizersConfig {
            // Segments above ≈ 3k 384-d points get an HNSW graph; smaller ones are scanned.
            indexing_threshold: Some(5_000),
            ..Default::default()
        })
        .build()
}

fn path(p: &str) -> JsonPath {
    p.parse().expect("static json path")
}

/// Opens a generation (`true` when it has every vector of [`config`]). A generation written before
/// the cast vector existed opens with its stored configuration and serves without cast edges.
fn open(dir: &Path) -> Result<(EdgeShard, bool)> {
    std::fs::create_dir_all(dir).map_err(ierr)?;
    let (shard, current) = match EdgeShard::load(dir, Some(config())) {
        Ok(s) => (s, true),
        Err(e) => {
            let s = EdgeShard::load(dir, None).map_err(|_| ierr(e))?;
            tracing::warn!(
                dir = %dir.display(),
                "search index generation predates the cast vector: shared-cast edges are off \
                 until `mediagw replay search-index` rebuilds it"
            );
            (s, false)
        }
    };
    // Payload indexes are not persisted by edge: (re)create them on every open; cheap and idempotent.
    for (field, ty) in [
        ("genres", PayloadSchemaType::Keyword),
        ("platforms", PayloadSchemaType::Keyword),
        ("offers", PayloadSchemaType::Keyword),
        ("content_type", PayloadSchemaType::Keyword),
        ("year", PayloadSchemaType::Integer),
        ("rating", PayloadSchemaType::Float),
        ("runtime", PayloadSchemaType::Integer),
        (POPULARITY, PayloadSchemaType::Float),
    ] {
        shard
            .update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name: path(field),
                    field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                }),
            ))
            .map_err(ierr)?;
    }
    Ok((shard, current))
}

fn payload_json(p: &DocPayload) -> Payload {
    match serde_json::to_value(p).expect("payload serialises") {
        serde_json::Value::Object(m) => Payload::from(m),
        _ => unreachable!("a struct serialises to an object"),
    }
}

/// Takes the payload (no copy: hundreds of hits per search come through here).
fn payload_of(p: Option<Payload>) -> DocPayload {
    p.and_then(|p| serde_json::from_value(serde_json::Value::Object(p.0)).ok())
        .unwrap_or_default()
}

fn uuid_of(id: &PointId) -> Option<Uuid> {
    match id {
        PointId::Uuid(u) => Some(*u),
        PointId::NumId(_) => None,
    }
}

/// Points by id with their whole payloads (and the vectors asked for); unknown ids are left out.
fn retrieve(s: &Shard, ids: Vec<Uuid>, vectors: WithVector) -> Result<Vec<Record>> {
    let pids: Vec<PointId> = ids.into_iter().map(PointId::Uuid).collect();
    s.shard
        .retrieve(&pids, Some(WithPayloadInterface::Bool(true)), Some(vectors))
        .map_err(ierr)
}

/// The filter's points by popularity, highest first (an ordered scroll over the payload index).
fn popular(s: &Shard, q: &ChannelQuery) -> Result<Vec<Hit>> {
    let (records, _) = s
        .shard
        .scroll(ScrollRequest {
            offset: None,
            limit: Some(q.limit),
            filter: filter(&q.filter),
            with_payload: Some(WithPayloadInterface::Bool(q.fields == PayloadFields::All)),
            with_vector: WithVector::Bool(false),
            order_by: Some(OrderByInterface::Struct(OrderBy {
                key: path(POPULARITY),
                direction: Some(Direction::Desc),
                start_from: None,
            })),
        })
        .map_err(ierr)?;
    Ok(to_hits(
        s,
        q.fields,
        records.into_iter().map(|r| (r.id, r.payload, None)),
    ))
}

/// Points as hits: whole payloads as stored, brief ones from memory (ADR 0014). A point without
/// a score (an ordered read) is scored by its popularity.
fn to_hits(
    s: &Shard,
    fields: PayloadFields,
    points: impl Iterator<Item = (PointId, Option<Payload>, Option<f32>)>,
) -> Vec<Hit> {
    let briefs = (fields == PayloadFields::Brief).then(|| s.briefs.read().expect("briefs"));
    points
        .filter_map(|(id, stored, score)| {
            let id = uuid_of(&id)?;
            let payload = match &briefs {
                Some(b) => b.get(&id).cloned().unwrap_or_default(),
                None => Arc::new(payload_of(stored)),
            };
            Some(Hit {
                id,
                score: score.unwrap_or(payload.popularity as f32),
                payload,
            })
        })
        .collect()
}

/// Every point's brief payload, read once when a generation is opened.
fn load_briefs(shard: &EdgeShard) -> Result<HashMap<Uuid, Arc<DocPayload>>> {
    let mut out = HashMap::new();
    let mut offset = None;
    loop {
        let (records, next) = shard
            .scroll(ScrollRequest {
                offset,
                limit: Some(10_000),
                filter: None,
                with_payload: Some(WithPayloadInterface::Fields(
                    BRIEF_FIELDS.iter().map(|f| path(f)).collect(),
                )),
                with_vector: WithVector::Bool(false),
                order_by: None,
            })
            .map_err(ierr)?;
        for r in records {
            if let Some(id) = uuid_of(&r.id) {
                out.insert(id, Arc::new(payload_of(r.payload)));
            }
        }
        match next {
            Some(n) => offset = Some(n),
            None => return Ok(out),
        }
    }
}

fn filter(f: &Filter) -> Option<QFilter> {
    let mut must = Vec::new();
    let any = |field: &str, values: &[String]| {
        Condition::Field(FieldCondition::new_match(
            path(field),
            Match::from(values.to_vec()),
        ))
    };
    if !f.genres_any.is_empty() {
        must.push(any("genres", &f.genres_any));
    }
    if !f.content_types.is_empty() {
        must.push(any("content_type", &f.content_types));
    }
    if !f.offers_any.is_empty() {
        must.push(any("offers", &f.offers_any));
    }
    if let Some((lo, hi)) = f.year_range {
        must.push(Condition::Field(FieldCondition::new_range(
            path("year"),
            Range {
                gte: Some(OrderedFloat(lo as f64)),
                lte: Some(OrderedFloat(hi as f64)),
                ..Default::default()
            },
        )));
    }
    if let Some((lo, hi)) = f.rating_range {
        must.push(Condition::Field(FieldCondition::new_range(
            path("rating"),
            Range {
                gte: Some(OrderedFloat(lo)),
                lte: Some(OrderedFloat(hi)),
                ..Default::default()
            },
        )));
    }
    if let Some(max) = f.max_runtime {
        // Unknown runtimes are 0, so they pass.
        must.push(Condition::Field(FieldCondition::new_range(
            path("runtime"),
            Range {
                lte: Some(OrderedFloat(max as f64)),
                ..Default::default()
            },
        )));
    }
    let must_not = (!f.exclude.is_empty()).then(|| {
        vec![Condition::HasId(
            f.exclude
                .iter()
                .map(|u| PointId::Uuid(*u))
                .collect::<HasIdCondition>(),
        )]
    });
    if must.is_empty() && must_not.is_none() {
        return None;
    }
    Some(QFilter {
        must: (!must.is_empty()).then_some(must),
        must_not,
        ..Default::default()
    })
}

fn sparse(v: &mediagw_domain::search::SparseVector) -> Result<Vector> {
    Vector::new_sparse(v.indices.clone(), v.values.clone()).map_err(ierr)
}

impl EdgeIndex {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self {
            base: base.into(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn dir(&self, generation: i64) -> PathBuf {
        self.base.join(format!("g{generation}"))
    }

    /// The open shard of a generation, opening it on first use.
    fn shard(&self, generation: i64) -> Result<Arc<Shard>> {
        let mut shards = self.shards.lock().expect("shard map");
        if let Some(s) = shards.get(&generation) {
            return Ok(s.clone());
        }
        let (shard, has_cast) = open(&self.dir(generation))?;
        let points = shard.info().points_count;
        let started = std::time::Instant::now();
        let briefs = load_briefs(&shard)?;
        if points > 0 {
            tracing::info!(
                generation,
                points,
                seconds = started.elapsed().as_secs_f64(),
                "search index generation opened (brief payloads in memory)"
            );
        }
        let s = Arc::new(Shard {
            shard,
            briefs: std::sync::RwLock::new(briefs),
            write: Mutex::new(()),
            dirty: std::sync::atomic::AtomicUsize::new(points),
            has_cast,
        });
        shards.insert(generation, s.clone());
        Ok(s)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        generation: i64,
        f: impl FnOnce(&Shard) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shard = self.shard(generation)?;
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(ierr)?
    }
}

#[async_trait]
impl SearchIndex for EdgeIndex {
    /// Builds HNSW and merges segments; queries keep being served meanwhile (writes wait).
    /// Returns whether anything was optimised.
    async fn optimize(&self, generation: i64) -> Result<bool> {
        self.blocking(generation, |s| {
            let _w = s.write.lock().expect("write lock");
            let before = s.dirty.load(std::sync::atomic::Ordering::Relaxed);
            let changed = s.shard.optimize().map_err(ierr)?;
            s.shard.flush();
            s.dirty
                .fetch_sub(before, std::sync::atomic::Ordering::Relaxed);
            Ok(changed)
        })
        .await
    }

    /// Points in segments that have no HNSW index yet.
    async fn unindexed(&self, generation: i64) -> Result<usize> {
        Ok(self
            .shard(generation)?
            .dirty
            .load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn upsert(&self, generation: i64, docs: Vec<IndexDoc>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        self.blocking(generation, move |s| {
            let mut points = Vec::with_capacity(docs.len());
            let mut briefs = Vec::with_capacity(docs.len());
            for d in docs {
                briefs.push((d.id, Arc::new(d.payload.brief())));
                let mut named = vec![
                    (DENSE, Vector::new_dense(d.dense)),
                    (TEXT, sparse(&d.text)?),
                    (TITLE, sparse(&d.title)?),
                ];
                if s.has_cast {
                    named.push((CAST, sparse(&d.cast)?));
                }
                let vectors = Vectors::new_named(named);
                let payload = serde_json::to_value(&d.payload).map_err(ierr)?;
                points.push(PointStruct::new(PointId::Uuid(d.id), vectors, payload).into());
            }
            let n = points.len();
            let _w = s.write.lock().expect("write lock");
            s.shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(ierr)?;
            s.briefs.write().expect("briefs").extend(briefs);
            s.dirty.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .await
    }

    async fn delete(&self, generation: i64, ids: Vec<Uuid>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.blocking(generation, move |s| {
            let _w = s.write.lock().expect("write lock");
            s.shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints {
                        ids: ids.iter().copied().map(PointId::Uuid).collect(),
                    },
                ))
                .map_err(ierr)?;
            let mut briefs = s.briefs.write().expect("briefs");
            for id in &ids {
                briefs.remove(id);
            }
            Ok(())
        })
        .await
    }

    async fn set_payload(&self, generation: i64, updates: Vec<(Uuid, DocPayload)>) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        self.blocking(generation, move |s| {
            let _w = s.write.lock().expect("write lock");
            for (id, p) in updates {
                s.shard
                    .update(UpdateOperation::PayloadOperation(
                        PayloadOps::OverwritePayload(SetPayloadOp {
                            payload: payload_json(&p),
                            points: Some(vec![PointId::Uuid(id)]),
                            filter: None,
                            key: None,
                        }),
                    ))
                    .map_err(ierr)?;
                let mut briefs = s.briefs.write().expect("briefs");
                if let Some(b) = briefs.get_mut(&id) {
                    *b = Arc::new(p.brief());
                }
            }
            Ok(())
        })
        .await
    }

    async fn query(&self, generation: i64, queries: Vec<ChannelQuery>) -> Result<Vec<Vec<Hit>>> {
        self.blocking(generation, move |s| {
            let mut out = Vec::with_capacity(queries.len());
            for q in queries {
                let (vector, using) = match q.probe {
                    Probe::Popular => {
                        out.push(popular(s, &q)?);
                        continue;
                    }
                    Probe::Dense(v) => (VectorInternal::from(v), DENSE),
                    Probe::Sparse(name, v) => {
                        if v.is_empty() || (name == CAST && !s.has_cast) {
                            out.push(Vec::new());
                            continue;
                        }
                        let qv =
                            qdrant_edge::SparseVector::new(v.indices, v.values).map_err(ierr)?;
                        (VectorInternal::from(qv), name)
                    }
                };
                let req = QueryRequest {
                    prefetches: vec![],
                    query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
                        vector, using,
                    )))),
                    filter: filter(&q.filter),
                    score_threshold: None,
                    limit: q.limit,
                    offset: 0,
                    params: Some(SearchParams {
                        hnsw_ef: Some(HNSW_EF),
                        ..Default::default()
                    }),
                    with_vector: WithVector::Bool(false),
                    // Brief payloads come from memory, not from the stored ones.
                    with_payload: WithPayloadInterface::Bool(q.fields == PayloadFields::All),
                };
                let hits = s.shard.query(req).map_err(ierr)?;
                let hits = to_hits(
                    s,
                    q.fields,
                    hits.into_iter().map(|p| (p.id, p.payload, Some(p.score))),
                );
                out.push(hits);
            }
            Ok(out)
        })
        .await
    }

    async fn get(
        &self,
        generation: i64,
        ids: Vec<Uuid>,
    ) -> Result<Vec<(Uuid, Vec<f32>, DocPayload)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.blocking(generation, move |s| {
            let recs = retrieve(s, ids, WithVector::Selector(vec![DENSE.to_string()]))?;
            Ok(recs
                .into_iter()
                .filter_map(|mut r| {
                    let id = uuid_of(&r.id)?;
                    let dense = match VectorStructInternal::take_opt(&mut r.vector, DENSE)? {
                        VectorInternal::Dense(v) => v,
                        _ => return None,
                    };
                    Some((id, dense, payload_of(r.payload.take())))
                })
                .collect())
        })
        .await
    }

    async fn text_terms(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, Vec<u32>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.blocking(generation, move |s| {
            let recs = retrieve(s, ids, WithVector::Selector(vec![TEXT.to_string()]))?;
            Ok(recs
                .into_iter()
                .filter_map(|mut r| {
                    let id = uuid_of(&r.id)?;
                    match VectorStructInternal::take_opt(&mut r.vector, TEXT) {
                        Some(VectorInternal::Sparse(v)) => Some((id, v.indices)),
                        // A title with no keyword text holds no terms.
                        _ => Some((id, Vec::new())),
                    }
                })
                .collect())
        })
        .await
    }

    async fn payloads(&self, generation: i64, ids: Vec<Uuid>) -> Result<Vec<(Uuid, DocPayload)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.blocking(generation, move |s| {
            let recs = retrieve(s, ids, WithVector::Bool(false))?;
            Ok(recs
                .into_iter()
                .filter_map(|r| Some((uuid_of(&r.id)?, payload_of(r.payload))))
                .collect())
        })
        .await
    }

    async fn count(&self, generation: i64) -> Result<usize> {
        self.blocking(generation, |s| {
            s.shard
                .count(CountRequest {
                    filter: None,
                    exact: true,
                })
                .map_err(ierr)
        })
        .await
    }

    async fn flush(&self, generation: i64) -> Result<()> {
        self.blocking(generation, |s| {
            let _w = s.write.lock().expect("write lock");
            s.shard.flush();
            Ok(())
        })
        .await
    }

    async fn drop_generation(&self, generation: i64) -> Result<()> {
        self.release(generation).await?;
        let dir = self.dir(generation);
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ierr(e)),
            _ => Ok(()),
        })
        .await
        .map_err(ierr)?
    }

    async fn release(&self, generation: i64) -> Result<()> {
        let shard = self.shards.lock().expect("shard map").remove(&generation);
        if let Some(s) = shard {
            // Dropping the last handle flushes and closes the shard.
            tokio::task::spawn_blocking(move || {
                let _w = s.write.lock().expect("write lock");
                s.shard.flush();
            })
            .await
            .map_err(ierr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediagw_domain::search::SparseVector;

    fn _send_sync() {
        fn ss<T: Send + Sync>() {}
        ss::<qdrant_edge::EdgeShard>();
    }

    fn payload(title: &str) -> DocPayload {
        DocPayload {
            title: title.into(),
            year: 1999,
            content_type: "movie".into(),
            genres: vec!["drama".into()],
            platforms: vec!["max".into()],
            offers: vec!["max:US".into()],
            rating: 7.0,
            popularity: 0.5,
            cast: vec!["Keanu Reeves".into()],
            directors: vec!["Lana Wachowski".into()],
            runtime: 136,
        }
    }

    fn doc(n: u128, title: &str) -> IndexDoc {
        let mut dense = vec![0.0; DIM];
        dense[n as usize] = 1.0;
        IndexDoc {
            id: Uuid::from_u128(n),
            dense,
            text: SparseVector::from_pairs(vec![(7, 1.0)]),
            title: SparseVector::default(),
            cast: SparseVector::default(),
            payload: payload(title),
        }
    }

    async fn titles(index: &EdgeIndex, fields: PayloadFields) -> Vec<(String, usize)> {
        let q = ChannelQuery {
            probe: Probe::Sparse(TEXT, SparseVector::from_pairs(vec![(7, 1.0)])),
            filter: Filter::default(),
            limit: 10,
            fields,
        };
        let mut out: Vec<(String, usize)> = index.query(1, vec![q]).await.unwrap()[0]
            .iter()
            .map(|h| (h.payload.title.clone(), h.payload.cast.len()))
            .collect();
        out.sort();
        out
    }

    /// A browse query reads the filter's titles, best known first, with popularity as score.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn popular_reads_the_filters_titles_best_known_first() {
        let dir = std::env::temp_dir().join(format!("mediagw-edge-{}", Uuid::new_v4()));
        let index = EdgeIndex::new(&dir);
        let known = |n: u128, title: &str, popularity: f64, genre: &str| {
            let mut d = doc(n, title);
            d.payload.popularity = popularity;
            d.payload.genres = vec![genre.into()];
            d
        };
        index
            .upsert(
                1,
                vec![
                    known(1, "Obscure", 0.2, "comedy"),
                    known(2, "Famous", 0.9, "comedy"),
                    known(3, "Drama", 0.95, "drama"),
                    known(4, "Known", 0.6, "comedy"),
                ],
            )
            .await
            .unwrap();
        let q = ChannelQuery {
            probe: Probe::Popular,
            filter: Filter {
                genres_any: vec!["comedy".into()],
                ..Filter::default()
            },
            limit: 2,
            fields: PayloadFields::Brief,
        };
        let hits = &index.query(1, vec![q]).await.unwrap()[0];
        let got: Vec<(&str, f32)> = hits
            .iter()
            .map(|h| (h.payload.title.as_str(), h.score))
            .collect();
        assert_eq!(got, vec![("Famous", 0.9), ("Known", 0.6)]);
        index.release(1).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The reranker reads which query terms each candidate's keyword text holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn text_terms_are_the_stored_keyword_terms() {
        let dir = std::env::temp_dir().join(format!("mediagw-edge-{}", Uuid::new_v4()));
        let index = EdgeIndex::new(&dir);
        let mut two = doc(2, "Beta");
        two.text = SparseVector::from_pairs(vec![(3, 0.5), (9, 1.2)]);
        index.upsert(1, vec![doc(1, "Alpha"), two]).await.unwrap();
        let mut got = index
            .text_terms(
                1,
                vec![Uuid::from_u128(2), Uuid::from_u128(1), Uuid::from_u128(5)],
            )
            .await
            .unwrap();
        got.sort();
        for (_, t) in &mut got {
            t.sort();
        }
        assert_eq!(
            got,
            vec![
                (Uuid::from_u128(1), vec![7]),
                (Uuid::from_u128(2), vec![3, 9])
            ]
        );
        index.release(1).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Brief hits come from the in-memory map (ADR 0014): it follows upserts, payload changes and
    /// deletes, and is rebuilt from disk when the generation is opened again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn brief_payloads_follow_writes_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("mediagw-edge-{}", Uuid::new_v4()));
        let index = EdgeIndex::new(&dir);
        index
            .upsert(1, vec![doc(1, "Alpha"), doc(2, "Beta"), doc(3, "Gamma")])
            .await
            .unwrap();
        // Brief: title and genres, no cast; All: the stored payload.
        let brief = |t: &[&str]| t.iter().map(|t| (t.to_string(), 0)).collect::<Vec<_>>();
        assert_eq!(
            titles(&index, PayloadFields::Brief).await,
            brief(&["Alpha", "Beta", "Gamma"])
        );
        assert_eq!(
            titles(&index, PayloadFields::All).await[0],
            ("Alpha".to_string(), 1)
        );
        index
            .set_payload(1, vec![(Uuid::from_u128(1), payload("Alpha Prime"))])
            .await
            .unwrap();
        index.delete(1, vec![Uuid::from_u128(2)]).await.unwrap();
        index.upsert(1, vec![doc(3, "Gamma II")]).await.unwrap();
        let expected = brief(&["Alpha Prime", "Gamma II"]);
        assert_eq!(titles(&index, PayloadFields::Brief).await, expected);

        index.release(1).await.unwrap();
        let reopened = EdgeIndex::new(&dir);
        assert_eq!(titles(&reopened, PayloadFields::Brief).await, expected);
        // A page's whole payloads, unknown ids left out.
        let page = reopened
            .payloads(1, vec![Uuid::from_u128(1), Uuid::from_u128(2)])
            .await
            .unwrap();
        assert_eq!(page, vec![(Uuid::from_u128(1), payload("Alpha Prime"))]);
        reopened.release(1).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
