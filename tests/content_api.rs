//! Catalog read APIs beyond a single title: batch fetch, availability per region, lookup by
//! external id.

mod common;

use common::{offer, title, Stack};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_availability_and_external_id_lookups() {
    let mut s = Stack::new("contentapi").await;
    s.start_all().await;
    let (_, a) = s
        .ingest(&title(
            "tt0000101",
            "Alpha",
            2001,
            json!([offer("netflix", "subscription", None)]),
        ))
        .await;
    let (_, b) = s.ingest(&title("tt0000102", "Beta", 2002, json!([]))).await;
    let mut gb = title(
        "tt0000101",
        "Alpha",
        2001,
        json!([offer("bbc_iplayer", "free", None)]),
    );
    gb["region"] = json!("GB");
    s.ingest(&gb).await;
    let (a, b) = (
        a["content_id"].as_str().unwrap().to_string(),
        b["content_id"].as_str().unwrap().to_string(),
    );
    s.eventually(15, "both titles and both offers", || async {
        let offers = s
            .count("SELECT count(*) FROM catalog.platform_availability")
            .await;
        (s.count("SELECT count(*) FROM catalog.content").await == 2 && offers == 2).then_some(())
    })
    .await;

    let post = |body: Value| {
        let s = &s;
        async move {
            let r = s
                .http
                .post(format!("{}/v1/content/batch", s.api))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, body) = post(json!({"ids": [b, a, missing, b]})).await;
    assert_eq!(status, 200, "{body}");
    let titles: Vec<&str> = body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["Beta", "Alpha"],
        "request order, duplicates once"
    );
    assert_eq!(body["not_found"], json!([missing]));
    let (status, body) = post(json!({"ids": ["nope"]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["fields"][0]["field"], "ids");
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    assert_eq!(post(json!({"ids": too_many})).await.0, 400);
    assert_eq!(post(json!({"id": [a]})).await.0, 400);

    let (status, body) = s
        .get(&format!("/v1/content/{a}/availability?region=gb"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["region"], "GB");
    assert_eq!(body["availability"].as_array().unwrap().len(), 1);
    assert_eq!(body["availability"][0]["platform"], "bbc_iplayer");
    let (_, all) = s.get(&format!("/v1/content/{a}/availability")).await;
    assert_eq!(all["availability"].as_array().unwrap().len(), 2);
    let (status, body) = s
        .get(&format!("/v1/content/{a}/availability?region=Atlantis"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["fields"][0]["field"], "region");
    assert_eq!(
        s.get(&format!("/v1/content/{missing}/availability"))
            .await
            .0,
        404
    );

    let (status, body) = s.get("/v1/content/by-external-id/imdb/tt0000102").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], json!(b));
    assert_eq!(
        s.get("/v1/content/by-external-id/imdb/tt9999999").await.0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_change_feed_paging_leaving_soon_and_live_stream() {
    let mut s = Stack::new("feed").await;
    s.start_all().await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let mut expiring = offer("max", "subscription", None);
    expiring["expires_at"] = json!(soon);
    s.ingest(&title(
        "tt0000201",
        "Gamma",
        2003,
        json!([
            offer("netflix", "subscription", None),
            offer("apple_tv", "rent", Some(3.99))
        ]),
    ))
    .await;
    s.ingest(&title("tt0000202", "Delta", 2004, json!([expiring])))
        .await;
    // Gamma: Netflix leaves, rental gets cheaper.
    s.ingest(&title(
        "tt0000201",
        "Gamma",
        2003,
        json!([offer("apple_tv", "rent", Some(2.99))]),
    ))
    .await;
    let feed = s
        .eventually(15, "five changes in the feed", || async {
            let (_, body) = s.get("/v1/availability/changes?region=US").await;
            // Titles come from content.ingested, which may lag availability.changed.
            let complete = body["changes"]
                .as_array()
                .is_some_and(|c| c.len() == 5 && c.iter().all(|x| x["title"].is_string()));
            complete.then_some(body)
        })
        .await;
    let kinds: Vec<(String, String)> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["platform"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        &kinds[3..],
        &[
            ("left".to_string(), "netflix".to_string()),
            ("price_changed".to_string(), "apple_tv".to_string())
        ]
    );
    assert_eq!(feed["changes"][4]["price_amount"], "2.99");
    let (_, cheaper) = s
        .get("/v1/availability/changes?region=US&change=price_changed")
        .await;
    assert_eq!(cheaper["changes"].as_array().unwrap().len(), 1, "{cheaper}");
    let (_, arrivals) = s
        .get("/v1/availability/changes?region=US&change=arrived")
        .await;
    assert_eq!(
        arrivals["changes"].as_array().unwrap().len(),
        3,
        "{arrivals}"
    );
    let (st, bad) = s
        .get("/v1/availability/changes?region=US&change=moved")
        .await;
    assert_eq!(st, 400);
    assert_eq!(bad["error"]["fields"][0]["field"], "change", "{bad}");
    assert_eq!(feed["changes"][4]["title"], "Gamma");
    assert!(feed["next"].is_null());

    // Paging with the cursor gives the same five, in order.
    let (_, p1) = s.get("/v1/availability/changes?region=us&limit=2").await;
    let (_, p2) = s
        .get(&format!(
            "/v1/availability/changes?region=US&limit=2&after={}",
            p1["next"].as_str().unwrap()
        ))
        .await;
    let (_, p3) = s
        .get(&format!(
            "/v1/availability/changes?region=US&limit=2&after={}",
            p2["next"].as_str().unwrap()
        ))
        .await;
    let paged: Vec<Value> = [p1, p2, p3]
        .iter()
        .flat_map(|p| p["changes"].as_array().unwrap().clone())
        .collect();
    assert_eq!(paged, *feed["changes"].as_array().unwrap());

    let (_, netflix) = s
        .get("/v1/availability/changes?region=US&platform=netflix")
        .await;
    assert_eq!(netflix["changes"].as_array().unwrap().len(), 2);
    let (_, future) = s
        .get("/v1/availability/changes?region=US&since=2999-01-01T00:00:00Z")
        .await;
    assert!(future["changes"].as_array().unwrap().is_empty());
    let (status, body) = s.get("/v1/availability/changes?region=Mars").await;
    assert_eq!(
        (status, body["error"]["fields"][0]["field"].clone()),
        (400, json!("region"))
    );
    assert_eq!(
        s.get("/v1/availability/changes?region=US&after=garbage")
            .await
            .0,
        400
    );

    let leaving = s
        .eventually(15, "leaving soon with its title", || async {
            let (_, l) = s
                .get("/v1/availability/leaving-soon?region=US&within_days=7")
                .await;
            (l[0]["title"] == "Delta").then_some(l)
        })
        .await;
    assert_eq!(leaving.as_array().unwrap().len(), 1);
    assert_eq!(
        s.get("/v1/availability/leaving-soon?region=US&within_days=1")
            .await
            .1,
        json!([])
    );

    // Live: a subscriber sees a change that happens after it connected.
    let mut live = s
        .http
        .get(format!(
            "{}/v1/availability/changes/stream?region=US",
            s.api
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    s.ingest(&title(
        "tt0000203",
        "Epsilon",
        2005,
        json!([offer("hulu", "subscription", None)]),
    ))
    .await;
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !text.contains("hulu") {
        assert!(
            std::time::Instant::now() < deadline,
            "no live event: {text}"
        );
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(std::time::Duration::from_secs(1), live.chunk()).await
        {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(
        text.contains("event: change") && text.contains("Epsilon"),
        "{text}"
    );
    assert!(
        !text.contains("Gamma"),
        "history before connecting is not replayed without `since`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_changes_and_new_expiry_dates_are_named() {
    let mut s = Stack::new("changes").await;
    s.start_all().await;
    let rent = |price: f64, expires: Option<&str>| {
        let mut o = offer("apple_tv", "rent", Some(price));
        if let Some(e) = expires {
            o["expires_at"] = json!(e);
        }
        title("tt0000401", "Omega", 2010, json!([o]))
    };
    s.ingest(&rent(3.99, None)).await;
    s.ingest(&rent(2.99, None)).await; // price changed
    s.ingest(&rent(2.99, Some("2030-01-31T00:00:00Z"))).await; // expiry set
    let (_, r) = s.ingest(&rent(2.99, Some("2030-01-31T00:00:00Z"))).await;
    assert_eq!(r["events"], 0);
    let feed = s
        .eventually(15, "three changes", || async {
            let (_, body) = s.get("/v1/availability/changes?region=US").await;
            (body["changes"].as_array().map(Vec::len) == Some(3)).then_some(body)
        })
        .await;
    let kinds: Vec<&str> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["arrived", "price_changed", "expiry_set"]);
    assert_eq!(feed["changes"][2]["expires_at"], "2030-01-31T00:00:00Z");
    let (_, expiring) = s
        .get("/v1/availability/changes?region=US&change=expiry_set")
        .await;
    assert_eq!(expiring["changes"].as_array().unwrap().len(), 1);
}
