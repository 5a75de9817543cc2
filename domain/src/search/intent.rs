//! Natural-language query intent, parsed locally with rules (no LLM): referenced titles ("like X"),
//! genres and moods, years and decades, content type, platforms and region. What is left is the
//! description ("bus can't slow down") the dense and keyword channels search for.

use serde::Serialize;

use crate::catalog::ContentType;
use crate::resolution::fold;

/// What a query asks for (seed `ParsedIntent`). Hard constraints (years, types, platforms) become
/// index filters; genres and moods are preferences that boost matching titles.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedIntent {
    pub original: String,
    /// Titles the query refers to ("like The Matrix" → "the matrix").
    pub references: Vec<String>,
    /// Genres named or implied by moods (catalog spelling, lower case).
    pub genres: Vec<String>,
    /// Mood words found ("funnier" → "funny").
    pub moods: Vec<String>,
    pub year_range: Option<(i32, i32)>,
    /// Longest runtime wanted, minutes ("under 90 minutes", "less than two hours").
    pub max_runtime: Option<u16>,
    pub content_types: Vec<ContentType>,
    /// Platform slugs ("on Netflix" → "netflix").
    pub platforms: Vec<String>,
    /// ISO 3166-1 alpha-2 region named in the query ("in the UK" → "GB").
    pub region: Option<String>,
    /// The description left after removing everything above: what the text channels search for.
    pub text: String,
    /// The query without its year, platform and region phrases: what the typo-tolerant title
    /// channel matches ("the dark knight" keeps "dark", which is also a mood word).
    pub title_query: String,
}

impl ParsedIntent {
    /// Text for the dense channel: the description plus the genre words, so "funny" alone still
    /// lands near comedies.
    pub fn semantic_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.text.is_empty() {
            parts.push(self.text.clone());
        }
        parts.extend(self.moods.iter().cloned());
        for g in &self.genres {
            if !parts.iter().any(|p| p.contains(g.as_str())) {
                parts.push(g.clone());
            }
        }
        parts.join(" ")
    }
}

const REFERENCE_MARKERS: &[&str] = &[
    "if i liked",
    "if you liked",
    "if i loved",
    "if you loved",
    "if i enjoyed",
    "if you enjoyed",
    "fans of",
    "i liked",
    "i loved",
    "i enjoyed",
    "in the style of",
    "in the vein of",
    "along the lines of",
    "reminiscent of",
    "similar to",
    "same as",
    "such as",
    "like",
];

/// Words before "like" that make it a comparison or a wish, not a reference ("looks like a
/// boy", "would like to", "I'd like" → "id like").
const COMPARING: &[&str] = &[
    "look",
    "looks",
    "looked",
    "looking",
    "act",
    "acts",
    "acted",
    "acting",
    "dress",
    "dresses",
    "dressed",
    "shaped",
    "disguised",
    "sound",
    "sounds",
    "sounded",
    "feel",
    "feels",
    "felt",
    "seem",
    "seems",
    "seemed",
    "behave",
    "behaves",
    "behaved",
    "treat",
    "treats",
    "treated",
    "talk",
    "talks",
    "live",
    "lives",
    "lived",
    "would",
    "id",
    "wed",
    "youd",
    "hed",
    "shed",
    "theyd",
];

/// Words that end a referenced title ("like The Matrix but funnier").
const REFERENCE_ENDS: &[&str] = &[
    "but",
    "except",
    "without",
    "only",
    "that",
    "which",
    "where",
    "released",
    "made",
    "set",
    "starring",
    "for",
    "though",
    "yet",
    "with",
    "from",
    "in",
    "on",
    "before",
    "after",
    "since",
    "during",
    "between",
    "what",
    "should",
    "now",
    "next",
    "please",
    "recommend",
    "suggest",
    "anything",
    "something",
];

/// (phrase, genres, mood) — phrases are matched on folded whole words.
const GENRE_WORDS: &[(&str, &[&str])] = &[
    ("science fiction", &["science fiction"]),
    ("sci fi", &["science fiction"]),
    ("scifi", &["science fiction"]),
    ("romantic comedy", &["romance", "comedy"]),
    ("rom com", &["romance", "comedy"]),
    ("romcom", &["romance", "comedy"]),
    ("martial arts", &["martial arts"]),
    ("kung fu", &["martial arts"]),
    ("film noir", &["noir"]),
    ("found footage", &["found footage"]),
    ("comedy", &["comedy"]),
    ("comedies", &["comedy"]),
    ("drama", &["drama"]),
    ("dramas", &["drama"]),
    ("horror", &["horror"]),
    ("thriller", &["thriller"]),
    ("thrillers", &["thriller"]),
    ("romance", &["romance"]),
    ("western", &["western"]),
    ("westerns", &["western"]),
    ("cowboy", &["western"]),
    ("action", &["action"]),
    ("adventure", &["adventure"]),
    ("adventures", &["adventure"]),
    ("animated", &["animated"]),
    ("animation", &["animated"]),
    ("cartoon", &["animated"]),
    ("cartoons", &["animated"]),
    ("anime", &["animated"]),
    ("musical", &["musical"]),
    ("musicals", &["musical"]),
    ("war", &["war"]),
    ("crime", &["crime"]),
    ("gangster", &["crime"]),
    ("mafia", &["crime"]),
    ("mob", &["crime"]),
    ("heist", &["crime"]),
    ("mystery", &["mystery"]),
    ("mysteries", &["mystery"]),
    ("whodunit", &["mystery"]),
    ("detective", &["mystery"]),
    ("noir", &["noir"]),
    ("fantasy", &["fantasy"]),
    ("biopic", &["biography"]),
    ("biography", &["biography"]),
    ("biographical", &["biography"]),
    ("historical", &["historical"]),
    ("documentary", &["documentary"]),
    ("documentaries", &["documentary"]),
    ("sports", &["sports"]),
    ("sport", &["sports"]),
    ("family", &["family"]),
    ("kids", &["family"]),
    ("children", &["family"]),
    ("superhero", &["superhero"]),
    ("superheroes", &["superhero"]),
    ("spy", &["spy"]),
    ("espionage", &["spy"]),
    ("teen", &["teen"]),
    ("slasher", &["slasher"]),
    ("disaster", &["disaster"]),
    ("political", &["political"]),
    ("courtroom", &["legal"]),
    ("legal", &["legal"]),
    ("dance", &["dance"]),
    ("supernatural", &["supernatural"]),
    ("ghost", &["supernatural", "horror"]),
    ("ghosts", &["supernatural", "horror"]),
    ("silent", &["silent"]),
    ("satire", &["satire"]),
    ("satirical", &["satire"]),
];

