//! Related words for the keyword channel: a person describing a film uses their own words
//! ("jailed", "cop", "scary") where the article uses others ("prison", "police", "horror").
//! The list is data (`config/related-words.txt`, written from the embedding model's distilled
//! token table by `scripts/make_related_words.py`, after `config/related-words-hand.txt`, a
//! short hand-written list for what the model's cannot say: words too frequent for its list,
//! "police", "mother", "television", and words its vocabulary splits, "extraterrestrial");
//! this module reads it and widens a BM25 query
//! with the related words at a lower weight, so an exact word always counts for more.

use std::collections::{HashMap, HashSet};

use super::text::{stem, term_id, words, SparseVector};

/// word → its related words, nearest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Related {
    words: HashMap<String, Vec<String>>,
}

impl Related {
    /// One line per word: the word, then its related words, separated by spaces; `#` starts a
    /// comment line. Words are lower-case ASCII.
    pub fn parse(text: &str) -> Self {
        let words = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let w = it.next()?;
                Some((w.to_string(), it.map(str::to_string).collect()))
            })
            .collect();
        Self { words }
    }

    /// Several lists, earlier ones first: a word's related words from each in turn, each once
    /// (a hand-written list before the model's).
    pub fn layered(texts: &[&str]) -> Self {
        let mut out = Self::default();
        for text in texts {
            for (w, related) in Self::parse(text).words {
                let have = out.words.entry(w.clone()).or_default();
                for r in related {
                    if r != w && !have.contains(&r) {
                        have.push(r);
                    }
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The related words of a folded word (none when unknown).
    pub fn of(&self, word: &str) -> &[String] {
        self.words.get(word).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// How a query is widened: the first `per_word` related words of each word, at `weight` (in
/// (0, 1]; the typed words weigh 1).
#[derive(Debug, Clone, Copy)]
pub struct Expansion<'a> {
    pub related: &'a Related,
    pub per_word: usize,
    pub weight: f32,
}

impl Expansion<'_> {
    /// The BM25 query of `text` (each distinct term at 1) plus the terms of its words' related
    /// words at `weight`, each once, none that the text itself holds.
    pub fn query(&self, text: &str) -> SparseVector {
        let typed = words(text);
        let own: HashSet<String> = typed.iter().map(|w| stem(w)).collect();
        let mut added: HashSet<String> = HashSet::new();
        let mut pairs: Vec<(u32, f32)> = own.iter().map(|t| (term_id(t), 1.0)).collect();
        if self.weight > 0.0 {
            for w in &typed {
                for r in self.related.of(w).iter().take(self.per_word) {
                    let t = stem(r);
                    if !own.contains(&t) && added.insert(t.clone()) {
                        pairs.push((term_id(&t), self.weight));
                    }
                }
            }
        }
        // Distinct terms, so summing colliding hashes cannot lift a weight above 1.
        let mut v = SparseVector::from_pairs(pairs);
        v.values.iter_mut().for_each(|x| *x = x.min(1.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::Bm25;
    use super::*;

    const LIST: &str = "# comment\njailed imprisoned prison arrested\ncop police officer\n";

    /// The weight a query gives a word's term, if it holds it.
    fn weight(q: &SparseVector, word: &str) -> Option<f32> {
        let id = term_id(&stem(word));
        q.indices.iter().position(|i| *i == id).map(|p| q.values[p])
    }

    #[test]
    fn parses_words_and_their_related_words() {
        let r = Related::parse(LIST);
        assert_eq!(r.len(), 2);
        assert_eq!(r.of("cop"), ["police", "officer"]);
        assert!(r.of("unknown").is_empty());
    }

    #[test]
    fn an_earlier_list_comes_first_and_nothing_twice() {
        let r = Related::layered(&["cop police\ntv television\n", LIST]);
        assert_eq!(r.of("cop"), ["police", "officer"]);
        assert_eq!(r.of("tv"), ["television"]);
        assert_eq!(r.of("jailed"), ["imprisoned", "prison", "arrested"]);
    }

    #[test]
    fn typed_words_weigh_one_and_related_words_less() {
        // Given a list relating "jailed" to prison words,
        let related = Related::parse(LIST);
        let e = Expansion {
            related: &related,
            per_word: 2,
            weight: 0.3,
        };
        // when a description says "jailed banker",
        let q = e.query("jailed banker");
        let w = |t| weight(&q, t);
        // then the typed words count fully, the first two related words at 0.3, the third not.
        assert_eq!(w("jailed"), Some(1.0));
        assert_eq!(w("banker"), Some(1.0));
        assert_eq!(w("imprisoned"), Some(0.3));
        assert_eq!(w("prison"), Some(0.3));
        assert_eq!(w("arrested"), None);
    }

    #[test]
    fn a_related_word_the_query_already_holds_keeps_its_full_weight() {
        let related = Related::parse(LIST);
        let e = Expansion {
            related: &related,
            per_word: 5,
            weight: 0.3,
        };
        let q = e.query("cop police");
        assert_eq!(q.indices.len(), 3, "cop, police and officer once each");
        assert_eq!(weight(&q, "police"), Some(1.0));
    }

    #[test]
    fn no_weight_is_the_plain_query() {
        let related = Related::parse(LIST);
        let e = Expansion {
            related: &related,
            per_word: 5,
            weight: 0.0,
        };
        assert_eq!(e.query("jailed cop"), Bm25::default().query("jailed cop"));
    }
}
