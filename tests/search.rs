//! Hybrid search end to end: titles ingested over HTTP flow through the event store, the relay and
//! Kafka into the search index projector (real ONNX model, embedded qdrant-edge), and are served by
//! `/v1/search`, suggestions and trending, with Redis caching and a blue/green index rebuild.

mod common;

use common::{offer, Stack};
use serde_json::{json, Value};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample-catalog.jsonl");

fn movie(
    imdb: &str,
    name: &str,
    year: u32,
    genres: &[&str],
    overview: &str,
    offers: Value,
) -> Value {
    json!({
        "platform": "generic",
        "region": "US",
        "raw_content": {
            "external_ids": {"imdb": imdb},
            "content_type": "movie",
            "title": name,
            "overview": overview,
            "release_date": format!("{year}-06-01"),
            "genres": genres,
            "availability": offers
        }
    })
}

async fn post(s: &Stack, body: Value) -> (u16, Value, String) {
    let mut req = s.http.post(format!("{}/v1/search", s.api)).json(&body);
    // Personalised searches are made with that user's own token.
    if let Some(user) = body["user_id"].as_str().and_then(|u| u.parse().ok()) {
        req = req.bearer_auth(s.token(user, "read:content"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, r.json().await.unwrap_or(Value::Null), cache)
}

/// The result whose title is `title`, if the search returned it.
fn result<'a>(body: &'a Value, title: &str) -> Option<&'a Value> {
    body["results"]
        .as_array()?
        .iter()
        .find(|r| r["content"]["title"] == title)
}

fn titles(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["content"]["title"].as_str().unwrap().to_string())
        .collect()
}

