//! A user's rights over their data against real processes (ADR 0024): history imported from
//! Trakt, Letterboxd and IMDb files through the real commands, the `mediagw` export read back
//! losslessly into a fresh user, malformed files refused whole with line numbers, and an erasure
//! after which nothing about the user is readable in the event store, any topic (DLQs included),
//! Redis or any table, also after the read models are replayed.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use uuid::Uuid;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn import(
    s: &Stack,
    user: Uuid,
    format: &str,
    list: Option<&str>,
    file: &str,
) -> (u16, Value) {
    let mut url = format!("{}/v1/user/{user}/import?format={format}", s.api);
    if let Some(l) = list {
        url.push_str(&format!("&list={l}"));
    }
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(s.token(user, ""))
        .body(file.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// What an export restores, without what is the user's own (event ids, time of export).
fn restorable(doc: &Value) -> Value {
    let mut history: Vec<Value> = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let mut h = h.clone();
            h.as_object_mut().unwrap().remove("event_id");
            h
        })
        .collect();
    history.sort_by_key(|h| h.to_string());
    json!({
        "history": history,
        "watchlist": doc["watchlist"],
        "positions": doc["positions"],
        "services": doc["services"],
    })
}

async fn user_events(s: &Stack, user: Uuid) -> i64 {
    s.count(&format!(
        "SELECT count(*) FROM events WHERE aggregate_id = '{user}' OR payload::text LIKE '%{user}%'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_imports_and_the_export_round_trips() {
    let mut s = Stack::new("history").await;
    s.start("api,registry,relay,projector:catalog");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    for (imdb, name, year) in [
        ("tt0113277", "Heat", 1995),
        ("tt0078748", "Alien", 1979),
        ("tt1049413", "Up", 2009),
    ] {
        let (st, v) = s.ingest(&title(imdb, name, year, json!([]))).await;
        assert_eq!(st, 200, "{v}");
    }
    s.eventually(30, "the catalog", || async {
        (s.count("SELECT count(*) FROM catalog.content").await == 3).then_some(())
    })
    .await;
    let ann = Uuid::new_v4();

    // Letterboxd diary: Heat by title and year (rated 4½ stars), one film we do not have.
    let diary = "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n\
                 2024-01-02,Heat,1995,https://boxd.it/a,4.5,,,2024-01-01\n\
                 2024-01-03,Some Film Nobody Has,1971,https://boxd.it/b,3,,,2024-01-02\n";
    let (st, report) = import(&s, ann, "letterboxd", None, diary).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["entries"], 4, "{report}");
    assert_eq!(report["matched"], 2, "{report}");
    assert_eq!(report["feedback_recorded"], 2, "{report}");
    assert_eq!(report["unmatched"][0]["line"], 3, "{report}");
    assert!(report["unmatched"][0]["title"]
        .as_str()
        .unwrap()
        .contains("Some Film Nobody Has"));
    // The same file again records nothing twice.
    let (st, again) = import(&s, ann, "letterboxd", None, diary).await;
    assert_eq!(st, 200);
    assert_eq!(again["feedback_recorded"], 0, "{again}");
    assert_eq!(again["duplicates"], 2, "{again}");

    // IMDb watchlist (by IMDb id) and Trakt playback progress (Up runs 100 minutes).
    let watchlist = "Position,Const,Created,Modified,Description,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year\n\
                     1,tt0078748,2023-06-01,2023-06-01,,Alien,u,movie,8.5,117,1979\n";
    let (st, report) = import(&s, ann, "imdb", None, watchlist).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(
        (
            report["feedback_recorded"].as_u64(),
            report["sync_operations"].as_u64()
        ),
        (Some(1), Some(1)),
        "{report}"
    );
    let trakt = r#"[{"progress": 25.0, "paused_at": "2024-02-01T20:00:00.000Z", "id": 3, "type": "movie",
                     "movie": {"title": "Up", "year": 2009, "ids": {"imdb": "tt1049413"}}}]"#;
    let (st, report) = import(&s, ann, "trakt", None, trakt).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["sync_operations"], 1, "{report}");

    // A long diary (one commit of hundreds of events, across snapshot boundaries) imported twice
    // records nothing twice: the aggregate's snapshot holds the whole commit.
    let mut long = String::from("Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n");
    for i in 0..157 {
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(i);
        long.push_str(&format!(
            "{day},Heat,1995,https://boxd.it/h{i},4,Yes,,{day}\n"
        ));
    }
    let (st, first) = import(&s, ann, "letterboxd", None, &long).await;
    assert_eq!(
        (st, first["feedback_recorded"].as_u64()),
        (200, Some(314)),
        "{first}"
    );
    let (st, again) = import(&s, ann, "letterboxd", None, &long).await;
    assert_eq!(
        (
            st,
            again["feedback_recorded"].as_u64(),
            again["duplicates"].as_u64()
        ),
        (200, Some(0), Some(314)),
        "{again}"
    );

    // Malformed files: refused whole, each problem with its line, nothing written.
    let before = user_events(&s, ann).await;
    let bad = "Date,Name,Year,Letterboxd URI,Rating\n\
               2024-01-02,Alien,1979,u,4\n\
               2024-01-03,Up,20x9,u,4\n\
               2024-01-04,Heat,1995,u,11\n";
    let (st, body) = import(&s, ann, "letterboxd", None, bad).await;
    assert_eq!(st, 400, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["line 3", "line 4"], "{body}");
    let (st, body) = import(&s, ann, "trakt", None, "[\n {\"type\": \"movie\",\n").await;
    assert_eq!(st, 400, "{body}");
    assert!(body.to_string().contains("line"), "{body}");
    let (st, body) = import(&s, ann, "myspace", None, diary).await;
    assert_eq!(st, 400);
    assert!(body.to_string().contains("format"), "{body}");
    assert_eq!(
        user_events(&s, ann).await,
        before,
        "a refused file wrote something"
    );

    // Another user may not read or write Ann's history.
    let (st, _) = get(
        &s,
        &format!("/v1/user/{ann}/export"),
        &s.token(Uuid::new_v4(), ""),
    )
    .await;
    assert_eq!(st, 403);

    // Ann's export holds what was imported.
    let (st, doc) = get(&s, &format!("/v1/user/{ann}/export"), &s.token(ann, "")).await;
    assert_eq!(st, 200, "{doc}");
    assert_eq!(doc["format"], "mediagw.user-export");
    let heat_rating = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["signal"] == "rated" && h["at"].as_str().unwrap().starts_with("2024-01-01"))
        .unwrap();
    assert_eq!(
        (
            heat_rating["title"].as_str(),
            heat_rating["rating"].as_u64(),
            heat_rating["scale"].as_u64()
        ),
        (Some("Heat"), Some(9), Some(10)),
        "{doc}"
    );
    assert_eq!(doc["watchlist"][0]["title"], "Alien", "{doc}");
    assert_eq!(doc["watchlist"][0]["imdb"], "tt0078748", "{doc}");
    assert_eq!(doc["positions"][0]["title"], "Up", "{doc}");
    assert_eq!(doc["positions"][0]["position_ms"], 25 * 60_000, "{doc}");

    // Round trip through the command line: export → import into a fresh user → export.
    let dir = std::env::temp_dir().join(format!("{}-export", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ann.json");
    s.run_ok(&[
        "export",
        "user",
        "--user",
        &ann.to_string(),
        "--out",
        file.to_str().unwrap(),
    ]);
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(restorable(&exported), restorable(&doc));
    let bea = Uuid::new_v4();
    let out = s.run_ok(&[
        "import",
        "user",
        "--user",
        &bea.to_string(),
        "--format",
        "mediagw",
        file.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["unmatched"], json!([]), "{report}");
    let bea_doc: Value =
        serde_json::from_str(&s.run_ok(&["export", "user", "--user", &bea.to_string()])).unwrap();
    assert_eq!(bea_doc["user_id"], json!(bea));
    assert_eq!(
        restorable(&bea_doc),
        restorable(&doc),
        "the round trip lost something"
    );

    // A malformed file through the command line: non-zero exit, the lines on stderr.
    let bad_file = dir.join("ratings.csv");
    std::fs::write(&bad_file, bad).unwrap();
    let out = s
        .command(&[
            "import",
            "user",
            "--user",
            &bea.to_string(),
            "--format",
            "letterboxd",
            bad_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("line 4"), "{err}");
}

/// Every record of every topic of this stack (DLQs included), as raw bytes: key, value, headers.
fn every_record(s: &Stack) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("scan-{}", Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let meta = consumer
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .unwrap();
    let topics: Vec<String> = meta
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|t| t.starts_with(&s.prefix))
        .collect();
    assert!(
        topics.iter().any(|t| t.ends_with(".dlq")),
        "no DLQ topics in {topics:?}"
    );
    let mut out = Vec::new();
    let rt = tokio::runtime::Handle::current();
    for t in topics {
        for m in tokio::task::block_in_place(|| rt.block_on(read_topic(&t))) {
            let mut bytes = m.key().unwrap_or_default().to_vec();
            bytes.extend_from_slice(m.payload().unwrap_or_default());
            if let Some(h) = m.headers() {
                for h in h.iter() {
                    bytes.extend_from_slice(h.key.as_bytes());
                    bytes.extend_from_slice(h.value.unwrap_or_default());
                }
            }
            out.push(bytes);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Tables (any schema) with a row whose text contains `needle`.
async fn tables_mentioning(s: &Stack, needle: &str) -> Vec<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for (schema, table) in tables {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{schema}\".\"{table}\" t WHERE t::text LIKE '%' || $1 || '%'"
        ))
        .bind(needle)
        .fetch_one(&s.pool)
        .await
        .unwrap();
        if n > 0 {
            out.push(format!("{schema}.{table}"));
        }
    }
    out
}

async fn redis_keys_mentioning(needle: &str) -> Vec<String> {
    let url = std::env::var("MEDIAGW__REDIS__URL").unwrap_or("redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // SCAN, not KEYS: the product's Redis user may not run KEYS (scripts/lib.sh REDIS_ACL).
    let (mut cursor, mut found) = (0u64, Vec::new());
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("*{needle}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        found.extend(keys);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_user_leaves_nothing_readable_anywhere() {
    let mut s = Stack::new("erasure").await;
    s.start_all().await;
    let (st, v) = s
        .ingest(&title(
            "tt0113277",
            "Heat",
            1995,
            json!([offer("netflix", "subscription", None)]),
        ))
        .await;
    assert_eq!(st, 200, "{v}");
    let heat: Uuid = v["content_id"].as_str().unwrap().parse().unwrap();

    // Erin: an account, a named device, feedback, a watchlist entry, a search, services.
    let email = format!(
        "erin-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/register", s.api))
        .json(&json!({"email": email, "password": "correct horse battery staple", "display_name": "Erin Quux"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let erin: Uuid = r.json::<Value>().await.unwrap()["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token = s.token(erin, "");
    let device = Uuid::new_v4();
    let device_name = "Erin's Marmalade Kitchen TV";
    let (st, v) = post(
        &s,
        "/v1/devices/register",
        &token,
        json!({"device_name": device_name, "device_type": "roku", "device_id": device}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = post(
        &s,
        &format!("/v1/user/{erin}/feedback"),
        &token,
        json!({"content_id": heat, "event_type": "Rated", "rating": 9, "rating_scale": 10}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let op = json!({"operation_id": Uuid::new_v4(), "operation_type": {"type": "WatchlistAdd", "content_id": heat, "tag": Uuid::new_v4()},
                    "timestamp": {"physical_ms": now_ms(), "logical": 0, "device_id": device}, "device_id": device});
    let (st, v) = post(
        &s,
        "/v1/sync/merge",
        &token,
        json!({"device_id": device, "operations": [op]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &s,
        reqwest::Method::PUT,
        &format!("/v1/user/{erin}/services"),
        &token,
        Some(json!({"region": "US", "services": [{"platform": "netflix"}]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let query = "zanzibar quokka heist";
    let (st, v) = get(
        &s,
        &format!("/v1/search?q={}&user_id={erin}", query.replace(' ', "+")),
        &token,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // Everything projected (and the search published).
    s.eventually(60, "Erin's data in the read models", || async {
        let devices = s
            .count(&format!(
                "SELECT count(*) FROM playback.devices WHERE user_id = '{erin}'"
            ))
            .await;
        let state = s
            .count(&format!(
                "SELECT count(*) FROM sync.user_state WHERE user_id = '{erin}'"
            ))
            .await;
        let items = s
            .count(&format!(
                "SELECT count(*) FROM profiles.user_items WHERE user_id = '{erin}'"
            ))
            .await;
        let searched = s
            .count(&format!(
                "SELECT count(*) FROM search_activity.query_counts WHERE query = '{query}'"
            ))
            .await;
        (devices == 1 && state == 1 && items == 1 && searched == 1).then_some(())
    })
    .await;
    let erin_id = erin.to_string();
    let secrets = [
        erin_id.as_str(),
        device_name,
        query,
        email.as_str(),
        "Erin Quux",
    ];

    // Before: the store holds Erin in plain text; Kafka never did (sealed under a pseudonym).
    assert!(user_events(&s, erin).await > 0);
    assert!(!tables_mentioning(&s, device_name).await.is_empty());
    let subject: Uuid = sqlx::query_scalar("SELECT subject FROM user_keys WHERE user_id = $1")
        .bind(&erin_id)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    let records = every_record(&s);
    let sealed = records
        .iter()
        .filter(|r| contains(r, &subject.to_string()))
        .count();
    assert!(
        sealed >= 4,
        "Erin's records are not keyed by her pseudonym ({sealed})"
    );
    for secret in secrets {
        assert!(
            !records.iter().any(|r| contains(r, secret)),
            "`{secret}` travels in clear on Kafka"
        );
    }
    let dump = s.run_ok(&["export", "user", "--user", &erin_id]);
    assert!(
        dump.contains(device_name) && dump.contains(&email),
        "the export misses data"
    );

    // Erasure, by Erin herself.
    let (st, report) = call(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/user/{erin}"),
        &token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["key_destroyed"], true, "{report}");
    assert!(report["events_deleted"].as_u64().unwrap() >= 4, "{report}");

    // `replayed`: trending's anonymous per-minute query counts keep a query until the search
    // activity is rebuilt from the log, where Erin's searches no longer open.
    let check = |when: &'static str, replayed: bool| {
        let s = &s;
        async move {
            assert_eq!(user_events(s, erin).await, 0, "{when}: events left");
            for secret in secrets {
                let mut t = tables_mentioning(s, secret).await;
                if !replayed && secret == query {
                    t.retain(|t| t != "search_activity.query_counts");
                }
                assert!(t.is_empty(), "{when}: `{secret}` still in {t:?}");
                let k = redis_keys_mentioning(secret).await;
                assert!(k.is_empty(), "{when}: `{secret}` still in Redis keys {k:?}");
            }
            let records = every_record(s);
            for secret in secrets {
                assert!(
                    !records.iter().any(|r| contains(r, secret)),
                    "{when}: `{secret}` readable on Kafka"
                );
            }
        }
    };
    check("after erasure", false).await;

    // Rebuilt from the log, the read models still know nothing of Erin: her records stay sealed.
    for projection in ["sync", "playback", "user-profiles", "search-activity"] {
        s.run_ok(&["replay", projection]);
    }
    check("after a replay", true).await;
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM user_erasures WHERE subject = '{subject}'"
        ))
        .await,
        1
    );
    // Erasing again (an operator, this time) is harmless.
    let r = s
        .http
        .delete(format!("{}/v1/user/{erin}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["key_destroyed"], false, "{report}");
}
