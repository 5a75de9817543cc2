//! Recommendations end to end (seed §4): feedback commands → `user.interaction` → the profile
//! projection (with sync signals) → the model job → `POST /v1/recommendations`, on the real stack.

mod common;

use std::time::Duration;

use common::{call, get, offer, post, title, Stack};
use serde_json::{json, Value};
use uuid::Uuid;

fn rated(content: &str, rating: u8, at: &str) -> Value {
    json!({"content_id": content, "event_type": "Rated", "rating": rating, "rating_scale": 10, "timestamp": at})
}

async fn new_title(
    s: &Stack,
    imdb: &str,
    name: &str,
    year: u32,
    genres: &[&str],
    offers: Value,
) -> String {
    let mut body = title(imdb, name, year, offers);
    body["raw_content"]["genres"] = json!(genres);
    let (status, v) = s.ingest(&body).await;
    assert_eq!(status, 200, "{v}");
    v["content_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_becomes_profiles_and_explained_recommendations() {
    let mut s = Stack::new("reco").await;
    s.set_env("MEDIAGW__RECOMMEND__MODEL_REFRESH_MS", "200");
    s.set_env("MEDIAGW__RECOMMEND__TRAIN_CHECK_S", "3600");
    s.set_env("MEDIAGW__SEARCH__ENGAGEMENT_REFRESH_S", "1");
    s.start_all().await;

    let heat = new_title(
        &s,
        "tt0113277",
        "Heat",
        1995,
        &["crime", "thriller"],
        json!([]),
    )
    .await;
    let ronin = new_title(
        &s,
        "tt0122690",
        "Ronin",
        1998,
        &["action", "thriller"],
        json!([offer("netflix", "subscription", None)]),
    )
    .await;
    let scream = new_title(&s, "tt0117571", "Scream", 1996, &["horror"], json!([])).await;
    let toy = new_title(
        &s,
        "tt0114709",
        "Toy Story",
        1995,
        &["animation", "family", "comedy"],
        json!([]),
    )
    .await;
    s.eventually(20, "titles in the catalog", || async {
        (s.count("SELECT count(*) FROM catalog.content").await == 4).then_some(())
    })
    .await;

    let ann = Uuid::new_v4();
    let bob = Uuid::new_v4();
    let ann_token = s.token(ann, "");
    let bob_token = s.token(bob, "");

    // Bad input: 400 naming the field, nothing written.
    let (status, body) = post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &ann_token,
        json!({"events": [rated(&heat, 9, "2026-12-01T20:00:00Z"),
                          {"content_id": ronin, "event_type": "Rated", "rating": 7}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("feedback[1].rating"), "{body}");
    let (status, body) = post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &ann_token,
        json!({"content_id": heat, "event_type": "Watched"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("completion_rate"), "{body}");
    let (status, body) = post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &ann_token,
        json!({"content_id": "not-a-uuid", "event_type": "Added"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("content_id"), "{body}");
    assert_eq!(
        s.count("SELECT count(*) FROM events WHERE aggregate_type = 'UserInteractions'")
            .await,
        0
    );

    // IDOR: Ann cannot write or read Bob's data.
    let (status, _) = post(
        &s,
        &format!("/v1/user/{bob}/feedback"),
        &ann_token,
        rated(&heat, 9, "2026-12-01T20:00:00Z"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        get(&s, &format!("/v1/user/{bob}/profile"), &ann_token)
            .await
            .0,
        403
    );
    let (status, _) = post(
        &s,
        "/v1/recommendations",
        &ann_token,
        json!({"user_id": bob}),
    )
    .await;
    assert_eq!(status, 403);
    // Scope: a token without write:preferences cannot send feedback.
    let reader = s.token(ann, "read:preferences");
    let (status, _) = post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &reader,
        rated(&heat, 9, "2026-12-01T20:00:00Z"),
    )
    .await;
    assert_eq!(status, 403);

    // Before any model: the catalog's popular titles, never an empty page.
    let (status, v) = post(
        &s,
        "/v1/recommendations",
        &bob_token,
        json!({"user_id": bob, "limit": 3}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["recommendations"].as_array().map(Vec::len),
        Some(3),
        "{v}"
    );
    assert_eq!(
        v["recommendations"][0]["recommendation_type"], "Popular",
        "{v}"
    );
    assert_eq!(v["model_version"], Value::Null);

    // Other people who liked Heat liked Ronin; Scream is popular on its own.
    for _ in 0..4 {
        let u = Uuid::new_v4();
        let t = s.token(u, "");
        let (status, v) = post(
            &s,
            &format!("/v1/user/{u}/feedback"),
            &t,
            json!([
                rated(&heat, 9, "2026-11-30T20:00:00Z"),
                rated(&ronin, 8, "2026-11-30T21:00:00Z")
            ]),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["recorded"], 2);
    }
    for _ in 0..5 {
        let u = Uuid::new_v4();
        let t = s.token(u, "");
        post(
            &s,
            &format!("/v1/user/{u}/feedback"),
            &t,
            json!([rated(&scream, 7, "2026-11-30T20:00:00Z")]),
        )
        .await;
    }
    // Ann rates Heat; the same event again is acknowledged, not doubled.
    let event = Uuid::new_v4();
    let mut first = rated(&heat, 9, "2026-12-01T20:00:00Z");
    first["event_id"] = json!(event);
    let (status, v) = post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &ann_token,
        first.clone(),
    )
    .await;
    assert_eq!(
        (status, v["recorded"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(1), Some(0)),
        "{v}"
    );
    let (status, v) = post(&s, &format!("/v1/user/{ann}/feedback"), &ann_token, first).await;
    assert_eq!(
        (status, v["recorded"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM events WHERE aggregate_type = 'UserInteractions'")
            .await,
        4 * 2 + 5 + 1
    );

    // Search's prior learns how many people engaged: Scream (5 users, the most) is now known.
    let known = s
        .eventually(30, "Scream's prior from engagement", || async {
            scream_feature(&s, &ann_token, "prior")
                .await
                .0
                .filter(|p| *p >= 0.5)
        })
        .await;
    assert!(known <= 1.0, "{known}");
    // and the ranker sees the engagement on its own: the most engaged title scores 1.
    let (engaged, v) = scream_feature(&s, &ann_token, "engaged").await;
    assert_eq!(engaged, Some(1.0), "{v}");
    // A restarted API reads the counts before it reports ready: its very first search ranks with
    // them (they used to be read in the background on the first search, which ranked without).
    assert!(s.terminate("all").success());
    s.start_all().await;
    let (engaged, v) = scream_feature(&s, &ann_token, "engaged").await;
    assert_eq!(engaged, Some(1.0), "{v}");

    // A watchlist add on a device counts as `Added`, read from sync.operations.
    let device = Uuid::new_v4();
    let added_at = chrono::Utc::now();
    let (status, v) = post(&s, "/v1/sync/merge", &ann_token, json!({"device_id": device, "operations": [{
        "operation_id": Uuid::new_v4(),
        "operation_type": {"type": "WatchlistAdd", "content_id": toy, "tag": Uuid::new_v4()},
        "timestamp": {"physical_ms": added_at.timestamp_millis(), "logical": 0, "device_id": device},
        "device_id": device}]})).await;
    assert_eq!(status, 200, "{v}");

    // The profile: the rating and the watchlist add, explained.
    let profile = s
        .eventually(20, "Ann's profile", || async {
            let (status, p) = get(&s, &format!("/v1/user/{ann}/profile"), &ann_token).await;
            // The search projector embeds the titles meanwhile: the vector needs them.
            let vector = p["preference_vector"].as_array().map_or(0, Vec::len);
            (status == 200 && p["interactions"] == 2 && vector == 384).then_some(p)
        })
        .await;
    let titles: Vec<&str> = profile["top_titles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["title"].as_str())
        .collect();
    assert_eq!(titles[0], "Heat", "{profile}");
    assert!(titles.contains(&"Toy Story"), "{profile}");
    assert_eq!(profile["top_titles"][0]["rating"], "9/10");
    assert_eq!(
        profile["top_genres"][0]["affinity"]
            .as_f64()
            .map(|a| a > 0.0),
        Some(true),
        "{profile}"
    );
    // The rating's hour and day, plus the watchlist add's (now) where they coincide.
    use chrono::{Datelike, Timelike};
    let hours = &profile["temporal"]["hours"];
    let days = &profile["temporal"]["days"];
    let (add_hour, add_day) = (
        added_at.hour() as usize,
        added_at.weekday().num_days_from_monday() as usize,
    );
    assert_eq!(hours[20], 1 + u64::from(add_hour == 20), "{profile}");
    assert_eq!(hours[add_hour], 1 + u64::from(add_hour == 20), "{profile}");
    assert_eq!(
        days[1],
        1 + u64::from(add_day == 1),
        "2026-12-01 was a Tuesday: {profile}"
    );
    let total = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_u64())
            .sum::<u64>()
    };
    assert_eq!((total(hours), total(days)), (2, 2), "{profile}");
    assert_eq!(profile["watched"], json!([heat]));
    assert_eq!(
        profile["preference_vector"].as_array().map(Vec::len),
        Some(384),
        "{profile}"
    );

    // Ann's services.
    let (status, v) = call(
        &s,
        reqwest::Method::PUT,
        &format!("/v1/user/{ann}/services"),
        &ann_token,
        Some(json!({"region": "us", "services": [{"platform": "Netflix", "tier": "standard"}]})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["services"][0]["platform"], "netflix");
    let (status, v) = call(
        &s,
        reqwest::Method::PUT,
        &format!("/v1/user/{ann}/services"),
        &ann_token,
        Some(json!({"services": [{"platform": "net flix"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("services[0].platform"), "{v}");
    s.eventually(20, "services in the profile", || async {
        let (_, v) = get(&s, &format!("/v1/user/{ann}/services"), &ann_token).await;
        (v["region"] == "US").then_some(())
    })
    .await;

    // The model job, then recommendations: Ronin because of Heat, on Ann's Netflix.
    s.eventually(20, "every interaction folded", || async {
        (s.count("SELECT count(*) FROM profiles.user_items").await >= 4 * 2 + 5 + 2).then_some(())
    })
    .await;
    let out = s.run_ok(&["train", "recommendations"]);
    assert!(out.contains("model 1:"), "{out}");
    let recs = s
        .eventually(20, "recommendations from model 1", || async {
            let (status, v) = post(
                &s,
                "/v1/recommendations",
                &ann_token,
                json!({"user_id": ann, "limit": 5}),
            )
            .await;
            (status == 200 && v["model_version"] == 1).then_some(v)
        })
        .await;
    let first = &recs["recommendations"][0];
    assert_eq!(first["content"]["title"], "Ronin", "{recs}");
    assert_eq!(first["recommendation_type"], "Collaborative", "{recs}");
    let why = first["explanation"].as_str().unwrap();
    assert!(why.contains("Because you rated Heat 9/10"), "{why}");
    assert!(why.contains("on your netflix"), "{why}");
    assert_eq!(first["content"]["availability"][0]["platform"], "netflix");
    let ids: Vec<&str> = recs["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["content"]["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&heat.as_str()), "watched titles are excluded");
    // Family viewing never gets the horror title; limits are checked.
    let (_, fam) = post(
        &s,
        "/v1/recommendations",
        &ann_token,
        json!({"user_id": ann, "context": {"viewing_with": ["family"]}, "limit": 20}),
    )
    .await;
    assert!(
        fam["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["content"]["id"] != json!(scream)),
        "{fam}"
    );
    let (status, v) = post(
        &s,
        "/v1/recommendations",
        &ann_token,
        json!({"user_id": ann, "limit": 21}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("limit"), "{v}");
    let (status, v) = post(
        &s,
        "/v1/recommendations",
        &ann_token,
        json!({"user_id": ann, "stages": ["magic"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("stages"), "{v}");

    // The same over gRPC, with the token in the metadata.
    {
        fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
            let mut r = tonic::Request::new(msg);
            r.metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            r
        }
        use mediagw_query_api::recommend::grpc::pb;
        use pb::recommendation_service_client::RecommendationServiceClient;
        let mut client = RecommendationServiceClient::connect(s.grpc.clone())
            .await
            .unwrap();
        let ask = pb::GetRecommendationsRequest {
            user_id: ann.to_string(),
            limit: 3,
            ..Default::default()
        };
        let list = client
            .get_recommendations(with_token(ask.clone(), &ann_token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.recommendations[0].title, "Ronin");
        assert_eq!(list.model_version, Some(1));
        let denied = client
            .get_recommendations(tonic::Request::new(ask.clone()))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        let other = client
            .get_recommendations(with_token(ask, &bob_token))
            .await
            .unwrap_err();
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
        let affinity = client
            .calculate_affinity(with_token(
                pb::CalculateAffinityRequest {
                    user_id: ann.to_string(),
                    content_id: ronin.clone(),
                },
                &ann_token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(
            affinity.affinity > 0.5 && affinity.explanation.contains("Heat"),
            "{affinity:?}"
        );
        let updated = client
            .update_user_profile(with_token(
                pb::UpdateUserProfileRequest {
                    user_id: ann.to_string(),
                    viewing_event: Some(pb::ViewingEvent {
                        content_id: scream.clone(),
                        event_type: "Rated".into(),
                        rating: Some(9),
                        rating_scale: Some(10),
                        ..Default::default()
                    }),
                },
                &ann_token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(updated.recorded && !updated.duplicate);
        let bad = client
            .update_user_profile(with_token(
                pb::UpdateUserProfileRequest {
                    user_id: ann.to_string(),
                    viewing_event: Some(pb::ViewingEvent {
                        content_id: scream.clone(),
                        event_type: "Loved".into(),
                        ..Default::default()
                    }),
                },
                &ann_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().contains("event_type"));
    }

    // New feedback invalidates the cached answer: dismissing Ronin removes it.
    post(
        &s,
        &format!("/v1/user/{ann}/feedback"),
        &ann_token,
        json!({"content_id": ronin, "event_type": "Dismissed"}),
    )
    .await;
    s.eventually(20, "Ronin dismissed", || async {
        let (_, v) = post(
            &s,
            "/v1/recommendations",
            &ann_token,
            json!({"user_id": ann, "limit": 5}),
        )
        .await;
        v["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["content"]["id"] != json!(ronin))
            .then_some(())
    })
    .await;

    // Cold start: nobody's history, a liked title, then picked genres too.
    let (status, cold) = post(
        &s,
        "/v1/recommendations/cold-start",
        &bob_token,
        json!({"liked_titles": [heat], "limit": 3}),
    )
    .await;
    assert_eq!(status, 200, "{cold}");
    let recs = cold["recommendations"].as_array().unwrap();
    assert!(
        recs.iter().all(|r| r["content"]["id"] != json!(heat)),
        "{cold}"
    );
    let ronin_rec = recs
        .iter()
        .find(|r| r["content"]["id"] == json!(ronin))
        .expect("Ronin for a Heat fan");
    assert_eq!(
        ronin_rec["explanation"],
        "Popular with people who liked Heat; available on netflix"
    );
    let (_, cold) = post(
        &s,
        "/v1/recommendations/cold-start",
        &bob_token,
        json!({"genres": ["Animation"], "liked_titles": [heat], "limit": 3}),
    )
    .await;
    assert_eq!(
        cold["recommendations"][0]["content"]["title"], "Toy Story",
        "{cold}"
    );
    assert!(
        cold["recommendations"][0]["explanation"]
            .as_str()
            .unwrap()
            .contains("a good fit for animation"),
        "{cold}"
    );
    let (status, _) = post(
        &s,
        "/v1/recommendations/cold-start",
        &bob_token,
        json!({"user_id": ann}),
    )
    .await;
    assert_eq!(status, 403);

    // Per-stage latency on /metrics.
    let m = s.metrics().await;
    assert!(
        m.contains("recommend_stage_seconds") && m.contains("stage=\"candidates\""),
        "stage metrics"
    );

    // A replay of the profile projection equals the live one.
    let snapshot = |s: &Stack| {
        let pool = s.pool.clone();
        async move {
            sqlx::query_as::<_, (Uuid, Uuid, String, f32)>(
                "SELECT user_id, content_id, signals::text, preference FROM profiles.user_items ORDER BY 1, 2",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let live = snapshot(&s).await;
    let out = s.run_ok(&["replay", "user-profiles"]);
    assert!(out.contains(r#""projection":"user-profiles""#), "{out}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(snapshot(&s).await, live);

    // A dataset import goes through the same path, and a re-run records nothing twice.
    // `--titles match` writes no title: before the catalog has the dataset's films nothing is
    // sent; after, every rating finds its film again (by IMDb id).
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recommend");
    let import = |s: &Stack, titles: &str| {
        s.run_ok(&[
            "ingest",
            "feedback",
            "--ratings",
            &format!("{fixture}/ratings.dat"),
            "--items",
            &format!("{fixture}/movies.dat"),
            "--format",
            "movietweetings",
            "--titles",
            titles,
        ])
    };
    let matched_only = import(&s, "match");
    assert!(
        matched_only.contains("titles created 0")
            && matched_only.contains("not matched 40")
            && matched_only.contains("0 ratings recorded")
            && matched_only.contains("540 of unknown items"),
        "{matched_only}"
    );
    let first = import(&s, "create");
    assert!(
        first.contains("titles created 40") && first.contains("60 users, 540 ratings recorded"),
        "{first}"
    );
    let second = import(&s, "match");
    assert!(
        second.contains("matched to existing titles 40")
            && second.contains("0 ratings recorded, 540 already recorded"),
        "{second}"
    );
    let user = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"movietweetings:1");
    s.eventually(20, "dataset user 1's profile", || async {
        let (_, p) = get(&s, &format!("/v1/user/{user}/profile"), &s.token(user, "")).await;
        (p["interactions"].as_i64() > Some(0)).then_some(())
    })
    .await;
}

/// The evaluation command on a small fixture in the MovieTweetings layout: the JSON contract, the
/// baselines equal to `scripts/reco_reference.py`'s (numbers below), the product ahead of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eval_command_reports_product_baselines_and_ablation() {
    let mut s = Stack::new("recoeval").await;
    s.set_env("MEDIAGW__RECOMMEND__MODEL_REFRESH_MS", "200");
    s.start_all().await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recommend");
    let out = s.run_ok(&[
        "eval",
        "recommendations",
        "--ratings",
        &format!("{fixture}/ratings.dat"),
        "--items",
        &format!("{fixture}/movies.dat"),
        "--format",
        "movietweetings",
        "--api",
        &s.api,
        "--json",
    ]);
    eprintln!("{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).expect("a JSON last line");
    // `python3 scripts/reco_reference.py --ratings … --items … --format movietweetings --json`:
    let reference = [
        (
            "all",
            41,
            0.09236888311652688,
            0.35365853658536583,
            0.2808435597096993,
            0.7926829268292683,
        ),
        (
            "min_train_5",
            40,
            0.08391119124260522,
            0.3375,
            0.2628646487024418,
            0.7875,
        ),
    ];
    for (slice, users, pop_ndcg, pop_recall, knn_ndcg, knn_recall) in reference {
        let v = &last["slices"][slice];
        assert_eq!(v["users"], users, "{slice}: {v}");
        let close = |x: &Value, y: f64| (x.as_f64().unwrap() - y).abs() < 0.005;
        assert!(close(&v["popularity"]["ndcg@10"], pop_ndcg), "{slice}: {v}");
        assert!(
            close(&v["popularity"]["recall@20"], pop_recall),
            "{slice}: {v}"
        );
        assert!(close(&v["item_knn"]["ndcg@10"], knn_ndcg), "{slice}: {v}");
        assert!(
            close(&v["item_knn"]["recall@20"], knn_recall),
            "{slice}: {v}"
        );
        let names: Vec<&str> = v["ablation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "collaborative",
                "+content",
                "+graph",
                "+context",
                "+adapter",
                "+mmr"
            ]
        );
        let product = v["product"]["ndcg@10"].as_f64().unwrap();
        assert!(
            product > pop_ndcg,
            "{slice}: the product beats popularity: {v}"
        );
    }
}

/// One reranker feature of Scream in an explained search for "scream" (None when Scream is not
/// among the results), with the answer for assertion messages.
async fn scream_feature(s: &Stack, token: &str, feature: &str) -> (Option<f64>, Value) {
    let (_, v) = post(
        s,
        "/v1/search",
        token,
        json!({"query": "scream", "explain": true}),
    )
    .await;
    let value = v["results"].as_array().and_then(|rs| {
        rs.iter()
            .find(|r| r["content"]["title"] == "Scream")
            .and_then(|r| r["ranking_features"][feature].as_f64())
    });
    (value, v)
}
