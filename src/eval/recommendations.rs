//! `mediagw eval recommendations`: the offline protocol of docs/quality.md against a running stack.
//!
//! Per user, ratings sorted by time; the last 20 % are the test set. The train ratings go through
//! the product's command path (titles through entity resolution, ratings as feedback through the
//! `UserInteractions` aggregate), the profile projection folds them, the model job trains, and every
//! test user's recommendations come from `POST /v1/recommendations` — the product, and one row per
//! cumulative stage set (the ablation). Popularity and item-kNN baselines are computed here on the
//! same split (`scripts/reco_reference.py` computes them in numpy).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use mediagw_auth::Grant;
use mediagw_domain::auth::{Role, Scopes, Tier};
use mediagw_domain::recommend::eval::{self, ItemKnn, Metrics, Rating, UserSplit};
use mediagw_domain::recommend::rank::Stages;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::app::App;
use crate::cmd::feedback::{self, Format, RawRating, Report};

/// The two slices of the protocol.
const SLICES: [(&str, usize); 2] = [("all", 1), ("min_train_5", 5)];

/// History-length buckets reported for the product (cold-start curve).
const BUCKETS: [(&str, usize, usize); 4] = [
    ("1", 1, 1),
    ("2-5", 2, 5),
    ("6-20", 6, 20),
    (">20", 21, usize::MAX),
];

struct Split {
    /// Dense dataset items (all items of the items file, then any rated only).
    items: Vec<String>,
    users: Vec<UserSplit>,
    /// Dataset user name per dense user.
    names: Vec<String>,
}

fn split(ratings: &[RawRating], items: &[feedback::RawItem], format: Format) -> Split {
    let mut ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut seen: HashSet<String> = ids.iter().cloned().collect();
    for r in ratings {
        if seen.insert(r.item.clone()) {
            ids.push(r.item.clone());
        }
    }
    // Items by ascending numeric id where ids are numbers (ties by index = ties by id).
    ids.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    let index: HashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    let mut names: Vec<String> = Vec::new();
    let mut user_index: HashMap<&str, u32> = HashMap::new();
    let dense: Vec<Rating> = ratings
        .iter()
        .map(|r| {
            let next = names.len() as u32;
            let user = *user_index.entry(r.user.as_str()).or_insert_with(|| {
                names.push(r.user.clone());
                next
            });
            Rating {
                user,
                item: index[r.item.as_str()],
                rating: r.rating,
                at_s: r.at_s,
            }
        })
        .collect();
    let positive_at = if format.scale() == 5 { 4.0 } else { 8.0 };
    Split {
        users: eval::split(&dense, positive_at),
        items: ids,
        names,
    }
}

/// Means per slice for one ranking function's top-20 lists.
fn score(users: &[UserSplit], ranked: &HashMap<u32, Vec<u32>>) -> Vec<(&'static str, Metrics)> {
    SLICES
        .iter()
        .map(|(name, min_train)| {
            let mut m = Metrics::default();
            for u in users
                .iter()
                .filter(|u| !u.positives.is_empty() && u.train.len() >= *min_train)
            {
                let pos: HashSet<u32> = u.positives.iter().copied().collect();
                m.add(ranked.get(&u.user).map_or(&[][..], |v| v.as_slice()), &pos);
            }
            (*name, m.mean())
        })
        .collect()
}

fn baselines(s: &Split) -> (HashMap<u32, Vec<u32>>, HashMap<u32, Vec<u32>>) {
    let n = s.items.len();
    let pop = eval::popularity(&s.users, n);
    let knn = ItemKnn::train(&s.users, n, 100);
    let mut p = HashMap::new();
    let mut k = HashMap::new();
    for u in s.users.iter().filter(|u| !u.positives.is_empty()) {
        let train: HashSet<u32> = u.train.iter().map(|r| r.item).collect();
        p.insert(u.user, eval::top_k(&pop, &train, 20));
        let items: Vec<u32> = train.iter().copied().collect();
        k.insert(u.user, eval::top_k(&knn.scores(&items), &train, 20));
    }
    (p, k)
}