/// Mood words: the genres they imply; the mood word itself stays in the semantic text.
const MOODS: &[(&str, &str, &[&str])] = &[
    ("funny", "funny", &["comedy"]),
    ("funnier", "funny", &["comedy"]),
    ("hilarious", "funny", &["comedy"]),
    ("comedic", "funny", &["comedy"]),
    ("lighthearted", "lighthearted", &["comedy"]),
    ("light hearted", "lighthearted", &["comedy"]),
    ("silly", "funny", &["comedy"]),
    ("scary", "scary", &["horror"]),
    ("scarier", "scary", &["horror"]),
    ("creepy", "scary", &["horror"]),
    ("terrifying", "scary", &["horror"]),
    ("spooky", "scary", &["horror"]),
    ("dark", "dark", &["crime", "thriller"]),
    ("darker", "dark", &["crime", "thriller"]),
    ("gritty", "dark", &["crime", "thriller"]),
    ("romantic", "romantic", &["romance"]),
    ("love story", "romantic", &["romance"]),
    ("sad", "sad", &["drama"]),
    ("tearjerker", "sad", &["drama"]),
    ("emotional", "sad", &["drama"]),
    ("heartbreaking", "sad", &["drama"]),
    ("tear jerker", "sad", &["drama"]),
    ("tearjerkers", "sad", &["drama"]),
    ("make you cry", "sad", &["drama"]),
    ("makes you cry", "sad", &["drama"]),
    ("make me cry", "sad", &["drama"]),
    ("make you laugh out loud", "funny", &["comedy"]),
    ("make you laugh", "funny", &["comedy"]),
    ("makes you laugh", "funny", &["comedy"]),
    ("make me laugh", "funny", &["comedy"]),
    ("laugh out loud", "funny", &["comedy"]),
    ("feel good", "feel-good", &["comedy", "family"]),
    ("uplifting", "feel-good", &["comedy", "family"]),
    ("heartwarming", "feel-good", &["family", "comedy"]),
    ("wholesome", "feel-good", &["family"]),
    // Who it is for and where it comes from, not words of a title ("The Whole Nine Yards",
    // "True Story").
    ("whole family", "family-friendly", &["family"]),
    ("family friendly", "family-friendly", &["family"]),
    ("for all ages", "family-friendly", &["family"]),
    ("based on a true story", "true-story", &["biography"]),
    ("based on true events", "true-story", &["biography"]),
    ("true story about", "true-story", &["biography"]),
    ("true stories about", "true-story", &["biography"]),
    ("exciting", "exciting", &["action", "adventure"]),
    ("action packed", "exciting", &["action"]),
    ("thrilling", "exciting", &["thriller", "action"]),
    ("suspenseful", "tense", &["thriller", "suspense"]),
    ("tense", "tense", &["thriller", "suspense"]),
    (
        "mind bending",
        "mind-bending",
        &["science fiction", "mystery"],
    ),
    (
        "mindbending",
        "mind-bending",
        &["science fiction", "mystery"],
    ),
    ("trippy", "mind-bending", &["science fiction", "fantasy"]),
    ("epic", "epic", &["adventure", "historical", "war"]),
    ("inspiring", "inspiring", &["biography", "sports", "drama"]),
    (
        "inspirational",
        "inspiring",
        &["biography", "sports", "drama"],
    ),
];

/// (phrase, slug): matched after "on"/"streaming on"/"available on" or on their own when
/// unambiguous.
const PLATFORMS: &[(&str, &str, bool)] = &[
    ("netflix", "netflix", true),
    ("amazon prime video", "prime_video", true),
    ("amazon prime", "prime_video", true),
    ("prime video", "prime_video", true),
    ("disney plus", "disney_plus", true),
    ("disney", "disney_plus", false),
    ("hbo max", "max", true),
    ("hbo", "max", true),
    ("max", "max", false),
    ("apple tv plus", "apple_tv_plus", true),
    ("apple tv", "apple_tv", true),
    ("hulu", "hulu", true),
    ("peacock", "peacock", true),
    ("paramount plus", "paramount_plus", true),
    ("paramount", "paramount_plus", false),
    ("youtube", "youtube", true),
    ("google play", "google_play", true),
];

