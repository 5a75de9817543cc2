//! Entity resolution: is this record the same work as a title we already have?
//!
//! Exact external ids are decided before this module is asked (they either match or they don't).
//! Here a record is compared with candidates found through blocking keys (normalised title, main title
//! before a subtitle, and a title prefix/suffix so one typo still finds its twin) within a year of
//! each other. The score is title similarity adjusted by year, content type, runtime, cast overlap and
//! conflicting ids; every adjustment is kept as a human-readable reason.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::catalog::{article_in_front, CanonicalTitle, ContentType, ExternalIds, TitleMetadata};

/// At or above: the record is merged into the candidate without asking anyone.
pub const MERGE_THRESHOLD: f32 = 0.90;
/// At or above (and below [`MERGE_THRESHOLD`]): a person decides (the review queue).
pub const REVIEW_THRESHOLD: f32 = 0.72;

/// What resolution needs to know about a title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub content_type: ContentType,
    pub title: String,
    pub original_title: Option<String>,
    pub year: i32,
    pub runtime_minutes: Option<u16>,
    pub cast: Vec<String>,
    pub external_ids: ExternalIds,
}

impl Fingerprint {
    pub fn of(record: &CanonicalTitle) -> Self {
        Self::held(&record.metadata, &record.external_ids)
    }

    /// The fingerprint of a title as held (its metadata after every record merged into it).
    pub fn held(m: &TitleMetadata, external_ids: &ExternalIds) -> Self {
        Self {
            content_type: m.content_type,
            title: m.title.clone(),
            original_title: m.original_title.clone(),
            year: chrono::Datelike::year(&m.release_date),
            runtime_minutes: m.runtime_minutes,
            cast: m.cast.clone(),
            external_ids: external_ids.clone(),
        }
    }

    /// Normalised titles this fingerprint is known by (title and original title).
    fn names(&self) -> Vec<String> {
        let mut v = vec![normalize_title(&self.title)];
        if let Some(o) = &self.original_title {
            let o = normalize_title(o);
            if !v.contains(&o) {
                v.push(o);
            }
        }
        v.retain(|s| !s.is_empty());
        v
    }

    /// Keys under which candidates are looked up; two fingerprints that could match share one.
    pub fn blocking_keys(&self) -> Vec<String> {
        let mut keys = BTreeSet::new();
        for n in self.names() {
            let compact: String = n.chars().filter(|c| !c.is_whitespace()).collect();
            let chars: Vec<char> = compact.chars().collect();
            keys.insert(format!("t:{n}"));
            keys.insert(format!("m:{}", main_title(&n)));
            // Prefixes and suffixes of two lengths: one typo leaves at least one of them intact.
            for len in [4, 6] {
                let k = len.min(chars.len());
                let (head, tail) = (&chars[..k], &chars[chars.len() - k..]);
                keys.insert(format!("p{len}:{}", head.iter().collect::<String>()));
                keys.insert(format!("s{len}:{}", tail.iter().collect::<String>()));
            }
        }
        keys.into_iter().collect()
    }

