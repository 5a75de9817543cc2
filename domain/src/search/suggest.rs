//! Suggestions: titles completing what was typed so far, found among title-trigram candidates.

use super::index::Hit;
use super::text::title_similarity;
use crate::resolution::normalize_title;

/// Title-trigram candidates looked at per prefix.
pub const CANDIDATES: usize = 200;

/// Candidates completing the prefix less well than this are not suggested.
pub const MIN_SCORE: f32 = 0.35;

/// How well a title completes what was typed: whole-title prefix > word prefix > trigrams.
pub fn score(norm_prefix: &str, title: &str) -> f32 {
    let t = normalize_title(title).replace(" : ", " ");
    if t.starts_with(norm_prefix) {
        return 2.0 + norm_prefix.len() as f32 / t.len().max(1) as f32;
    }
    if t.split(' ').any(|w| w.starts_with(norm_prefix)) || t.contains(&format!(" {norm_prefix}")) {
        return 1.5;
    }
    // Typo tolerance: compare with the title's start of the same length.
    let head: String = t.chars().take(norm_prefix.chars().count() + 2).collect();
    title_similarity(norm_prefix, &head)
}

/// The candidates worth suggesting for `prefix`, best first: by score, then the more popular,
/// the shorter title and the id.
pub fn rank(prefix: &str, candidates: Vec<Hit>) -> Vec<(f32, Hit)> {
    let norm_prefix = normalize_title(prefix);
    let mut scored: Vec<(f32, Hit)> = candidates
        .into_iter()
        .filter_map(|h| {
            let s = score(&norm_prefix, &h.payload.title);
            (s > MIN_SCORE).then_some((s, h))
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.payload.popularity.total_cmp(&a.1.payload.popularity))
            .then(a.1.payload.title.len().cmp(&b.1.payload.title.len()))
            .then(a.1.id.cmp(&b.1.id))
    });
    scored
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::*;
    use crate::search::index::DocPayload;

    fn hit(n: u128, title: &str, popularity: f64) -> Hit {
        Hit {
            id: Uuid::from_u128(n),
            score: 0.0,
            payload: Arc::new(DocPayload {
                title: title.into(),
                popularity,
                ..DocPayload::default()
            }),
        }
    }

    #[test]
    fn prefixes_first() {
        assert!(score("godf", "The Godfather") >= 2.0);
        assert_eq!(score("part", "The Godfather: Part II"), 1.5);
        // Inside a word: only trigrams against the title's start.
        assert!(score("father", "The Godfather") < 1.5);
        assert_eq!(
            score("godfather part", "The Godfather: Part II"),
            2.0 + 14.0 / 16.0
        );
        assert!(score("godfathr", "The Godfather") > MIN_SCORE);
        assert!(score("zzz", "The Godfather") < MIN_SCORE);
    }

    #[test]
    fn ranked_by_score_popularity_length_id() {
        let ranked = rank(
            "God",
            vec![
                hit(1, "Zorro", 99.0),
                hit(2, "Godspell", 5.0),
                hit(3, "Godzilla", 10.0),
                hit(4, "The Godzilla", 10.0),
                hit(5, "God", 1.0),
                hit(6, "Gods and Monsters", 80.0),
                hit(7, "Gods and Monsters", 80.0),
                hit(8, "The Godfather", 50.0),
            ],
        );
        let order: Vec<u128> = ranked.iter().map(|(_, h)| h.id.as_u128()).collect();
        // "god" whole (3.0), then 8-letter titles (2.375) by popularity and raw length, then
        // "godfather" (2.33…), then the 17-letter twins by id.
        assert_eq!(order, vec![5, 3, 4, 2, 8, 6, 7]);
        assert_eq!(ranked[0].0, 3.0);
        assert_eq!(ranked[1].0, 2.375);
    }
}