const REGIONS: &[(&str, &str)] = &[
    ("the united states", "US"),
    ("the us", "US"),
    ("the usa", "US"),
    ("america", "US"),
    ("the uk", "GB"),
    ("the united kingdom", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("canada", "CA"),
    ("australia", "AU"),
    ("germany", "DE"),
    ("france", "FR"),
    ("spain", "ES"),
    ("italy", "IT"),
    ("india", "IN"),
    ("japan", "JP"),
    ("brazil", "BR"),
    ("mexico", "MX"),
    ("ireland", "IE"),
    ("the netherlands", "NL"),
];

/// Longer phrases first: "short films" is not "films".
const TYPE_WORDS: &[(&str, ContentType)] = &[
    ("short films", ContentType::Short),
    ("short film", ContentType::Short),
    ("tv series", ContentType::Series),
    ("tv shows", ContentType::Series),
    ("tv show", ContentType::Series),
    ("miniseries", ContentType::Series),
    ("series", ContentType::Series),
    ("sitcom", ContentType::Series),
    ("sitcoms", ContentType::Series),
    ("shows", ContentType::Series),
    ("show", ContentType::Series),
    ("movie", ContentType::Movie),
    ("movies", ContentType::Movie),
    ("film", ContentType::Movie),
    ("films", ContentType::Movie),
    ("shorts", ContentType::Short),
];

/// Phrases that only shape the request; dropped before anything else is read.
const FILLER_PHRASES: &[&str] = &["of all time", "all time", "right now", "at the moment"];

/// Words that only shape the request ("show me", "something", "recent"); dropped from the text.
const FILLER: &[&str] = &[
    "show",
    "me",
    "find",
    "i",
    "want",
    "to",
    "watch",
    "something",
    "anything",
    "stuff",
    "should",
    "else",
    "some",
    "a",
    "an",
    "the",
    "that",
    "where",
    "about",
    "with",
    "please",
    "good",
    "best",
    "great",
    "any",
    "one",
    "ones",
    "which",
    "who",
    "is",
    "are",
    "of",
    "and",
    "in",
    "on",
    "was",
    "it",
    "looking",
    "for",
    "kind",
    "type",
    "sort",
    "recommend",
    "suggest",
    "what",
    "whats",
    "there",
    "streaming",
    "available",
    "can",
    "stream",
    "more",
    "really",
    "very",
    "but",
    "than",
    "from",
    "like",
];

/// Parses a query. `current_year` resolves "recent" (the domain does not read the clock).
pub fn parse_intent(query: &str, current_year: i32) -> ParsedIntent {
    let mut intent = ParsedIntent {
        original: query.to_string(),
        ..ParsedIntent::default()
    };
    // Quoted phrases are titles the user means literally.
    let mut quoted = Vec::new();
    let mut rest = String::new();
    for (i, part) in query.split('"').enumerate() {
        if i % 2 == 1 && !part.trim().is_empty() {
            quoted.push(fold(part));
        } else {
            rest.push_str(part);
            rest.push(' ');
        }
    }
    // Folded words, with "disney+" → "disney plus", "'90s" → "90s", "sci-fi" → "sci fi".
    let prepared = rest.replace('+', " plus ");
    let mut words: Vec<String> = fold(&prepared)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let mut used = vec![false; words.len()];

    // Phrases that only praise or time the request ("best horror of all time").
    for phrase in FILLER_PHRASES {
        let mut from = 0;
        while let Some(i) = find_phrase(&words, &used, phrase, from) {
            let len = phrase.split(' ').count();
            mark(&mut used, i, len);
            from = i + len;
        }
    }
    take_runtime(&words, &mut used, &mut intent);
    take_monochrome(&words, &mut used, &mut intent);
    take_years(&mut words, &mut used, current_year, &mut intent);
    take_platforms(&words, &mut used, &mut intent);
    take_regions(&words, &mut used, &mut intent);
    intent.title_query = words
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(w, _)| w.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    take_references(&words, &mut used, &mut intent);
    intent.references.extend(quoted);
    take_moods_and_genres(&words, &mut used, &mut intent);
    take_types(&words, &mut used, &mut intent);

    let text: Vec<&str> = words
        .iter()
        .zip(&used)
        .filter(|(w, u)| !**u && !FILLER.contains(&w.as_str()))
        .map(|(w, _)| w.as_str())
        .collect();
    intent.text = text.join(" ");
    intent
}

/// Finds `phrase` (space-separated words) among unused words starting at `from`.
fn find_phrase(words: &[String], used: &[bool], phrase: &str, from: usize) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    (from..words.len().saturating_sub(p.len() - 1)).find(|&i| {
        p.iter()
            .enumerate()
            .all(|(k, w)| !used[i + k] && words[i + k] == *w)
    })
}

fn mark(used: &mut [bool], start: usize, len: usize) {
    used[start..start + len].iter_mut().for_each(|u| *u = true);
}

fn year_of(w: &str) -> Option<i32> {
    let y: i32 = w.parse().ok()?;
    (w.len() == 4 && (1870..=2100).contains(&y)).then_some(y)
}

/// "90s", "1990s", "nineties" → first year of the decade.
fn decade_of(w: &str) -> Option<i32> {
    let named = [
        ("twenties", 1920),
        ("thirties", 1930),
        ("forties", 1940),
        ("fifties", 1950),
        ("sixties", 1960),
        ("seventies", 1970),
        ("eighties", 1980),
        ("nineties", 1990),
    ];
    if let Some((_, y)) = named.iter().find(|(n, _)| *n == w) {
        return Some(*y);
    }
    let digits = w.strip_suffix('s')?;
    match digits.len() {
        4 => year_of(digits).filter(|y| y % 10 == 0),
        2 => {
            let d: i32 = digits.parse().ok()?;
            (d % 10 == 0).then_some(if d < 20 { 2000 + d } else { 1900 + d })
        }
        _ => None,
    }
}

/// Decades before this are when a story is set ("1890s london"): there were hardly any films yet.
const FIRST_FILM_DECADE: i32 = 1900;

/// "set in the 1940s" / "set during the 90s": the words before `i` place the story in time.
fn set_in(words: &[String], i: usize) -> bool {
    let before: Vec<&str> = words[i.saturating_sub(3)..i]
        .iter()
        .map(String::as_str)
        .collect();
    before.contains(&"set")
        && before
            .iter()
            .skip_while(|w| **w != "set")
            .skip(1)
            .all(|w| ["in", "during", "the", "of"].contains(w))
}

/// Things "new" asks for when it means recent ("new comedies", "new on netflix", "something
/// new"); elsewhere it is part of the description ("new york", "a new teacher", "new girl").
const RECENT_NOUNS: &[&str] = &[
    "movie", "movies", "film", "films", "show", "shows", "series", "release", "releases", "stuff",
    "episodes", "season", "seasons", "titles", "arrivals", "on", "this", "to",
];

fn new_means_recent(words: &[String], i: usize) -> bool {
    words.get(i + 1).is_none_or(|next| {
        RECENT_NOUNS.contains(&next.as_str()) || GENRE_WORDS.iter().any(|(w, _)| *w == next)
    })
}

/// Words for a title beyond [`TITLE_KINDS`] that a time can date ("old cartoons", "a 50s one").
const OTHER_KINDS: &[&str] = &["cartoon", "cartoons", "classic", "classics", "one", "ones"];

/// "old" asks for older titles only before what is asked for ("old movies", "old westerns",
/// "something old"); "old widower", "5 year old son", "his old love" describe the plot.
fn old_means_era(words: &[String], i: usize) -> bool {
    new_means_recent(words, i)
        || words
            .get(i + 1)
            .is_some_and(|n| OTHER_KINDS.contains(&n.as_str()))
}

/// Words before a decade that leave it at the start of the request ("that 90s film…").
const LEADING: &[&str] = &[
    "a", "an", "the", "that", "this", "some", "any", "whats", "what", "is", "there",
];

/// In a description: does the decade at `i` say when the film was made? It does where it names
/// a kind of title or a genre ("90s film", "80s thriller"), opens the query ("1950s biblical
/// epic…"), or follows "from" / "made in" / "released in".
fn decade_names_the_film(words: &[String], i: usize) -> bool {
    let start = match words.get(i.wrapping_sub(1)).map(String::as_str) {
        Some("early" | "mid" | "late") => i - 1,
        _ => i,
    };
    let next = words.get(i + 1).map(String::as_str).unwrap_or("");
    let opens = words[..start].iter().all(|w| LEADING.contains(&w.as_str()));
    let mut s = start;
    while s > 0 && ["the", "in", "of", "during"].contains(&words[s - 1].as_str()) {
        s -= 1;
    }
    let from = s > 0
        && (["from", "made", "released", "filmed"].contains(&words[s - 1].as_str())
            || came_out(words, s - 1));
    names_a_kind(next) || opens || from
}

