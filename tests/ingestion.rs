//! Provider records through `POST /internal/ingest`, entity resolution (exact ids, fuzzy merge,
//! review queue with accept/reject, `TitlesMerged` on Kafka), and the connectors against a local
//! double serving each provider's documented JSON (with pagination, 429s and 5xxs).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{read_topic, Stack};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/providers/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn req(platform: &str, raw: Value) -> Value {
    json!({"platform": platform, "region": "US", "raw_content": raw})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_merge_into_one_title_and_grey_zone_goes_to_review() {
    let mut s = Stack::new("resolution").await;
    s.start_all().await;

    // Every provider's documented record is accepted.
    let (st, tmdb) = s.ingest(&req("tmdb", fixture("tmdb_movie"))).await;
    assert_eq!(st, 200, "{tmdb}");
    assert_eq!(tmdb["action"], "Created");
    let matrix = tmdb["content_id"].as_str().unwrap().to_string();
    for (p, f) in [
        ("tmdb", "tmdb_tv"),
        ("watchmode", "watchmode"),
        ("streaming_availability", "streaming_availability"),
        ("youtube", "youtube"),
    ] {
        let (st, body) = s.ingest(&req(p, fixture(f))).await;
        assert_eq!(st, 200, "{p}: {body}");
        assert_eq!(body["action"], "Created", "{p}: {body}");
    }
    // Gracenote's Matrix shares the imdb id: the same title, exact match.
    let (_, g) = s.ingest(&req("gracenote", fixture("gracenote"))).await;
    assert_eq!(g["content_id"], matrix.as_str(), "{g}");
    assert_eq!(g["action"], "Updated");
    assert_eq!(g["entity_confidence"], 1.0);

    // A malformed provider record names the provider's field, and writes nothing.
    let events_before = s.count("SELECT count(*) FROM events").await;
    let mut bad = fixture("streaming_availability");
    bad["streamingOptions"]["us"][0]["price"]["currency"] = json!("dollars");
    bad.as_object_mut().unwrap().remove("releaseYear");
    let (st, body) = s.ingest(&req("streaming_availability", bad)).await;
    assert_eq!(st, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "raw_content.releaseYear",
            "raw_content.streamingOptions.us[0].price.currency"
        ]
    );
    let (st, body) = s.ingest(&req("netflix", json!({}))).await;
    assert_eq!(st, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "platform");
    assert_eq!(s.count("SELECT count(*) FROM events").await, events_before);

    // Another provider's Godfather under an id we do not know: fuzzy match → Merged.
    let godfather = s
        .count("SELECT count(DISTINCT content_id) FROM title_identity WHERE id_value = '238'")
        .await;
    assert_eq!(godfather, 1);
    let variant = json!({
        "external_ids": {"justwatch": "jw-4242"},
        "content_type": "movie", "title": "Godfather, The", "release_date": "1972-03-24",
        "runtime_minutes": 177, "cast": ["Al Pacino", "Marlon Brando", "James Caan"]
    });
    let (st, m) = s.ingest(&req("generic", variant.clone())).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["action"], "Merged", "{m}");
    assert!(m["entity_confidence"].as_f64().unwrap() >= 0.9);
    let survivor = m["content_id"].as_str().unwrap().to_string();
    let (_, again) = s.ingest(&req("generic", variant)).await;
    assert_eq!(again["content_id"], survivor.as_str());
    assert_eq!(again["action"], "Updated");
    let reasons = s
        .count("SELECT count(*) FROM resolution_decision WHERE decision = 'merged' AND array_length(reasons, 1) >= 2")
        .await;
    assert_eq!(reasons, 1);

    // A remake (same title, other decade) is a different title.
    let remake =
        json!({"content_type": "movie", "title": "The Godfather", "release_date": "1991-01-01"});
    let (_, r) = s.ingest(&req("generic", remake)).await;
    assert_eq!(r["action"], "Created");
    assert_ne!(r["content_id"], survivor.as_str());

    // A typo without cast or runtime: grey zone → its own title plus a review.
    let typo = json!({"external_ids": {"plex": "p-1"}, "content_type": "movie", "title": "The Godfathr", "release_date": "1973-01-01"});
    let (_, t) = s.ingest(&req("generic", typo)).await;
    assert_eq!(t["action"], "Created", "{t}");
    let typo_id = t["content_id"].as_str().unwrap().to_string();
    let (st, pending) = s.get("/internal/resolution/pending").await;
    assert_eq!(st, 200);
    let pending = pending["pending"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["content_id"], typo_id.as_str());
    assert_eq!(pending[0]["candidate_id"], survivor.as_str());
    assert!(!pending[0]["reasons"].as_array().unwrap().is_empty());
    let review = pending[0]["id"].as_str().unwrap().to_string();
    let post = |path: String| {
        let s = &s;
        async move {
            let r = s
                .http
                .post(format!("{}{path}", s.api))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, body) = post(format!("/internal/resolution/{review}/accept")).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["survivor_id"], survivor.as_str());
    let (st, _) = post(format!("/internal/resolution/{review}/reject")).await;
    assert_eq!(st, 409, "a decided review cannot be flipped");
    let (st, _) = post(format!(
        "/internal/resolution/{}/accept",
        uuid::Uuid::new_v4()
    ))
    .await;
    assert_eq!(st, 404);

    // The old id resolves to the survivor; its plex id too; TitlesMerged is on the log. The
    // redirect and the survivor's absorbed ids are events of two aggregates (two partitions), so
    // wait for both.
    let got = s
        .eventually(
            15,
            "old id resolves to the survivor with its ids",
            || async {
                let (st, body) = s.get(&format!("/v1/content/{typo_id}")).await;
                (st == 200
                    && body["id"] == survivor.as_str()
                    && body["external_ids"]["plex"] == "p-1")
                    .then_some(body)
            },
        )
        .await;
    assert_eq!(got["external_ids"]["plex"], "p-1", "{got}");
    assert_eq!(got["external_ids"]["justwatch"], "jw-4242");
    let (_, by_plex) = s.get("/v1/content/by-external-id/plex/p-1").await;
    assert_eq!(by_plex["id"], survivor.as_str());
    let (_, after) = s.ingest(&req("generic", json!({"external_ids": {"plex": "p-1"}, "content_type": "movie", "title": "The Godfathr", "release_date": "1973-01-01"}))).await;
    assert_eq!(
        after["content_id"],
        survivor.as_str(),
        "ids of the retired title now reach the survivor"
    );
    let merged = read_topic(&s.topic("content.updated"))
        .await
        .iter()
        .filter(|m| rdkafka::Message::key(*m) == Some(typo_id.as_bytes()))
        .count();
    assert!(merged >= 1, "TitlesMerged keyed by the retired title");
    assert_eq!(
        s.count("SELECT count(*) FROM resolution_decision WHERE decision = 'accepted'")
            .await,
        1
    );
}

