//! The data engineers' tools against real processes: event export from the event store, and
//! recovery from broker data loss (a broker of the test's own is wiped) by `mediagw republish`
//! and a full replay, ending with read models identical to before.

mod common;

use std::collections::BTreeMap;

use common::*;
use rdkafka::message::{Headers, Message};
use serde_json::json;

/// Per key, the event ids in log order (all Kafka promises to keep).
async fn log_by_key(broker: &str, topic: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in read_topic_at(broker, topic).await {
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        let id = m
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "event_id"))
            .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
            .unwrap_or_default();
        out.entry(key).or_default().push(id);
    }
    out
}

/// A Parquet file's rows as JSON objects (through the crate's own record reader).
fn parquet_rows(path: &std::path::Path) -> Vec<serde_json::Value> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            let row = row.unwrap();
            let mut out = serde_json::Map::new();
            for (name, field) in row.get_column_iter() {
                use parquet::record::Field;
                let v = match field {
                    Field::Null => serde_json::Value::Null,
                    Field::Long(i) => json!(i),
                    Field::TimestampMillis(i) => json!(i),
                    Field::Double(f) => json!(f),
                    Field::Str(s) => json!(s),
                    other => json!(other.to_string()),
                };
                out.insert(name.clone(), v);
            }
            serde_json::Value::Object(out)
        })
        .collect()
}