/// A kind of title, a genre or a mood: a time right before it dates the film ("90s thriller").
fn names_a_kind(next: &str) -> bool {
    TITLE_KINDS.contains(&next)
        || OTHER_KINDS.contains(&next)
        || GENRE_WORDS
            .iter()
            .any(|(w, _)| w.split(' ').next() == Some(next))
        || MOODS
            .iter()
            .any(|(w, _, _)| w.split(' ').next() == Some(next))
}

/// "came out in 1999", "released in 1999", "made in 1999": `in_at` is the "in".
fn made_in(words: &[String], in_at: usize) -> bool {
    in_at > 0
        && (["released", "made", "filmed", "premiered"].contains(&words[in_at - 1].as_str())
            || came_out(words, in_at - 1))
}

/// "came out" ends at `i` ("thawed out" does not count).
fn came_out(words: &[String], i: usize) -> bool {
    i > 0 && words[i] == "out" && words[i - 1] == "came"
}

/// The last year most American films were still shot in black and white (colour was the rule
/// from the 1967 season on).
const LAST_MONOCHROME_YEAR: i32 = 1966;

/// "black and white horror", "old black and white movies", "filmed in black and white": a
/// request for the years films were shot so. Elsewhere the words stay words ("a black and white
/// cat", the film "Black and White").
fn take_monochrome(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    let Some(i) = find_phrase(words, used, "black and white", 0) else {
        return;
    };
    // "a modern black and white film", "black and white movies from the 2010s": a later film
    // shot so on purpose.
    let later = words.iter().any(|w| {
        matches!(w.as_str(), "modern" | "new" | "recent" | "contemporary")
            || year_of(w)
                .or_else(|| decade_of(w))
                .is_some_and(|y| y > LAST_MONOCHROME_YEAR)
    });
    if later {
        return;
    }
    let next = words.get(i + 3).map(String::as_str);
    let before = i.checked_sub(1).map(|j| words[j].as_str());
    let asked = next.is_some_and(names_a_kind)
        || (next.is_none() && matches!(before, Some("in" | "old" | "classic")));
    if asked {
        // "in", "old", "classic" say the same: they go with it.
        let start = if matches!(before, Some("in" | "old" | "classic")) {
            i - 1
        } else {
            i
        };
        mark(used, start, i + 3 - start);
        merge_range(intent, FIRST_FILM_DECADE, LAST_MONOCHROME_YEAR);
    }
}

/// Several ranges narrow each other; ranges that do not overlap ("80s or 90s") were both
/// asked for, so their span is kept rather than an empty range that finds nothing.
fn merge_range(intent: &mut ParsedIntent, lo: i32, hi: i32) {
    intent.year_range = Some(match intent.year_range {
        Some((a, b)) if a.max(lo) <= b.min(hi) => (a.max(lo), b.min(hi)),
        Some((a, b)) => (a.min(lo), b.max(hi)),
        None => (lo, hi),
    });
}

/// Words that bound a runtime from above ("under 90 minutes", "no longer than 2 hours").
const RUNTIME_BOUNDS: &[&str] = &[
    "under",
    "less than",
    "shorter than",
    "below",
    "at most",
    "max",
    "maximum",
    "within",
    "no longer than",
    "no more than",
    "not over",
];

/// "90" / "an" / "two" / "1.5" before a time unit → a number.
fn amount(w: &str) -> Option<f32> {
    let named = [
        ("a", 1.0),
        ("an", 1.0),
        ("one", 1.0),
        ("two", 2.0),
        ("three", 3.0),
        ("ninety", 90.0),
    ];
    if let Some((_, n)) = named.iter().find(|(n, _)| *n == w) {
        return Some(*n);
    }
    w.parse::<f32>().ok().filter(|n| *n > 0.0 && *n < 1000.0)
}

/// "under 90 minutes", "less than 2 hours", "under an hour and a half", "no longer than 100 min"
/// → `max_runtime`; the phrase leaves the text.
fn take_runtime(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    for bound in RUNTIME_BOUNDS {
        let mut from = 0;
        while let Some(start) = find_phrase(words, used, bound, from) {
            from = start + 1;
            let at = start + bound.split(' ').count();
            let Some(mut n) = words.get(at).and_then(|w| amount(w)) else {
                continue;
            };
            // "1.5 hours" reaches here as "1", "5" (the point splits words).
            let mut unit_at = at + 1;
            if let Some(frac) = words
                .get(at + 1)
                .filter(|w| !w.is_empty() && w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit()))
            {
                n += frac.parse::<f32>().unwrap_or(0.0) / 10f32.powi(frac.len() as i32);
                unit_at += 1;
            }
            let Some(unit) = words.get(unit_at).map(String::as_str) else {
                continue;
            };
            let mut minutes = match unit {
                "min" | "mins" | "minute" | "minutes" | "m" => n,
                "h" | "hr" | "hrs" | "hour" | "hours" => n * 60.0,
                _ => continue,
            };
            let mut len = unit_at + 1 - start;
            // "an hour and a half"
            if words.get(unit_at + 1).map(String::as_str) == Some("and")
                && words.get(unit_at + 2).map(String::as_str) == Some("a")
                && words.get(unit_at + 3).map(String::as_str) == Some("half")
            {
                minutes += 30.0;
                len += 3;
            }
            // "90 minutes long", "2 hours or less"
            if words.get(start + len).map(String::as_str) == Some("long") {
                len += 1;
            }
            let m = minutes.round().clamp(1.0, f32::from(u16::MAX)) as u16;
            intent.max_runtime = Some(intent.max_runtime.map_or(m, |x| x.min(m)));
            mark(used, start, len);
        }
    }
}