/// A re-release listed years later under the work's own identifier ("Finding Nemo 3D", 2012)
/// neither renames the title nor hides it from resolution: a later record of the original, from a
/// source that knows no identifier and sends no overview (a rating dataset), still merges into it
/// and blanks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_release_keeps_the_work_findable_and_a_sparse_record_erases_nothing() {
    let mut s = Stack::new("rerelease").await;
    s.start_all().await;
    let work = json!({
        "external_ids": {"wikipedia": "Finding_Nemo"}, "content_type": "movie",
        "title": "Finding Nemo", "release_date": "2003-05-30", "runtime_minutes": 100,
        "overview": "A clownfish searches the ocean for his son.",
        "cast": ["Albert Brooks", "Ellen DeGeneres"]
    });
    let (st, created) = s.ingest(&req("generic", work)).await;
    assert_eq!(
        (st, created["action"].as_str()),
        (200, Some("Created")),
        "{created}"
    );
    let id = created["content_id"].as_str().unwrap().to_string();
    let rerelease = json!({
        "external_ids": {"wikipedia": "Finding_Nemo"}, "content_type": "movie",
        "title": "Finding Nemo 3D", "release_date": "2012-09-14"
    });
    let (_, r) = s.ingest(&req("generic", rerelease)).await;
    assert_eq!(r["content_id"], id.as_str(), "{r}");
    // A rating dataset's item: title and year, no identifier we know, no overview, no cast.
    let sparse = json!({"external_ids": {"movietweetings": "0266543"}, "content_type": "movie",
        "title": "Finding Nemo", "release_date": "2003-01-01"});
    let (st, m) = s.ingest(&req("generic", sparse)).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (m["action"].as_str(), m["content_id"].as_str()),
        (Some("Merged"), Some(id.as_str())),
        "{m}"
    );
    let got = s
        .eventually(15, "the catalog shows the merged record", || async {
            let (st, body) = s.get(&format!("/v1/content/{id}")).await;
            (st == 200 && body["external_ids"]["movietweetings"] == "0266543").then_some(body)
        })
        .await;
    assert_eq!(got["title"], "Finding Nemo", "{got}");
    // A bare record (name and year only) re-dates nothing: the day stays the encyclopedia's.
    assert_eq!(got["release_date"], "2003-05-30", "{got}");
    assert_eq!(
        got["overview"], "A clownfish searches the ocean for his son.",
        "{got}"
    );
}

