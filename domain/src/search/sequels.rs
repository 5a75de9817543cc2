//! A film that later films continue is a known film: "Jaws" has "Jaws 2", "Jaws 3-D" and "Jaws:
//! The Revenge" after it. On the shared Wikipedia films 1.5 % of titles have a sequel in the
//! catalog, but 24 % of the films people describe in the labeled sets do (docs/quality.md): the
//! strongest "how well known" signal the catalog holds by itself, read off its own titles.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::text::SEQUEL_MARKERS;

/// Sequels from which the signal saturates (a long franchise is not more known than a trilogy).
const SATURATION: u32 = 4;

/// A title reduced for comparison: lower case, letters and digits, no leading article.
pub fn title_key(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.len() > 1 && matches!(words[0], "the" | "a" | "an") {
        words.remove(0);
    }
    words.join(" ")
}

const NUMERALS: &[&str] = &["ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"];

/// The keys of the titles this one may continue: "Alien: Resurrection" → "alien", "Back to the
/// Future Part II" → "back to the future", "Jaws 3-D" → "jaws". Empty for a title that does not
/// look like a continuation.
pub fn continued_keys(title: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let lower = title.to_lowercase();
    // "X: subtitle", "X - subtitle"
    if let Some(i) = lower.find([':', '–']).or_else(|| lower.find(" - ")) {
        keys.push(title_key(&lower[..i]));
    }
    // "X 2", "X II", "X Part 2", "X Vol. 2", "X 3-D" (a subtitle after the number may follow)
    let head = lower
        .find([':', '–'])
        .map_or(lower.as_str(), |i| &lower[..i]);
    let words: Vec<&str> = head.split_whitespace().collect();
    if let Some((last, before)) = words.split_last() {
        let number = last.split('-').next().unwrap_or("");
        let is_number = (number.len() <= 2 && number.chars().all(|c| c.is_ascii_digit()))
            || NUMERALS.contains(&number);
        if is_number && !number.is_empty() && !before.is_empty() {
            let before = match before.split_last() {
                Some((marker, rest)) if SEQUEL_MARKERS.contains(&marker.trim_end_matches('.')) => {
                    rest
                }
                _ => before,
            };
            keys.push(title_key(&before.join(" ")));
        }
    }
    let own = title_key(title);
    keys.retain(|k| !k.is_empty() && *k != own);
    keys.dedup();
    keys
}

/// How many later titles of the catalog continue each title.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sequels {
    counts: HashMap<Uuid, u32>,
    /// A family's shared name → its first film, for the names no film bears ("ace ventura").
    heads: HashMap<String, Uuid>,
}

