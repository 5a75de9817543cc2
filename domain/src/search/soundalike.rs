//! Titles typed as they sound: "the dark night", "the godfathr", "gost busters". The title channel
//! finds a title by its trigrams, so a word spelled as another real word ("night" for "knight")
//! loses to the many titles holding that word. A consonant skeleton of each catalog title (silent
//! letters and vowels dropped, letters that sound alike merged, spaces removed) maps such a
//! spelling to the title meant; the search then also probes that title's own spelling.

use std::collections::{HashMap, HashSet};

use crate::resolution::normalize_title;

use super::text::{title_trigrams, trigram_dice};

/// How much closer the typed spelling must be to one title of its skeleton than to the next.
const MIN_MARGIN: f32 = 0.1;

/// A skeleton this short matches too many titles ("ht": Heat, Hate, Hit, Hoot) to mean one.
const MIN_KEY_LEN: usize = 4;

/// How close the typed spelling must stay to the title it sounds like (trigram Dice): the
/// skeleton drops every vowel, so "sacrifice" and "Scarface" share one; a typo keeps most
/// trigrams.
const MIN_SIMILARITY: f32 = 0.45;

/// The consonant skeleton of a title: its normalised words ([`normalize_title`]: case, accents,
/// a leading article, roman numbers), each with a silent leading k or w dropped, ph, ght, ck, q,
/// z, x and c spelled as they sound, its first letter kept and after it no vowel, h, w or y, doubled
/// letters once; numbers as they are; all joined without spaces ("ghost busters" is
/// "ghostbusters").
pub fn sound_key(title: &str) -> String {
    skeleton(title, false)
}

/// [`sound_key`] as a speaker who drops an r after a vowel hears it: "godfarther" and "The
/// Godfather" both "gdft". A second chance only: it also merges titles the first keeps apart.
pub fn soft_sound_key(title: &str) -> String {
    skeleton(title, true)
}

fn skeleton(title: &str, soft_r: bool) -> String {
    let mut key = String::new();
    for word in normalize_title(title).split(' ') {
        let word: String = word.chars().filter(|c| c.is_alphanumeric()).collect();
        if word.is_empty() {
            continue;
        }
        if word.chars().all(|c| c.is_ascii_digit()) {
            key.push_str(&word);
            continue;
        }
        let word = word
            .strip_prefix("kn")
            .map(|w| format!("n{w}"))
            .or_else(|| word.strip_prefix("wr").map(|w| format!("r{w}")))
            .unwrap_or(word);
        let word = word
            .replace("ph", "f")
            .replace("ght", "t")
            .replace("ck", "k")
            .replace('q', "k")
            .replace('z', "s")
            .replace('x', "ks");
        let chars: Vec<char> = word.chars().collect();
        let mut sounds = String::with_capacity(chars.len());
        for (i, &c) in chars.iter().enumerate() {
            let c = match c {
                'c' if matches!(chars.get(i + 1), Some('e' | 'i' | 'y')) => 's',
                'c' => 'k',
                c => c,
            };
            if soft_r && c == 'r' && i > 0 && matches!(chars[i - 1], 'a' | 'e' | 'i' | 'o' | 'u') {
                continue;
            }
            if i > 0 && matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'h' | 'w') {
                continue;
            }
            if !sounds.ends_with(c) {
                sounds.push(c);
            }
        }
        key.push_str(&sounds);
    }
    key
}

/// The catalog's titles by skeleton, and the titles as normalised (a title typed right needs no
/// other spelling).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Soundalikes {
    by_key: HashMap<String, Vec<String>>,
    by_soft_key: HashMap<String, Vec<String>>,
    titles: HashSet<String>,
}