    /// [`Self::blocking_keys`] as 64-bit FNV-1a hashes: what the index stores (a collision only
    /// adds a candidate, which scoring then rejects).
    pub fn blocking_hashes(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.blocking_keys().iter().map(|k| fnv1a(k)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

fn fnv1a(s: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Same,
    Review,
    Different,
}

/// A scored comparison with the reasons behind the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub confidence: f32,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

impl Match {
    fn different(reason: String) -> Self {
        Self {
            confidence: 0.0,
            verdict: Verdict::Different,
            reasons: vec![reason],
        }
    }
}

/// Compares a record with a candidate title.
pub fn compare(a: &Fingerprint, b: &Fingerprint) -> Match {
    // Two ids of the same kind that differ name two different works.
    for (k, v) in &a.external_ids {
        if let Some(w) = b.external_ids.get(k) {
            if v != w && k != "natural_key" {
                return Match::different(format!("{k} ids differ ({v} vs {w})"));
            }
        }
    }
    let dy = (a.year - b.year).abs();
    if dy > 1 {
        return Match::different(format!("years {} and {} are {dy} apart", a.year, b.year));
    }
    if !types_compatible(a.content_type, b.content_type) {
        return Match::different(format!(
            "content types differ ({} vs {})",
            a.content_type.as_str(),
            b.content_type.as_str()
        ));
    }
    let mut reasons = Vec::new();
    let (an, bn) = (a.names(), b.names());
    let (mut score, how) = title_similarity(&an, &bn);
    reasons.push(format!("title {how} ({score:.2})"));
    // "Rocky II" / "Rocky III", "Part 1" / "Part 2", "Leprechaun" / "Leprechaun 2": sequels.
    if numbers(&an[0]) != numbers(&bn[0]) && score < 1.0 {
        score *= 0.5;
        reasons.push("numbers in the titles differ (×0.50)".into());
    }
    let subtitle_only = how == "matches without subtitle";
    let spelled_alike = score >= 0.9;
    if score < 0.75 {
        return Match {
            confidence: score * 0.5,
            verdict: Verdict::Different,
            reasons,
        };
    }
    if dy == 1 {
        // Release years differ by region; still, alone it is not enough to merge unattended.
        score *= 0.9;
        reasons.push("year off by one (×0.90)".into());
    } else {
        reasons.push("same year".into());
    }
    if a.content_type != b.content_type {
        score *= 0.95;
        reasons.push("related content types (×0.95)".into());
    }
    if let (Some(x), Some(y)) = (a.runtime_minutes, b.runtime_minutes) {
        let d = x.abs_diff(y);
        if d <= 5 {
            reasons.push(format!("runtimes agree ({x} / {y} min)"));
            score += (1.0 - score) * 0.2;
        } else if d > 20 {
            score *= 0.75;
            reasons.push(format!("runtimes differ by {d} min (×0.75)"));
        }
    }
    let (ca, cb) = (name_set(&a.cast), name_set(&b.cast));
    if !ca.is_empty() && !cb.is_empty() {
        let shared = ca.intersection(&cb).count();
        if shared > 0 {
            let ratio = shared as f32 / ca.len().min(cb.len()) as f32;
            score += (1.0 - score) * (0.5 + 0.4 * ratio);
            reasons.push(format!("{shared} cast member(s) in common"));
        } else if ca.len() >= 2 && cb.len() >= 2 {
            score *= 0.7;
            reasons.push("no cast in common (×0.70)".into());
        }
    }
    if !spelled_alike && !subtitle_only && score > REVIEW_THRESHOLD {
        // Titles that differ by more than a typo ("… in Reno" / "… in Honolulu") share cast in
        // every film series: never merged unattended.
        score = score.min(MERGE_THRESHOLD - 0.01);
        reasons.push("titles differ beyond spelling: at most review".into());
    }
    if subtitle_only && dy == 1 {
        // A dropped subtitle a year apart is as often a sequel as a variant: a person decides.
        score = score.min(MERGE_THRESHOLD - 0.01);
        reasons.push("subtitle missing and year off by one: at most review".into());
    }
    let confidence = score.clamp(0.0, 1.0);
    let verdict = if confidence >= MERGE_THRESHOLD {
        Verdict::Same
    } else if confidence >= REVIEW_THRESHOLD {
        Verdict::Review
    } else {
        Verdict::Different
    };
    Match {
        confidence,
        verdict,
        reasons,
    }
}

/// The numbers in a normalised title, in order (roman numerals are already digits).
fn numbers(normalized: &str) -> Vec<&str> {
    normalized
        .split(' ')
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
        .collect()
}

fn types_compatible(a: ContentType, b: ContentType) -> bool {
    use ContentType::*;
    a == b
        || matches!(
            (a, b),
            (Movie, Documentary) | (Documentary, Movie) | (Movie, Short) | (Short, Movie)
        )
}

fn name_set(names: &[String]) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| fold(n))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Best similarity between any pair of names, with how it was reached.
fn title_similarity(a: &[String], b: &[String]) -> (f32, &'static str) {
    let mut best = (0.0f32, "differs");
    for x in a {
        for y in b {
            let s = if x == y {
                (1.0, "matches after normalisation")
            } else if main_title(x) == main_title(y) && (x.contains(" : ") != y.contains(" : ")) {
                // One has a subtitle the other omits ("Alien" vs "Alien: Director's Cut"); two
                // different subtitles are usually sequels and fall through to plain similarity.
                (0.85, "matches without subtitle")
            } else {
                // Near-identical spellings (one or two typos) count almost as a match; below that
                // the edit similarity is taken as it is.
                let sim = similarity(x, y);
                let s = if sim >= 0.85 {
                    0.9 + (sim - 0.85) * 0.5
                } else {
                    sim
                };
                (s, "is similar")
            };
            if s.0 > best.0 {
                best = s;
            }
        }
    }
    best
}

/// Lower case, diacritics folded, punctuation to spaces, single-spaced.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            '&' => out.push_str(" and "),
            // Apostrophes join ("Schindler's" → "schindlers").
            '\'' | '’' | '`' => {}
            ':' => out.push_str(" : "),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

const ARTICLES: [&str; 14] = [
    "the", "a", "an", "le", "la", "les", "l", "el", "los", "las", "der", "die", "das", "il",
];

/// Canonical comparison form of a title: folded, trailing or leading article removed
/// ("Godfather, The" and "The Godfather" → "godfather"), roman numerals as digits, `and` for `&`.
/// A subtitle separator is kept as ` : ` so [`main_title`] can cut it.
pub fn normalize_title(s: &str) -> String {
    // "Godfather, The" / "Godfather, The: Part II": move a trailing article to the front first.
    let s = s.trim();
    let base = article_in_front(s, &ARTICLES).unwrap_or_else(|| s.to_string());
    // Dashes between words mark a subtitle as often as colons do.
    let base = base
        .replace(" - ", ": ")
        .replace(" – ", ": ")
        .replace(" — ", ": ");
    let folded = fold(&base);
    let mut words: Vec<&str> = folded.split(' ').collect();
    if words.len() > 1 && ARTICLES.contains(&words[0]) {
        words.remove(0);
    }
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut after_colon = false;
    for w in words {
        if w == ":" {
            after_colon = true;
            out.push(":".into());
            continue;
        }
        if after_colon && ARTICLES.contains(&w) {
            after_colon = false;
            continue;
        }
        after_colon = false;
        out.push(match w {
            "ii" => "2".into(),
            "iii" => "3".into(),
            "iv" => "4".into(),
            "v" if !out.is_empty() => "5".into(),
            "vi" => "6".into(),
            "vii" => "7".into(),
            "viii" => "8".into(),
            "and" | "n" => "and".into(),
            "vs" | "versus" => "v".into(),
            "part" | "pt" => "part".into(),
            other => other.into(),
        });
    }
    let joined = out.join(" ");
    joined.trim_matches(|c| c == ' ' || c == ':').to_string()
}

/// The title before its first subtitle separator.
pub fn main_title(normalized: &str) -> String {
    normalized
        .split(" : ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// 1 − edit distance / longer length, ignoring spaces and subtitle separators.
pub fn similarity(a: &str, b: &str) -> f32 {
    // Spaces are dropped too: a space typed one letter early is one edit, not two.
    let a: Vec<char> = a.chars().filter(|c| *c != ':' && *c != ' ').collect();
    let b: Vec<char> = b.chars().filter(|c| *c != ':' && *c != ' ').collect();
    let n = a.len().max(b.len());
    if n == 0 {
        return 1.0;
    }
    // Optimal string alignment: a swapped pair of letters is one edit, as people type them.
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    1.0 - d[a.len() * w + b.len()] as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(title: &str, year: i32) -> Fingerprint {
        Fingerprint {
            content_type: ContentType::Movie,
            title: title.into(),
            original_title: None,
            year,
            runtime_minutes: None,
            cast: vec![],
            external_ids: ExternalIds::new(),
        }
    }

    #[test]
    fn normalisation_folds_case_punctuation_articles_and_diacritics() {
        assert_eq!(normalize_title("Godfather, The"), "godfather");
        assert_eq!(normalize_title("The Godfather"), "godfather");
        assert_eq!(normalize_title("THE GODFATHER!"), "godfather");
        assert_eq!(normalize_title("Amélie"), "amelie");
        assert_eq!(normalize_title("Schindler’s List"), "schindlers list");
        assert_eq!(normalize_title("Rocky II"), "rocky 2");
        assert_eq!(normalize_title("Fast & Furious"), "fast and furious");
        assert_eq!(
            normalize_title("Star Wars: Episode IV – A New Hope"),
            "star wars : episode 4 : new hope"
        );
        assert_eq!(main_title("star wars : episode 4 : new hope"), "star wars");
        assert_eq!(
            normalize_title("Godfather, The: Part II"),
            "godfather : part 2"
        );
    }

    #[test]
    fn variations_of_one_work_match() {
        let a = fp("The Godfather", 1972);
        for (b, y) in [
            ("Godfather, The", 1972),
            ("the godfather", 1973),
            ("The Godfathr", 1972),
            ("Godfather", 1972),
        ] {
            let m = compare(&a, &fp(b, y));
            assert!(m.verdict != Verdict::Different, "{b}: {m:?}");
        }
        assert_eq!(
            compare(&a, &fp("Godfather, The", 1972)).verdict,
            Verdict::Same
        );
    }

    #[test]
    fn remakes_and_conflicting_ids_do_not_match() {
        let a = fp("A Star Is Born", 1954);
        assert_eq!(
            compare(&a, &fp("A Star Is Born", 1976)).verdict,
            Verdict::Different
        );
        let mut x = fp("Hero", 2002);
        x.external_ids.insert("imdb".into(), "tt0299977".into());
        let mut y = fp("Hero", 2002);
        y.external_ids.insert("imdb".into(), "tt0100000".into());
        let m = compare(&x, &y);
        assert_eq!(m.verdict, Verdict::Different);
        assert!(m.reasons[0].contains("imdb ids differ"));
    }

    #[test]
    fn cast_decides_between_same_named_films() {
        let mut a = fp("Crash", 2004);
        a.cast = vec!["Sandra Bullock".into(), "Don Cheadle".into()];
        let mut b = fp("Crash", 2004);
        b.cast = vec!["James Spader".into(), "Holly Hunter".into()];
        assert_ne!(compare(&a, &b).verdict, Verdict::Same);
        b.cast.push("Don Cheadle".into());
        let m = compare(&a, &b);
        assert_eq!(m.verdict, Verdict::Same);
        assert!(m.reasons.iter().any(|r| r.contains("cast")));
    }

    #[test]
    fn blocking_keys_are_shared_by_typo_variants() {
        let a: BTreeSet<_> = fp("The Godfather", 1972)
            .blocking_keys()
            .into_iter()
            .collect();
        let b: BTreeSet<_> = fp("The Godfathr", 1972)
            .blocking_keys()
            .into_iter()
            .collect();
        assert!(a.intersection(&b).next().is_some());
    }
}