pub async fn run(
    app: &App,
    api: &str,
    ratings: &Path,
    items: &Path,
    format: Format,
    json_out: bool,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    app.migrate().await?;
    let raw_items = feedback::read_items(items, format)?;
    let raw_ratings = feedback::read_ratings(ratings, format)?;
    let s = split(&raw_ratings, &raw_items, format);
    let evaluated: Vec<&UserSplit> = s.users.iter().filter(|u| !u.positives.is_empty()).collect();
    eprintln!(
        "{} ratings, {} users ({} with a positive test rating), {} items",
        raw_ratings.len(),
        s.users.len(),
        evaluated.len(),
        s.items.len()
    );

    // 1. The train split through the command path.
    let mut report = Report::default();
    let titles = feedback::ingest_titles(app, &raw_items, &mut report).await?;
    let train: Vec<RawRating> = s
        .users
        .iter()
        .flat_map(|u| {
            u.train.iter().map(|r| RawRating {
                user: s.names[u.user as usize].clone(),
                item: s.items[r.item as usize].clone(),
                rating: r.rating,
                scale: format.scale(),
                at_s: r.at_s,
            })
        })
        .collect();
    let by_user = feedback::to_feedback(format, &train, &titles, &mut report);
    let user_ids: Vec<Uuid> = by_user.keys().copied().collect();
    let expected: i64 = {
        let mut pairs = HashSet::new();
        for (u, fs) in &by_user {
            for f in fs {
                pairs.insert((*u, f.content_id));
            }
        }
        pairs.len() as i64
    };
    // The store must not hold these users' test ratings (an earlier `ingest feedback` of the
    // whole file): they would be excluded as seen and leak into the model.
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM profiles.user_items WHERE user_id = ANY($1)")
            .bind(&user_ids)
            .fetch_one(&app.pool)
            .await?;
    anyhow::ensure!(
        stored <= expected,
        "the store already holds {stored} interactions of this dataset's users, more than the {expected} \
         of the train split (was the whole file imported with `mediagw ingest feedback`?): evaluate on a \
         fresh database"
    );
    feedback::record(app, by_user, &mut report).await?;
    report.seconds = t0.elapsed().as_secs_f64();
    eprintln!(
        "train split recorded: {} titles matched or created, {} ratings recorded ({} already), {:.0} s",
        titles.len(),
        report.recorded,
        report.duplicates,
        report.seconds
    );

    // 2. Wait for the profile projection, then train.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let folded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM profiles.user_items WHERE user_id = ANY($1)")
                .bind(&user_ids)
                .fetch_one(&app.pool)
                .await?;
        if folded >= expected {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the profile projection folded {folded} of {expected} interactions in 15 minutes (is projector:user-profiles running?)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Content candidates come from the search index: let it catch up with the catalog first, so
    // every row ranks against the same index.
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let (catalog, indexed): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM catalog.content),
                    (SELECT count(*) FROM search.documents WHERE NOT retired)",
        )
        .fetch_one(&app.pool)
        .await?;
        if indexed >= catalog {
            break;
        }
        if Instant::now() >= deadline {
            eprintln!("warning: the search index holds {indexed} of {catalog} titles after 30 minutes; going on");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let trained = mediagw_projectors::recommender::train(&app.pool, app.model_params()).await?;
    eprintln!(
        "model {} trained: {} users, {} titles, {} interactions in {:.1} s",
        trained.version, trained.users, trained.items, trained.interactions, trained.seconds
    );

    // 3. Ask the API, as an operator (every user's own data, admin may read).
    let tokens = app.tokens().await?;
    let token = tokens
        .issue(&Grant {
            user_id: Uuid::new_v4(),
            client_id: "mediagw-eval".into(),
            scopes: Scopes::all(),
            roles: vec![Role::Admin],
            tier: Tier::Premium,
            device_id: None,
        })?
        .token;
    let http = reqwest::Client::new();
    let probe = format.user_id(&s.names[evaluated[0].user as usize]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = ask(&http, api, &token, probe, None).await?;
        if v["model_version"].as_i64() >= Some(trained.version) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the API did not load model {} within 2 minutes",
            trained.version
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Content id → dataset items (entity resolution may map several items to one title).
    let mut item_of: HashMap<Uuid, Vec<u32>> = HashMap::new();
    for (i, id) in s.items.iter().enumerate() {
        if let Some(c) = titles.get(id) {
            item_of.entry(*c).or_default().push(i as u32);
        }
    }
    // Titles merged since (redirects) answer under their survivor.
    let redirects: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT old_id, survivor_id FROM catalog.content_redirects")
            .fetch_all(&app.pool)
            .await?;
    for (old, survivor) in redirects {
        if let Some(v) = item_of.get(&old).cloned() {
            item_of.entry(survivor).or_default().extend(v);
        }
    }
    let mut rows: Vec<(String, HashMap<u32, Vec<u32>>, f64)> = Vec::new();
    let configs: Vec<(String, Option<Vec<&str>>)> = std::iter::once(("product".to_string(), None))
        .chain((1..=Stages::NAMES.len()).map(|k| {
            let name = if k == 1 {
                Stages::NAMES[0].to_string()
            } else {
                format!("+{}", Stages::NAMES[k - 1])
            };
            (name, Some(Stages::NAMES[..k].to_vec()))
        }))
        .collect();
    for (name, stages) in &configs {
        let t = Instant::now();
        let mut ranked: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut answers = futures::stream::iter(evaluated.iter())
            .map(|u| {
                let (http, token, stages) = (&http, &token, stages.clone());
                let id = format.user_id(&s.names[u.user as usize]);
                async move { (u.user, ask(http, api, token, id, stages).await) }
            })
            .buffer_unordered(8);
        while let Some((user, answer)) = answers.next().await {
            let answer = answer?;
            let mut list: Vec<u32> = Vec::new();
            for r in answer["recommendations"].as_array().into_iter().flatten() {
                let Some(c) = r["content"]["id"]
                    .as_str()
                    .and_then(|c| Uuid::parse_str(c).ok())
                else {
                    continue;
                };
                // A title that is no dataset item is a miss (placeholder past the item range).
                match item_of.get(&c) {
                    Some(items) => list.extend(items),
                    None => list.push(u32::MAX),
                }
            }
            ranked.insert(user, list);
        }
        let secs = t.elapsed().as_secs_f64();
        eprintln!("{name}: {} users in {secs:.1} s", evaluated.len());
        rows.push((name.clone(), ranked, secs));
    }
    let (pop, knn) = baselines(&s);
    let pop_m = score(&s.users, &pop);
    let knn_m = score(&s.users, &knn);
    let row_m: Vec<(String, Vec<(&str, Metrics)>)> = rows
        .iter()
        .map(|(n, r, _)| (n.clone(), score(&s.users, r)))
        .collect();

    // Product quality by history length (the cold-start curve). With no history at all, everyone
    // gets the same cold-start list (`/v1/recommendations/cold-start`, 20 titles; the user's train titles are dropped from it).
    let cold = http
        .post(format!("{api}/v1/recommendations/cold-start"))
        .bearer_auth(&token)
        .json(&json!({"limit": 20}))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let mut cold_list: Vec<u32> = Vec::new();
    for r in cold["recommendations"].as_array().into_iter().flatten() {
        match r["content"]["id"]
            .as_str()
            .and_then(|c| Uuid::parse_str(c).ok())
            .and_then(|c| item_of.get(&c))
        {
            Some(items) => cold_list.extend(items),
            None => cold_list.push(u32::MAX),
        }
    }
    // Like every other row, titles of the user's train split are not counted (shown or not).
    let cold_ranked: HashMap<u32, Vec<u32>> = evaluated
        .iter()
        .map(|u| {
            let seen: HashSet<u32> = u.train.iter().map(|r| r.item).collect();
            (
                u.user,
                cold_list
                    .iter()
                    .copied()
                    .filter(|i| !seen.contains(i))
                    .collect(),
            )
        })
        .collect();
    let product = &rows[0].1;
    let cold_m = score(&s.users, &cold_ranked)[0].1;
    let all_pop = score(&s.users, &pop)[0].1;
    let mut by_history = vec![
        json!({"train_ratings": "0 (cold start)", "users": cold_m.users,
        "product": {"ndcg@10": cold_m.ndcg_10, "recall@20": cold_m.recall_20},
        "popularity": {"ndcg@10": all_pop.ndcg_10, "recall@20": all_pop.recall_20}}),
    ];
    for (label, lo, hi) in BUCKETS {
        let subset: Vec<UserSplit> = s
            .users
            .iter()
            .filter(|u| (lo..=hi).contains(&u.train.len()))
            .cloned()
            .collect();
        let m = score(&subset, product)[0].1;
        let p = score(&subset, &pop)[0].1;
        by_history.push(json!({"train_ratings": label, "users": m.users,
            "product": {"ndcg@10": m.ndcg_10, "recall@20": m.recall_20},
            "popularity": {"ndcg@10": p.ndcg_10, "recall@20": p.recall_20}}));
    }

    let metric = |m: &Metrics| json!({"ndcg@10": m.ndcg_10, "recall@20": m.recall_20});
    let mut slices = serde_json::Map::new();
    for (k, (slice, _)) in SLICES.iter().enumerate() {
        let product = &row_m[0].1[k].1;
        let ablation: Vec<Value> = row_m[1..]
            .iter()
            .map(|(n, m)| json!({"name": n, "ndcg@10": m[k].1.ndcg_10, "recall@20": m[k].1.recall_20}))
            .collect();
        slices.insert(
            slice.to_string(),
            json!({
                "product": metric(product),
                "popularity": metric(&pop_m[k].1),
                "item_knn": metric(&knn_m[k].1),
                "ablation": ablation,
                "users": product.users,
            }),
        );
    }
    let out = json!({"slices": slices, "by_history": by_history, "model": {
        "version": trained.version, "items": trained.items, "interactions": trained.interactions,
        "train_seconds": trained.seconds}});

    println!(
        "recommendations ({} format; NDCG@10 / Recall@20)",
        format.name()
    );
    for (k, (slice, _)) in SLICES.iter().enumerate() {
        let best = pop_m[k].1.ndcg_10.max(knn_m[k].1.ndcg_10);
        println!("  slice {slice} ({} users)", row_m[0].1[k].1.users);
        println!(
            "    {:<16} {:.4} / {:.4}",
            "popularity", pop_m[k].1.ndcg_10, pop_m[k].1.recall_20
        );
        println!(
            "    {:<16} {:.4} / {:.4}",
            "item_knn", knn_m[k].1.ndcg_10, knn_m[k].1.recall_20
        );
        for (n, m) in &row_m {
            println!(
                "    {:<16} {:.4} / {:.4}",
                n, m[k].1.ndcg_10, m[k].1.recall_20
            );
        }
        println!(
            "    product vs the better baseline: {:+.1} % NDCG@10",
            (row_m[0].1[k].1.ndcg_10 / best.max(1e-12) - 1.0) * 100.0
        );
    }
    for b in &by_history {
        println!(
            "  history {:>5} ratings: {:>5} users, product NDCG@10 {:.4}, popularity {:.4}",
            b["train_ratings"].as_str().unwrap_or(""),
            b["users"],
            b["product"]["ndcg@10"].as_f64().unwrap_or(0.0),
            b["popularity"]["ndcg@10"].as_f64().unwrap_or(0.0)
        );
    }
    let requests = rows.iter().map(|r| r.2).sum::<f64>();
    println!(
        "  {} requests per row, {:.1} s of requests in all; whole run {:.0} s",
        evaluated.len(),
        requests,
        t0.elapsed().as_secs_f64()
    );
    if json_out {
        println!("{}", serde_json::to_string(&out)?);
    }
    Ok(())
}

async fn ask(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    user: Uuid,
    stages: Option<Vec<&str>>,
) -> anyhow::Result<Value> {
    let mut body = json!({"user_id": user, "limit": 20, "exclude_watched": true});
    if let Some(s) = stages {
        body["stages"] = json!(s);
    }
    let resp = http
        .post(format!("{api}/v1/recommendations"))
        .bearer_auth(token)
        .header("cache-control", "no-cache")
        .json(&body)
        .send()
        .await
        .context("POST /v1/recommendations")?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    anyhow::ensure!(
        status.is_success(),
        "recommendations for {user}: {status} {v}"
    );
    Ok(v)
}