fn take_years(words: &mut [String], used: &mut [bool], now: i32, intent: &mut ParsedIntent) {
    let n = words.len();
    let described = n >= DESCRIPTION_WORDS;
    let mut i = 0;
    while i < n {
        let w = words[i].as_str();
        let prev = if i > 0 { words[i - 1].as_str() } else { "" };
        // "set in the 1940s", "in 1890s london": when the story happens, not when it was made.
        // In a description a decade is when it was made only where it names the film ("a 90s
        // film where…", "1930s horror", "from the 80s"); "three 1950s los angeles cops" and
        // "…parties with drugs in the 90s" say when the story happens.
        let story_time = set_in(words, i)
            || decade_of(w).is_some_and(|d| {
                d < FIRST_FILM_DECADE || (described && !decade_names_the_film(words, i))
            });
        if story_time {
            // Left in the text: the plot says when it happens.
        } else if let Some(d) = decade_of(w) {
            let (lo, hi, start) = match prev {
                "early" => (d, d + 3, i - 1),
                "mid" => (d + 3, d + 6, i - 1),
                "late" => (d + 6, d + 9, i - 1),
                _ => (d, d + 9, i),
            };
            // "from the 90s" / "in the 90s": the connecting words go too.
            let mut s = start;
            while s > 0 && ["the", "from", "in", "of", "during"].contains(&words[s - 1].as_str()) {
                s -= 1;
            }
            mark(used, s, i + 1 - s);
            merge_range(intent, lo, hi);
        } else if let Some(y) = year_of(w) {
            let next_year = words.get(i + 2).and_then(|w| year_of(w));
            match prev {
                "before" | "pre" => {
                    merge_range(intent, 1870, y - 1);
                    mark(used, i - 1, 2);
                }
                "after" | "post" => {
                    merge_range(intent, y + 1, 2100);
                    mark(used, i - 1, 2);
                }
                "since" => {
                    merge_range(intent, y, 2100);
                    mark(used, i - 1, 2);
                }
                "between" | "from"
                    if next_year.is_some()
                        && ["and", "to", "until"].contains(&words[i + 1].as_str()) =>
                {
                    let y2 = next_year.expect("checked");
                    merge_range(intent, y.min(y2), y.max(y2));
                    mark(used, i - 1, 4);
                    i += 2;
                }
                // "a high school team in 1971", "summer in 1962": in a description "in <year>"
                // is when the story happens, unless the film "came out in" it.
                "in" if described && !made_in(words, i - 1) => {}
                "in" | "from" | "year" => {
                    merge_range(intent, y, y);
                    mark(used, i - 1, 2);
                }
                // "a 2019 horror movie", "biting 1976 satire": the year dates the film. Not
                // where it may be the title ("1917 war movie", "the 2012 movie").
                _ if (matches!(prev, "a" | "an") || (i > 0 && !LEADING.contains(&prev)))
                    && names_a_kind(words.get(i + 1).map(String::as_str).unwrap_or("")) =>
                {
                    merge_range(intent, y, y);
                    used[i] = true;
                }
                _ => {}
            }
        } else if ["recent", "newest", "latest"].contains(&w)
            || (w == "new" && new_means_recent(words, i))
        {
            merge_range(intent, now - 3, now);
            used[i] = true;
        } else if (w == "older" || w == "old") && old_means_era(words, i) {
            merge_range(intent, 1870, now - 25);
            used[i] = true;
        }
        i += 1;
    }
}

fn take_platforms(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    for (phrase, slug, alone) in PLATFORMS {
        let mut from = 0;
        while let Some(i) = find_phrase(words, used, phrase, from) {
            let len = phrase.split(' ').count();
            let after_on = i > 0 && ["on", "via", "at"].contains(&words[i - 1].as_str());
            if *alone || after_on {
                mark(used, i, len);
                if after_on {
                    used[i - 1] = true;
                }
                if !intent.platforms.iter().any(|p| p == slug) {
                    intent.platforms.push(slug.to_string());
                }
            }
            from = i + len;
        }
    }
}

fn take_regions(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    for (name, code) in REGIONS {
        if let Some(i) = find_phrase(words, used, name, 1) {
            if words[i - 1] == "in" {
                mark(used, i - 1, name.split(' ').count() + 1);
                intent.region = Some(code.to_string());
                return;
            }
        }
    }
}

fn take_references(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    for marker in REFERENCE_MARKERS {
        let mut from = 0;
        while let Some(i) = find_phrase(words, used, marker, from) {
            let start = i + marker.split(' ').count();
            // "a girl who dresses like a boy", "would like to": a comparison or a wish in the
            // description, not a title.
            // In a description "like a …" compares too ("a van shaped like a sheepdog").
            let compares = (i > 0 && COMPARING.contains(&words[i - 1].as_str()))
                || (words.len() >= DESCRIPTION_WORDS
                    && matches!(words.get(start).map(String::as_str), Some("a" | "an")));
            if compares {
                from = start;
                continue;
            }
            // "feel like watching" / "something like": not a reference unless a title follows.
            let mut end = start;
            while end < words.len() && !used[end] && !REFERENCE_ENDS.contains(&words[end].as_str())
            {
                end += 1;
            }
            from = end.max(start);
            if end == start {
                continue;
            }
            mark(used, i, end - i);
            let title = words[start..end].join(" ");
            // "like X or Y" / "like X and Y": several references.
            for t in title.split(" or ") {
                if !t.is_empty() && !intent.references.contains(&t.to_string()) {
                    intent.references.push(t.to_string());
                }
            }
        }
    }
}

fn take_moods_and_genres(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    let add_genres = |intent: &mut ParsedIntent, gs: &[&str]| {
        for g in gs {
            if !intent.genres.iter().any(|x| x == g) {
                intent.genres.push(g.to_string());
            }
        }
    };
    for (phrase, mood, genres) in MOODS {
        if let Some(i) = find_phrase(words, used, phrase, 0) {
            mark(used, i, phrase.split(' ').count());
            if !intent.moods.iter().any(|m| m == mood) {
                intent.moods.push(mood.to_string());
            }
            add_genres(intent, genres);
        }
    }
    // In a description ("mafia family saga about an aging don…") a word that names a genre is
    // often part of the plot: it stays in the text, and asks for the genre only when a kind of
    // title follows it ("a war movie where…", "family comedy about…").
    let described = words.len() >= DESCRIPTION_WORDS;
    for (phrase, genres) in GENRE_WORDS {
        let Some(i) = find_phrase(words, used, phrase, 0) else {
            continue;
        };
        let len = phrase.split(' ').count();
        if described && PLOT_NOUNS.contains(phrase) {
            let next = words.get(i + len).map(String::as_str).unwrap_or("");
            // "a faded silent film star": the kind is part of a person or a thing in the plot.
            let after = words.get(i + len + 1).map(String::as_str).unwrap_or("");
            let asks = (TITLE_KINDS.contains(&next) && !FILM_COMPOUNDS.contains(&after))
                || GENRE_WORDS.iter().any(|(w, _)| *w == next);
            if asks {
                add_genres(intent, genres);
            }
            continue;
        }
        // Other genre words in a description ask for the genre and stay in the text too ("a
        // caped vigilante fights a gangster…"); so does a word narrower than its genre ("heist
        // movies" are not every crime film).
        if !described && !NARROW_GENRE_WORDS.contains(phrase) {
            mark(used, i, len);
        }
        add_genres(intent, genres);
    }
}

