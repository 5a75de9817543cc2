//! Plan stage: a validated request and its query's intent become the hard filter every channel
//! applies and how deep each channel looks.

use serde::Serialize;

use super::index::Filter;
use super::intent::{parse_intent, ParsedIntent};

/// Which channels run: hybrid (the product) or one raw channel, for evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hybrid,
    Dense,
    Keyword,
}

/// What a request itself constrains, validated and in catalog spelling (genres, content types,
/// platform slugs). The query's own words may add constraints of the same kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Constraints {
    pub genres: Vec<String>,
    pub content_types: Vec<String>,
    /// `[from, to]`, inclusive.
    pub year_range: Option<(i32, i32)>,
    pub rating_range: Option<(f32, f32)>,
    pub platforms: Vec<String>,
}

/// Hybrid search reads the query's intent; a raw channel searches the query as typed, so its
/// evaluation measures the channel alone.
pub fn intent(mode: Mode, query: &str, current_year: i32) -> ParsedIntent {
    match mode {
        Mode::Hybrid => parse_intent(query, current_year),
        Mode::Dense | Mode::Keyword => as_typed(query),
    }
}

/// The query as typed, nothing read into it: for the raw channels, and for a query that is a
/// title spelled like a request ("Some Like It Hot" is no reference to "It Hot").
pub fn as_typed(query: &str) -> ParsedIntent {
    ParsedIntent {
        original: query.to_string(),
        text: query.to_string(),
        title_query: query.to_string(),
        ..ParsedIntent::default()
    }
}

/// A region named in the query ("in the UK") wins over the request's.
pub fn region(intent: &ParsedIntent, requested: &str) -> String {
    intent
        .region
        .clone()
        .unwrap_or_else(|| requested.to_string())
}

/// The request's content types and platforms replace the query's; year ranges from both must
/// hold, so they intersect. Offers are wanted in `region`. Nothing is excluded yet (the
/// references stage excludes the titles the query names).
pub fn filter(request: &Constraints, intent: &ParsedIntent, region: &str) -> Filter {
    let mut filter = Filter {
        genres_any: request.genres.clone(),
        content_types: if request.content_types.is_empty() {
            intent
                .content_types
                .iter()
                .map(|c| c.as_str().to_string())
                .collect()
        } else {
            request.content_types.clone()
        },
        year_range: intersect(request.year_range, intent.year_range)
            .map(|(a, b)| (i64::from(a), i64::from(b))),
        rating_range: request
            .rating_range
            .map(|(a, b)| (f64::from(a), f64::from(b))),
        offers_any: {
            let platforms = if request.platforms.is_empty() {
                &intent.platforms
            } else {
                &request.platforms
            };
            platforms.iter().map(|p| format!("{p}:{region}")).collect()
        },
        max_runtime: intent.max_runtime.map(i64::from),
        exclude: Vec::new(),
    };
    if let Some((a, b)) = filter.year_range {
        if a > b {
            // The request's range and the query's ("90s") do not overlap: nothing matches.
            filter.year_range = Some((a, a - 1));
        }
    }
    filter
}

/// Platforms named only in the query's words ("heist movies on netflix") are a wish, not a
/// contract: when no title the catalog offers there matches, the search runs again on every
/// platform and the response says it did, rather than answering nothing (a catalog without
/// availability for that platform or region would otherwise hide every title). Platforms the
/// request's own `filters.platforms` names stay a hard filter. Kinds of title read from the
/// words are a wish the same way ("jim carrey tv show" when the catalog holds only his films):
/// [`widen`] names what to let go next, platforms first, then `content_types`; an intent
/// [`relax`]ed of one names the other.
pub fn widen(request: &Constraints, intent: &ParsedIntent, found: usize) -> Option<&'static str> {
    if found > 0 {
        None
    } else if request.platforms.is_empty() && !intent.platforms.is_empty() {
        Some("platforms")
    } else if request.content_types.is_empty() && !intent.content_types.is_empty() {
        Some("content_types")
    } else {
        None
    }
}

/// The intent with what [`widen`] names let go.
pub fn relax(intent: &mut ParsedIntent, relaxed: &[&str]) {
    if relaxed.contains(&"platforms") {
        intent.platforms.clear();
    }
    if relaxed.contains(&"content_types") {
        intent.content_types.clear();
    }
}

/// Both ranges at once; the result is empty (`from > to`) when they do not overlap.
pub fn intersect(a: Option<(i32, i32)>, b: Option<(i32, i32)>) -> Option<(i32, i32)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.max(b0), a1.min(b1))),
        (x, None) | (None, x) => x,
    }
}

