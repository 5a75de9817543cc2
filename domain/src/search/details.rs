//! Details stage: what a result shows beyond its title: why it matched, its graph score and the
//! start of its overview.

use std::collections::HashSet;

use super::fuse::{Channel, Fused};
use super::index::{DocPayload, Filter};
use super::intent::ParsedIntent;
use super::references::Referenced;
use super::text::{shared_cast, MAX_CAST};
use crate::resolution::{fold, normalize_title};

/// Characters of an overview a result shows.
pub const OVERVIEW_CHARS: usize = 300;

/// What a page's results are explained against (the same for every result).
#[derive(Debug, Clone)]
pub struct Explain<'a> {
    intent: &'a ParsedIntent,
    /// "Title (year)" of each referenced title found, joined with "and".
    similar_to: String,
    referenced: &'a [Referenced],
    /// The user's strongest genres.
    taste: HashSet<&'a String>,
    filter: &'a Filter,
    /// People the query named by surname alone (folded full names).
    people: &'a [String],
    /// The catalog's title the typed one sounds like ([`super::soundalike`]), normalised.
    sounds_like: Option<String>,
}

impl<'a> Explain<'a> {
    /// `found`: title and year of each referenced title found, in the query's order; `taste`:
    /// the user's genre affinity, strongest first.
    pub fn new(
        intent: &'a ParsedIntent,
        found: impl IntoIterator<Item = (&'a str, i64)>,
        referenced: &'a [Referenced],
        taste: &'a [(String, f32)],
        filter: &'a Filter,
    ) -> Self {
        Self {
            intent,
            similar_to: found
                .into_iter()
                .map(|(title, year)| format!("{title} ({year})"))
                .collect::<Vec<_>>()
                .join(" and "),
            referenced,
            taste: taste.iter().take(3).map(|(g, _)| g).collect(),
            filter,
            people: &[],
            sounds_like: None,
        }
    }

    /// The title the typed one sounds like: its results say so instead of "title matches".
    pub fn with_sounds_like(mut self, title: Option<&str>) -> Self {
        self.sounds_like = title.map(normalize_title);
        self
    }

    /// The people the query named by surname alone, for "stars" and "directed by" reasons.
    pub fn with_people(mut self, people: &'a [String]) -> Self {
        self.people = people;
        self
    }

    /// A title's `match_reasons`, in a fixed order: channels that found it, then the wanted
    /// genres, years and platforms it meets, then the user's taste.
    pub fn reasons(&self, f: &Fused, p: &DocPayload) -> Vec<String> {
        let mut out = Vec::new();
        if f.hits.contains_key(&Channel::Title) {
            let heard = self.sounds_like.as_ref() == Some(&normalize_title(&p.title));
            let how = if heard { "sounds like" } else { "matches" };
            out.push(format!("title {how} \"{}\"", self.intent.title_query));
        }
        if let Some(h) = f.hits.get(&Channel::Graph) {
            out.push(format!("similar to {} ({:.2})", self.similar_to, h.score));
        }
        if f.hits.contains_key(&Channel::MoreLikeThis) {
            out.push(format!("described like {}", self.similar_to));
        }
        if f.hits.contains_key(&Channel::Cast) {
            // People the query names (the cast probe of a description).
            let text = format!(" {} ", self.intent.text);
            let named_here = |n: &str| {
                let n = fold(n);
                !n.is_empty() && (text.contains(&format!(" {n} ")) || self.people.contains(&n))
            };
            let named: Vec<&str> = p
                .cast
                .iter()
                .filter(|c| named_here(c))
                .take(3)
                .map(String::as_str)
                .collect();
            if !named.is_empty() {
                out.push(format!("stars {}", named.join(", ")));
            }
            let directed: Vec<&str> = p
                .directors
                .iter()
                .filter(|d| named_here(d))
                .map(String::as_str)
                .collect();
            if !directed.is_empty() {
                out.push(format!("directed by {}", directed.join(", ")));
            }
            for r in self.referenced {
                let r = &r.payload;
                let shared = shared_cast(&r.cast, &p.cast);
                if !shared.is_empty() {
                    let shown: Vec<&str> = shared.into_iter().take(3).collect();
                    out.push(format!(
                        "shares cast with {} ({}): {}",
                        r.title,
                        r.year,
                        shown.join(", ")
                    ));
                }
                let same = shared_cast(&r.directors, &p.directors);
                if !same.is_empty() {
                    out.push(format!(
                        "same director as {} ({}): {}",
                        r.title,
                        r.year,
                        same.join(", ")
                    ));
                }
            }
        }
        if f.hits.contains_key(&Channel::Keyword) {
            out.push("keywords match the description".to_string());
        }
        if let Some(h) = f.hits.get(&Channel::Dense) {
            out.push(format!("semantic match ({:.2})", h.score));
        }
        if f.hits.contains_key(&Channel::Browse) {
            out.push("well known among the titles asked for".to_string());
        }
        let wanted: Vec<&String> = self
            .intent
            .genres
            .iter()
            .filter(|g| p.genres.contains(g))
            .collect();
        if !wanted.is_empty() {
            out.push(format!(
                "genre: {}",
                wanted
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some((a, b)) = self.filter.year_range {
            out.push(format!("released {} (wanted {a}–{b})", p.year));
        }
        let on: Vec<&String> = self
            .filter
            .offers_any
            .iter()
            .filter(|o| p.offers.contains(o))
            .collect();
        if !on.is_empty() {
            out.push(format!(
                "available on {}",
                on.iter()
                    .map(|o| o.replace(':', " in "))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let liked: Vec<&str> = p
            .genres
            .iter()
            .filter(|g| self.taste.contains(g))
            .map(String::as_str)
            .collect();
        if !liked.is_empty() {
            out.push(format!("matches your taste: {}", liked.join(", ")));
        }
        out
    }

    /// A title's `graph_score`: its graph channel score, or the share of a referenced title's
    /// leading cast it has, whichever is higher.
    pub fn graph_score(&self, f: &Fused, p: &DocPayload) -> f32 {
        f.channel_score(Channel::Graph)
            .max(cast_share(p, self.referenced))
    }
}

/// Share of a referenced title's leading cast that this title has too (best over references).
fn cast_share(p: &DocPayload, referenced: &[Referenced]) -> f32 {
    referenced
        .iter()
        .map(|r| &r.payload)
        .filter(|r| !r.cast.is_empty())
        .map(|r| {
            let n = r.cast.len().min(MAX_CAST);
            shared_cast(&r.cast, &p.cast).len() as f32 / n as f32
        })
        .fold(0.0, f32::max)
}

/// The start of an overview, cut at [`OVERVIEW_CHARS`] with an ellipsis.
pub fn overview(o: String) -> String {
    if o.chars().count() > OVERVIEW_CHARS {
        let cut: String = o.chars().take(OVERVIEW_CHARS - 3).collect();
        format!("{}…", cut.trim_end())
    } else {
        o
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use uuid::Uuid;

    use super::*;
    use crate::search::fuse::ChannelHit;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn fused(channels: &[(Channel, f32)]) -> Fused {
        Fused {
            id: Uuid::from_u128(9),
            score: 1.0,
            hits: channels
                .iter()
                .enumerate()
                .map(|(rank, (c, score))| {
                    (
                        *c,
                        ChannelHit {
                            rank,
                            score: *score,
                        },
                    )
                })
                .collect::<HashMap<_, _>>(),
        }
    }

    fn referenced(title: &str, year: i64, cast: &[&str]) -> Referenced {
        Referenced {
            id: Uuid::from_u128(1),
            vector: vec![],
            payload: DocPayload {
                title: title.into(),
                year,
                cast: strings(cast),
                ..DocPayload::default()
            },
            terms: vec![],
        }
    }

    #[test]
    fn every_reason_in_order() {
        // Given "like The Matrix but funnier from the 90s on netflix", a user fond of comedy,
        let intent = ParsedIntent {
            genres: strings(&["comedy", "action"]),
            title_query: "like the matrix".into(),
            ..ParsedIntent::default()
        };
        let refs = [referenced(
            "The Matrix",
            1999,
            &[
                "Keanu Reeves",
                "Laurence Fishburne",
                "Carrie-Anne Moss",
                "Hugo Weaving",
            ],
        )];
        let taste = vec![
            ("drama".to_string(), 5.0),
            ("thriller".to_string(), 4.0),
            ("scifi".to_string(), 3.0),
            ("comedy".to_string(), 2.0),
        ];
        let filter = Filter {
            year_range: Some((1990, 1999)),
            offers_any: strings(&["netflix:US", "hulu:US"]),
            ..Filter::default()
        };
        let explain = Explain::new(
            &intent,
            [("The Matrix", 1999), ("Heat", 1995)],
            &refs,
            &taste,
            &filter,
        );
        // and a title every channel found,
        let f = fused(&[
            (Channel::Title, 0.5),
            (Channel::Graph, 0.876),
            (Channel::MoreLikeThis, 12.5),
            (Channel::Cast, 3.0),
            (Channel::Keyword, 7.0),
            (Channel::Dense, 0.61),
        ]);
        let p = DocPayload {
            year: 1996,
            genres: strings(&["action", "thriller", "scifi"]),
            offers: strings(&["hulu:US", "hulu:GB"]),
            cast: strings(&["Hugo Weaving", "Keanu Reeves", "Someone Else"]),
            ..DocPayload::default()
        };
        // then its reasons say why, in a fixed order.
        assert_eq!(
            explain.reasons(&f, &p),
            vec![
                "title matches \"like the matrix\"",
                "similar to The Matrix (1999) and Heat (1995) (0.88)",
                "described like The Matrix (1999) and Heat (1995)",
                "shares cast with The Matrix (1999): Keanu Reeves, Hugo Weaving",
                "keywords match the description",
                "semantic match (0.61)",
                "genre: action",
                "released 1996 (wanted 1990–1999)",
                "available on hulu in US",
                "matches your taste: thriller, scifi",
            ]
        );
        // and its graph score is the larger of the graph channel's and the shared-cast share.
        assert_eq!(explain.graph_score(&f, &p), 0.876);
        assert_eq!(
            explain.graph_score(&fused(&[(Channel::Graph, 0.2)]), &p),
            0.5
        );
    }

    #[test]
    fn a_title_found_by_its_sound_says_so() {
        // Given "the dark night", heard as The Dark Knight,
        let intent = ParsedIntent {
            title_query: "the dark night".into(),
            ..ParsedIntent::default()
        };
        let filter = Filter::default();
        let explain =
            Explain::new(&intent, [], &[], &[], &filter).with_sounds_like(Some("The Dark Knight"));
        let f = fused(&[(Channel::Title, 1.0)]);
        let title = |t: &str| DocPayload {
            title: t.into(),
            ..DocPayload::default()
        };
        // then that title sounds like what was typed, and another title still matches it.
        assert_eq!(
            explain.reasons(&f, &title("The Dark Knight")),
            vec!["title sounds like \"the dark night\""]
        );
        assert_eq!(
            explain.reasons(&f, &title("One Dark Night")),
            vec!["title matches \"the dark night\""]
        );
    }

    #[test]
    fn directors_are_reasons_too() {
        // Given a query naming a director, and one like a film of his,
        let named = ParsedIntent {
            text: "christopher nolan".into(),
            ..ParsedIntent::default()
        };
        let mut inception = referenced("Inception", 2010, &["Leonardo DiCaprio"]);
        inception.payload.directors = strings(&["Christopher Nolan"]);
        let filter = Filter::default();
        // when a title he directed is found through the people channel,
        let f = fused(&[(Channel::Cast, 1.0)]);
        let p = DocPayload {
            cast: strings(&["Matthew McConaughey"]),
            directors: strings(&["Christopher Nolan"]),
            ..DocPayload::default()
        };
        // then the reason names him, as director of it or as the reference's.
        let explain = Explain::new(&named, [], &[], &[], &filter);
        assert_eq!(
            explain.reasons(&f, &p),
            vec!["directed by Christopher Nolan"]
        );
        // A surname alone ("nolan films") names him through the people it was resolved to.
        let surname = ParsedIntent {
            text: "nolan".into(),
            ..ParsedIntent::default()
        };
        let people = strings(&["christopher nolan"]);
        assert_eq!(
            Explain::new(&surname, [], &[], &[], &filter)
                .with_people(&people)
                .reasons(&f, &p),
            vec!["directed by Christopher Nolan"]
        );
        assert!(Explain::new(&surname, [], &[], &[], &filter)
            .reasons(&f, &p)
            .is_empty());
        let like = ParsedIntent::default();
        let refs = [inception];
        let explain = Explain::new(&like, [("Inception", 2010)], &refs, &[], &filter);
        assert_eq!(
            explain.reasons(&f, &p),
            vec!["same director as Inception (2010): Christopher Nolan"]
        );
    }

    #[test]
    fn nothing_to_say() {
        let intent = ParsedIntent::default();
        let filter = Filter::default();
        let explain = Explain::new(&intent, [], &[], &[], &filter);
        assert!(explain
            .reasons(&fused(&[]), &DocPayload::default())
            .is_empty());
        assert_eq!(
            explain.graph_score(&fused(&[]), &DocPayload::default()),
            0.0
        );
    }

    #[test]
    fn long_overviews_are_cut() {
        assert_eq!(overview("short".into()), "short");
        let exact = "é".repeat(OVERVIEW_CHARS);
        assert_eq!(overview(exact.clone()), exact);
        let long = format!("{} {}", "a".repeat(296), "b".repeat(10));
        assert_eq!(overview(long), format!("{}…", "a".repeat(296)));
    }
}
