//! Each provider's documented shape, the field names its errors carry, and fuzzing with arbitrary
//! and mutated JSON (`PROPTEST_CASES` scales the fuzz run; see docs/quality.md).

use super::*;
use crate::catalog::{is_region, AudienceRating};
use proptest::prelude::*;
use serde_json::json;

/// Provider records in their documented shapes, shared with the integration tests.
fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

pub(crate) fn tmdb_movie() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/tmdb_movie.json"
    ))
}

pub(crate) fn tmdb_tv() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/tmdb_tv.json"
    ))
}

pub(crate) fn watchmode() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/watchmode.json"
    ))
}

pub(crate) fn streaming_availability() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/streaming_availability.json"
    ))
}

pub(crate) fn youtube() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/youtube.json"
    ))
}

pub(crate) fn gracenote() -> Value {
    fixture(include_str!(
        "../../../tests/fixtures/providers/gracenote.json"
    ))
}

fn fields(r: Result<CanonicalTitle, ValidationErrors>) -> Vec<String> {
    r.unwrap_err().0.into_iter().map(|e| e.field).collect()
}

#[test]
fn tmdb_movie_and_tv() {
    let m = normalize(IngestSource::Tmdb, &tmdb_movie(), "US").unwrap();
    assert_eq!(m.metadata.content_type, ContentType::Movie);
    assert_eq!(m.external_ids["tmdb_movie"], "603");
    assert_eq!(m.external_ids["imdb"], "tt0133093");
    assert_eq!(m.external_ids["wikidata"], "Q83495");
    assert_eq!(m.metadata.runtime_minutes, Some(136));
    assert_eq!(m.metadata.cast, vec!["Keanu Reeves", "Laurence Fishburne"]);
    let platforms: Vec<_> = m
        .availability
        .iter()
        .map(|o| (o.platform.as_str(), o.availability_type.as_str()))
        .collect();
    assert_eq!(
        platforms,
        vec![
            ("apple_tv", "rent"),
            ("max", "subscription"),
            ("prime_video", "rent")
        ]
    );
    assert!(m.availability.iter().all(|o| o.region == "US"));
    let de = normalize(IngestSource::Tmdb, &tmdb_movie(), "DE").unwrap();
    assert_eq!(de.availability.len(), 1);
    assert!(normalize(IngestSource::Tmdb, &tmdb_movie(), "FR")
        .unwrap()
        .availability
        .is_empty());

    let tv = normalize(IngestSource::Tmdb, &tmdb_tv(), "US").unwrap();
    assert_eq!(tv.metadata.content_type, ContentType::Series);
    assert_eq!(tv.external_ids["tmdb_tv"], "1399");
    assert_eq!(tv.external_ids["tvdb"], "121361");
    assert_eq!(tv.metadata.runtime_minutes, Some(60));
}

#[test]
fn watchmode_sources_keep_the_best_format_and_region_currency() {
    let t = normalize(IngestSource::Watchmode, &watchmode(), "US").unwrap();
    assert_eq!(t.metadata.content_type, ContentType::Series);
    assert_eq!(t.external_ids["tmdb_tv"], "1396");
    assert_eq!(t.external_ids["watchmode"], "3173903");
    assert_eq!(t.availability.len(), 2);
    let buy = t
        .availability
        .iter()
        .find(|o| o.platform == "prime_video")
        .unwrap();
    assert_eq!(buy.video_quality.as_deref(), Some("uhd"));
    assert_eq!(buy.price_amount.unwrap().to_string(), "24.99");
    assert_eq!(buy.price_currency.as_deref(), Some("USD"));
    let nf = t
        .availability
        .iter()
        .find(|o| o.platform == "netflix")
        .unwrap();
    assert_eq!(nf.deep_link, "nflx://www.netflix.com/title/70143836");
}

#[test]
fn streaming_availability_prices_and_expiry() {
    let t = normalize(
        IngestSource::StreamingAvailability,
        &streaming_availability(),
        "US",
    )
    .unwrap();
    assert_eq!(t.external_ids["tmdb_movie"], "238");
    assert_eq!(t.metadata.release_date.to_string(), "1972-01-01");
    let rent = t
        .availability
        .iter()
        .find(|o| o.platform == "prime_video")
        .unwrap();
    assert_eq!(rent.platform, "prime_video");
    assert_eq!(rent.price_amount.unwrap().to_string(), "3.79");
    assert_eq!(rent.available_from.timestamp(), 1_709_251_200);
    let sub = t
        .availability
        .iter()
        .find(|o| o.platform == "paramount_plus")
        .unwrap();
    assert_eq!(sub.expires_at.unwrap().timestamp(), 1_924_991_999);
    assert_eq!(t.metadata.cast.len(), 2);
}