fn in_files_of(dir: &std::path::Path, name: &str) -> i64 {
    let f = std::fs::File::open(dir.join(format!("{name}.avro"))).unwrap();
    apache_avro::Reader::new(f).unwrap().count() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_republish_after_broker_loss() {
    let mut broker = OwnBroker::start("republish").await;
    let mut s = Stack::new("republish").await;
    s.set_env("MEDIAGW__KAFKA__BROKERS", &broker.addr);
    s.start("api,registry,relay,projector:catalog");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    let n = 12;
    for i in 0..n {
        let (st, v) = s
            .ingest(&title(
                &format!("tt30{i:05}"),
                &format!("Lost Film {i}"),
                1980 + i,
                json!([offer("netflix", "subscription", None)]),
            ))
            .await;
        assert_eq!(st, 200, "{v}");
    }
    // A second version of some titles: a rename and a price.
    for i in (0..n).step_by(3) {
        s.ingest(&title(
            &format!("tt30{i:05}"),
            &format!("Lost Film {i} (Restored)"),
            1980 + i,
            json!([offer("apple_tv", "rent", Some(2.99))]),
        ))
        .await;
    }
    s.eventually(30, "the catalog complete", || async {
        let restored = s
            .count("SELECT count(*) FROM catalog.content WHERE title LIKE '%(Restored)'")
            .await;
        let rents = s
            .count("SELECT count(*) FROM catalog.platform_availability WHERE price_amount = 2.99")
            .await;
        (restored == 4 && rents == 4).then_some(())
    })
    .await;
    let before = dump_catalog(&s).await;
    let events = s.count("SELECT count(*) FROM events").await;

    // Export: one JSON line per stored event, the wire record as its payload.
    let exported = json_lines(&s.run_ok(&["export", "events"]));
    assert_eq!(exported.len() as i64, events);
    for line in &exported {
        for field in [
            "topic",
            "event_type",
            "event_id",
            "aggregate_id",
            "recorded_at",
            "payload",
        ] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
    let ingested = s.topic("content.ingested");
    let only = json_lines(&s.run_ok(&["export", "events", "--topic", "content.ingested"]));
    assert!(!only.is_empty() && only.iter().all(|l| l["topic"] == ingested.as_str()));
    assert_eq!(
        only.len(),
        exported
            .iter()
            .filter(|l| l["topic"] == ingested.as_str())
            .count()
    );
    let file = std::env::temp_dir().join(format!("{}-events.jsonl", s.name));
    s.run_ok(&["export", "events", "--out", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count() as i64,
        events
    );
    // Avro: one container file per event type, its registered schema inside, every event once.
    let avro_dir = std::env::temp_dir().join(format!("{}-avro", s.name));
    s.run_ok(&[
        "export",
        "events",
        "--format",
        "avro",
        "--out",
        avro_dir.to_str().unwrap(),
    ]);
    let mut in_files = 0i64;
    for entry in std::fs::read_dir(&avro_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        assert!(path.extension().unwrap() == "avro", "{}", path.display());
        let reader = apache_avro::Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(
            reader.writer_schema().name().map(|n| n.fullname(None)),
            Some(name.clone())
        );
        for value in reader {
            value.unwrap();
            in_files += 1;
        }
        assert_eq!(
            exported
                .iter()
                .filter(|l| l["event_type"] == name.as_str())
                .count() as i64,
            in_files_of(&avro_dir, &name)
        );
    }
    assert_eq!(in_files, events);
    let no_dir = s
        .command(&["export", "events", "--format", "avro"])
        .output()
        .unwrap();
    assert!(!no_dir.status.success());
    assert!(String::from_utf8_lossy(&no_dir.stderr).contains("--out"));
    let future = json_lines(&s.run_ok(&["export", "events", "--from", "2999-01-01T00:00:00Z"]));
    assert!(future.is_empty());
    let bad = s
        .command(&["export", "events", "--from", "yesterday"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));

    // The catalog read model as CSV: a header and one row per title, offers as JSON.
    let csv = s.run_ok(&["export", "projection", "catalog", "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,content_type,title,"), "{}", rows[0]);
    assert_eq!(
        rows.len() as i64,
        1 + s.count("SELECT count(*) FROM catalog.content").await
    );
    let restored = rows
        .iter()
        .find(|r| r.contains("Lost Film 3 (Restored)"))
        .expect("a renamed title");
    assert!(
        restored.contains("apple_tv") && restored.contains("2.99"),
        "{restored}"
    );

    // Parquet: every event once with its fields typed; the catalog with its columns.
    let pq = std::env::temp_dir().join(format!("{}-events.parquet", s.name));
    s.run_ok(&[
        "export",
        "events",
        "--format",
        "parquet",
        "--out",
        pq.to_str().unwrap(),
    ]);
    let rows = parquet_rows(&pq);
    assert_eq!(rows.len() as i64, events);
    let ids: std::collections::BTreeSet<String> = exported
        .iter()
        .map(|l| l["event_id"].as_str().unwrap().to_string())
        .collect();
    let in_parquet: std::collections::BTreeSet<String> = rows
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, in_parquet);
    let first = &rows[0];
    assert!(
        first["sequence"].is_i64() && first["recorded_at"].is_i64(),
        "{first}"
    );
    let payload: serde_json::Value =
        serde_json::from_str(first["payload"].as_str().unwrap()).unwrap();
    assert!(payload["event_id"].is_string(), "{payload}");
    let pq = std::env::temp_dir().join(format!("{}-catalog.parquet", s.name));
    s.run_ok(&[
        "export",
        "projection",
        "catalog",
        "--format",
        "parquet",
        "--out",
        pq.to_str().unwrap(),
    ]);
    let titles = parquet_rows(&pq);
    assert_eq!(
        titles.len() as i64,
        s.count("SELECT count(*) FROM catalog.content").await
    );
    let restored = titles
        .iter()
        .find(|r| r["title"] == "Lost Film 3 (Restored)")
        .expect("a renamed title");
    assert_eq!(restored["release_year"], 1983, "{restored}");
    assert!(
        restored["availability"]
            .as_str()
            .unwrap()
            .contains("apple_tv"),
        "{restored}"
    );

    let topics = [
        "content.ingested",
        "content.updated",
        "availability.changed",
    ]
    .map(|t| s.topic(t));
    let mut logs = Vec::new();
    for t in &topics {
        logs.push(log_by_key(&broker.addr, t).await);
    }

    // Broker data loss (runbook: docs/operations.md): projectors stop, the broker comes back
    // empty, history is republished from the event store, stale positions are cleared, every
    // read model is rebuilt by a full replay.
    s.kill("api,registry,relay,projector:catalog");
    broker.wipe().await;
    s.start("api,registry,relay");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    let report = json_lines(&s.run_ok(&["republish"]));
    assert_eq!(report[0]["republished"], events, "{report:?}");
    for (t, before) in topics.iter().zip(&logs) {
        assert_eq!(
            &log_by_key(&broker.addr, t).await,
            before,
            "{t} after republish"
        );
    }
    sqlx::query("DELETE FROM catalog.projector_offsets")
        .execute(&s.pool)
        .await
        .unwrap();
    let replayed = json_lines(&s.run_ok(&["replay", "catalog"]));
    assert_eq!(replayed[0]["swapped"], true);
    assert_eq!(
        dump_catalog(&s).await,
        before,
        "catalog identical after republish + replay"
    );

    // The projector resumes on the new log.
    s.start("projector:catalog");
    let (_, v) = s
        .ingest(&title("tt3099999", "After The Loss", 2026, json!([])))
        .await;
    let id = v["content_id"].as_str().unwrap().to_string();
    s.eventually(30, "a new title projected", || async {
        (s.count(&format!(
            "SELECT count(*) FROM catalog.content WHERE id = '{id}'"
        ))
        .await
            == 1)
            .then_some(())
    })
    .await;
}
