//! `mediagw eval resolution --data ../shared/data/wikipedia-movies`: builds a labeled duplicate set
//! from the shared dataset and measures the entity-resolution matcher on it, the way ingestion uses
//! it (blocking keys over the whole catalog, best candidate, threshold).
//!
//! - True duplicates: a film as another provider would send it — its title varied the ways
//!   providers vary it (case, punctuation, "Title, The", diacritics, a dropped subtitle, `&`/`and`,
//!   roman numerals, one typo), the year off by one for some, the cast reduced to a few names or
//!   missing, and no identifier in common. The catalog holds every film of the dataset.
//! - Hard non-duplicates: every pair of different films in the dataset whose titles normalise to the
//!   same or nearly the same text within a year (remakes, same-named films, sequels): one film is
//!   the incoming record, the catalog holds everything but it. Entries that are one film listed
//!   twice by the dataset (same title, a year apart, two or more cast members in common) are left out.
//!
//! Deterministic (fixed seed), so the numbers in docs/quality.md are reproducible.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use mediagw_domain::catalog::{ContentType, ExternalIds};
use mediagw_domain::resolution::{compare, main_title, normalize_title, Fingerprint, Verdict};
use serde_json::Value;

use crate::sample::Rng;

struct Film {
    fp: Fingerprint,
    href: String,
}

fn load(dir: &Path) -> anyhow::Result<Vec<Film>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
        for m in items {
            let (Some(title), Some(year), Some(href)) = (
                m["title"].as_str(),
                m["year"].as_i64(),
                m["href"].as_str().filter(|h| !h.is_empty()),
            ) else {
                continue;
            };
            let cast = m["cast"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Film {
                fp: Fingerprint {
                    content_type: ContentType::Movie,
                    title: title.to_string(),
                    original_title: None,
                    year: year as i32,
                    runtime_minutes: None,
                    cast,
                    external_ids: ExternalIds::from([("wikipedia".into(), href.to_string())]),
                },
                href: href.to_string(),
            });
        }
    }
    Ok(out)
}

