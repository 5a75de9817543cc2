//! A surname alone names a person: "spielberg movies", "kubrick films", "del toro". The people
//! probe reads runs of two or three words as names, so a lone surname found nothing but the
//! leads that spell it. The catalog's own credits (cast and directors) say whom a surname stands
//! for; a surname that is also a common title word ("king", "stone", "young") is left a word.

use std::collections::HashMap;

use crate::resolution::fold;

/// Credits (titles as cast or director) below which a person is not found by surname alone.
pub const MIN_CREDITS: u32 = 3;
/// People one surname stands for at most: the best known, and those at least a quarter as known.
/// How well known: the people who engaged with their titles, plus their credits (which decide
/// alone where nobody engaged yet): "nolan" is Christopher, not Lloyd of 49 films of the 1940s.
const MAX_PER_SURNAME: usize = 3;
/// A word in this many catalog titles is a word, not a name.
const TITLE_WORD: u32 = 3;
/// Words of a query beyond which it is a description, not a name with a few words beside it.
const MAX_WORDS: usize = 3;
/// Words after a surname ("Robert Downey Jr." is "downey").
const SUFFIXES: &[&str] = &["jr", "sr", "ii", "iii", "iv"];
/// Words that belong to a surname ("Guillermo del Toro" is "del toro").
const PARTICLES: &[&str] = &[
    "de", "del", "della", "der", "di", "da", "van", "von", "le", "la", "du", "dos", "st",
];

/// A person's titles in the catalog (leading cast or director) and the people who engaged with
/// them (summed over the titles).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credits {
    pub titles: u32,
    pub engaged: u64,
}

/// Surname → the people it stands for (folded full names, best known first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Surnames {
    people: HashMap<String, Vec<String>>,
}

impl Surnames {
    /// From each credited person's number of titles and of people who engaged with them, and
    /// the catalog's titles (for the words that are words).
    pub fn from_credits<'a>(
        credits: impl IntoIterator<Item = (&'a str, Credits)>,
        titles: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut in_titles: HashMap<String, u32> = HashMap::new();
        for t in titles {
            let mut words: Vec<String> = fold(t).split_whitespace().map(String::from).collect();
            words.sort_unstable();
            words.dedup();
            for w in words {
                *in_titles.entry(w).or_default() += 1;
            }
        }
        let mut by_key: HashMap<String, Vec<(u64, String)>> = HashMap::new();
        for (name, c) in credits {
            if c.titles < MIN_CREDITS {
                continue;
            }
            let known = u64::from(c.titles) + c.engaged;
            let name = fold(name);
            let mut words: Vec<&str> = name.split_whitespace().collect();
            if words.len() > 2 && words.last().is_some_and(|w| SUFFIXES.contains(w)) {
                words.pop();
            }
            let Some((&last, before)) = words.split_last() else {
                continue;
            };
            if before.is_empty() || last.chars().count() < 3 {
                continue;
            }
            let mut keys = Vec::new();
            if in_titles.get(last).copied().unwrap_or(0) < TITLE_WORD {
                keys.push(last.to_string());
            }
            if let [.., particle] = before {
                if before.len() > 1 && PARTICLES.contains(particle) {
                    keys.push(format!("{particle} {last}"));
                }
            }
            for k in keys {
                by_key.entry(k).or_default().push((known, name.clone()));
            }
        }
        let people = by_key
            .into_iter()
            .map(|(k, mut named)| {
                named.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                let top = named[0].0;
                let names = named
                    .into_iter()
                    .filter(|(n, _)| n * 4 >= top)
                    .take(MAX_PER_SURNAME)
                    .map(|(_, name)| name)
                    .collect();
                (k, names)
            })
            .collect();
        Self { people }
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The people a short query names by surname alone, best known first. None for a
    /// description (more than [`MAX_WORDS`] words) or where the query spells the name whole (the
    /// people probe finds those already).
    pub fn named(&self, text: &str) -> Vec<String> {
        let folded = fold(text);
        let words: Vec<&str> = folded.split_whitespace().collect();
        if words.is_empty() || words.len() > MAX_WORDS {
            return Vec::new();
        }
        let padded = format!(" {} ", words.join(" "));
        let keys = words
            .windows(2)
            .map(|w| w.join(" "))
            .chain(words.iter().map(|w| w.to_string()));
        let mut out: Vec<String> = Vec::new();
        for key in keys {
            let Some(names) = self.people.get(&key) else {
                continue;
            };
            if names.iter().any(|n| padded.contains(&format!(" {n} "))) {
                continue;
            }
            for n in names {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credited(titles: u32) -> Credits {
        Credits { titles, engaged: 0 }
    }

    fn surnames() -> Surnames {
        Surnames::from_credits(
            [
                ("Steven Spielberg", credited(30)),
                ("Christopher Nolan", credited(12)),
                ("Lloyd Nolan", credited(20)),
                ("Jonathan Nolan", credited(2)),
                ("Kathleen Nolan", credited(4)),
                ("Guillermo del Toro", credited(9)),
                ("Henry King", credited(40)),
                ("Cher", credited(10)),
                ("Ed Wu", credited(8)),
                ("Robert Downey Jr.", credited(25)),
            ],
            ["King Kong", "The Lion King", "King Arthur", "Jaws"],
        )
    }

    #[test]
    fn a_lone_surname_names_the_people_credited_under_it() {
        let s = surnames();
        assert_eq!(s.named("spielberg"), vec!["steven spielberg"]);
        assert_eq!(s.named("films by Spielberg"), vec!["steven spielberg"]);
        // The most credited first; a quarter of their credits still counts; fewer than
        // MIN_CREDITS never does.
        assert_eq!(
            s.named("nolan"),
            vec!["lloyd nolan", "christopher nolan"],
            "Kathleen (4 < 20 / 4) and Jonathan (2 credits) left out"
        );
        assert_eq!(s.named("del toro"), vec!["guillermo del toro"]);
        // Where people engaged with one's films, that is what makes the name known.
        let engaged = Surnames::from_credits(
            [
                (
                    "Christopher Nolan",
                    Credits {
                        titles: 12,
                        engaged: 700,
                    },
                ),
                (
                    "Lloyd Nolan",
                    Credits {
                        titles: 49,
                        engaged: 2,
                    },
                ),
            ],
            [],
        );
        assert_eq!(engaged.named("nolan films"), vec!["christopher nolan"]);
        assert_eq!(s.named("toro monsters"), vec!["guillermo del toro"]);
        assert_eq!(s.named("downey movies"), vec!["robert downey jr"]);
    }

    #[test]
    fn words_names_typed_whole_and_descriptions_are_not_looked_up() {
        let s = surnames();
        assert!(
            s.named("king").is_empty(),
            "a word of three titles is a word"
        );
        assert!(
            s.named("steven spielberg").is_empty(),
            "the people probe reads a whole name"
        );
        assert!(s.named("a shark terrorises the beach spielberg").is_empty());
        assert!(s.named("wu").is_empty(), "surnames of under three letters");
        assert!(s.named("cher").is_empty(), "a single name is no surname");
        assert!(s.named("").is_empty());
    }
}
