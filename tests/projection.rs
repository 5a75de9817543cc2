//! The catalog projection folds a batch (`apply_many`, the fast path) into the same tables as
//! applying its events one at a time (`apply`, the careful path used when a batch holds a poison
//! event), including redelivered duplicates and metadata snapshots that arrive out of order.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use mediagw_domain::catalog::{AvailabilityType, ContentType, Offer, TitleMetadata};
use mediagw_domain::title::TitleEvent;
use mediagw_projectors::catalog::CatalogProjection;
use mediagw_projectors::Projection;
use mediagw_schemas::{EventMeta, EventRecord};
use rust_decimal::Decimal;
use uuid::Uuid;

fn offer(platform: &str, price: Option<i64>) -> Offer {
    Offer {
        platform: platform.into(),
        region: "US".into(),
        availability_type: if price.is_some() {
            AvailabilityType::Rent
        } else {
            AvailabilityType::Subscription
        },
        price_amount: price.map(|p| Decimal::new(p, 2)),
        price_currency: price.map(|_| "USD".into()),
        deep_link: format!("{platform}://t"),
        web_url: format!("https://{platform}.example/t"),
        available_from: Utc.timestamp_opt(0, 0).unwrap(),
        expires_at: None,
        video_quality: Some("hd".into()),
    }
}

fn metadata(title: String) -> TitleMetadata {
    TitleMetadata {
        content_type: ContentType::Movie,
        title,
        original_title: None,
        overview: Some("o".into()),
        release_date: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        genres: vec!["drama".into(), "crime".into()],
        runtime_minutes: Some(90),
        cast: vec![],
        rating: None,
    }
}

/// A deterministic but varied history: per title, ingest, price changes, departures, renames.
fn history() -> Vec<EventRecord> {
    let mut out = Vec::new();
    let mut x: u64 = 42;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    for t in 0..120u128 {
        let id = Uuid::from_u128(t + 1);
        let mut seq = 0;
        let mut push = |ev: TitleEvent, out: &mut Vec<EventRecord>| {
            seq += 1;
            out.push(EventRecord::from_domain(
                &EventMeta::new(id, seq, Utc.timestamp_opt(1_700_000_000 + seq, 0).unwrap()),
                &ev,
            ));
        };
        let ids = [("imdb".to_string(), format!("tt{t:07}"))].into();
        push(
            TitleEvent::TitleIngested {
                content_id: id,
                source: "generic".into(),
                metadata: metadata(format!("T{t}")),
                external_ids: ids,
            },
            &mut out,
        );
        for step in 0..(next() % 6) {
            let ev = match next() % 5 {
                0 => TitleEvent::AvailabilityArrived {
                    source: "generic".into(),
                    offer: offer("netflix", None),
                },
                1 => TitleEvent::AvailabilityUpdated {
                    source: "generic".into(),
                    offer: offer("apple", Some(100 + step as i64)),
                    change: mediagw_domain::title::OfferChange::PriceChanged,
                },
                2 => TitleEvent::AvailabilityLeft {
                    source: "generic".into(),
                    key: offer("netflix", None).key(),
                },
                3 => TitleEvent::AvailabilityArrived {
                    source: "generic".into(),
                    offer: offer("apple", Some(299)),
                },
                _ => TitleEvent::TitleUpdated {
                    source: "generic".into(),
                    metadata: metadata(format!("T{t} v{step}")),
                    external_ids: [
                        ("imdb".to_string(), format!("tt{t:07}")),
                        ("tmdb_movie".to_string(), format!("{}", 1000 + t)),
                    ]
                    .into(),
                },
            };
            push(ev, &mut out);
        }
    }
    out
}

/// Rows of `tables` (name, ORDER BY) in `schema`, as JSON text, for comparing two schemas.
async fn dump(pool: &sqlx::PgPool, schema: &str, tables: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in tables {
        let q = format!(
            "SELECT row_to_json(x)::text FROM (SELECT * FROM {schema}.{table} ORDER BY {order}) x"
        );
        out.extend(
            sqlx::query_scalar::<_, String>(&q)
                .fetch_all(pool)
                .await
                .unwrap(),
        );
    }
    out
}