#[test]
fn youtube_video_is_an_ad_supported_offer_unless_blocked() {
    let t = normalize(IngestSource::Youtube, &youtube(), "US").unwrap();
    assert_eq!(t.metadata.content_type, ContentType::Movie);
    assert_eq!(t.metadata.runtime_minutes, Some(97));
    assert_eq!(t.availability[0].availability_type, AvailabilityType::Ads);
    assert_eq!(
        t.availability[0].web_url,
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    );
    assert!(normalize(IngestSource::Youtube, &youtube(), "DE")
        .unwrap()
        .availability
        .is_empty());
    assert_eq!(parse_iso8601_duration_minutes("PT45S"), Some(1));
    assert_eq!(parse_iso8601_duration_minutes("P1DT1M"), Some(1441));
    for bad in ["", "P", "PT", "1H", "PTH", "PT1X", "PT1M2H"] {
        assert_eq!(parse_iso8601_duration_minutes(bad), None, "{bad}");
    }
}

#[test]
fn gracenote_availabilities() {
    let t = normalize(IngestSource::Gracenote, &gracenote(), "US").unwrap();
    assert_eq!(t.external_ids["gracenote"], "MV000911650000");
    assert_eq!(t.external_ids["eidr"], "10.5240/1C7F-3C1D-7E1C-9CE3-7D53-8");
    assert_eq!(t.metadata.runtime_minutes, Some(136));
    let nf = t
        .availability
        .iter()
        .find(|o| o.platform == "netflix")
        .unwrap();
    assert_eq!(nf.deep_link, "nflx://www.netflix.com/title/20557937");
    assert!(nf.expires_at.is_some());
    let buy = t
        .availability
        .iter()
        .find(|o| o.platform == "apple_tv")
        .unwrap();
    assert_eq!(buy.availability_type, AvailabilityType::Buy);
}

#[test]
fn audience_ratings_on_one_scale() {
    let rating = |s: IngestSource, v: &Value| normalize(s, v, "US").unwrap().metadata.rating;
    let r = |score, votes| Some(AudienceRating { score, votes });
    // TMDb: average of 10 with its vote count; 0 / 0 is an unrated title, not a bad one.
    assert_eq!(rating(IngestSource::Tmdb, &tmdb_movie()), r(82, 26_280));
    let mut v = tmdb_movie();
    v["vote_average"] = json!(0);
    v["vote_count"] = json!(0);
    assert_eq!(rating(IngestSource::Tmdb, &v), None);
    // A record without the count keeps the average, with no votes counted.
    let mut v = tmdb_movie();
    v.as_object_mut().unwrap().remove("vote_count");
    assert_eq!(rating(IngestSource::Tmdb, &v), r(82, 0));
    // Watchmode's user rating (of 10) and Streaming Availability's (of 100) count no votes.
    assert_eq!(rating(IngestSource::Watchmode, &watchmode()), r(93, 0));
    assert_eq!(
        rating(
            IngestSource::StreamingAvailability,
            &streaming_availability()
        ),
        r(87, 0)
    );
    // Our own format: the seed's `average_rating` (0–10) and `vote_count`.
    let generic = json!({"content_type": "movie", "title": "Speed", "release_date": "1994-06-10",
        "average_rating": 7.3, "vote_count": 5_000});
    assert_eq!(rating(IngestSource::Generic, &generic), r(73, 5_000));
    // Out of scale is an error naming the field.
    let mut v = tmdb_movie();
    v["vote_average"] = json!(11);
    assert_eq!(
        fields(normalize(IngestSource::Tmdb, &v, "US")),
        ["raw_content.vote_average"]
    );
    let mut bad = generic.clone();
    bad["average_rating"] = json!("great");
    bad["vote_count"] = json!(-3);
    assert_eq!(
        fields(normalize(IngestSource::Generic, &bad, "US")),
        ["raw_content.vote_count", "raw_content.average_rating"]
    );
}