impl Soundalikes {
    pub fn from_titles<'a>(titles: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Self::default();
        for title in titles {
            if !s.titles.insert(normalize_title(title)) {
                continue;
            }
            let key = sound_key(title);
            if key.len() >= MIN_KEY_LEN {
                s.by_key.entry(key).or_default().push(title.to_string());
            }
            let soft = soft_sound_key(title);
            if soft.len() >= MIN_KEY_LEN {
                s.by_soft_key
                    .entry(soft)
                    .or_default()
                    .push(title.to_string());
            }
        }
        s
    }

    /// The catalog's title the typed title query sounds like, when it is no title itself and
    /// sounds like one title more than any other: "traffc" is Traffic as much as Traffik, and
    /// making either the exact match would be a guess.
    pub fn correction(&self, typed: &str) -> Option<&str> {
        if typed.trim().is_empty() || self.titles.contains(&normalize_title(typed)) {
            return None;
        }
        let titles = self
            .by_key
            .get(&sound_key(typed))
            .or_else(|| self.by_soft_key.get(&soft_sound_key(typed)))?;
        let wanted = title_trigrams(typed);
        let mut close: Vec<(f32, &str)> = titles
            .iter()
            .map(|t| (trigram_dice(&wanted, &title_trigrams(t)), t.as_str()))
            .filter(|(sim, _)| *sim >= MIN_SIMILARITY)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        match close[..] {
            [] => None,
            [(_, only)] => Some(only),
            [(best, title), (next, _), ..] => (best - next >= MIN_MARGIN).then_some(title),
        }
    }

    /// Distinct titles known.
    pub fn len(&self) -> usize {
        self.titles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.titles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Soundalikes {
        Soundalikes::from_titles([
            "The Dark Knight",
            "One Dark Night",
            "The Godfather",
            "Ghostbusters",
            "Forrest Gump",
            "The Wizard of Oz",
            "Scarface",
            "Traffic",
            "Traffik",
            "Heat",
            "Hate",
        ])
    }

    #[test]
    fn spellings_that_sound_alike_share_a_skeleton() {
        assert_eq!(sound_key("The Dark Knight"), sound_key("the dark night"));
        assert_eq!(sound_key("The Godfather"), sound_key("the godfathr"));
        assert_eq!(sound_key("Ghostbusters"), sound_key("gost busters"));
        assert_eq!(sound_key("Forrest Gump"), sound_key("forest gump"));
        assert_eq!(
            sound_key("The Wizard of Oz"),
            sound_key("the wizzard of oz")
        );
        assert_eq!(sound_key("The Matrix"), sound_key("the matirx"));
        assert_eq!(
            sound_key("Night of the Living Dead"),
            sound_key("the nite of the living dead")
        );
        assert_eq!(sound_key("Rocky II"), "rk2");
        assert_ne!(
            sound_key("The Dark Knight"),
            sound_key("The Dark Knight Rises")
        );
    }

    #[test]
    fn a_misspelled_title_is_corrected_to_the_title_it_sounds_like() {
        let s = catalog();
        assert_eq!(s.correction("the dark night"), Some("The Dark Knight"));
        assert_eq!(s.correction("The Godfathr"), Some("The Godfather"));
        assert_eq!(s.correction("gost busters"), Some("Ghostbusters"));
        // An r heard after a vowel where there is none: the second, softer skeleton.
        assert_ne!(sound_key("godfarther"), sound_key("The Godfather"));
        assert_eq!(s.correction("godfarther"), Some("The Godfather"));
        assert_eq!(s.correction("the wizzard of ors"), Some("The Wizard of Oz"));
    }

    #[test]
    fn a_title_typed_right_or_a_short_or_distant_one_is_left_alone() {
        let s = catalog();
        // Typed right: One Dark Night is a title, though it sounds like nothing else here either.
        assert!(s.correction("one dark night").is_none());
        assert!(s.correction("Heat").is_none());
        // "ht" is too short a skeleton to mean one title.
        assert!(s.correction("hot").is_none());
        // Same skeleton, too few letters in common: a sacrifice is not Scarface.
        assert_eq!(sound_key("sacrifice"), sound_key("Scarface"));
        assert!(s.correction("sacrifice").is_none());
        assert!(s.correction("").is_none());
        // Two titles sound alike and are as close to what was typed: no guess.
        assert_eq!(sound_key("traffc"), sound_key("Traffik"));
        assert!(s.correction("traffc").is_none());
        assert!(s.correction("a robot falls in love").is_none());
    }
}
