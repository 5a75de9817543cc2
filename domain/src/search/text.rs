//! Text features shared by the indexer and the query side, so both adapters (embedded qdrant-edge,
//! Qdrant server) score the same terms: BM25 document weights (the index applies IDF), character
//! trigrams of titles for typo-tolerant title lookup, and the text the embedding model reads.

use crate::catalog::TitleMetadata;
use crate::resolution::{fold, normalize_title};

/// A sparse vector: sorted, unique indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Builds from (index, weight) pairs, summing weights of equal indices (hash collisions).
    pub fn from_pairs(mut pairs: Vec<(u32, f32)>) -> Self {
        pairs.sort_by_key(|p| p.0);
        let mut out = SparseVector::default();
        for (i, w) in pairs {
            if out.indices.last() == Some(&i) {
                *out.values.last_mut().expect("same length") += w;
            } else {
                out.indices.push(i);
                out.values.push(w);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "but", "by", "can", "cant", "for",
    "from", "has", "have", "he", "her", "him", "his", "how", "i", "in", "into", "is", "it", "its",
    "me", "my", "no", "not", "of", "on", "one", "or", "our", "she", "so", "some", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "up", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "film", "films", "movie", "movies",
];

/// Plurals the stemmer leaves apart from their singular ("thieves" → "thiev", "thief" →
/// "thief"), so "thieves enter dreams" meets a lead's "a professional thief". Only nouns: "lives"
/// and "leaves" are verbs as often, and the stemmer already joins those to "live" and "leave".
const IRREGULAR_PLURALS: &[(&str, &str)] = &[
    ("children", "child"),
    ("men", "man"),
    ("women", "woman"),
    ("wives", "wife"),
    ("wolves", "wolf"),
    ("thieves", "thief"),
    ("knives", "knife"),
    ("elves", "elf"),
    ("dwarves", "dwarf"),
    ("calves", "calf"),
    ("hooves", "hoof"),
    ("loaves", "loaf"),
    ("shelves", "shelf"),
    ("scarves", "scarf"),
    ("mice", "mouse"),
    ("geese", "goose"),
    ("teeth", "tooth"),
    ("feet", "foot"),
    ("oxen", "ox"),
];

/// English Snowball (Porter 2) stemming, so a description's "searches", "searching" and
/// "searched" meet the article's "search", and "haunting"/"haunted" meet "haunts"; irregular
/// plurals meet their singular first. Numbers and words of up to three letters are kept as
/// written. Both sides of BM25 use it, so names that stem oddly ("James" → "jame") still meet
/// themselves.
pub fn stem(w: &str) -> String {
    static STEMMER: std::sync::OnceLock<qdrant_rust_stemmers::Stemmer> = std::sync::OnceLock::new();
    let w = IRREGULAR_PLURALS
        .iter()
        .find(|(plural, _)| *plural == w)
        .map_or(w, |(_, singular)| *singular);
    if w.len() <= 3 || w.bytes().any(|b| b.is_ascii_digit()) {
        return w.to_string();
    }
    STEMMER
        .get_or_init(|| {
            qdrant_rust_stemmers::Stemmer::create(qdrant_rust_stemmers::Algorithm::English)
        })
        .stem(w)
        .into_owned()
}

/// Words of a text as the index sees them before stemming: folded (case, diacritics), split on
/// non-alphanumerics, stop words dropped.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .filter(|w| w.len() > 1 || w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// Index terms of a text: its [`words`], lightly stemmed.
pub fn terms(text: &str) -> Vec<String> {
    words(text).iter().map(|w| stem(w)).collect()
}

/// FNV-1a 64: stable hashes for cache keys (embeddings, query results).
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a: a stable 32-bit id per term (the sparse dimension).
pub fn term_id(term: &str) -> u32 {
    term_id_bytes(term.as_bytes())
}

fn term_id_bytes(term: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in term {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// BM25 term-frequency part; the index multiplies by IDF at query time (`Modifier::Idf`).
#[derive(Debug, Clone, Copy)]
pub struct Bm25 {
    pub k1: f32,
    pub b: f32,
    /// Average document length in terms.
    pub avg_len: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        // avg_len measured on the shared Wikipedia film set with `document_text` (title twice +
        // genres + overview).
        Bm25 {
            k1: 1.2,
            b: 0.75,
            avg_len: 90.0,
        }
    }
}

impl Bm25 {
    pub fn document(&self, text: &str) -> SparseVector {
        let ts = terms(text);
        let len = ts.len() as f32;
        let mut tf: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
        for t in &ts {
            *tf.entry(term_id(t)).or_default() += 1.0;
        }
        let norm = self.k1 * (1.0 - self.b + self.b * len / self.avg_len.max(1.0));
        SparseVector::from_pairs(
            tf.into_iter()
                .map(|(i, f)| (i, f * (self.k1 + 1.0) / (f + norm)))
                .collect(),
        )
    }

    /// A query counts each distinct term once.
    pub fn query(&self, text: &str) -> SparseVector {
        let mut v =
            SparseVector::from_pairs(terms(text).iter().map(|t| (term_id(t), 1.0)).collect());
        v.values.iter_mut().for_each(|x| *x = 1.0);
        v
    }
}

/// Character trigrams of a normalised title ("godfathr" shares 6 of 8 with "godfather"), with the
/// word boundaries padded so short titles still have some.
pub fn title_trigrams(title: &str) -> SparseVector {
    let norm = normalize_title(title).replace(" : ", " ");
    let padded: Vec<char> = format!("  {norm} ").chars().collect();
    if norm.is_empty() {
        return SparseVector::default();
    }
    let pairs = padded
        .windows(3)
        .filter(|w| !(w[1] == ' ' && w[2] == ' '))
        .map(|w| {
            // The trigram's UTF-8 bytes, hashed without building a String (this runs per hit).
            let mut buf = [0u8; 12];
            let mut n = 0;
            for c in w {
                n += c.encode_utf8(&mut buf[n..]).len();
            }
            (term_id_bytes(&buf[..n]), 1.0)
        })
        .collect();
    let mut v = SparseVector::from_pairs(pairs);
    // Binary weights: a repeated trigram is no stronger evidence.
    v.values.iter_mut().for_each(|x| *x = 1.0);
    v
}

/// The number a title query holds ("godfather 3", "toy story iii" → "3"; words reordered, "2
/// kung panda" → "2"), the last one when several: part of the title asked for, so a title
/// without it is not an exact match.
pub fn typed_number(title_query: &str) -> Option<String> {
    let norm = normalize_title(title_query);
    let number = norm.rsplit(' ').find(|w| short_number(w))?;
    norm.contains(' ').then(|| number.to_string())
}

/// Whether a title ends with its number ("Jaws 2", "Rocky IV"): a sequel's, as a rule.
pub fn ends_numbered(title: &str) -> bool {
    let norm = normalize_title(title);
    norm.contains(' ') && norm.rsplit(' ').next().is_some_and(short_number)
}

/// A sequel's number as a word: one or two digits.
fn short_number(w: &str) -> bool {
    !w.is_empty() && w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `title` holds the number `n` as a word ("The Godfather Part III" holds "3").
pub fn holds_number(title: &str, n: &str) -> bool {
    normalize_title(title).split(' ').any(|w| w == n)
}

/// Words that only mark a sequel's number ("The Godfather Part III", "Chapter 2").
pub const SEQUEL_MARKERS: &[&str] = &["part", "chapter", "episode", "vol", "volume"];

/// A sequel's title as people type it: "The Godfather Part III" → the trigrams of "godfather 3"
/// (so "godfather 3" is an exact match, not a weaker one than "The Godfather"). `None` when no
/// marker stands before a number.
pub fn sequel_trigrams(title: &str) -> Option<SparseVector> {
    // Runs for every title hit: most titles hold no marker, so look before normalising.
    let marked = title
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| SEQUEL_MARKERS.iter().any(|m| w.eq_ignore_ascii_case(m)));
    if !marked {
        return None;
    }
    let norm = normalize_title(title).replace(" : ", " ");
    let words: Vec<&str> = norm.split(' ').collect();
    let numbered = |i: usize| {
        words
            .get(i + 1)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let kept: Vec<&str> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| !(SEQUEL_MARKERS.contains(w) && numbered(*i)))
        .map(|(_, w)| *w)
        .collect();
    (kept.len() < words.len()).then(|| title_trigrams(&kept.join(" ")))
}

/// Names a title's leading cast, for the graph's "shared cast" edges: one binary term per
/// folded name (case, accents and punctuation ignored), so with the index's IDF a rarely seen
/// actor shared by two titles counts for more than a prolific one. At most `MAX_CAST` names.
pub fn cast_vector(cast: &[String]) -> SparseVector {
    people_vector(cast, &[])
}

/// The people a title's search vector credits: its leading cast and its directors, one term
/// each in the same namespace, so "christopher nolan movies" finds the films he directed
/// through the probe that finds an actor's ([`named_people_vector`]).
pub fn people_vector(cast: &[String], directors: &[String]) -> SparseVector {
    let pairs = cast
        .iter()
        .take(MAX_CAST)
        .chain(directors.iter().take(MAX_DIRECTORS))
        .map(|n| fold(n))
        .filter(|n| !n.is_empty())
        .map(|n| (person_term(&n), 1.0))
        .collect();
    // Binary: a name repeated (or two colliding) still counts once.
    let mut v = SparseVector::from_pairs(pairs);
    v.values.iter_mut().for_each(|x| *x = 1.0);
    v
}

/// The people vectors' term for a (folded) name: cast and directors share the namespace.
fn person_term(folded: &str) -> u32 {
    term_id(&format!("cast:{folded}"))
}

/// People asked for best known first: the first weighs 1, the next 1/2, then 1/3, so the people
/// channel ranks the best known one's titles first ("nolan": Christopher's before Lloyd's).
pub fn ranked_people_vector(names: &[String]) -> SparseVector {
    let pairs = names
        .iter()
        .map(|n| fold(n))
        .filter(|n| !n.is_empty())
        .enumerate()
        .map(|(i, n)| (person_term(&n), 1.0 / (i + 1) as f32))
        .collect();
    SparseVector::from_pairs(pairs)
}

/// Directors credited per title, at most.
pub const MAX_DIRECTORS: usize = 4;

/// Who an overview says directed the film: the names after "directed by" (also "written and
/// directed by", "directed and produced by"), "A and B", "A, B and C" included, in order.
/// Providers send cast but no crew; an encyclopedic lead names the director in its first or
/// second sentence (87 % of the shared catalog's leads do).
pub fn directors(overview: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let lower = overview.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("directed") {
        let at = from + i + "directed".len();
        from = at;
        // "directed by", "directed and written by", "directed, written, and produced by": a
        // few lower-case words, then "by".
        let mut rest = overview[at..].trim_start_matches(',').trim_start();
        let mut words = 0;
        while !rest.starts_with("by ") {
            let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let word = word.trim_end_matches(',');
            let lower = !word.is_empty() && word.chars().all(|c| c.is_lowercase() || c == '-');
            words += 1;
            if !lower || words > 5 || tail.is_empty() {
                break;
            }
            rest = tail;
        }
        let Some(rest) = rest.strip_prefix("by ") else {
            continue;
        };
        for name in names_listed(rest) {
            if out.len() < MAX_DIRECTORS && !out.iter().any(|n| fold(n) == fold(&name)) {
                out.push(name);
            }
        }
    }
    out
}

/// The capitalised names at the start of `text`, separated by ", " or " and ", until a word
/// that cannot be part of a name ("and starring", "for Universal") or a sentence ends.
fn names_listed(text: &str) -> Vec<String> {
    const PARTICLES: &[&str] = &[
        "de", "del", "della", "der", "den", "van", "von", "da", "di", "du", "le", "la", "ter",
        "bin",
    ];
    let mut out = Vec::new();
    let mut name: Vec<&str> = Vec::new();
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut i = 0;
    while i < tokens.len() && out.len() < MAX_DIRECTORS {
        let raw = tokens[i];
        let word = raw.trim_end_matches([',', '.', ';', ':']);
        let initial = is_initial(raw);
        let capital = capitalised(word);
        let next_capital = tokens.get(i + 1).is_some_and(|n| capitalised(n));
        let particle = !name.is_empty() && PARTICLES.contains(&word) && next_capital;
        let joins = !name.is_empty() && (word == "and" || word == "&");
        if joins {
            // "A and B": the next word must start a name.
            if next_capital {
                out.push(name.join(" "));
                name.clear();
                i += 1;
                continue;
            }
            break;
        }
        if !(capital || particle) || word.is_empty() || word.len() > 20 || name.len() >= 5 {
            break;
        }
        if word.contains(['(', ')', '"', '“']) {
            break;
        }
        name.push(if initial { raw } else { word });
        if initial {
            i += 1;
            continue;
        }
        if raw.ends_with(',') {
            // "A, B and C" goes on to the next name; "A, and …" / "A, who" ends the list.
            out.push(name.join(" "));
            name.clear();
            if !next_capital {
                break;
            }
        } else if raw.ends_with(['.', ';', ':']) {
            break;
        }
        i += 1;
    }
    if !name.is_empty() {
        out.push(name.join(" "));
    }
    // One word is a surname repeated or a word that only looks like a name ("Pathé"); the
    // named-people probe reads runs of two or three words anyway.
    out.retain(|n| n.split(' ').count() >= 2 && n.split(' ').any(|w| !is_initial(w)));
    out
}

fn capitalised(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// "D." or "E.V.": a name's initial, not the end of a sentence.
fn is_initial(token: &str) -> bool {
    token.ends_with('.')
        && token.len() <= 4
        && token
            .split('.')
            .filter(|p| !p.is_empty())
            .all(|p| p.chars().count() == 1 && p.chars().all(char::is_uppercase))
}

/// The people a query may name: every run of two or three of its (folded) words as a cast term
/// ("emma stone spreads a rumor" → "emma stone", "stone spreads", "emma stone spreads", …). Only
/// the runs that are somebody's name have postings in the cast vectors; the rest find nothing,
/// so no list of names is needed.
pub fn named_people_vector(text: &str) -> SparseVector {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut pairs = Vec::new();
    for n in 2..=3 {
        for run in words.windows(n) {
            pairs.push((person_term(&run.join(" ")), 1.0));
        }
    }
    let mut v = SparseVector::from_pairs(pairs);
    v.values.iter_mut().for_each(|x| *x = 1.0);
    v
}

/// Cast names a title contributes to the graph (leading billing).
pub const MAX_CAST: usize = 15;

/// Names two casts share (folded comparison), in `a`'s billing order.
pub fn shared_cast<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
    let theirs: std::collections::HashSet<String> =
        b.iter().take(MAX_CAST).map(|n| fold(n)).collect();
    a.iter()
        .take(MAX_CAST)
        .filter(|n| {
            let f = fold(n);
            !f.is_empty() && theirs.contains(&f)
        })
        .map(String::as_str)
        .collect()
}

/// What the keyword channel indexes: the title twice (it is the strongest evidence), genres and
/// the overview.
pub fn document_text(m: &TitleMetadata) -> String {
    let mut s = format!("{} {} ", m.title, m.title);
    if let Some(o) = &m.original_title {
        if o != &m.title {
            s.push_str(o);
            s.push(' ');
        }
    }
    s.push_str(&m.genres.join(" "));
    s.push(' ');
    // The leading cast, so "films with Tom Hanks about space" finds them where the overview
    // does not name the actors (most providers' synopses).
    for name in m.cast.iter().take(5) {
        s.push_str(name);
        s.push(' ');
    }
    if let Some(o) = &m.overview {
        s.push_str(o);
    }
    s
}

/// What the embedding model reads (truncated to `search.embed_max_tokens`): title, year,
/// genres, the leading cast, then the overview's plot. An encyclopedic lead sentence ("X is a
/// 1996 American film directed by …") goes last: it repeats title, year and genres, and would
/// otherwise spend the token budget before the plot starts.
pub fn embedding_text(m: &TitleMetadata) -> String {
    use chrono::Datelike;
    let mut s = format!("{} ({})", m.title, m.release_date.year());
    if !m.genres.is_empty() {
        s.push_str(". ");
        s.push_str(&m.genres.join(", "));
    }
    if !m.cast.is_empty() {
        s.push_str(". With ");
        s.push_str(
            &m.cast
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(o) = &m.overview {
        let (lead, rest) = split_lead(o);
        // Plot sentences first, credits after them, the encyclopedic lead last: a Wikipedia lead
        // spends its second and third sentences on who directed, wrote and starred ("Directed by
        // Andrew Stanton … The film stars the voices of …") and only then says what happens.
        let sentences = sentences(rest);
        let (credits, plot): (Vec<&str>, Vec<&str>) =
            sentences.into_iter().partition(|x| is_credits(x));
        let ordered: Vec<&str> = plot.into_iter().chain(credits).chain([lead]).collect();
        let body = ordered
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !body.is_empty() {
            s.push_str(". ");
            s.push_str(&body);
        }
    }
    s
}

/// (encyclopedic lead sentence, the rest) of an overview; the lead is empty when the first
/// sentence is not one ("… is a 1996 American … film …").
fn split_lead(overview: &str) -> (&str, &str) {
    let end = overview.find(". ").map(|i| i + 1).unwrap_or(overview.len());
    let first = &overview[..end];
    let lower = first.to_lowercase();
    let is_lead = (lower.contains(" is a ") || lower.contains(" is an "))
        && (lower.contains("film") || lower.contains("movie"));
    if is_lead && end < overview.len() {
        (first, overview[end..].trim_start())
    } else {
        ("", overview)
    }
}

/// Sentences of a text, split after ". " (and "! ", "? ") where the next word starts with a
/// capital; an initial ("Jan de Bont. ", "J. R. R.") stays with its sentence.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, w) in bytes.windows(3).enumerate() {
        if !(matches!(w[0], b'.' | b'!' | b'?') && w[1] == b' ' && w[2].is_ascii_uppercase()) {
            continue;
        }
        // "J. " or "St. ": one capital letter or a short abbreviation before the full stop.
        let word = text[start..=i].rsplit(' ').next().unwrap_or("");
        if word.trim_end_matches(['.', '!', '?']).chars().count() > 2 {
            out.push(text[start..=i].trim());
            start = i + 2;
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// A sentence about the making of a film, not its story.
fn is_credits(sentence: &str) -> bool {
    const MARKERS: &[&str] = &[
        "directed by",
        "produced by",
        "written by",
        "screenplay",
        "the film stars",
        "it stars",
        "starring",
        "co-stars",
        "music by",
        "cinematograph",
        "distributed by",
        "was released",
        "released on",
        "released in",
        "premiered",
        "box office",
        "grossed",
        "nominated",
        "academy award",
        "golden globe",
        "critical",
        "critics",
        "principal photography",
        "filming",
    ];
    let lower = sentence.to_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// Title similarity from which a hit counts as the title typed whole.
pub const EXACT_TITLE: f32 = 0.9;

/// Similarity of two titles by trigram overlap (Dice coefficient), used to rank suggestions and
/// pick the referenced title.
pub fn title_similarity(a: &str, b: &str) -> f32 {
    trigram_dice(&title_trigrams(a), &title_trigrams(b))
}

/// [`title_similarity`] from trigrams already computed (a query's, against many titles).
pub fn trigram_dice(x: &SparseVector, y: &SparseVector) -> f32 {
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < x.indices.len() && j < y.indices.len() {
        match x.indices[i].cmp(&y.indices[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f32 / (x.indices.len() + y.indices.len()) as f32
}

/// Share of `wanted` found in `have` (0 when nothing is wanted).
pub fn overlap(wanted: &[String], have: &[String]) -> f32 {
    if wanted.is_empty() {
        return 0.0;
    }
    let n = wanted.iter().filter(|w| have.contains(w)).count();
    n as f32 / wanted.len() as f32
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plot_comes_before_the_encyclopedic_lead() {
        let m = TitleMetadata {
            content_type: crate::catalog::ContentType::Movie,
            title: "Speed".into(),
            original_title: None,
            overview: Some(
                "Speed is a 1994 American action thriller film directed by Jan de Bont. \
                 A bomb on a bus will explode if it drops below 50 mph."
                    .into(),
            ),
            release_date: chrono::NaiveDate::from_ymd_opt(1994, 6, 10).unwrap(),
            genres: vec!["action".into(), "thriller".into()],
            runtime_minutes: None,
            cast: vec!["Keanu Reeves".into(), "Sandra Bullock".into()],
            rating: None,
        };
        assert_eq!(
            embedding_text(&m),
            "Speed (1994). action, thriller. With Keanu Reeves, Sandra Bullock. A bomb on a bus \
             will explode if it drops below 50 mph. Speed is a 1994 American action thriller film \
             directed by Jan de Bont."
        );
        let plain = TitleMetadata {
            overview: Some("A hacker learns the truth.".into()),
            cast: vec![],
            ..m
        };
        assert_eq!(
            embedding_text(&plain),
            "Speed (1994). action, thriller. A hacker learns the truth."
        );
    }

    #[test]
    fn credits_sentences_follow_the_story() {
        let m = TitleMetadata {
            content_type: crate::catalog::ContentType::Movie,
            title: "Finding Nemo".into(),
            original_title: None,
            overview: Some(
                "Finding Nemo is a 2003 American computer-animated film produced by Pixar. \
                 Directed by Andrew Stanton, the screenplay was written by Stanton and Bob Peterson. \
                 The film stars the voices of Albert Brooks and Ellen DeGeneres. \
                 It tells the story of a clownfish named Marlin who searches for his son Nemo. \
                 Along the way, Marlin learns to take risks."
                    .into(),
            ),
            release_date: chrono::NaiveDate::from_ymd_opt(2003, 5, 30).unwrap(),
            genres: vec![],
            runtime_minutes: None,
            cast: vec![],
            rating: None,
        };
        assert_eq!(
            embedding_text(&m),
            "Finding Nemo (2003). It tells the story of a clownfish named Marlin who searches for \
             his son Nemo. Along the way, Marlin learns to take risks. Directed by Andrew \
             Stanton, the screenplay was written by Stanton and Bob Peterson. The film stars the \
             voices of Albert Brooks and Ellen DeGeneres. Finding Nemo is a 2003 American \
             computer-animated film produced by Pixar."
        );
        // An initial does not end a sentence.
        assert_eq!(
            sentences("Directed by J. R. Smith and Jan de Bont. A bus. Big."),
            vec!["Directed by J. R. Smith and Jan de Bont.", "A bus.", "Big."]
        );
    }

    use super::*;

    #[test]
    fn terms_fold_stem_and_drop_stop_words() {
        assert_eq!(
            terms("The Bus that couldn't slow DOWN: Stories of Bombs"),
            vec!["bus", "couldnt", "slow", "down", "stori", "bomb"]
        );
        // Verb forms meet: what a person writes and what an article says.
        assert_eq!(terms("searches"), terms("searching"));
        assert_eq!(terms("haunted"), terms("haunts"));
        assert_eq!(terms("travelled 1999"), vec!["travel", "1999"]);
        assert_eq!(terms("Amélie 2001"), terms("amelie 2001"));
        // Irregular plurals meet their singular; verbs that look like them stay verbs.
        assert_eq!(terms("thieves wolves women"), terms("thief wolf woman"));
        assert_eq!(terms("men"), terms("man"));
        assert_eq!(terms("lives"), terms("live"));
    }

    #[test]
    fn bm25_saturates_and_normalises_length() {
        let bm = Bm25 {
            avg_len: 4.0,
            ..Bm25::default()
        };
        let one = bm.document("bus crash");
        let many = bm.document("bus bus bus bus crash");
        let w = |v: &SparseVector, t: &str| {
            let id = term_id(t);
            v.indices.iter().position(|i| *i == id).map(|p| v.values[p])
        };
        assert!(w(&many, "bus").unwrap() > w(&one, "bus").unwrap());
        assert!(w(&many, "bus").unwrap() < bm.k1 + 1.0);
        // A longer document weighs the same single mention less.
        assert!(w(&many, "crash").unwrap() < w(&one, "crash").unwrap());
        assert_eq!(bm.query("bus bus crash").values, vec![1.0, 1.0]);
    }

    #[test]
    fn trigrams_tolerate_typos() {
        assert!(title_similarity("the godfathr", "The Godfather") > 0.7);
        assert!(title_similarity("Godfather, The", "The Godfather") > 0.99);
        assert!(title_similarity("the godfathr", "The Gold Rush") < 0.3);
        assert!(title_trigrams("").is_empty());
    }

    #[test]
    fn sparse_vectors_merge_collisions() {
        let v = SparseVector::from_pairs(vec![(3, 1.0), (1, 0.5), (3, 2.0)]);
        assert_eq!(v.indices, vec![1, 3]);
        assert_eq!(v.values, vec![0.5, 3.0]);
    }

    #[test]
    fn cast_terms_ignore_case_accents_and_order() {
        // Given the same two actors written two ways,
        let a = cast_vector(&["Keanu Reeves".into(), "Carrie-Anne Moss".into()]);
        let b = cast_vector(&["carrie anne moss".into(), "KEANU REEVES".into()]);
        // then their terms are the same, one per name, and a third actor adds one.
        assert_eq!(a, b);
        assert_eq!(a.indices.len(), 2);
        let c = cast_vector(&["Keanu Reeves".into(), "Laurence Fishburne".into()]);
        assert_eq!(
            a.indices.iter().filter(|i| c.indices.contains(i)).count(),
            1
        );
        assert_eq!(
            shared_cast(
                &["Laurence Fishburne".into(), "Keanu Reeves".into()],
                &["keanu reeves".into()]
            ),
            vec!["Keanu Reeves"]
        );
        assert!(cast_vector(&[]).indices.is_empty());
    }

    #[test]
    fn directors_are_read_from_the_lead() {
        let d = |s: &str| directors(s);
        assert_eq!(
            d("Inception is a 2010 science fiction action film written and directed by Christopher Nolan, who also produced it."),
            vec!["Christopher Nolan"]
        );
        assert_eq!(
            d("The Birth of a Nation is a 1915 film directed by D. W. Griffith, and was the first."),
            vec!["D. W. Griffith"]
        );
        assert_eq!(
            d("It was directed by Robert Z. Leonard. It was released by Universal Film."),
            vec!["Robert Z. Leonard"]
        );
        assert_eq!(
            d("A 1917 film directed by J. Stuart Blackton and William P. S. Earle, and written by Blackton."),
            vec!["J. Stuart Blackton", "William P. S. Earle"]
        );
        assert_eq!(
            d("A film directed by Joe De Grasse, written by Fred Myton, starring Lon Chaney."),
            vec!["Joe De Grasse"]
        );
        assert_eq!(
            d("A film directed by Maurice Tourneur and starring Robert Warwick, Doris Kenyon."),
            vec!["Maurice Tourneur"]
        );
        assert_eq!(
            d("A comedy directed and produced by Hal Roach for Pathé. Directed by Hal Roach again."),
            vec!["Hal Roach"]
        );
        assert_eq!(
            d("Titanic is a 1997 disaster film directed, written, co-produced, and co-edited by James Cameron."),
            vec!["James Cameron"]
        );
        assert_eq!(
            d("Directed by Lana Wachowski, Lilly Wachowski and Tom Tykwer, it stars Tom Hanks."),
            vec!["Lana Wachowski", "Lilly Wachowski", "Tom Tykwer"]
        );
        assert_eq!(
            d("A film by Jean-Luc Godard (directed by himself) directed by Jean-Luc Godard."),
            vec!["Jean-Luc Godard"]
        );
        // No crew named, a group, or a lone surname: nothing.
        assert!(d("A 1900 silent film featuring clowns.").is_empty());
        assert!(d("A film directed by the Coen brothers.").is_empty());
        assert!(d("As directed by Nolan, the film opens.").is_empty());
        assert!(d("It was directed in 1950.").is_empty());
        assert!(d("It was directed for Paramount by John Ford.").is_empty());
    }

    #[test]
    fn a_title_credits_its_directors_beside_its_cast() {
        // Given a film's cast and its director,
        let v = people_vector(&["Leonardo DiCaprio".into()], &["Christopher Nolan".into()]);
        // then a query naming either finds a term of it, each weighing one.
        for named in ["christopher nolan movies", "leonardo dicaprio in a dream"] {
            let q = named_people_vector(named);
            assert!(v.indices.iter().any(|i| q.indices.contains(i)), "{named}");
        }
        assert_eq!(v.values, vec![1.0, 1.0]);
        assert_eq!(
            people_vector(&["A B".into()], &[]),
            cast_vector(&["A B".into()])
        );
    }

    #[test]
    fn a_sequel_reads_as_its_name_and_number() {
        let typed = title_trigrams("godfather 3");
        let sequel = sequel_trigrams("The Godfather Part III").expect("a numbered part");
        assert_eq!(trigram_dice(&typed, &sequel), 1.0);
        assert!(trigram_dice(&typed, &title_trigrams("The Godfather")) < 1.0);
        assert_eq!(sequel_trigrams("The Godfather"), None);
        assert_eq!(sequel_trigrams("Part of the Family"), None);
        // The number typed is part of the title asked for.
        assert_eq!(typed_number("godfather iii").as_deref(), Some("3"));
        assert_eq!(typed_number("apollo 13").as_deref(), Some("13"));
        assert_eq!(typed_number("2 kung panda").as_deref(), Some("2"));
        assert_eq!(typed_number("1917"), None);
        assert_eq!(typed_number("the godfather"), None);
        assert!(holds_number("The Godfather Part III", "3"));
        assert!(ends_numbered("Rocky IV") && ends_numbered("Jaws 2"));
        assert!(!ends_numbered("12 Angry Men") && !ends_numbered("1917"));
        assert!(!holds_number("The Godfather", "3"));
    }
}
