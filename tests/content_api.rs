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