/// An edition listed a year later under the work's own identifier ("Avatar: Special Edition",
/// 2010), arriving in the same bulk chunk as the work: the catalog keeps "Avatar" (2009), and
/// resolution still knows the work by that name (a record with no identifier merges into it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edition_in_the_same_chunk_keeps_the_works_name_for_search_and_resolution() {
    let mut s = Stack::new("edition").await;
    s.start_all().await;
    let record = |title: &str, date: &str| {
        json!({"external_ids": {"wikipedia": "Avatar_(2009_film)"}, "content_type": "movie",
            "title": title, "release_date": date,
            "overview": "A paraplegic marine is sent to the moon Pandora in an avatar body.",
            "cast": ["Sam Worthington", "Zoe Saldana"]})
        .to_string()
    };
    let file = std::env::temp_dir().join(format!("{}-editions.jsonl", s.name));
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            record("Avatar", "2009-12-18"),
            record("Avatar: Special Edition", "2010-08-27")
        ),
    )
    .unwrap();
    s.run_ok(&[
        "ingest",
        "file",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let sparse = json!({"external_ids": {"movietweetings": "0499549"}, "content_type": "movie",
        "title": "Avatar", "release_date": "2009-01-01"});
    let (st, m) = s.ingest(&req("generic", sparse)).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["action"], "Merged", "{m}");
    let id = m["content_id"].as_str().unwrap().to_string();
    let got = s
        .eventually(15, "the catalog shows the title", || async {
            let (st, body) = s.get(&format!("/v1/content/{id}")).await;
            (st == 200 && body["external_ids"]["movietweetings"] == "0499549").then_some(body)
        })
        .await;
    assert_eq!(
        (got["title"].as_str(), got["release_date"].as_str()),
        (Some("Avatar"), Some("2009-12-18")),
        "{got}"
    );
}