/// Genre words that name a kind of story inside their genre: they ask for the genre and stay in
/// the text, so the keyword channel looks for them too.
const NARROW_GENRE_WORDS: &[&str] = &["heist", "gangster", "mafia", "mob", "ghost", "ghosts"];

/// Whether a search text holds nothing but such words (a browse query all the same:
/// "heist movies").
pub fn only_narrow_genre_words(text: &str) -> bool {
    let mut words = text.split_whitespace().peekable();
    words.peek().is_some() && words.all(|w| NARROW_GENRE_WORDS.contains(&w))
}

/// From this many words a query reads as a description of the plot.
const DESCRIPTION_WORDS: usize = 8;

/// Genre words that are also things a plot is about.
const PLOT_NOUNS: &[&str] = &[
    "family",
    "kids",
    "children",
    "war",
    "crime",
    "mafia",
    "mob",
    "heist",
    "detective",
    "ghost",
    "ghosts",
    "cowboy",
    "spy",
    "teen",
    "dance",
    "sport",
    "sports",
    "superhero",
    "disaster",
    "silent",
    "political",
    "legal",
    "courtroom",
    "historical",
    "action",
    "adventure",
    "romance",
];

/// Nouns that make "film" / "movie" part of something in the plot ("movie star", "film crew").
const FILM_COMPOUNDS: &[&str] = &[
    "star",
    "stars",
    "director",
    "directors",
    "actor",
    "actors",
    "actress",
    "studio",
    "crew",
    "critic",
    "buff",
    "producer",
    "set",
    "shoot",
    "festival",
    "career",
    "fan",
    "fans",
    "industry",
    "maker",
    "makers",
    "camera",
    "theater",
    "theatre",
    "projector",
    "club",
    "reel",
    "student",
];

/// Words for a kind of title: a genre word right before one is a request ("war movie").
const TITLE_KINDS: &[&str] = &[
    "movie", "movies", "film", "films", "flick", "flicks", "show", "shows", "series", "drama",
    "comedy", "thriller", "friendly",
];

/// Words after a kind of title that make it a request ("a movie where…", "tv show about…").
const REQUEST_FOLLOWERS: &[&str] = &[
    "where",
    "about",
    "with",
    "that",
    "which",
    "in",
    "when",
    "set",
    "from",
    "starring",
    "like",
    "based",
    "featuring",
    "for",
    "whose",
    "who",
    "of",
];

/// Verbs that make the kind of title after them what something in the story is ("his life is a
/// tv show", "it turns into a movie set").
const COPULAS: &[&str] = &[
    "is", "was", "are", "were", "be", "becomes", "become", "became", "into",
];

/// Whether the kind of title at `i` is said of something ("is a tv show"), not asked for.
fn predicated(words: &[String], i: usize) -> bool {
    // Back over an article and what only says which kind ("a reality tv show").
    words[..i]
        .iter()
        .rev()
        .find(|w| !matches!(w.as_str(), "a" | "an" | "the" | "tv" | "reality"))
        .is_some_and(|w| COPULAS.contains(&w.as_str()))
}