/// Candidates each channel returns: at least `min`, enough to fill the requested page, and at
/// most the 1000 results a search pages through.
pub fn depth(min: usize, page: u32, page_size: u32) -> usize {
    min.max((page * page_size) as usize).min(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ContentType;

    fn constraints() -> Constraints {
        Constraints {
            genres: vec!["comedy".into()],
            ..Constraints::default()
        }
    }

    #[test]
    fn raw_channels_search_the_query_as_typed() {
        let i = intent(Mode::Keyword, "funny 90s movies on netflix", 2026);
        assert_eq!(i.text, "funny 90s movies on netflix");
        assert_eq!(i.title_query, "funny 90s movies on netflix");
        assert_eq!(i.year_range, None);
        assert!(i.genres.is_empty() && i.platforms.is_empty());
        let hybrid = intent(Mode::Hybrid, "funny 90s movies on netflix", 2026);
        assert_eq!(hybrid.year_range, Some((1990, 1999)));
        assert_eq!(hybrid.platforms, vec!["netflix"]);
    }

    #[test]
    fn the_query_fills_in_what_the_request_leaves_open() {
        // Given a request constraining genres only and a query naming type, decade and platform,
        let i = ParsedIntent {
            content_types: vec![ContentType::Series],
            year_range: Some((1990, 1999)),
            platforms: vec!["netflix".into(), "hulu".into()],
            region: Some("GB".into()),
            ..ParsedIntent::default()
        };
        let region = region(&i, "US");
        // when planned,
        let f = filter(&constraints(), &i, &region);
        // then the query's constraints apply, offers in the query's region.
        assert_eq!(
            f,
            Filter {
                genres_any: vec!["comedy".into()],
                content_types: vec!["series".into()],
                year_range: Some((1990, 1999)),
                rating_range: None,
                offers_any: vec!["netflix:GB".into(), "hulu:GB".into()],
                exclude: vec![],
                max_runtime: None,
            }
        );
    }

    #[test]
    fn the_request_wins_and_years_intersect() {
        let request = Constraints {
            content_types: vec!["movie".into()],
            year_range: Some((1995, 2010)),
            rating_range: Some((7.0, 9.5)),
            platforms: vec!["disney_plus".into()],
            ..constraints()
        };
        let i = ParsedIntent {
            content_types: vec![ContentType::Series],
            year_range: Some((1990, 1999)),
            platforms: vec!["netflix".into()],
            ..ParsedIntent::default()
        };
        let f = filter(&request, &i, &region(&i, "US"));
        assert_eq!(f.content_types, vec!["movie"]);
        assert_eq!(f.year_range, Some((1995, 1999)));
        assert_eq!(f.rating_range, Some((7.0, 9.5)));
        assert_eq!(f.offers_any, vec!["disney_plus:US"]);
    }

    #[test]
    fn platforms_only_the_words_name_widen_when_nothing_is_there() {
        // Given "heist movies on netflix", the platform read from the words alone,
        let words = intent(Mode::Hybrid, "heist movies on netflix", 2026);
        let open = Constraints::default();
        // then a search that found nothing there is run again on every platform,
        assert_eq!(widen(&open, &words, 0), Some("platforms"));
        // but not one that found titles there,
        assert_eq!(widen(&open, &words, 3), None);
        // nor one whose request itself asked for the platform (a filter is a contract),
        let asked = Constraints {
            platforms: vec!["netflix".into()],
            ..Constraints::default()
        };
        assert_eq!(widen(&asked, &words, 0), Some("content_types"));
        // nor one that named no platform.
        let plain = intent(Mode::Hybrid, "heist shows", 2026);
        assert_eq!(widen(&open, &plain, 0), Some("content_types"));
    }

    #[test]
    fn kinds_of_title_only_the_words_name_widen_when_nothing_is_there() {
        // Given "jim carrey tv show" and a catalog holding no series of his,
        let mut words = intent(Mode::Hybrid, "jim carrey tv show on netflix", 2026);
        let open = Constraints::default();
        // then what the words asked for is let go, the platform first, then the kind,
        assert_eq!(widen(&open, &words, 0), Some("platforms"));
        relax(&mut words, &["platforms"]);
        assert_eq!(widen(&open, &words, 0), Some("content_types"));
        relax(&mut words, &["content_types"]);
        assert!(words.content_types.is_empty() && words.platforms.is_empty());
        assert!(filter(&open, &words, "US").content_types.is_empty());
        assert_eq!(widen(&open, &words, 0), None);
        // but the request's own filter stays a contract.
        let asked = Constraints {
            content_types: vec!["series".into()],
            ..Constraints::default()
        };
        let mut words = intent(Mode::Hybrid, "jim carrey tv show", 2026);
        assert_eq!(widen(&asked, &words, 0), None);
        relax(&mut words, &["platforms"]);
        assert_eq!(words.content_types, [ContentType::Series]);
    }

    #[test]
    fn disjoint_years_match_nothing() {
        let request = Constraints {
            year_range: Some((2005, 2010)),
            ..Constraints::default()
        };
        let i = ParsedIntent {
            year_range: Some((1990, 1999)),
            ..ParsedIntent::default()
        };
        assert_eq!(filter(&request, &i, "US").year_range, Some((2005, 2004)));
    }

    #[test]
    fn ranges_intersect() {
        assert_eq!(
            intersect(Some((1990, 2000)), Some((1995, 2010))),
            Some((1995, 2000))
        );
        assert_eq!(intersect(None, Some((1, 2))), Some((1, 2)));
        assert_eq!(intersect(Some((1, 2)), None), Some((1, 2)));
        assert_eq!(intersect(None, None), None);
    }

    #[test]
    fn depth_covers_the_page() {
        assert_eq!(depth(50, 1, 20), 50);
        assert_eq!(depth(50, 4, 20), 80);
        assert_eq!(depth(50, 10, 100), 1000);
        assert_eq!(depth(2000, 1, 20), 1000);
    }
}