/// A local stand-in for the five providers' HTTP APIs, in their documented shapes.
struct Double {
    url: String,
    calls: Arc<AtomicU64>,
    auth_seen: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn provider_double() -> Double {
    use axum::extract::{Path, Query};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::collections::HashMap;

    let calls = Arc::new(AtomicU64::new(0));
    let auth_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let flaky = Arc::new(AtomicU64::new(0));
    type Q = Query<HashMap<String, String>>;
    let (c1, a1, f1) = (calls.clone(), auth_seen.clone(), flaky.clone());
    let (c2, f2) = (calls.clone(), Arc::new(AtomicU64::new(0)));
    let app = axum::Router::new()
        // TMDb: discover (2 movie pages, 1 tv page), details; the first discover call is rate-limited.
        .route(
            "/3/discover/{kind}",
            get(move |Path(kind): Path<String>, q: Q, h: HeaderMap| {
                let (calls, auth, flaky) = (c1.clone(), a1.clone(), f1.clone());
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if let Some(a) = h.get("authorization") {
                        auth.lock().unwrap().push(a.to_str().unwrap().to_string());
                    }
                    if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "slow down").into_response();
                    }
                    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                    let ids: Vec<u64> = match (kind.as_str(), page) {
                        ("movie", 1) => vec![603],
                        ("movie", 2) => vec![604, 999_999],
                        _ => vec![1399],
                    };
                    let total = if kind == "movie" { 2 } else { 1 };
                    axum::Json(json!({"page": page, "total_pages": total, "total_results": 3,
                        "results": ids.iter().map(|i| json!({"id": i})).collect::<Vec<_>>()})).into_response()
                }
            }),
        )
        .route(
            "/3/{kind}/{id}",
            get(move |Path((kind, id)): Path<(String, u64)>| {
                let (calls, flaky) = (c2.clone(), f2.clone());
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if id == 604 && flaky.fetch_add(1, Ordering::SeqCst) < 3 {
                        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
                    }
                    match (kind.as_str(), id) {
                        ("movie", 603) => axum::Json(fixture("tmdb_movie")).into_response(),
                        ("movie", 604) => {
                            let mut m = fixture("tmdb_movie");
                            m["id"] = json!(604);
                            m["imdb_id"] = json!("tt0234215");
                            m["external_ids"] = json!({"imdb_id": "tt0234215"});
                            m["title"] = json!("The Matrix Reloaded");
                            m["original_title"] = json!("The Matrix Reloaded");
                            m["release_date"] = json!("2003-05-15");
                            m["credits"] = json!({"cast": []});
                            axum::Json(m).into_response()
                        }
                        ("tv", 1399) => axum::Json(fixture("tmdb_tv")).into_response(),
                        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"status_code": 34}))).into_response(),
                    }
                }
            }),
        )
        // Watchmode: one page of ids, details with sources.
        .route("/v1/list-titles/", get(|| async {
            axum::Json(json!({"titles": [{"id": 3173903, "title": "Breaking Bad"}], "page": 1, "total_pages": 1, "total_results": 1}))
        }))
        .route("/v1/title/{id}/details/", get(|q: Q| async move {
            if q.get("apiKey").map(String::as_str) != Some("wm-secret") {
                return (StatusCode::UNAUTHORIZED, "missing key").into_response();
            }
            axum::Json(fixture("watchmode")).into_response()
        }))
        // Streaming Availability: two pages by cursor.
        .route("/shows/search/filters", get(|q: Q| async move {
            match q.get("cursor").map(String::as_str) {
                None => axum::Json(json!({"shows": [fixture("streaming_availability")], "hasMore": true, "nextCursor": "82:next"})),
                Some(_) => {
                    let mut s = fixture("streaming_availability");
                    s["id"] = json!("83"); s["imdbId"] = json!("tt0071562"); s["tmdbId"] = json!("movie/240");
                    s["title"] = json!("The Godfather Part II"); s["originalTitle"] = json!("The Godfather Part II");
                    s["releaseYear"] = json!(1974);
                    axum::Json(json!({"shows": [s], "hasMore": false}))
                }
            }
        }))
        // YouTube: playlist with two pages, then videos.list.
        .route("/youtube/v3/playlistItems", get(|q: Q| async move {
            match q.get("pageToken").map(String::as_str) {
                None => axum::Json(json!({"kind": "youtube#playlistItemListResponse", "nextPageToken": "CAEQAA",
                    "items": [{"contentDetails": {"videoId": "dQw4w9WgXcQ"}}]})),
                Some(_) => axum::Json(json!({"kind": "youtube#playlistItemListResponse",
                    "items": [{"contentDetails": {"videoId": "abcDEF12345"}}]})),
            }
        }))
        .route("/youtube/v3/videos", get(|q: Q| async move {
            let items: Vec<Value> = q.get("id").unwrap().split(',').map(|id| {
                let mut v = fixture("youtube");
                v["id"] = json!(id);
                v["snippet"]["title"] = json!(format!("Free film {id}"));
                v
            }).collect();
            axum::Json(json!({"kind": "youtube#videoListResponse", "items": items}))
        }))
        // Gracenote: one short page (fewer than `limit` → done).
        .route("/v1.1/programs/availabilities", get(|| async { axum::Json(json!([fixture("gracenote")])) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Double {
        url,
        calls,
        auth_seen,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_page_through_every_provider_within_budget_and_retry() {
    let d = provider_double().await;
    let mut s = Stack::new("connectors").await;
    for p in [
        "TMDB",
        "WATCHMODE",
        "STREAMING_AVAILABILITY",
        "YOUTUBE",
        "GRACENOTE",
    ] {
        s.set_env(&format!("MEDIAGW__CONNECTORS__{p}__BASE_URL"), &d.url);
    }
    s.set_env("MEDIAGW__CONNECTORS__TMDB__API_KEY", "tmdb-token");
    s.set_env("MEDIAGW__CONNECTORS__WATCHMODE__API_KEY", "wm-secret");
    s.set_env("MEDIAGW__CONNECTORS__TMDB__REQUESTS_PER_SECOND", "20");
    s.set_env("MEDIAGW__CONNECTORS__TMDB__BURST", "1");
    s.set_env("MEDIAGW__CONNECTORS__YOUTUBE__PLAYLIST_IDS", "[\"UUfree\"]");
    s.start_all().await;

    let started = std::time::Instant::now();
    let out = s.run_ok(&["connectors", "run", "tmdb"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["pages"], 3, "{report}");
    assert_eq!(
        report["records"], 3,
        "603, 604, tv 1399 (999999 is gone: 404 skipped) {report}"
    );
    assert_eq!(report["created"], 3, "{report}");
    assert!(
        report["retries"].as_u64().unwrap() >= 4,
        "one 429 and three 503s: {report}"
    );
    // 9+ requests at 20/s with a burst of 1 take at least ~0.4 s.
    assert!(started.elapsed().as_millis() >= 400);
    assert!(d
        .auth_seen
        .lock()
        .unwrap()
        .iter()
        .all(|a| a == "Bearer tmdb-token"));
    assert!(d.calls.load(Ordering::SeqCst) >= 10);

    for (provider, created) in [
        ("watchmode", 1),
        ("streaming_availability", 2),
        ("youtube", 2),
        ("gracenote", 0), // imdb tt0133093: TMDb's Matrix, updated
    ] {
        let out = s.run_ok(&["connectors", "run", provider]);
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["created"], created, "{provider}: {report}");
        assert_eq!(report["rejected"], 0, "{provider}: {report}");
        assert!(report["error"].is_null(), "{provider}: {report}");
    }
    // Everything is served by the read side, through the exact-id index.
    for (t, v) in [
        ("tmdb_movie", "603"),
        ("tmdb_movie", "604"),
        ("tmdb_tv", "1399"),
        ("watchmode", "3173903"),
        ("streaming_availability", "83"),
        ("youtube", "abcDEF12345"),
        ("gracenote", "MV000911650000"),
    ] {
        s.eventually(20, "title projected", || async {
            let (st, _) = s.get(&format!("/v1/content/by-external-id/{t}/{v}")).await;
            (st == 200).then_some(())
        })
        .await;
    }
    let (_, matrix) = s.get("/v1/content/by-external-id/tmdb_movie/603").await;
    assert_eq!(matrix["external_ids"]["gracenote"], "MV000911650000");
    // TMDb's rating survives Gracenote's update, which carries none; Watchmode's counts no votes.
    assert_eq!(matrix["average_rating"], json!(8.2), "{matrix}");
    assert_eq!(matrix["vote_count"], 26_280, "{matrix}");
    let (_, bad) = s.get("/v1/content/by-external-id/watchmode/3173903").await;
    assert_eq!(
        (&bad["average_rating"], &bad["vote_count"]),
        (&json!(9.3), &json!(0)),
        "{bad}"
    );
    let runs = s.count("SELECT count(*) FROM connector_runs").await;
    assert_eq!(runs, 5);

    // A provider that keeps failing stops the job with an error, and the CLI exits non-zero.
    let mut bad = s.command(&[
        "connectors",
        "run",
        "watchmode",
        "--job",
        "availability_sync",
    ]);
    let out = bad.output().unwrap();
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["error"].as_str().unwrap().contains("404"),
        "{report}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wm-secret"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wm-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmdb_export_files_import_with_a_report() {
    let s = Stack::new("tmdbexport").await;
    let dir = std::env::temp_dir().join(format!("{}-export", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tmdb.jsonl");
    // Two details objects and a line of TMDb's daily id export, which has no release date.
    let lines = [
        fixture("tmdb_movie").to_string(),
        fixture("tmdb_tv").to_string(),
        json!({"adult": false, "id": 3924, "original_title": "Blondie", "popularity": 2.4, "video": false})
            .to_string(),
        "{not json".to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = s.run_ok(&[
        "ingest",
        "file",
        file.to_str().unwrap(),
        "--format",
        "tmdb-export",
    ]);
    assert!(
        out.contains("created 2, updated 0, merged 0, unchanged 0, rejected 2"),
        "{out}"
    );
    assert!(
        out.contains("raw_content.title"),
        "the id-export line names its missing field: {out}"
    );
    assert!(out.contains("line 4: malformed JSON"), "{out}");
    assert_eq!(
        s.count("SELECT count(*) FROM title_identity WHERE id_type IN ('tmdb_movie', 'tmdb_tv')")
            .await,
        2
    );
    let _ = std::fs::remove_dir_all(dir);
}