const CATALOG_TABLES: &[(&str, &str)] = &[
    ("content", "id"),
    ("external_ids", "id_type, id_value"),
    ("platform_availability", "id"),
    ("availability_versions", "content_id"),
    ("availability_changes", "content_id, sequence"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_based_batches_equal_one_by_one_apply() {
    let s = common::Stack::new("projection").await;
    let events = history();
    assert!(events.len() > 300);

    let one = CatalogProjection::new("cat_one");
    one.migrate(&s.pool).await.unwrap();
    for e in &events {
        let mut tx = s.pool.begin().await.unwrap();
        one.apply(&mut tx, e.clone()).await.unwrap();
        tx.commit().await.unwrap();
    }

    // Batches of varying size; every third batch is delivered twice, and metadata events are
    // shuffled across batches the way two topics interleave.
    let set = CatalogProjection::new("cat_set");
    set.migrate(&s.pool).await.unwrap();
    let (meta, avail): (Vec<_>, Vec<_>) = events.iter().cloned().partition(|e| {
        matches!(
            e,
            EventRecord::TitleIngested(_) | EventRecord::TitleUpdated(_)
        )
    });
    let mut interleaved = Vec::new();
    let (mut m, mut a) = (meta.into_iter().rev(), avail.into_iter());
    loop {
        match (a.next(), m.next()) {
            (None, None) => break,
            (x, y) => interleaved.extend(x.into_iter().chain(y)),
        }
    }
    for (i, chunk) in interleaved.chunks(37).enumerate() {
        for _ in 0..if i % 3 == 0 { 2 } else { 1 } {
            let mut tx = s.pool.begin().await.unwrap();
            set.apply_many(&mut tx, chunk.to_vec()).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    assert_eq!(
        dump(&s.pool, "cat_one", CATALOG_TABLES).await,
        dump(&s.pool, "cat_set", CATALOG_TABLES).await
    );
}

/// Searches with repeats: the same query in the same minute, users with overlapping genres.
fn searches() -> Vec<mediagw_schemas::dto::SearchDto> {
    let users = [Uuid::from_u128(7), Uuid::from_u128(8)];
    let queries = [
        "space westerns",
        "funny movies",
        "heist films",
        "space westerns",
    ];
    let genres = [
        vec!["western", "science fiction"],
        vec!["comedy"],
        vec!["crime", "comedy", "crime"],
    ];
    (0..200u32)
        .map(|i| mediagw_schemas::dto::SearchDto {
            event_id: Uuid::from_u128(1000 + u128::from(i)).to_string(),
            occurred_at_ms: 1_764_400_000_000 + i64::from(i) * 7_000,
            source: "rest".into(),
            query: queries[i as usize % queries.len()].into(),
            user_id: (i % 3 != 0).then(|| users[i as usize % 2].to_string()),
            genres: genres[i as usize % genres.len()]
                .iter()
                .map(|g| g.to_string())
                .collect(),
            result_ids: vec![],
        })
        .collect()
}

const ACTIVITY_TABLES: &[(&str, &str)] = &[
    ("query_counts", "minute, query"),
    ("user_genres", "user_id, genre"),
];

/// The search-activity projection folds batches of searches (`SearchesPerformed`, ADR 0013) into
/// the same counts and affinities as one `SearchPerformed` record per search, and refuses a batch
/// holding an invalid search as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_batches_fold_like_single_searches() {
    use mediagw_projectors::search_activity::SearchActivityProjection;
    use mediagw_projectors::ApplyError;
    use mediagw_schemas::dto::{SearchPerformedV1, SearchesPerformedV1};

    let s = common::Stack::new("searchbatches").await;
    let all = searches();

    let one = SearchActivityProjection::new("act_one");
    one.migrate(&s.pool).await.unwrap();
    for x in &all {
        let mut tx = s.pool.begin().await.unwrap();
        let record = EventRecord::SearchPerformed(SearchPerformedV1 {
            event_id: x.event_id.clone(),
            content_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, x.query.as_bytes()).to_string(),
            sequence: 1,
            occurred_at_ms: x.occurred_at_ms,
            source: x.source.clone(),
            query: x.query.clone(),
            user_id: x.user_id.clone(),
            genres: x.genres.clone(),
            result_ids: x.result_ids.clone(),
        });
        one.apply(&mut tx, record).await.unwrap();
        tx.commit().await.unwrap();
    }

    let set = SearchActivityProjection::new("act_set");
    set.migrate(&s.pool).await.unwrap();
    let batch = |searches: &[mediagw_schemas::dto::SearchDto]| {
        EventRecord::SearchesPerformed(SearchesPerformedV1 {
            event_id: Uuid::new_v4().to_string(),
            content_id: Uuid::new_v4().to_string(),
            sequence: 1,
            occurred_at_ms: 0,
            source: "api".into(),
            searches: searches.to_vec(),
        })
    };
    // Consumer batches of several records, each record a window of searches.
    for records in all.chunks(45) {
        let mut tx = s.pool.begin().await.unwrap();
        let windows = records.chunks(13).map(batch).collect();
        set.apply_many(&mut tx, windows).await.unwrap();
        tx.commit().await.unwrap();
    }
    let folded = dump(&s.pool, "act_set", ACTIVITY_TABLES).await;
    assert_eq!(dump(&s.pool, "act_one", ACTIVITY_TABLES).await, folded);
    assert!(
        folded.iter().any(|r| r.contains("\"searches\":")),
        "{folded:?}"
    );

    let mut bad = all[..3].to_vec();
    bad[1].query = "  ".into();
    let mut tx = s.pool.begin().await.unwrap();
    let err = set
        .apply_many(&mut tx, vec![batch(&bad)])
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::Poison(_)), "{err:?}");
    drop(tx);
    assert_eq!(dump(&s.pool, "act_set", ACTIVITY_TABLES).await, folded);
}