impl Sequels {
    /// From every title of the catalog: (id, title, release year).
    pub fn from_titles<'a>(titles: impl IntoIterator<Item = (Uuid, &'a str, i64)>) -> Self {
        let titles: Vec<(Uuid, &str, i64)> = titles.into_iter().collect();
        let mut by_key: HashMap<String, Vec<(Uuid, i64)>> = HashMap::new();
        for (id, title, year) in &titles {
            by_key
                .entry(title_key(title))
                .or_default()
                .push((*id, *year));
        }
        // Titles that continue each key, for the keys no title is named by ("Ace Ventura: Pet
        // Detective" and "Ace Ventura: When Nature Calls" share "ace ventura", which no film is
        // called): the family's first film is the one the later ones continue.
        let mut families: HashMap<String, Vec<(Uuid, i64)>> = HashMap::new();
        // Distinct (original, sequel) pairs: a sequel listed twice counts once.
        let mut pairs: HashSet<(Uuid, Uuid)> = HashSet::new();
        for (sequel, title, year) in &titles {
            for key in continued_keys(title) {
                let mut named = false;
                for (original, first) in by_key.get(&key).into_iter().flatten() {
                    if first < year {
                        pairs.insert((*original, *sequel));
                        named = true;
                    }
                }
                // A key of digits alone is a time ("3:10 to Yuma"), not a franchise.
                if !named && key.chars().any(char::is_alphabetic) {
                    families.entry(key).or_default().push((*sequel, *year));
                }
            }
        }
        let mut heads = HashMap::new();
        for (key, members) in families {
            // Earliest first; two first films of one year are told apart by id, not by the
            // order the catalog was read in.
            let Some(&(first, first_year)) = members.iter().min_by_key(|(id, y)| (*y, *id)) else {
                continue;
            };
            let mut continued = false;
            for (sequel, year) in members {
                if first_year < year {
                    pairs.insert((first, sequel));
                    continued = true;
                }
            }
            if continued {
                heads.insert(key, first);
            }
        }
        let mut counts = HashMap::new();
        for (original, _) in pairs {
            *counts.entry(original).or_insert(0) += 1;
        }
        Self { counts, heads }
    }

    pub fn count(&self, id: &Uuid) -> u32 {
        self.counts.get(id).copied().unwrap_or(0)
    }

    /// The film a query names when it is a family's shared name and no film bears it ("kill
    /// bill" → "Kill Bill: Volume 1"): people name a franchise for its first film.
    pub fn head_named(&self, query: &str) -> Option<Uuid> {
        self.heads.get(&title_key(query)).copied()
    }

    /// The ranker's feature: 0 without sequels, log-scaled to 1 at [`SATURATION`].
    pub fn share(&self, id: &Uuid) -> f32 {
        let n = self.count(id).min(SATURATION) as f32;
        (1.0 + n).ln() / (1.0 + SATURATION as f32).ln()
    }

    /// Titles with at least one sequel.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_name_the_title_they_continue() {
        assert_eq!(continued_keys("Jaws 2"), ["jaws"]);
        assert_eq!(continued_keys("Jaws 3-D"), ["jaws"]);
        assert_eq!(continued_keys("Jaws: The Revenge"), ["jaws"]);
        assert_eq!(
            continued_keys("Back to the Future Part II"),
            ["back to the future"]
        );
        assert_eq!(continued_keys("Rocky IV"), ["rocky"]);
        assert_eq!(
            continued_keys("Guardians of the Galaxy Vol. 2"),
            ["guardians of the galaxy"]
        );
        assert_eq!(
            continued_keys("Terminator 2: Judgment Day"),
            ["terminator 2", "terminator"]
        );
        assert!(continued_keys("Aliens").is_empty());
        assert!(continued_keys("Jaws").is_empty());
        assert!(continued_keys("1917").is_empty());
        assert!(continued_keys("Part 2").is_empty());
    }

    #[test]
    fn a_title_counts_the_later_titles_that_continue_it() {
        let (jaws, jaws2, revenge, remake, speed, speed2, other) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
            Uuid::from_u128(5),
            Uuid::from_u128(6),
            Uuid::from_u128(7),
        );
        let s = Sequels::from_titles([
            (jaws, "Jaws", 1975),
            (jaws2, "Jaws 2", 1978),
            (revenge, "Jaws: The Revenge", 1987),
            // Same name, later than its "sequel": not continued by it.
            (remake, "Jaws", 1990),
            (speed, "Speed", 1994),
            (speed2, "Speed 2: Cruise Control", 1997),
            (other, "Cruise Control", 1990),
        ]);
        assert_eq!(s.count(&jaws), 2);
        assert_eq!(s.count(&remake), 0);
        assert_eq!(s.count(&speed), 1);
        assert_eq!(s.count(&other), 0);
        assert_eq!(s.count(&jaws2), 0);
        assert_eq!(s.len(), 2);
        assert_eq!(s.share(&other), 0.0);
        assert!(0.0 < s.share(&speed) && s.share(&speed) < s.share(&jaws));
        assert!(s.share(&jaws) < 1.0);
    }

    #[test]
    fn where_no_film_bears_the_shared_name_the_familys_first_film_is_continued() {
        let id = Uuid::from_u128;
        let s = Sequels::from_titles([
            (id(1), "Ace Ventura: Pet Detective", 1994),
            (id(2), "Ace Ventura: When Nature Calls", 1995),
            (
                id(3),
                "Pirates of the Caribbean: The Curse of the Black Pearl",
                2003,
            ),
            (id(4), "Pirates of the Caribbean: Dead Man's Chest", 2006),
            (id(5), "Pirates of the Caribbean: At World's End", 2007),
            // A film bearing the name continues to take the credit.
            (id(6), "Jaws", 1975),
            (id(7), "Jaws: The Revenge", 1987),
            (id(8), "Jaws: Another Bite", 1990),
            // Two of a family in one year: neither continues the other.
            (id(9), "Detective Knight: Rogue", 2022),
            (id(10), "Detective Knight: Redemption", 2022),
            // A time, not a franchise.
            (id(11), "3:10 to Yuma", 1957),
            (id(12), "3:15", 1986),
        ]);
        assert_eq!(s.count(&id(1)), 1);
        assert_eq!(s.count(&id(2)), 0);
        assert_eq!(s.count(&id(3)), 2);
        assert_eq!(s.count(&id(6)), 2);
        assert_eq!(s.count(&id(7)), 0);
        assert_eq!(s.count(&id(9)) + s.count(&id(10)), 0);
        assert_eq!(s.count(&id(11)), 0);
        // The shared name, typed, names the first film; a name a film bears is that film's own.
        assert_eq!(s.head_named("Ace  ventura"), Some(id(1)));
        assert_eq!(s.head_named("the pirates of the caribbean"), Some(id(3)));
        assert_eq!(s.head_named("jaws"), None);
        assert_eq!(s.head_named("detective knight"), None);
        assert_eq!(s.head_named("ace ventura pet"), None);
    }
}