#[test]
fn errors_name_the_provider_field() {
    let mut v = tmdb_movie();
    v["release_date"] = json!("");
    v["watch/providers"]["results"]["US"]["link"] = json!("not a url");
    assert_eq!(
        fields(normalize(IngestSource::Tmdb, &v, "US")),
        vec![
            "raw_content.release_date",
            "raw_content.watch/providers.results.US.link"
        ]
    );
    let mut v = streaming_availability();
    v["streamingOptions"]["us"][1]["service"] = json!({"name": "x"});
    v["streamingOptions"]["us"][0]["price"]["currency"] = json!("dollars");
    assert_eq!(
        fields(normalize(IngestSource::StreamingAvailability, &v, "US")),
        vec![
            "raw_content.streamingOptions.us[0].price.currency",
            "raw_content.streamingOptions.us[1].service.id"
        ]
    );
    let mut v = watchmode();
    v["type"] = json!("podcast");
    v["sources"][0]["type"] = json!("lease");
    assert_eq!(
        fields(normalize(IngestSource::Watchmode, &v, "US")),
        vec!["raw_content.type", "raw_content.sources[0].type"]
    );
    let mut v = youtube();
    v["contentDetails"]["duration"] = json!("ninety minutes");
    v["snippet"].as_object_mut().unwrap().remove("title");
    assert_eq!(
        fields(normalize(IngestSource::Youtube, &v, "US")),
        vec![
            "raw_content.snippet.title",
            "raw_content.contentDetails.duration"
        ]
    );
    let mut v = gracenote();
    v["availabilities"][1]["licenseType"] = json!("LEASE");
    v["tmsId"] = json!(null);
    assert_eq!(
        fields(normalize(IngestSource::Gracenote, &v, "US")),
        vec![
            "raw_content.tmsId",
            "raw_content.availabilities[1].licenseType"
        ]
    );
    for s in IngestSource::ALL {
        assert_eq!(fields(normalize(s, &json!("x"), "US")), vec!["raw_content"]);
    }
}

fn samples() -> Vec<(IngestSource, Value)> {
    vec![
        (IngestSource::Tmdb, tmdb_movie()),
        (IngestSource::Tmdb, tmdb_tv()),
        (IngestSource::Watchmode, watchmode()),
        (
            IngestSource::StreamingAvailability,
            streaming_availability(),
        ),
        (IngestSource::Youtube, youtube()),
        (IngestSource::Gracenote, gracenote()),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("1999-03-31"),
            Just("PT1H2M"),
            Just("https://x.example/a"),
            Just("US"),
            Just("sub"),
            Just("SVOD"),
            Just("movie"),
            Just("tv"),
            Just("")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z/]{1,12}",
                    Just("title".to_string()),
                    Just("id".to_string()),
                    Just("name".to_string()),
                    Just("us".to_string()),
                    Just("US".to_string())
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a random path of a valid record with arbitrary JSON.
fn mutate(v: &mut Value, path: &[usize], replacement: Value) {
    let Some((&first, rest)) = path.split_first() else {
        *v = replacement;
        return;
    };
    let child = match v {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(first % m.len()).cloned().unwrap();
            m.get_mut(&k)
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            a.get_mut(first % n)
        }
        _ => None,
    };
    match child {
        Some(c) => mutate(c, rest, replacement),
        None => *v = replacement,
    }
}

/// What every accepted record satisfies, whatever the provider.
fn check_ok(t: &CanonicalTitle, region: &str) {
    assert!(!t.metadata.title.is_empty());
    for o in &t.availability {
        assert_eq!(o.region, region);
        assert!(is_slug(&o.platform), "{}", o.platform);
        assert!(o.web_url.starts_with("http"));
        assert!(o.deep_link.contains("://"));
        assert_eq!(o.price_amount.is_some(), o.price_currency.is_some());
        if let Some(e) = o.expires_at {
            assert!(e > o.available_from);
        }
    }
    for (k, v) in &t.external_ids {
        assert!(is_slug(k) && !v.is_empty() && v.len() <= 255);
    }
}

fn check(source: IngestSource, raw: &Value, region: &str) {
    match normalize(source, raw, region) {
        Ok(t) => check_ok(&t, region),
        Err(errs) => {
            assert!(!errs.is_empty());
            for e in errs.0 {
                assert!(e.field.starts_with("raw_content"), "{}", e.field);
                assert!(!e.message.is_empty());
            }
        }
    }
}

proptest! {
    #[test]
    fn fuzz_arbitrary_json_never_panics(raw in arb_json(), s in 0usize..6, region in "[A-Z]{2}") {
        prop_assume!(is_region(&region));
        check(IngestSource::ALL[s], &raw, &region);
    }

    #[test]
    fn fuzz_mutated_records_are_accepted_or_rejected_with_reasons(
        which in 0usize..6,
        path in prop::collection::vec(any::<usize>(), 0..5),
        replacement in arb_json(),
        region in prop_oneof![Just("US"), Just("DE"), Just("GB")],
    ) {
        let (source, mut raw) = samples().swap_remove(which);
        mutate(&mut raw, &path, replacement);
        check(source, &raw, region);
    }
}