fn take_types(words: &[String], used: &mut [bool], intent: &mut ParsedIntent) {
    // In a description a kind of title is often part of the plot ("his whole life is a reality
    // tv show", "a quiz show", "their stage shows"): it filters only when a clause follows it.
    let described = words.len() >= DESCRIPTION_WORDS;
    for (phrase, ty) in TYPE_WORDS {
        let mut from = 0;
        while let Some(i) = find_phrase(words, used, phrase, from) {
            let len = phrase.split(' ').count();
            // A constraint right after it ("shows on disney+", "films from the 90s") asks too.
            let next = i + len;
            let asks = used.get(next).copied().unwrap_or(false)
                || words
                    .get(next)
                    .is_some_and(|w| REQUEST_FOLLOWERS.contains(&w.as_str()));
            if (described && !asks) || predicated(words, i) {
                from = next;
                continue;
            }
            mark(used, i, len);
            if !intent.content_types.contains(ty) {
                intent.content_types.push(*ty);
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ParsedIntent {
        parse_intent(q, 2026)
    }

    #[test]
    fn reference_with_mood() {
        let i = parse("movies like The Matrix but funnier");
        assert_eq!(i.references, vec!["the matrix"]);
        assert_eq!(i.moods, vec!["funny"]);
        assert_eq!(i.genres, vec!["comedy"]);
        assert_eq!(i.content_types, vec![ContentType::Movie]);
        assert_eq!(i.text, "");
        assert_eq!(i.semantic_text(), "funny comedy");
    }

    #[test]
    fn what_a_film_makes_you_do_is_a_mood() {
        // "…that make you cry" asks for sad films, not for titles with "Cry" in them.
        let i = parse("sad movies that make you cry");
        assert_eq!(i.moods, vec!["sad"]);
        assert_eq!(i.genres, vec!["drama"]);
        assert_eq!(i.text, "");
        let j = parse("comedies that make you laugh out loud");
        assert_eq!(j.moods, vec!["funny"]);
        assert_eq!(j.text, "");
        // The words alone stay words ("Cry Freedom").
        assert_eq!(parse("cry freedom").text, "cry freedom");
    }

    #[test]
    fn who_a_film_is_for_and_where_its_story_comes_from_are_not_title_words() {
        // "…for the whole family" asked for The Whole Nine Yards by its title's "whole".
        let i = parse("funny movies for the whole family");
        assert_eq!(i.moods, vec!["funny", "family-friendly"]);
        assert_eq!(i.genres, vec!["comedy", "family"]);
        assert_eq!(i.text, "");
        let j = parse("true story about a lawyer");
        assert_eq!(j.moods, vec!["true-story"]);
        assert_eq!(j.genres, vec!["biography"]);
        assert_eq!(j.text, "lawyer");
        let k = parse("a family friendly movie based on a true story");
        assert_eq!(k.moods, vec!["family-friendly", "true-story"]);
        assert_eq!(k.text, "");
        // A title that holds the words keeps them.
        assert_eq!(parse("true story").text, "true story");
        assert_eq!(parse("the whole nine yards").text, "whole nine yards");
    }

    #[test]
    fn decade_and_description() {
        let i = parse("that 90s film where a bus can't slow down");
        assert_eq!(i.year_range, Some((1990, 1999)));
        assert_eq!(i.content_types, vec![ContentType::Movie]);
        assert!(i.references.is_empty());
        assert_eq!(i.text, "bus cant slow down");
    }

    #[test]
    fn runtime_bounds_in_every_spelling() {
        for (q, m) in [
            ("comedies under 90 minutes", 90),
            ("thrillers less than 2 hours long", 120),
            ("something under an hour and a half", 90),
            ("kids movies no longer than 100 min", 100),
            ("horror shorter than 1.5 hours", 90),
        ] {
            let i = parse(q);
            assert_eq!(i.max_runtime, Some(m), "{q}");
            assert!(
                !i.text.contains("minute") && !i.text.contains("hour"),
                "{q}: {}",
                i.text
            );
        }
        let i = parse("under the sea");
        assert_eq!(i.max_runtime, None);
        assert!(i.text.contains("under"), "{}", i.text);
        assert_eq!(parse("2 hours").max_runtime, None);
        assert_eq!(parse("comedies under 90 minutes").genres, vec!["comedy"]);
    }

    #[test]
    fn years_in_every_spelling() {
        assert_eq!(parse("westerns before 1950").year_range, Some((1870, 1949)));
        assert_eq!(parse("horror after 2010").year_range, Some((2011, 2100)));
        assert_eq!(parse("comedies since 2015").year_range, Some((2015, 2100)));
        assert_eq!(
            parse("war films between 1940 and 1945").year_range,
            Some((1940, 1945))
        );
        assert_eq!(parse("late 80s action").year_range, Some((1986, 1989)));
        assert_eq!(parse("the nineties").year_range, Some((1990, 1999)));
        assert_eq!(parse("1980s sci-fi").year_range, Some((1980, 1989)));
        assert_eq!(parse("recent thrillers").year_range, Some((2023, 2026)));
        assert_eq!(parse("films from 1994").year_range, Some((1994, 1994)));
        // A bare year may be a title ("1917"): not a filter.
        assert_eq!(parse("1917").year_range, None);
        assert_eq!(parse("1917").text, "1917");
    }

    #[test]
    fn when_the_story_happens_is_not_when_the_film_was_made() {
        for q in [
            "two magicians in 1890s london try to outdo each other",
            "a war drama set in the 1940s",
            "a heist set in 1969",
        ] {
            let i = parse(q);
            assert_eq!(i.year_range, None, "{q}");
        }
        assert!(parse("two magicians in 1890s london")
            .text
            .contains("1890s"));
        assert_eq!(
            parse("war dramas from the 1940s").year_range,
            Some((1940, 1949))
        );
    }

    #[test]
    fn genre_words_in_a_plot_stay_in_the_text() {
        let i = parse("mafia family saga about an aging don and his youngest son taking over");
        assert!(!i.genres.contains(&"family".to_string()), "{:?}", i.genres);
        assert!(
            i.text.contains("mafia") && i.text.contains("family"),
            "{}",
            i.text
        );
        let i = parse(
            "black man visits his white girlfriends family and discovers they hypnotize people",
        );
        assert!(i.genres.is_empty(), "{:?}", i.genres);
        // A kind of title after it: a request.
        let i = parse("a war movie where a squad searches for one missing soldier");
        assert_eq!(i.genres, vec!["war"]);
        // Short queries ask for genres as before.
        assert_eq!(parse("family movies").genres, vec!["family"]);
        assert_eq!(parse("war").genres, vec!["war"]);
        // Plurals and unambiguous genre words always ask.
        assert!(
            parse("funny comedies about a dog who becomes a basketball player")
                .genres
                .contains(&"comedy".to_string())
        );
    }

    #[test]
    fn new_means_recent_only_before_what_is_asked_for() {
        for q in [
            "new comedies",
            "new movies on netflix",
            "something new",
            "new horror films",
        ] {
            assert_eq!(parse(q).year_range, Some((2023, 2026)), "{q}");
        }
        for q in [
            "man and his dog are the last survivors in new york after a plague",
            "a new teacher inspires her class",
            "jazz musicians in new orleans",
        ] {
            let i = parse(q);
            assert_eq!(i.year_range, None, "{q}");
            assert!(i.text.contains("new"), "{q}: {}", i.text);
        }
    }

    #[test]
    fn black_and_white_before_a_kind_of_film_is_an_era() {
        // Given black and white asked for as a kind of film,
        for q in [
            "old black and white horror",
            "black and white movies",
            "comedies in black and white",
        ] {
            let p = parse(q);
            // then it is the years films were shot so, and not a title's words;
            assert_eq!(p.year_range, Some((1900, 1966)), "{q}: {p:?}");
            assert!(!p.text.contains("black"), "{q}: {p:?}");
            assert!(!p.title_query.contains("old"), "{q}: {p:?}");
        }
        // while a thing's colours, the title itself, or a later film shot so stay words.
        for q in [
            "black and white",
            "a black and white cat solves crimes",
            "modern silent black and white movie",
            "black and white films from the 2010s",
        ] {
            let p = parse(q);
            assert_ne!(p.year_range, Some((1900, 1966)), "{q}: {p:?}");
            assert!(p.title_query.contains("black and white"), "{q}: {p:?}");
        }
    }

    #[test]
    fn a_kind_of_title_said_of_something_is_not_asked_for() {
        // Given a person and what happens, with a kind of title as what their life is,
        let p = parse("jim carrey life is a tv show");
        // then no kind of title is a filter, and "tv" stays in the text;
        assert!(p.content_types.is_empty(), "{p:?}");
        assert!(p.text.contains("tv"), "{p:?}");
        // while asked for, it still filters.
        assert_eq!(
            parse("jim carrey tv show").content_types,
            [ContentType::Series]
        );
        assert_eq!(
            parse("what is a good tv show").content_types,
            [ContentType::Series]
        );
        assert_eq!(
            parse("keanu reeves short films").content_types,
            [ContentType::Short]
        );
    }

    #[test]
    fn platforms_regions_and_types() {
        let i = parse("scary shows on Disney+ in the UK");
        assert_eq!(i.platforms, vec!["disney_plus"]);
        assert_eq!(i.region.as_deref(), Some("GB"));
        assert_eq!(i.content_types, vec![ContentType::Series]);
        assert_eq!(i.genres, vec!["horror"]);
        // "Mad Max" is a title, not the Max platform.
        let j = parse("movies like mad max");
        assert!(j.platforms.is_empty());
        assert_eq!(j.references, vec!["mad max"]);
        assert_eq!(parse("anything on max").platforms, vec!["max"]);
    }

    #[test]
    fn several_references_and_quotes() {
        let i = parse("something similar to Alien or The Thing from the 80s");
        assert_eq!(i.references, vec!["alien", "the thing"]);
        assert_eq!(i.year_range, Some((1980, 1989)));
        let q = parse("\"Heat\" but romantic");
        assert_eq!(q.references, vec!["heat"]);
        assert_eq!(q.moods, vec!["romantic"]);
    }

    #[test]
    fn like_after_a_verb_compares_and_stays_in_the_description() {
        let i = parse("a girl who dresses like a boy to join the army in china");
        assert!(i.references.is_empty(), "{:?}", i.references);
        assert!(i.text.contains("boy"), "{}", i.text);
        let j = parse("a robot that acts like a human falls in love");
        assert!(j.references.is_empty());
        assert!(j.text.contains("human"), "{}", j.text);
        assert!(parse("I'd like something funny").references.is_empty());
        let v =
            parse("two idiots drive to aspen in a van shaped like a sheepdog to give back cash");
        assert!(v.references.is_empty());
        assert!(v.text.contains("sheepdog"), "{}", v.text);
        // A reference after the comparison is still one.
        let k = parse("looks like a western, something like Unforgiven");
        assert_eq!(k.references, vec!["unforgiven"]);
    }

    #[test]
    fn a_kind_of_title_in_a_plot_is_not_a_filter() {
        for q in [
            "man finds out his whole life is a reality tv show",
            "cast of a cancelled sci-fi tv show mistaken for real heroes by aliens",
            "team of magicians rob banks during their stage shows and shower the money",
            "orphan from the mumbai slums on a quiz show knows the answers",
        ] {
            assert!(parse(q).content_types.is_empty(), "{q}");
        }
        let i = parse("man finds out his whole life is a reality tv show");
        assert!(i.text.contains("tv"), "{}", i.text);
        // Asked for: a clause follows the kind, or the query is short.
        for (q, ty) in [
            (
                "tv show about a chemistry teacher who cooks meth",
                ContentType::Series,
            ),
            (
                "what's the hitchcock movie where the guy with the broken leg spies",
                ContentType::Movie,
            ),
            ("reality tv shows", ContentType::Series),
        ] {
            assert_eq!(parse(q).content_types, vec![ty], "{q}");
        }
    }

    #[test]
    fn in_a_description_a_time_is_when_the_story_happens_unless_it_names_the_film() {
        for q in [
            "three 1950s los angeles cops uncover corruption behind a coffee shop massacre",
            "stock broker gets rich through fraud and parties with drugs in the 90s",
            "black coach takes over a newly integrated virginia high school team in 1971",
            "old widower ties thousands of balloons to his house and floats away",
            "mother and her 5 year old son held captive in a shed",
            "swinging sixties secret agent frozen and thawed out in the nineties to fight his nemesis",
        ] {
            let i = parse(q);
            assert_eq!(i.year_range, None, "{q}");
        }
        assert!(parse("team in 1971 wins the state title against all odds")
            .text
            .contains("1971"));
        for (q, range) in [
            ("that 90s film where a bus can't slow down", (1990, 1999)),
            (
                "1950s biblical epic, jewish prince sold into slavery on a galley",
                (1950, 1959),
            ),
            (
                "50s b movie with giant radioactive ants in the desert",
                (1950, 1959),
            ),
            (
                "robot from the future hunts a waitress, an action movie from the 80s",
                (1980, 1989),
            ),
            (
                "a cop movie about a bomb on a bus that came out in 1994",
                (1994, 1994),
            ),
            ("old movies", (1870, 2001)),
            ("the old cartoon with the flying elephant", (1870, 2001)),
        ] {
            assert_eq!(parse(q).year_range, Some(range), "{q}");
        }
    }

    #[test]
    fn a_year_before_a_kind_of_title_dates_the_film() {
        let i = parse("a 2019 horror movie about a doppelganger family");
        assert_eq!(i.year_range, Some((2019, 2019)));
        assert!(!i.text.contains("2019"), "{}", i.text);
        assert_eq!(
            parse("biting 1976 satire of television news").year_range,
            Some((1976, 1976))
        );
        // Elsewhere a year stays in the text ("2001 a space odyssey").
        assert_eq!(parse("2001 a space odyssey").year_range, None);
        assert_eq!(parse("1917 war movie").year_range, None);
        assert_eq!(parse("the 2012 movie").year_range, None);
        assert_eq!(parse("stuff like pulp fiction").text, "");
    }

    #[test]
    fn ranges_that_do_not_overlap_were_both_asked_for() {
        assert_eq!(parse("80s or 90s action").year_range, Some((1980, 1999)));
        assert_eq!(parse("90s movies from 1995").year_range, Some((1995, 1995)));
    }

    #[test]
    fn a_film_star_in_the_plot_asks_for_no_genre() {
        let q =
            "struggling screenwriter gets entangled with a faded silent film star in her mansion";
        assert!(parse(q).genres.is_empty(), "{:?}", parse(q).genres);
        let w = parse("a war movie where a sniper hides in the ruins of a city");
        assert_eq!(w.genres, vec!["war"]);
    }

    #[test]
    fn genre_words_in_a_description_stay_in_the_text() {
        let i = parse("caped vigilante fights a gangster who fell into chemicals");
        assert_eq!(i.genres, vec!["crime"]);
        assert!(i.text.contains("gangster"), "{}", i.text);
        let short = parse("gangster movies");
        assert_eq!(short.genres, vec!["crime"]);
        assert_eq!(short.text, "gangster");
        assert!(only_narrow_genre_words(&short.text));
        assert!(!only_narrow_genre_words("gangster in chicago"));
        assert!(!only_narrow_genre_words(""));
        assert_eq!(parse("crime movies").text, "");
    }

    #[test]
    fn what_someone_liked_is_a_reference() {
        let i = parse("if i liked the dark knight what should i watch");
        assert_eq!(i.references, vec!["the dark knight"]);
        assert!(i.moods.is_empty(), "{:?}", i.moods);
        assert_eq!(i.text, "");
        assert_eq!(
            parse("i loved inception, recommend something").references,
            vec!["inception"]
        );
        assert_eq!(
            parse("for fans of the truman show").references,
            vec!["the truman show"]
        );
    }

    #[test]
    fn praise_and_time_phrases_are_not_searched_for() {
        let i = parse("best horror films of all time");
        assert_eq!(i.text, "");
        assert_eq!(i.genres, vec!["horror"]);
        assert_eq!(parse("something funny to watch right now").text, "");
    }

    #[test]
    fn plain_title_query_is_text() {
        let i = parse("the godfathr");
        assert!(i.references.is_empty());
        assert_eq!(i.text, "godfathr");
        assert_eq!(i.year_range, None);
        let k = parse("the dark knight on netflix");
        assert_eq!(k.title_query, "the dark knight");
    }
}