/// One provider-style variation of a title (at least one change when one applies).
fn vary_title(t: &str, rng: &mut Rng) -> (String, &'static str) {
    let article = ["The ", "A ", "An "].into_iter().find(|a| t.starts_with(a));
    let has_sub = t.contains(": ");
    let accented = t.chars().any(|c| !c.is_ascii() && c.is_alphabetic());
    loop {
        match rng.below(9) {
            0 => return (t.to_uppercase(), "upper case"),
            1 => return (t.to_lowercase(), "lower case"),
            2 if article.is_some() => {
                let a = article.unwrap_or_default();
                return (format!("{}, {}", &t[a.len()..], a.trim()), "article moved");
            }
            3 if has_sub => {
                return (
                    t.split(": ").next().unwrap_or(t).to_string(),
                    "subtitle dropped",
                )
            }
            4 if accented => {
                use unicode_normalization::UnicodeNormalization;
                let s: String = t.nfkd().filter(|c| c.is_ascii()).collect();
                return (s, "diacritics stripped");
            }
            5 => {
                let s: String = t
                    .chars()
                    .filter(|c| c.is_alphanumeric() || c.is_whitespace())
                    .collect();
                if s != t {
                    return (s, "punctuation removed");
                }
            }
            6 if t.contains(" and ") || t.contains(" & ") => {
                return (
                    if t.contains(" & ") {
                        t.replace(" & ", " and ")
                    } else {
                        t.replace(" and ", " & ")
                    },
                    "and/&",
                )
            }
            7 if t.chars().count() >= 8 => {
                // One typo: drop or swap a letter away from the first three.
                let mut c: Vec<char> = t.chars().collect();
                let i = 3 + rng.below((c.len() - 4) as u64) as usize;
                if rng.chance(50) {
                    c.remove(i);
                } else {
                    c.swap(i, i + 1);
                }
                let s: String = c.into_iter().collect();
                if s != t {
                    return (s, "typo");
                }
            }
            8 => return (format!("{t} "), "trailing space"),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Tally {
    tp: u64,
    fp: u64,
    fn_: u64,
    review_pos: u64,
    review_neg: u64,
}

pub fn run(data: &Path, positives: usize) -> anyhow::Result<()> {
    let films = load(data)?;
    anyhow::ensure!(!films.is_empty(), "no films under {}", data.display());
    // Blocking index over the whole catalog.
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in films.iter().enumerate() {
        for k in f.fp.blocking_keys() {
            index.entry(k).or_default().push(i);
        }
    }
    let best = |q: &Fingerprint,
                exclude: Option<usize>|
     -> Option<(usize, mediagw_domain::resolution::Match)> {
        let mut seen = HashSet::new();
        let mut best: Option<(usize, mediagw_domain::resolution::Match)> = None;
        for k in q.blocking_keys() {
            // As in production (`commands::resolution`): at most 16 candidates per key.
            let bucket = index.get(&k).into_iter().flatten();
            let in_years =
                bucket.filter(|&&i| (films[i].fp.year - q.year).abs() <= 1 && Some(i) != exclude);
            for &i in in_years.take(16) {
                if !seen.insert(i) {
                    continue;
                }
                let m = compare(q, &films[i].fp);
                if m.verdict != Verdict::Different
                    && best
                        .as_ref()
                        .is_none_or(|(_, b)| m.confidence > b.confidence)
                {
                    best = Some((i, m));
                }
            }
        }
        best
    };

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut pos = Tally::default();
    let mut kinds: HashMap<&'static str, (u64, u64)> = HashMap::new();
    let mut missed = Vec::new();
    for _ in 0..positives {
        let i = rng.below(films.len() as u64) as usize;
        let orig = &films[i].fp;
        let (title, kind) = vary_title(&orig.title, &mut rng);
        let mut q = orig.clone();
        q.title = title;
        q.external_ids = ExternalIds::from([("tmdb_movie".into(), format!("{}", 10_000_000 + i))]);
        if rng.chance(20) {
            q.year += if rng.chance(50) { 1 } else { -1 };
        }
        if rng.chance(20) || q.cast.is_empty() {
            q.cast.clear();
        } else {
            let keep = 1 + rng.below(3) as usize;
            q.cast.truncate(keep);
            q.cast.reverse();
        }
        let e = kinds.entry(kind).or_default();
        e.0 += 1;
        match best(&q, None) {
            Some((j, m)) if m.verdict == Verdict::Same && films[j].href == films[i].href => {
                pos.tp += 1;
                e.1 += 1;
            }
            Some((j, m)) if m.verdict == Verdict::Same => {
                pos.fp += 1;
                pos.fn_ += 1;
                missed.push(format!(
                    "{:?} → wrong title {:?} ({:.2})",
                    q.title, films[j].fp.title, m.confidence
                ));
            }
            Some((j, _)) if films[j].href == films[i].href => {
                pos.review_pos += 1;
                pos.fn_ += 1;
            }
            _ => {
                pos.fn_ += 1;
                if missed.len() < 15 {
                    missed.push(format!(
                        "{:?} ({}) vs {:?} ({}) [{kind}]",
                        q.title, q.year, orig.title, orig.year
                    ));
                }
            }
        }
    }

    // Non-duplicates: every film of the dataset arrives as a new record from another provider
    // (the catalog holds everything but it). The hard ones share a main title with another film.
    let mut by_norm: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in films.iter().enumerate() {
        by_norm
            .entry(main_title(&normalize_title(&f.fp.title)))
            .or_default()
            .push(i);
    }
    let mut neg = Tally::default();
    let (mut negatives, mut remakes, mut close_years, mut relisted) = (0u64, 0u64, 0u64, 0u64);
    let mut false_merges = Vec::new();
    let mut had_candidate = 0u64;
    for group in by_norm.values() {
        for &b in group {
            // The dataset lists some films twice (another article name, the next year's list):
            // same normalised title, a year apart at most, and two or more cast members in common.
            // Those are the same work, so they are neither duplicates we generated nor negatives.
            let relist = group.iter().any(|&a| {
                a != b
                    && (films[a].fp.year - films[b].fp.year).abs() <= 1
                    && normalize_title(&films[a].fp.title) == normalize_title(&films[b].fp.title)
                    && films[a]
                        .fp
                        .cast
                        .iter()
                        .filter(|c| films[b].fp.cast.contains(c))
                        .count()
                        >= 2
            });
            if relist
                || group
                    .iter()
                    .any(|&a| a != b && films[a].href == films[b].href)
            {
                relisted += 1;
                continue;
            }
            negatives += 1;
            let others: Vec<_> = group.iter().filter(|&&a| a != b).collect();
            if others
                .iter()
                .any(|&&a| (films[a].fp.year - films[b].fp.year).abs() <= 1)
            {
                close_years += 1;
            } else if !others.is_empty() {
                remakes += 1;
            }
            let mut q = films[b].fp.clone();
            q.external_ids =
                ExternalIds::from([("tmdb_movie".into(), format!("{}", 20_000_000 + b))]);
            match best(&q, Some(b)) {
                Some((a, m)) if m.verdict == Verdict::Same => {
                    had_candidate += 1;
                    neg.fp += 1;
                    if false_merges.len() < 15 {
                        false_merges.push(format!(
                            "{:?} ({}) merged into {:?} ({}) at {:.2}: {}",
                            q.title,
                            q.year,
                            films[a].fp.title,
                            films[a].fp.year,
                            m.confidence,
                            m.reasons.join("; ")
                        ));
                    }
                }
                Some(_) => {
                    had_candidate += 1;
                    neg.review_neg += 1
                }
                None => {}
            }
        }
    }
    let tp = pos.tp;
    let fp = pos.fp + neg.fp;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives.max(1) as f64;
    println!(
        "entity resolution on the labeled set built from {} films",
        films.len()
    );
    println!("  true duplicates: {positives} (variations: {})", {
        let mut k: Vec<_> = kinds
            .iter()
            .map(|(k, (n, ok))| format!("{k} {ok}/{n}"))
            .collect();
        k.sort();
        k.join(", ")
    });
    println!("  non-duplicates: {negatives} films as new records; hard: {} share a main title ({close_years} within a year, {remakes} remakes further apart), {had_candidate} had a candidate above review level; {relisted} dataset re-listings of one film left out", close_years + remakes);
    println!(
        "  auto-merged correctly {tp}, wrongly {fp} (on duplicates {}, on non-duplicates {})",
        pos.fp, neg.fp
    );
    println!(
        "  sent to review: {} duplicates, {} non-duplicates",
        pos.review_pos, neg.review_neg
    );
    println!("  precision {precision:.4}  recall {recall:.4}  (auto-merge; review counted as not merged)");
    println!(
        "  recall incl. review queue {:.4}",
        (tp + pos.review_pos) as f64 / positives.max(1) as f64
    );
    if !missed.is_empty() {
        println!("  sample misses:");
        missed.iter().take(10).for_each(|m| println!("    {m}"));
    }
    if !false_merges.is_empty() {
        println!("  sample false merges:");
        false_merges
            .iter()
            .take(10)
            .for_each(|m| println!("    {m}"));
    }
    Ok(())
}
