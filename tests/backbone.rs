//! The backbone end to end against real PostgreSQL, tansu and the embedded registry:
//! ingest → event store → relay → Kafka (Avro) → catalog projector → `GET /v1/content/{id}`.

mod common;

use common::{dump_catalog, json_lines, offer, read_topic, title, Stack};
use rdkafka::message::{Headers, Message};
use serde_json::{json, Value};

async fn wait_content(s: &Stack, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    s.eventually(15, "content projected", || async {
        let (status, body) = s.get(&format!("/v1/content/{id}")).await;
        (status == 200 && pred(&body)).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_served_from_the_catalog_and_reingest_is_idempotent() {
    let mut s = Stack::new("ingest").await;
    s.start_all().await;
    let mut uhd = offer("netflix", "subscription", None);
    uhd["video_quality"] = json!("4K");
    let record = title(
        "tt0133093",
        "The Matrix",
        1999,
        json!([uhd, offer("apple_tv", "rent", Some(3.99))]),
    );

    let (status, created) = s.ingest(&record).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["action"], "Created");
    assert_eq!(created["entity_confidence"], 1.0);
    let id = created["content_id"].as_str().unwrap().to_string();

    let started = std::time::Instant::now();
    let body = wait_content(&s, &id, |b| {
        b["availability"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    eprintln!("ingest → readable in {:?}", started.elapsed());
    assert_eq!(body["title"], "The Matrix");
    assert_eq!(body["content_type"], "movie");
    assert_eq!(body["release_date"], "1999-05-01");
    assert_eq!(body["runtime_minutes"], 100);
    assert_eq!(body["external_ids"], json!({"imdb": "tt0133093"}));
    let offers = body["availability"].as_array().unwrap();
    assert_eq!(offers.len(), 2);
    let rent = offers
        .iter()
        .find(|o| o["availability_type"] == "rent")
        .unwrap();
    assert_eq!(rent["price_amount"], "3.99");
    assert_eq!(rent["price_currency"], "USD");
    assert_eq!(rent["region"], "US");
    assert_eq!(rent["video_quality"], Value::Null);
    let sub = offers
        .iter()
        .find(|o| o["availability_type"] == "subscription")
        .unwrap();
    assert_eq!(sub["video_quality"], "uhd");

    // The same record again: same title, nothing new in the store.
    let (status, again) = s.ingest(&record).await;
    assert_eq!(status, 200);
    assert_eq!(again["content_id"], created["content_id"]);
    assert_eq!(again["action"], "Updated");
    assert_eq!(again["events"], 0);
    assert_eq!(s.count("SELECT count(*) FROM events").await, 3);

    // A changed record: price drop, Netflix leaves, new title text.
    let changed = title(
        "tt0133093",
        "The Matrix (Remastered)",
        1999,
        json!([offer("apple_tv", "rent", Some(2.99))]),
    );
    let (_, upd) = s.ingest(&changed).await;
    assert_eq!(upd["action"], "Updated");
    assert_eq!(upd["events"], 3);
    let body = wait_content(&s, &id, |b| {
        b["title"] == "The Matrix (Remastered)" && b["availability"].as_array().unwrap().len() == 1
    })
    .await;
    assert_eq!(body["availability"][0]["price_amount"], "2.99");
    assert_eq!(s.count("SELECT count(*) FROM catalog.content").await, 1);

    // Unknown and malformed ids.
    assert_eq!(
        s.get(&format!("/v1/content/{}", uuid::Uuid::new_v4()))
            .await
            .0,
        404
    );
    let (status, err) = s.get("/v1/content/not-a-uuid").await;
    assert_eq!(status, 400);
    assert!(err["error"]["message"].as_str().unwrap().contains("`id`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_naming_the_field_and_nothing_is_written() {
    let mut s = Stack::new("badinput").await;
    s.start_all().await;
    let good = title("tt0000001", "Valid", 2000, json!([]));

    let mut unknown_platform = good.clone();
    unknown_platform["platform"] = json!("myspace");
    let (status, body) = s.ingest(&unknown_platform).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "platform");

    let mut missing_title = good.clone();
    missing_title["raw_content"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let (status, body) = s.ingest(&missing_title).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "raw_content.title");

    let mut bad_offer = good.clone();
    bad_offer["raw_content"]["availability"] =
        json!([{"platform": "netflix", "availability_type": "lease"}]);
    let (status, body) = s.ingest(&bad_offer).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"raw_content.availability[0].availability_type"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"raw_content.availability[0].deep_link"),
        "{fields:?}"
    );

    let mut bad_region = good.clone();
    bad_region["region"] = json!("Narnia");
    assert_eq!(s.ingest(&bad_region).await.0, 422);

    let r = s
        .http
        .post(format!("{}/internal/ingest", s.api))
        .header("content-type", "application/json")
        .body("{\"platform\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("EOF"),
        "{body}"
    );

    let r = s
        .http
        .post(format!("{}/internal/ingest", s.api))
        .json(&json!({"platform": "generic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("raw_content"));

    let mut huge = good.clone();
    huge["raw_content"]["overview"] = json!("x".repeat(70_000)); // over the 64 KiB test limit
    assert_eq!(s.ingest(&huge).await.0, 413);

    for table in ["events", "event_outbox", "title_identity"] {
        assert_eq!(
            s.count(&format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} must stay empty"
        );
    }
    // ...while a valid record still goes through.
    assert_eq!(s.ingest(&good).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_records_are_confluent_avro_keyed_by_aggregate() {
    use schema_registry_converter::async_impl::easy_avro::EasyAvroDecoder;
    use schema_registry_converter::async_impl::schema_registry::SrSettings;

    let mut s = Stack::new("wire").await;
    s.start_all().await;
    let (_, created) = s
        .ingest(&title(
            "tt0062622",
            "2001: A Space Odyssey",
            1968,
            json!([offer("max", "subscription", None)]),
        ))
        .await;
    let id = created["content_id"].as_str().unwrap().to_string();
    wait_content(&s, &id, |_| true).await;

    let decoder = EasyAvroDecoder::new(SrSettings::new(s.registry.clone()));
    for (topic, name) in [
        ("content.ingested", "mediagw.catalog.TitleIngested"),
        (
            "availability.changed",
            "mediagw.catalog.AvailabilityArrived",
        ),
    ] {
        let records = read_topic(&s.topic(topic)).await;
        assert_eq!(records.len(), 1, "{topic}");
        let m = &records[0];
        assert_eq!(m.key(), Some(id.as_bytes()), "keyed by aggregate id");
        let payload = m.payload().unwrap();
        assert_eq!(payload[0], 0, "Confluent magic byte");
        let schema_id = u32::from_be_bytes(payload[1..5].try_into().unwrap());
        let schema: Value = s
            .http
            .get(format!("{}/schemas/ids/{schema_id}", s.registry))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(schema["schema"]
            .as_str()
            .unwrap()
            .contains(name.rsplit('.').next().unwrap()));
        let decoded = decoder.decode(Some(payload)).await.unwrap();
        assert_eq!(decoded.name.unwrap().fullname(None), name);
        let apache_avro::types::Value::Record(fields) = decoded.value else {
            panic!("record expected")
        };
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            get("content_id"),
            apache_avro::types::Value::String(id.clone())
        );
        let header = m
            .headers()
            .unwrap()
            .iter()
            .find(|h| h.key == "event_type")
            .unwrap();
        assert_eq!(header.value.unwrap(), name.as_bytes());
    }
    let subjects: Vec<String> = s
        .http
        .get(format!("{}/subjects", s.registry))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        subjects.contains(&format!(
            "{}-mediagw.catalog.TitleIngested",
            s.topic("content.ingested")
        )),
        "{subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dlq_without_blocking_the_partition() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::ClientConfig;

    let mut s = Stack::new("dlq").await;
    s.start_all().await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", common::brokers())
        .create()
        .unwrap();
    let topic = s.topic("content.ingested");
    for (key, payload) in [
        ("k1", b"not avro at all".to_vec()),
        ("k2", vec![0, 0, 0, 0x7f, 0x7f, 1, 2, 3]),
    ] {
        producer
            .send(
                FutureRecord::to(&topic).key(key).payload(&payload),
                std::time::Duration::from_secs(5),
            )
            .await
            .unwrap();
    }
    // A valid title afterwards is still projected.
    let (_, created) = s
        .ingest(&title(
            "tt0120737",
            "The Fellowship of the Ring",
            2001,
            json!([]),
        ))
        .await;
    let id = created["content_id"].as_str().unwrap().to_string();
    wait_content(&s, &id, |_| true).await;

    // Every projector consuming the topic (catalog, search) dead-letters them once, saying who.
    let projector_of = |m: &rdkafka::message::OwnedMessage| {
        m.headers()
            .unwrap()
            .iter()
            .find(|h| h.key == "dlq.projector")
            .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
            .unwrap_or_default()
    };
    let dlq = s
        .eventually(30, "dead letters", || async {
            let r = read_topic(&format!("{topic}.dlq")).await;
            (r.len() >= 4).then_some(r)
        })
        .await;
    assert_eq!(dlq.len(), 4);
    for p in ["catalog", "search"] {
        assert_eq!(
            dlq.iter().filter(|m| projector_of(m) == p).count(),
            2,
            "{p}"
        );
    }
    for m in &dlq {
        let h: std::collections::HashMap<String, String> = m
            .headers()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                )
            })
            .collect();
        assert!(!h["dlq.error"].is_empty());
        assert_eq!(h["dlq.original.topic"], topic);
        assert!(["catalog", "search"].contains(&h["dlq.projector"].as_str()));
    }
    assert!(
        dlq.iter()
            .any(|m| m.payload() == Some(b"not avro at all".as_slice())),
        "original bytes are kept"
    );
    let metrics = s.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("projector_dead_lettered_total") && l.ends_with(" 2")),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_a_catalog_identical_to_the_live_one() {
    let mut s = Stack::new("replay").await;
    s.start_all().await;
    let n = 60;
    for i in 0..n {
        let offers = json!([
            offer("netflix", "subscription", None),
            offer("apple_tv", "rent", Some(1.99 + i as f64))
        ]);
        s.ingest(&title(
            &format!("tt10{i:05}"),
            &format!("Film {i}"),
            1990 + i % 30,
            offers,
        ))
        .await;
    }
    // Changes: every third title is renamed and loses Netflix; every fifth gets a price change.
    for i in (0..n).step_by(3) {
        s.ingest(&title(
            &format!("tt10{i:05}"),
            &format!("Film {i} (Director's Cut)"),
            1990 + i % 30,
            json!([offer("apple_tv", "rent", Some(1.99 + i as f64))]),
        ))
        .await;
    }
    for i in (0..n).step_by(5) {
        let offers = if i % 3 == 0 {
            json!([offer("apple_tv", "rent", Some(0.99))])
        } else {
            json!([
                offer("netflix", "subscription", None),
                offer("apple_tv", "rent", Some(0.99))
            ])
        };
        s.ingest(&title(
            &format!("tt10{i:05}"),
            &format!(
                "Film {i}{}",
                if i % 3 == 0 { " (Director's Cut)" } else { "" }
            ),
            1990 + i % 30,
            offers,
        ))
        .await;
    }
    let expected_offers = (0..n).map(|i| if i % 3 == 0 { 1 } else { 2 }).sum::<i64>();
    s.eventually(30, "live catalog complete", || async {
        let offers = s
            .count("SELECT count(*) FROM catalog.platform_availability")
            .await;
        let cheap = s
            .count("SELECT count(*) FROM catalog.platform_availability WHERE price_amount = 0.99")
            .await;
        // Renames travel on content.updated, which may lag availability.changed.
        let cuts = s
            .count("SELECT count(*) FROM catalog.content WHERE title LIKE '%(Director''s Cut)'")
            .await;
        (offers == expected_offers && cheap == 12 && cuts == 20).then_some(())
    })
    .await;
    let live = dump_catalog(&s).await;
    assert!(live.len() > 200);

    // `--list`: every projection with its position and lag (the live catalog has caught up).
    let listed = json_lines(&s.run_ok(&["replay", "--list"]));
    let catalog = listed
        .iter()
        .find(|l| l["projection"] == "catalog")
        .expect("catalog listed");
    assert_eq!(catalog["lag"], 0, "{catalog}");
    assert!(!catalog["partitions"].as_array().unwrap().is_empty());
    assert!(listed.iter().any(|l| l["projection"] == "search-index"));

    // `--dry-run` reports what would be read and changes nothing.
    let events = s.count("SELECT count(*) FROM events").await;
    let plan = json_lines(&s.run_ok(&["replay", "catalog", "--dry-run"]));
    let summary = plan.last().unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["events"], events, "{summary}");
    assert_eq!(
        plan[..plan.len() - 1]
            .iter()
            .map(|p| p["events"].as_i64().unwrap())
            .sum::<i64>(),
        events
    );
    assert_eq!(
        s.count("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'catalog_rebuild'")
            .await,
        0,
        "a dry run creates nothing"
    );

    let report = json_lines(&s.run_ok(&["replay", "catalog", "--from", "earliest"]));
    let report = &report[0];
    assert_eq!(report["projection"], "catalog");
    assert_eq!(
        report["events_read"], events,
        "{report} vs {events} events in the store"
    );
    assert_eq!(report["swapped"], true);
    assert!(report["events_per_s"].as_f64().unwrap() > 0.0);

    let rebuilt = dump_catalog(&s).await;
    assert_eq!(live, rebuilt);

    // A rebuild from a point in time lacks every older event: it never replaces the live catalog
    // unless asked to, and `--no-swap` leaves it beside the live tables.
    let since = chrono::Utc::now().to_rfc3339();
    let refused = s
        .command(&["replay", "catalog", "--from", &since])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("--no-swap") && why.contains("--swap-partial"),
        "{why}"
    );
    assert_eq!(
        dump_catalog(&s).await,
        live,
        "the live catalog is untouched"
    );
    let report = json_lines(&s.run_ok(&["replay", "catalog", "--from", &since, "--no-swap"]));
    assert_eq!(report[0]["schema"], "catalog_rebuild", "{report:?}");
    assert_eq!(report[0]["swapped"], false);
    // A range of offsets and partitions into a schema of one's choosing, beside the live one.
    let report = json_lines(&s.run_ok(&[
        "replay",
        "catalog",
        "--from",
        "0",
        "--to",
        "3",
        "--partitions",
        "0",
        "--into",
        "catalog_inspect",
    ]));
    assert_eq!(report[0]["schema"], "catalog_inspect");
    let read = report[0]["events_read"].as_i64().unwrap();
    assert!(
        (1..=9).contains(&read),
        "at most 3 events per topic (3) of partition 0: {read}"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM catalog_inspect.projector_offsets WHERE next_offset > 3 OR partition <> 0")
            .await,
        0
    );
    for refused in [
        vec!["replay", "catalog", "--to", "3"],
        vec!["replay", "catalog", "--partitions", "99", "--no-swap"],
        vec!["replay", "catalog", "--into", "catalog"],
    ] {
        let out = s.command(&refused).output().unwrap();
        assert!(!out.status.success(), "{refused:?} must fail");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert_eq!(
        dump_catalog(&s).await,
        live,
        "the live catalog is untouched"
    );
    // The rebuild stays to be inspected (how much of the log it holds is the broker's answer to
    // "offsets for this time"); the next replay of the catalog replaces it.
    assert!(
        s.count("SELECT count(*) FROM catalog_rebuild.content")
            .await
            >= 0
    );
    // The live projector keeps working on the swapped-in schema.
    let (_, created) = s
        .ingest(&title("tt2000000", "After The Swap", 2024, json!([])))
        .await;
    wait_content(&s, created["content_id"].as_str().unwrap(), |_| true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let mut s = Stack::new("health").await;
    s.start("api"); // no registry role: the registry URL points at nothing
    s.wait_http(&format!("{}/health/live", s.api)).await;
    let ready = s
        .http
        .get(format!("{}/health/ready", s.ops))
        .send()
        .await
        .unwrap();
    let status = ready.status().as_u16();
    let body: Value = ready.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["postgres"]["status"], "ok");
    assert_eq!(body["checks"]["broker"]["status"], "ok");
    assert_eq!(body["checks"]["schema_registry"]["status"], "down");
    assert!(
        body["checks"]["schema_registry"].get("error").is_none(),
        "readiness tells no internal error text: {body}"
    );
    s.start("registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    // The public listener: liveness only (readiness names dependencies; metrics are internal).
    let r = s
        .http
        .get(format!("{}/health/live", s.api))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-123");
    for internal in ["/health/ready", "/metrics"] {
        let (status, _) = s.get(internal).await;
        assert_eq!(status, 404, "{internal} must not be public");
    }
    let text = s
        .http
        .get(format!("{}/metrics", s.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("http_requests_total{") && text.contains("service=\"api\""),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "a histogram, not a summary: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_file_ingest_reports_and_agrees_with_the_single_path() {
    let mut s = Stack::new("bulk").await;
    s.start_all().await;
    // A title that already exists before the import (written by the one-by-one path).
    let (_, existing) = s
        .ingest(&title("tt6000000", "Already Here", 1990, json!([])))
        .await;

    let raw = |t: &Value| t["raw_content"].to_string();
    let mut lines = vec![raw(&title(
        "tt6000000",
        "Already Here (Restored)",
        1990,
        json!([offer("netflix", "subscription", None)]),
    ))];
    for i in 1..=30 {
        lines.push(raw(&title(
            &format!("tt60{i:05}"),
            &format!("Bulk {i}"),
            2000,
            json!([offer("max", "subscription", None)]),
        )));
    }
    // The same work twice in one file: one title, the later line wins.
    lines.push(raw(&title(
        "tt6000001",
        "Bulk 1 (Extended)",
        2000,
        json!([offer("max", "subscription", None)]),
    )));
    lines.push("{\"title\": \"no type\"".to_string()); // malformed JSON
    lines.push(json!({"content_type": "movie", "title": "No Date"}).to_string()); // invalid
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&s.name);
    let file = dir.join("import.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();

    let report = s.run_ok(&[
        "ingest",
        "file",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(
        report.contains("created 30, updated 2, merged 0, unchanged 0, rejected 2"),
        "{report}"
    );
    assert!(report.contains("line 33: malformed JSON"), "{report}");
    assert!(report.contains("raw_content.release_date"), "{report}");

    s.eventually(20, "bulk import projected", || async {
        let n = s.count("SELECT count(*) FROM catalog.content").await;
        let offers = s.count("SELECT count(*) FROM catalog.platform_availability").await;
        let renamed = s.count("SELECT count(*) FROM catalog.content WHERE title IN ('Already Here (Restored)', 'Bulk 1 (Extended)')").await;
        (n == 31 && offers == 31 && renamed == 2).then_some(())
    })
    .await;
    // Bulk-written events load through cqrs-es: the single path sees the same state (no-op).
    let (_, again) = s
        .ingest(&title(
            "tt6000000",
            "Already Here (Restored)",
            1990,
            json!([offer("netflix", "subscription", None)]),
        ))
        .await;
    assert_eq!(again["content_id"], existing["content_id"]);
    assert_eq!(again["events"], 0);
    // Re-importing the file creates nothing; only the title listed twice flips back and forth.
    let report = s.run_ok(&["ingest", "file", file.to_str().unwrap()]);
    assert!(
        report.contains("created 0, updated 2, merged 0, unchanged 30, rejected 2"),
        "{report}"
    );
    assert_eq!(
        s.count("SELECT count(DISTINCT aggregate_id) FROM events")
            .await,
        31
    );

    // Two imports of new titles racing each other: chunks that conflict fall back to the retrying
    // one-by-one path; no title is duplicated and each ends up in the read model once.
    let racing: Vec<String> = (0..200)
        .map(|i| {
            raw(&title(
                &format!("tt61{i:05}"),
                &format!("Race {i}"),
                2010,
                json!([]),
            ))
        })
        .collect();
    let race_file = dir.join("race.jsonl");
    std::fs::write(&race_file, racing.join("\n")).unwrap();
    let a = s
        .command(&["ingest", "file", race_file.to_str().unwrap()])
        .spawn()
        .unwrap();
    let b = s
        .command(&["ingest", "file", race_file.to_str().unwrap()])
        .spawn()
        .unwrap();
    assert!(
        a.wait_with_output().unwrap().status.success()
            && b.wait_with_output().unwrap().status.success()
    );
    assert_eq!(
        s.count("SELECT count(DISTINCT aggregate_id) FROM events")
            .await,
        231
    );
    let race_events = "SELECT count(*) FROM events e JOIN title_identity i ON i.content_id::text = e.aggregate_id WHERE i.id_value LIKE 'tt61%'";
    assert_eq!(
        s.count(race_events).await,
        200,
        "one TitleIngested per raced title, nothing more"
    );
    s.eventually(20, "race projected", || async {
        (s.count("SELECT count(*) FROM catalog.content").await == 231).then_some(())
    })
    .await;
}

/// Real data: one decade of the shared Wikipedia film dataset through the bulk path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wikipedia_movies_decade_is_imported_and_projected() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/wikipedia-movies/movies-1900s.json");
    if !file.exists() {
        // Missing data is a failure, not a pass: only an explicit opt-out skips this test.
        if std::env::var_os("MEDIAGW_ALLOW_MISSING_DATA").is_some() {
            eprintln!(
                "skipping (MEDIAGW_ALLOW_MISSING_DATA set): shared dataset not found at {}",
                file.display()
            );
            return;
        }
        panic!(
            "shared dataset not found at {} (set MEDIAGW_ALLOW_MISSING_DATA=1 to skip this test)",
            file.display()
        );
    }
    let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut s = Stack::new("wikipedia").await;
    s.start_all().await;
    let report = s.run_ok(&[
        "ingest",
        "file",
        file.to_str().unwrap(),
        "--format",
        "wikipedia-movies",
    ]);
    assert!(
        report.contains(&format!("ingested {} records", items.len()))
            && report.contains("rejected 0"),
        "{report}"
    );
    let created: i64 = report
        .split("created ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(created > 0);
    s.eventually(30, "decade projected", || async {
        (s.count("SELECT count(*) FROM catalog.content").await == created).then_some(())
    })
    .await;
    let with_overview = s
        .count("SELECT count(*) FROM catalog.content WHERE overview IS NOT NULL")
        .await;
    assert!(with_overview > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_migrating_a_fresh_database_together_all_succeed() {
    let s = Stack::new("migrace").await;
    let children: Vec<_> = (0..8)
        .map(|_| {
            s.command(&["migrate"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        s.count("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('catalog', 'search', 'sync', 'profiles', 'playback')")
            .await,
        5
    );
}
