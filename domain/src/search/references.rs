//! References stage: the titles a query names ("like The Matrix"), found among title-trigram
//! candidates with typos tolerated. A name no title matches is searched for as words instead.

use uuid::Uuid;

use super::index::{DocPayload, Hit};
use super::text::{title_trigrams, trigram_dice, SparseVector};
use crate::resolution::fold;

/// Title-trigram candidates looked at per name. Titles are indexed without a leading article,
/// so "die hard" probes for "hard" and ties with every "Hard …" title: look well past ten.
pub const CANDIDATES: usize = 40;

/// How alike a candidate's title and the name must be for the candidate to be the title meant.
pub const MIN_SIMILARITY: f32 = 0.5;

/// A title the query refers to, as the index stores it: the graph probes its embedding and cast,
/// the more-like-this probe the words of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Referenced {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub payload: DocPayload,
    /// The keyword terms its indexed text holds (ids, any order).
    pub terms: Vec<u32>,
}

/// Terms of a referenced title's text the more-like-this probe asks for at most: a lead or a
/// synopsis holds 40–100 distinct terms; a longer text is cut (the index weighs each by IDF, so
/// which ones go matters less than that the query stays bounded).
pub const MORE_LIKE_THIS_TERMS: usize = 256;

/// "More like this": the referenced title's own terms as a keyword query, each once. The index
/// weighs them by IDF, so the rare words of its text (a shark, a novelist, a studio, the
/// director) find the titles whose text shares them; the embedding neighbours of a lead that
/// talks of box office and awards do not ("movies like Jaws" found The Sting).
pub fn more_like_this(r: &Referenced) -> SparseVector {
    SparseVector::from_pairs(
        r.terms
            .iter()
            .take(MORE_LIKE_THIS_TERMS)
            .map(|t| (*t, 1.0))
            .collect(),
    )
}

/// The candidate whose title is most like `name`, if alike enough. Of equally alike ones: the
/// title spelled exactly as the name (articles count: "Die Hard", not "Hard"), then the better
/// known (the catalog prior in `popularity`), then the last.
pub fn best_match(name: &str, candidates: Vec<Hit>) -> Option<Hit> {
    let wanted = title_trigrams(name);
    let folded = fold(name);
    candidates
        .into_iter()
        .map(|h| {
            let similarity = trigram_dice(&wanted, &title_trigrams(&h.payload.title));
            let exact = fold(&h.payload.title) == folded;
            ((similarity, exact, h.payload.popularity), h)
        })
        .filter(|((s, _, _), _)| *s >= MIN_SIMILARITY)
        .max_by(|(a, _), (b, _)| {
            a.0.total_cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
        })
        .map(|(_, h)| h)
}

/// Whether one of the title-trigram candidates is spelled as the whole query (case, accents and
/// punctuation aside): then the query names that title, whatever its words read as ("Some Like
/// It Hot", "Like Crazy", "Like Water for Chocolate" are not "like X" references).
pub fn is_a_title(query: &str, candidates: &[Hit]) -> bool {
    let folded = fold(query);
    !folded.is_empty() && candidates.iter().any(|h| fold(&h.payload.title) == folded)
}

/// The genres a search prefers among candidates: those asked for, else the referenced titles'
/// ("movies like The Notebook" wants romances and dramas, not the thrillers its lead's words and
/// its lead actor also reach).
pub fn wanted_genres(asked: &[String], referenced: &[Referenced]) -> Vec<String> {
    if !asked.is_empty() {
        return asked.to_vec();
    }
    let mut out: Vec<String> = Vec::new();
    for g in referenced.iter().flat_map(|r| &r.payload.genres) {
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    out
}

/// The description the text channels search: the intent's, then each name no title matched.
pub fn searched_text<'a>(text: &str, unmatched: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = text.to_string();
    for name in unmatched {
        text = format!("{text} {name}").trim().to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn hit(n: u128, title: &str) -> Hit {
        Hit {
            id: Uuid::from_u128(n),
            score: 0.0,
            payload: Arc::new(DocPayload {
                title: title.into(),
                ..DocPayload::default()
            }),
        }
    }

    #[test]
    fn the_closest_title_is_the_one_meant() {
        let candidates = vec![
            hit(1, "The Matrix Reloaded"),
            hit(2, "The Matrix"),
            hit(3, "Matrimony"),
        ];
        assert_eq!(
            best_match("the matrx", candidates).map(|h| h.id),
            Some(Uuid::from_u128(2))
        );
    }

    #[test]
    fn equally_close_titles_pick_the_exact_spelling_then_the_better_known() {
        let candidates = vec![hit(1, "Heat"), hit(2, "Heat")];
        assert_eq!(
            best_match("heat", candidates).map(|h| h.id),
            Some(Uuid::from_u128(2))
        );
        // "die hard" and "Hard" are equally alike once the leading article is gone.
        let candidates = vec![hit(3, "Die Hard"), hit(4, "Hard")];
        assert_eq!(
            best_match("die hard", candidates).map(|h| h.id),
            Some(Uuid::from_u128(3))
        );
        let mut known = hit(5, "Halloween");
        Arc::make_mut(&mut known.payload).popularity = 0.9;
        let candidates = vec![known, hit(6, "Halloween")];
        assert_eq!(
            best_match("halloween", candidates).map(|h| h.id),
            Some(Uuid::from_u128(5))
        );
    }

    #[test]
    fn a_query_spelled_as_a_title_is_that_title() {
        // Given title candidates for "some like it hot",
        let candidates = vec![hit(1, "It's Hot"), hit(2, "Some Like It Hot")];
        // then the query is the title, whatever case or punctuation it is typed in,
        assert!(is_a_title("some like it hot", &candidates));
        assert!(is_a_title("Some like it hot!", &candidates));
        // and a request around a title, or no title at all, is not.
        assert!(!is_a_title("movies like some like it hot", &candidates));
        assert!(!is_a_title("like crazy", &candidates));
        assert!(!is_a_title("", &[hit(3, "")]));
    }

    #[test]
    fn a_reference_wants_its_own_genres_unless_others_are_asked_for() {
        let with = |genres: &[&str]| Referenced {
            id: Uuid::from_u128(1),
            vector: vec![],
            payload: DocPayload {
                genres: genres.iter().map(|g| g.to_string()).collect(),
                ..DocPayload::default()
            },
            terms: vec![],
        };
        let refs = [with(&["romance", "drama"]), with(&["drama", "war"])];
        assert_eq!(wanted_genres(&[], &refs), vec!["romance", "drama", "war"]);
        // "like The Notebook but funnier" asks for comedy: that is what it wants.
        assert_eq!(wanted_genres(&["comedy".into()], &refs), vec!["comedy"]);
        assert!(wanted_genres(&[], &[]).is_empty());
    }

    #[test]
    fn nothing_alike_enough_is_no_match() {
        assert!(best_match("the matrix", vec![hit(1, "Paddington")]).is_none());
        assert!(best_match("the matrix", vec![]).is_none());
    }

    #[test]
    fn unmatched_names_are_searched_as_words() {
        assert_eq!(
            searched_text("but funnier", ["zorblax"]),
            "but funnier zorblax"
        );
        assert_eq!(searched_text("", ["zorblax", "quux"]), "zorblax quux");
        assert_eq!(searched_text("heist", []), "heist");
    }
}