/// The sample catalog (23 titles), three the reference queries need, two heists of known runtime,
/// The Godfather's two sequels and a franchise no film is named after (Kill Bill).
async fn catalog(s: &mut Stack) {
    s.set_env("MEDIAGW__SEARCH__TRENDING_MIN_SEARCHES", "2");
    // What is known of the catalog apart from queries (surnames among it) follows it within 1 s.
    s.set_env("MEDIAGW__SEARCH__ENGAGEMENT_REFRESH_S", "1");
    s.start_all().await;
    s.run_ok(&["ingest", "file", SAMPLE, "--format", "jsonl"]);
    for body in [
        movie("tt0120201", "Galaxy Quest", 1999, &["comedy", "science fiction"],
            "The washed-up cast of a cult space TV show is taken for real heroes by aliens and must save them in a hilarious real space battle.",
            json!([offer("netflix", "subscription", None)])),
        movie("tt0119654", "Men in Black", 1997, &["comedy", "science fiction", "action"],
            "Two agents of a secret organisation police the aliens living on Earth, a funny action romp with a galaxy at stake.",
            json!([])),
        movie("tt0234215", "The Matrix Reloaded", 2003, &["science fiction", "action"],
            "Neo and the rebels fight the machines as the simulated world and its agents close in on Zion.",
            json!([])),
        movie("tt9000001", "The Quick Vault Job", 2011, &["crime"],
            "A crew of safecrackers pulls off a bank vault heist in a single night. It was directed by Mara Quillfeather.",
            json!([])),
        movie("tt9000002", "The Long Vault Job", 2012, &["crime"],
            "A crew of safecrackers plans a bank vault heist over three patient years, written and directed by Mara Quillfeather.",
            json!([])),
        movie("tt0071562", "The Godfather Part II", 1974, &["crime", "drama"],
            "The early life of Vito Corleone in New York and his son Michael's hold on the family crime syndicate.",
            json!([])),
        movie("tt0099674", "The Godfather Part III", 1990, &["crime", "drama"],
            "An ageing Michael Corleone seeks to free his family from crime and find a successor.",
            json!([])),
        // The second volume first: the catalog's order must not decide which one "kill bill" is.
        movie("tt0378194", "Kill Bill: Volume 2", 2004, &["action", "thriller"],
            "The Bride tracks down the last members of the squad that left her for dead at her wedding.",
            json!([])),
        movie("tt0266697", "Kill Bill: Volume 1", 2003, &["action", "thriller"],
            "A bride wakes from four years asleep and sets out to settle scores with the squad that shot her.",
            json!([])),
        // A franchise's name that sounds like another film's title typed right: "kingsman".
        movie("tt6856242", "The King's Man", 2021, &["action", "spy"],
            "The Duke of Oxford forms an independent intelligence agency to stop a cabal plotting a war.",
            json!([])),
        movie("tt4649466", "Kingsman: The Golden Circle", 2017, &["action", "spy"],
            "Agents of a secret service whose headquarters are destroyed join forces with their American counterpart.",
            json!([])),
        movie("tt2802144", "Kingsman: The Secret Service", 2015, &["action", "spy"],
            "A veteran agent of a secret service recruits a street kid into its competitive training programme.",
            json!([])),
        movie("tt0053291", "Some Like It Hot", 1959, &["comedy", "romance"],
            "Two musicians who witnessed a gangland killing flee Chicago disguised as women in an all-female band.",
            json!([])),
    ] {
        let mut body = body;
        match body["raw_content"]["title"].as_str() {
            Some("The Quick Vault Job") => body["raw_content"]["runtime_minutes"] = json!(85),
            Some("The Long Vault Job") => body["raw_content"]["runtime_minutes"] = json!(171),
            _ => {}
        }
        // Audience ratings as providers send them (the generic format's `average_rating`).
        match body["raw_content"]["title"].as_str() {
            Some("Galaxy Quest") => {
                body["raw_content"]["average_rating"] = json!(7.3);
                body["raw_content"]["vote_count"] = json!(5_000);
            }
            Some("Men in Black") => {
                body["raw_content"]["average_rating"] = json!(6.9);
                body["raw_content"]["vote_count"] = json!(14_000);
            }
            _ => {}
        }
        if body["raw_content"]["title"] == "The Matrix Reloaded" {
            body["raw_content"]["cast"] = json!(["Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss"]);
        }
        let (status, body) = s.ingest(&body).await;
        assert!(status < 300, "{body}");
    }
    s.eventually(180, "36 titles indexed", || async {
        (s.count("SELECT count(*) FROM search.documents WHERE NOT retired")
            .await
            == 36)
            .then_some(())
    })
    .await;
    // The API reads what is known of the catalog (sequel counts) in the background after a
    // search finds it stale: the searches below run once it has caught up.
    s.eventually(30, "The Godfather's sequels known", || async {
        let (_, body, _) = post(s, json!({"query": "godfather", "explain": true})).await;
        let f = &result(&body, "The Godfather")?["ranking_features"];
        (f["sequels"].as_f64()? > 0.0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natural_language_search_filters_suggestions_cache_and_trending() {
    let mut s = Stack::new("search").await;
    catalog(&mut s).await;

    // A typo in a title still finds it first.
    let (status, body, _) = post(&s, json!({"query": "the godfathr"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body)[0], "The Godfather", "{body}");
    let top = &body["results"][0];
    assert!(top["title_score"].as_f64().unwrap() > 0.5, "{top}");
    assert!(top["relevance_score"].as_f64().unwrap() > 0.0);
    assert!(body["search_time_ms"].is_u64());
    assert!(
        top["content"]["availability"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["platform"] == "max"),
        "{top}"
    );

    // `explain` shows the reranker's features, each in [0, 1]; without it they are absent.
    assert!(top.get("ranking_features").is_none(), "{top}");
    // (A typo that does not sound like the title: "the godfathr" is heard as The Godfather, and
    // its coverage counts the words of the title meant.)
    let (_, body, _) = post(&s, json!({"query": "the gotfather", "explain": true})).await;
    let f = &body["results"][0]["ranking_features"];
    assert_eq!(
        f.as_object().map(|o| o.len()),
        Some(mediagw_domain::search::rerank::FEATURES.len()),
        "{f}"
    );
    for (name, v) in f.as_object().unwrap() {
        let v = v.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    assert!(f["title"].as_f64().unwrap() > 0.5, "{f}");
    assert!(f["prior"].as_f64().unwrap() > 0.0, "{f}");
    // The misspelt word is not in the film's text; spelt right, every query term is.
    assert_eq!(f["coverage"].as_f64(), Some(0.0), "{f}");
    let (_, body, _) = post(&s, json!({"query": "the godfather", "explain": true})).await;
    let f = &body["results"][0]["ranking_features"];
    assert_eq!(body["results"][0]["content"]["title"], "The Godfather");
    assert_eq!(f["coverage"].as_f64(), Some(1.0), "{f}");
    // A sequel typed as name + number is that sequel, not the first film nor the next one.
    for (query, first) in [
        ("godfather 3", "The Godfather Part III"),
        ("godfather part 2", "The Godfather Part II"),
        ("godfather", "The Godfather"),
    ] {
        let (_, body, _) = post(&s, json!({ "query": query })).await;
        assert_eq!(titles(&body)[0], first, "{query}: {body}");
    }
    // A franchise's shared name that no film bears names its first film: typed whole, it counts
    // as that film's title (ADR 0020, eighteenth pass), not the sequel's.
    let (_, body, _) = post(&s, json!({"query": "kill bill", "explain": true})).await;
    assert_eq!(
        titles(&body)[..2],
        ["Kill Bill: Volume 1", "Kill Bill: Volume 2"],
        "{body}"
    );
    let exact =
        |title: &str| result(&body, title).unwrap()["ranking_features"]["exact_title"].as_f64();
    assert_eq!(exact("Kill Bill: Volume 1"), Some(1.0), "{body}");
    assert_eq!(exact("Kill Bill: Volume 2"), Some(0.0), "{body}");
    // Typed whole, a franchise's name is no misspelling of the film that sounds like it.
    let (_, body, _) = post(&s, json!({"query": "kingsman"})).await;
    assert_eq!(titles(&body)[0], "Kingsman: The Secret Service", "{body}");

    // No title's text says "jailed": plain BM25 finds nothing, while hybrid's keyword channel also
    // looks for its related words (config/related-words.txt) and finds the film set in a prison.
    let (_, body, _) = post(&s, json!({"query": "jailed", "mode": "keyword"})).await;
    assert_eq!(titles(&body), Vec::<String>::new(), "{body}");
    let (_, body, _) = post(&s, json!({"query": "jailed", "explain": true})).await;
    let shawshank = result(&body, "The Shawshank Redemption").unwrap_or_else(|| panic!("{body}"));
    assert!(
        shawshank["ranking_features"]["keyword"].as_f64().unwrap() > 0.0,
        "{shawshank}"
    );

    // A description with a decade: the year range becomes a hard filter.
    let (_, body, _) = post(
        &s,
        json!({"query": "that 90s film where a bus can't slow down"}),
    )
    .await;
    assert_eq!(
        body["query_parsed"]["year_range"],
        json!([1990, 1999]),
        "{body}"
    );
    assert_eq!(titles(&body)[0], "Speed", "{body}");
    for r in body["results"].as_array().unwrap() {
        let y = r["content"]["release_year"].as_i64().unwrap();
        assert!((1990..=1999).contains(&y), "{r}");
    }

    // A kind of title inside a plot is part of the story, not a filter: "tv show" here must not
    // restrict the answer to series (the film would be filtered out).
    let (_, body, _) = post(
        &s,
        json!({"query": "cast of a cancelled sci-fi tv show mistaken for real heroes by aliens"}),
    )
    .await;
    assert_eq!(body["query_parsed"]["content_types"], json!([]), "{body}");
    assert_eq!(titles(&body)[0], "Galaxy Quest", "{body}");

    // A runtime bound is understood and filters: the long heist goes, the short one stays.
    let (_, body, _) = post(&s, json!({"query": "vault heist under 90 minutes"})).await;
    assert_eq!(body["query_parsed"]["max_runtime"], 90, "{body}");
    let got = titles(&body);
    assert!(got.contains(&"The Quick Vault Job".to_string()), "{got:?}");
    assert!(!got.contains(&"The Long Vault Job".to_string()), "{got:?}");
    let (_, body, _) = post(&s, json!({"query": "vault heist"})).await;
    assert!(
        titles(&body).contains(&"The Long Vault Job".to_string()),
        "{body}"
    );

    // A reference plus a mood: neighbours of The Matrix, comedies first, The Matrix itself excluded.
    let (_, body, _) = post(&s, json!({"query": "movies like The Matrix but funnier"})).await;
    let parsed = &body["query_parsed"];
    assert_eq!(parsed["references"][0]["title"], "The Matrix", "{body}");
    assert_eq!(parsed["moods"], json!(["funny"]));
    let got = titles(&body);
    assert!(!got.contains(&"The Matrix".to_string()), "{got:?}");
    assert!(
        got[..2]
            .iter()
            .any(|t| t == "Galaxy Quest" || t == "Men in Black"),
        "a sci-fi comedy should lead: {got:?}"
    );
    let reasons = body["results"][0]["match_reasons"].to_string();
    assert!(
        reasons.contains("similar to The Matrix (1999)"),
        "{reasons}"
    );
    assert!(body["results"][0]["graph_score"].as_f64().unwrap() > 0.0);

    // Shared cast is a graph edge too: the sequel and Keanu Reeves's Speed, with the names why.
    let (_, body, _) = post(&s, json!({"query": "movies like The Matrix"})).await;
    let got = titles(&body);
    assert_eq!(got[0], "The Matrix Reloaded", "{got:?}");
    // More like this: the sequel's text shares The Matrix's rare words (machines, a simulated
    // world), and says so.
    let reasons = body["results"][0]["match_reasons"].to_string();
    assert!(
        reasons.contains("described like The Matrix (1999)"),
        "{reasons}"
    );
    let speed =
        result(&body, "Speed").unwrap_or_else(|| panic!("Speed shares Keanu Reeves: {got:?}"));
    let reasons = speed["match_reasons"].to_string();
    assert!(
        reasons.contains("shares cast with The Matrix (1999): Keanu Reeves"),
        "{reasons}"
    );
    assert!(speed["graph_score"].as_f64().unwrap() >= 0.2, "{speed}");
    let pos = |t: &str| got.iter().position(|x| x == t).unwrap_or(usize::MAX);
    assert!(
        pos("Speed") < pos("Inception"),
        "shared cast outranks a genre neighbour: {got:?}"
    );

    // A person the query names is looked up in the cast, with the name as the reason.
    let (_, body, _) = post(&s, json!({"query": "that keanu reeves one on a bus"})).await;
    let got = titles(&body);
    assert_eq!(got[0], "Speed", "{got:?}");
    for t in ["Speed", "The Matrix Reloaded"] {
        let r = result(&body, t).unwrap_or_else(|| panic!("{t} stars Keanu Reeves: {got:?}"));
        let reasons = r["match_reasons"].to_string();
        assert!(reasons.contains("stars Keanu Reeves"), "{t}: {reasons}");
    }

    // A title that reads as a request is the title, not "like It Hot".
    let (_, body, _) = post(&s, json!({"query": "some like it hot"})).await;
    assert_eq!(titles(&body)[0], "Some Like It Hot", "{body}");
    assert_eq!(body["query_parsed"]["references"], json!([]), "{body}");

    // A title typed as it sounds is the catalog's title it sounds like (the catalog's titles by
    // sound are read within a refresh); explained uncached, so each try searches again.
    s.eventually(30, "\"galaxy kwest\" heard as Galaxy Quest", || async {
        let (_, body, _) = post(&s, json!({"query": "galaxy kwest", "explain": true})).await;
        let first = &body["results"][0];
        let heard = first["content"]["title"] == "Galaxy Quest"
            && first["match_reasons"][0] == "title sounds like \"galaxy kwest\""
            && first["ranking_features"]["exact_title"] == 1.0;
        heard.then_some(())
    })
    .await;

    // A director the overview credits is a person too: her films, with the reason.
    let (_, body, _) = post(&s, json!({"query": "mara quillfeather movies"})).await;
    let got = titles(&body);
    let mut top: Vec<&str> = got.iter().take(2).map(String::as_str).collect();
    top.sort();
    assert_eq!(
        top,
        ["The Long Vault Job", "The Quick Vault Job"],
        "{got:?}"
    );
    for r in body["results"].as_array().unwrap().iter().take(2) {
        let reasons = r["match_reasons"].to_string();
        assert!(
            reasons.contains("directed by Mara Quillfeather"),
            "{reasons}"
        );
    }

    // A surname alone names the person the catalog credits under it: Keanu Reeves's three
    // films, each with the reason (read off the indexed credits, within a refresh).
    let keanu = ["Speed", "The Matrix", "The Matrix Reloaded"];
    let body = s
        .eventually(30, "\"reeves movies\" finding Keanu Reeves", || async {
            let (_, body, _) = post(&s, json!({"query": "reeves movies", "explain": true})).await;
            let mut top: Vec<String> = titles(&body).into_iter().take(3).collect();
            top.sort();
            (top == keanu).then_some(body)
        })
        .await;
    for r in body["results"].as_array().unwrap().iter().take(3) {
        let reasons = r["match_reasons"].to_string();
        assert!(reasons.contains("stars Keanu Reeves"), "{reasons}");
    }

    // A rating range keeps the titles rated within it; unrated titles are not in any range.
    let (status, body, _) = post(
        &s,
        json!({"query": "science fiction comedy aliens", "filters": {"rating_range": [7.0, 10.0]}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body), ["Galaxy Quest"], "{body}");
    let (_, body, _) = post(
        &s,
        json!({"query": "science fiction comedy aliens", "filters": {"rating_range": [6.0, 7.0]}}),
    )
    .await;
    assert_eq!(titles(&body), ["Men in Black"], "{body}");
    // The content API says what the provider said.
    let id = result(&body, "Men in Black").unwrap()["content"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, content) = s.get(&format!("/v1/content/{id}")).await;
    assert_eq!(content["average_rating"], json!(6.9), "{content}");
    assert_eq!(content["vote_count"], 14_000, "{content}");

    // A genre and nothing else to match browses the best-known titles of it, those with every
    // wanted genre first ("science fiction comedies": not the science fiction that is not funny).
    let (status, body, _) = post(&s, json!({"query": "science fiction comedies"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["query_parsed"]["text"], "", "{body}");
    let results = body["results"].as_array().unwrap();
    for r in &results[..2] {
        let genres = r["content"]["genres"].as_array().unwrap();
        assert!(
            genres.contains(&json!("science fiction")) && genres.contains(&json!("comedy")),
            "{r}"
        );
        assert!(
            r["match_reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("well known among the titles asked for")),
            "{r}"
        );
    }

    // Explicit filters: platform in a region, content type, year range.
    let (_, body, _) = post(
        &s,
        json!({"query": "science fiction", "region": "US", "filters": {"platforms": ["Netflix"], "content_types": ["movie"], "year_range": [1990, 2020]}}),
    )
    .await;
    let got = titles(&body);
    assert!(!got.is_empty());
    let on_netflix_us = [
        "The Matrix",
        "Inception",
        "Galaxy Quest",
        "Toy Story",
        "Parasite",
        "Amélie",
        "Fargo",
    ];
    for t in &got {
        assert!(
            on_netflix_us.contains(&t.as_str()),
            "{t} is not on Netflix in the US or not in range: {got:?}"
        );
    }
    assert!(
        got.contains(&"The Matrix".to_string()) && got.contains(&"Inception".to_string()),
        "{got:?}"
    );
    let (_, body, _) = post(
        &s,
        json!({"query": "science fiction", "region": "GB", "filters": {"platforms": ["netflix"]}}),
    )
    .await;
    assert_eq!(body["total_count"], 0, "no offers in GB: {body}");
    // A platform only the words name is a wish: where nothing matches there, every platform
    // answers and the response says so; where titles match, only they do.
    let (_, body, _) = post(
        &s,
        json!({"query": "science fiction on netflix", "region": "GB"}),
    )
    .await;
    assert_eq!(
        body["query_parsed"]["relaxed"],
        json!(["platforms"]),
        "{body}"
    );
    assert_eq!(
        body["query_parsed"]["platforms"],
        json!(["netflix"]),
        "{body}"
    );
    let got = titles(&body);
    assert!(got.contains(&"The Matrix".to_string()), "{got:?}");
    assert!(
        got.iter().any(|t| !on_netflix_us.contains(&t.as_str())),
        "every platform answers: {got:?}"
    );
    let (_, body, _) = post(
        &s,
        json!({"query": "science fiction on netflix", "region": "US"}),
    )
    .await;
    assert_eq!(body["query_parsed"]["relaxed"], json!([]), "{body}");
    let got = titles(&body);
    assert!(got.contains(&"The Matrix".to_string()), "{got:?}");
    for t in &got {
        assert!(
            on_netflix_us.contains(&t.as_str())
                || ["Back to the Future", "Stranger Things"].contains(&t.as_str()),
            "{t} is not on Netflix in the US: {got:?}"
        );
    }

    // A kind of title only the words name is a wish too: the catalog holds no short films, so
    // Keanu Reeves's films answer, flagged; the request's own filter stays a contract.
    let (_, body, _) = post(&s, json!({"query": "keanu reeves short films"})).await;
    assert_eq!(
        body["query_parsed"]["relaxed"],
        json!(["content_types"]),
        "{body}"
    );
    assert_eq!(body["query_parsed"]["content_types"], json!(["short"]));
    assert!(titles(&body).contains(&"The Matrix".to_string()), "{body}");
    let (_, body, _) = post(
        &s,
        json!({"query": "keanu reeves", "filters": {"content_types": ["short"]}}),
    )
    .await;
    assert_eq!(body["total_count"], 0, "a requested filter is kept: {body}");
    assert_eq!(body["query_parsed"]["relaxed"], json!([]), "{body}");

    // Paging: disjoint pages, one order.
    let (_, p1, _) = post(&s, json!({"query": "drama", "page": 1, "page_size": 3})).await;
    let (_, p2, _) = post(&s, json!({"query": "drama", "page": 2, "page_size": 3})).await;
    let (a, b) = (titles(&p1), titles(&p2));
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|t| !b.contains(t)), "{a:?} / {b:?}");
    assert_eq!(p1["total_count"], p2["total_count"]);

    // GET for quick use.
    let (status, body) = s.get("/v1/search?q=jurasic%20park&page_size=5").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body)[0], "Jurassic Park");

    // Bad input: 400 naming the field, nothing run.
    for (req, field) in [
        (json!({"query": ""}), "query"),
        (json!({"query": "x", "page_size": 101}), "page_size"),
        (json!({"query": "x", "page": 0}), "page"),
        (json!({"query": "x", "region": "Atlantis"}), "region"),
        (
            json!({"query": "x", "filters": {"content_types": ["opera"]}}),
            "filters.content_types",
        ),
        (
            json!({"query": "x", "filters": {"year_range": [2000]}}),
            "filters.year_range",
        ),
        (
            json!({"query": "x", "filters": {"colour": "red"}}),
            "filters",
        ),
        (json!({"query": 42}), "query"),
    ] {
        let (status, body, _) = post(&s, req.clone()).await;
        assert_eq!(status, 400, "{req} → {body}");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{req} → {body}");
    }

    // Suggestions: prefix, then a typo.
    let (status, body) = s.get("/v1/search/suggestions?prefix=godf").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestions"][0]["title"], "The Godfather", "{body}");
    let (_, body) = s.get("/v1/search/suggestions?prefix=groundhgo").await;
    assert_eq!(body["suggestions"][0]["title"], "Groundhog Day", "{body}");
    let (status, body) = s.get("/v1/search/suggestions?prefix=").await;
    assert_eq!(status, 400, "{body}");

    // Cache: the same request is served from Redis until a title changes.
    let q = json!({"query": "a film about aliens", "page_size": 5});
    let (_, first, c1) = post(&s, q.clone()).await;
    let (_, second, c2) = post(&s, q.clone()).await;
    assert_eq!((c1.as_str(), c2.as_str()), ("miss", "hit"));
    assert_eq!(titles(&first), titles(&second));
    let (status, _) = s
        .ingest(&movie("tt0078748", "Alien", 1979, &["horror", "science fiction"],
            "The crew of the towing ship Nostromo is hunted by a deadly alien creature aboard their vessel.",
            json!([offer("peacock", "subscription", None)])))
        .await;
    assert!(status < 300);
    s.eventually(30, "the cached answer invalidated", || async {
        let (_, body, cache) = post(&s, q.clone()).await;
        (cache == "miss").then_some(body)
    })
    .await;
    // The offer change reached the index payload: Alien is on Peacock now.
    s.eventually(30, "Alien found on Peacock", || async {
        let (_, body, _) = post(
            &s,
            json!({"query": "alien", "filters": {"platforms": ["peacock"]}}),
        )
        .await;
        (titles(&body).first().map(String::as_str) == Some("Alien")).then_some(())
    })
    .await;

    // Trending: searches are events on search.queries, counted in 5-minute windows.
    for _ in 0..3 {
        post(&s, json!({"query": "Space Westerns"})).await;
    }
    post(&s, json!({"query": "only once"})).await;
    let trending = s
        .eventually(60, "trending searches", || async {
            let (_, body) = s.get("/v1/search/trending").await;
            let hit = body["queries"]
                .as_array()?
                .iter()
                .any(|q| q["query"] == "space westerns" && q["searches"].as_i64() >= Some(3));
            hit.then_some(body)
        })
        .await;
    assert!(
        !trending.to_string().contains("only once"),
        "a query searched once is below the privacy floor: {trending}"
    );
    assert_eq!(trending["window_minutes"], 5);

    // Answered searches travel in batches (ADR 0013): a burst of 20 lands in a record or two, each
    // one a `SearchesPerformed` window, and every search of it is counted.
    futures::future::join_all((0..20).map(|_| post(&s, json!({"query": "burst of searches"}))))
        .await;
    s.eventually(60, "the burst counted", || async {
        (s.count("SELECT COALESCE(sum(searches), 0) FROM search_activity.query_counts WHERE query = 'burst of searches'")
            .await
            == 20)
            .then_some(())
    })
    .await;
    let searches = s
        .count("SELECT COALESCE(sum(searches), 0) FROM search_activity.query_counts")
        .await;
    let records = common::read_topic(&s.topic("search.queries")).await;
    assert!(
        !records.is_empty() && (records.len() as i64) < searches,
        "{} records for {searches} searches",
        records.len()
    );
    for r in &records {
        use rdkafka::message::{Headers, Message};
        let kind = r
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "event_type"))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        assert_eq!(kind.as_deref(), Some("SearchesPerformed"));
        assert_eq!(r.payload().map(|p| p[0]), Some(0), "Confluent magic byte");
    }

    // Where the time goes, per stage, for operators.
    let metrics = s.metrics().await;
    for stage in ["embed", "index", "details"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("search_stage_seconds")
                    && l.contains(&format!("stage=\"{stage}\""))),
            "{stage} missing from /metrics"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personalisation_and_index_rebuild() {
    let mut s = Stack::new("searchreplay").await;
    catalog(&mut s).await;
    let user = uuid::Uuid::new_v4().to_string();

    // A user who keeps searching for comedies gets comedies boosted, and told why.
    for q in ["funny comedy", "hilarious comedies", "comedy night"] {
        let (status, body, _) = post(&s, json!({"query": q, "user_id": user})).await;
        assert_eq!(status, 200, "{body}");
    }
    s.eventually(60, "the user's taste learned", || async {
        (s.count(&format!(
            "SELECT count(*) FROM search_activity.user_genres WHERE user_id = '{user}' AND genre = 'comedy'"
        ))
        .await
            == 1)
            .then_some(())
    })
    .await;
    let (_, personal, _) = post(&s, json!({"query": "movies from the 90s", "user_id": user})).await;
    let (_, anonymous, _) = post(&s, json!({"query": "movies from the 90s"})).await;
    // Taste is a boost, not a filter: comedies move up (never down) against the anonymous order,
    // and the leading comedy says why.
    let first_comedy = |body: &Value| {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| {
                r["content"]["genres"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("comedy"))
            })
            .unwrap_or_else(|| panic!("no comedy in {body}"))
    };
    let (p, a) = (first_comedy(&personal), first_comedy(&anonymous));
    assert!(
        p <= a,
        "comedy at {p} for the user, {a} anonymously: {personal}"
    );
    assert!(p < 3, "a comedy in the user's top 3: {personal}");
    let reasons = &personal["results"][p]["match_reasons"];
    assert!(
        reasons.as_array().unwrap().iter().any(|r| {
            let r = r.as_str().unwrap();
            r.starts_with("matches your taste:") && r.contains("comedy")
        }),
        "{reasons}"
    );
    assert_ne!(
        titles(&personal),
        titles(&anonymous),
        "the user's taste changed nothing"
    );
    assert_eq!(personal["total_count"], anonymous["total_count"]);

    // Blue/green rebuild: a fresh generation, swapped in while the API keeps serving.
    let before: i64 = s
        .count("SELECT generation FROM search.index_generation")
        .await;
    let out = s.run_ok(&["replay", "search-index"]);
    assert!(
        out.contains(r#""swapped":true"#) && out.contains(r#""schema":"search""#),
        "{out}"
    );
    let after: i64 = s
        .count("SELECT generation FROM search.index_generation")
        .await;
    assert!(after > before, "{before} → {after}");
    assert_eq!(
        s.count("SELECT count(*) FROM search.documents WHERE NOT retired")
            .await,
        36
    );
    let body = s
        .eventually(30, "search on the rebuilt generation", || async {
            let (status, body, _) = post(&s, json!({"query": "the godfathr"})).await;
            (status == 200 && titles(&body).first().map(String::as_str) == Some("The Godfather"))
                .then_some(body)
        })
        .await;
    assert!(body["total_count"].as_u64().unwrap() >= 1);
    // The live projector writes to the new generation too.
    let (status, _) = s
        .ingest(&movie("tt0088763", "Back to the Future", 1985, &["science fiction", "comedy", "adventure"],
            "A teenager is sent thirty years into the past in a time-travelling DeLorean and must make his parents fall in love.",
            json!([offer("hulu", "subscription", None)])))
        .await;
    assert!(status < 300);
    s.eventually(30, "an update indexed in the new generation", || async {
        let (_, body, _) = post(
            &s,
            json!({"query": "time travel", "filters": {"platforms": ["hulu"]}}),
        )
        .await;
        (titles(&body).first().map(String::as_str) == Some("Back to the Future")).then_some(())
    })
    .await;
    let old_dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(&s.name)
        .join("index")
        .join(format!("g{before}"));
    s.eventually(30, "the old generation removed", || async {
        (!old_dir.exists()).then_some(())
    })
    .await;
}

/// Indexing batches texts of similar length together (less padding) and deals the batches to
/// every model session: each text must still get its own vector, the one it gets alone.
#[tokio::test]
async fn a_batch_gives_each_text_the_vector_it_gets_alone() {
    use mediagw_search_adapters::embed::{Embedder, OnnxConfig, OnnxEmbedder};
    let embedder = OnnxEmbedder::load(&OnnxConfig {
        model_dir: common::model_dir().into(),
        sessions: 2,
        batch: 3,
        max_tokens: 128,
    })
    .expect("the model from scripts/lib.sh ensure_model");
    let texts: Vec<String> = [
        "Jaws (1975). A great white shark terrorises a seaside resort town on a summer weekend and the police chief, a marine biologist and a grizzled fisherman go out to hunt it down.",
        "Up",
        "A bus must keep above fifty miles per hour or a bomb on board explodes.",
        "Toy Story (1995). Animation",
        "Two strangers meet on a train through Europe and spend one night walking around Vienna, talking about love, death and everything else until the morning comes.",
        "Heat",
        "A clownfish crosses the ocean to find his son.",
    ]
    .map(String::from)
    .to_vec();
    let together = embedder.embed(texts.clone()).await.unwrap();
    assert_eq!(together.len(), texts.len());
    for (text, v) in texts.iter().zip(&together) {
        let alone = embedder.embed(vec![text.clone()]).await.unwrap().remove(0);
        let cos: f32 = alone.iter().zip(v).map(|(a, b)| a * b).sum();
        assert!(cos > 0.999, "{text:?}: cosine {cos} with its own vector");
    }
    // And the texts are not all alike (the check above would pass on a constant vector).
    let cos: f32 = together[0]
        .iter()
        .zip(&together[2])
        .map(|(a, b)| a * b)
        .sum();
    assert!(cos < 0.9, "different texts, cosine {cos}");
}
