//! Probes stage: which channels a search runs and what each asks the index, under the plan's
//! filter. Embedding the description is the caller's (the model is a port).

use super::fuse::Channel;
use super::index::Filter;
use super::intent::{only_narrow_genre_words, ParsedIntent};
use super::plan::Mode;
use super::references::{more_like_this, Referenced};
use super::related::Expansion;
use super::text::{named_people_vector, people_vector, ranked_people_vector, Bm25, SparseVector};

/// Hits the title channel returns: a title query names few titles.
pub const TITLE_LIMIT: usize = 50;

/// Hits per title the typed one sounds like: that title, and the few spelled as it is.
pub const SOUNDS_LIKE_LIMIT: usize = 10;

/// How many times the other channels' depth the browse channel reads.
pub const BROWSE_DEPTH: usize = 4;

/// What one channel asks the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nearest neighbours of this text's embedding.
    Embed(String),
    /// BM25 terms against the indexed text.
    Terms(SparseVector),
    /// Title trigrams.
    Title(SparseVector),
    /// Nearest neighbours of the stored embedding of `referenced[i]`.
    Neighbours(usize),
    /// Titles sharing leading cast.
    Cast(SparseVector),
    /// The filter's titles, best known first (the catalog prior).
    Popular,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelProbe {
    pub channel: Channel,
    pub probe: Probe,
    pub filter: Filter,
    pub limit: usize,
}

/// What the probes are planned from: the earlier stages' output.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub mode: Mode,
    /// The query as validated.
    pub query: &'a str,
    pub intent: &'a ParsedIntent,
    /// What the text channels search ([`super::references::searched_text`]).
    pub text: &'a str,
    /// Trigrams of the intent's title query (the fuse stage rescores title hits with them too).
    pub title_query: &'a SparseVector,
    /// Trigrams of the catalog's titles the title query sounds like ([`super::soundalike`]).
    pub sounds_like: &'a [SparseVector],
    pub referenced: &'a [Referenced],
    /// People the query names by surname alone ([`super::people::Surnames::named`]).
    pub people: &'a [String],
    pub filter: &'a Filter,
    /// Hits each channel returns (the title channel: [`TITLE_LIMIT`]).
    pub depth: usize,
    /// Related words the keyword channel also looks for, in hybrid mode only: the raw keyword
    /// mode stays plain BM25, the baseline hybrid is measured against.
    pub expansion: Option<Expansion<'a>>,
}

/// The channels in fusion order: dense, keyword, title, then per referenced title its graph
/// neighbours, the titles whose text is like its text, and its shared cast, the people a description names, and, for a query with no
/// words left, browse.
pub fn probes(s: &Search<'_>, bm25: &Bm25) -> Vec<ChannelProbe> {
    let probe = |channel, probe, filter: &Filter, limit| ChannelProbe {
        channel,
        probe,
        filter: filter.clone(),
        limit,
    };
    let mut out = Vec::new();
    let dense_text = dense_text(s);
    if !dense_text.is_empty() {
        out.push(probe(
            Channel::Dense,
            Probe::Embed(dense_text),
            s.filter,
            s.depth,
        ));
    }
    if s.mode != Mode::Dense && !s.text.is_empty() {
        let terms = match s.expansion {
            Some(e) if s.mode == Mode::Hybrid => e.query(s.text),
            _ => bm25.query(s.text),
        };
        out.push(probe(
            Channel::Keyword,
            Probe::Terms(terms),
            s.filter,
            s.depth,
        ));
    }
    // Browse: a genre, an era or a kind and no words left to match ("heist movies", "90s
    // romantic comedies"). The dense channel would embed the genre words and find titles made of
    // them ("Funny People"); the films a person means are the genre's best known.
    let nothing_else = s.text.trim().is_empty() || only_narrow_genre_words(s.text);
    let browse = (s.mode == Mode::Hybrid && nothing_else && s.referenced.is_empty())
        .then(|| in_wanted_genres(s))
        .filter(|f| !f.genres_any.is_empty() || f.year_range.is_some() || !f.offers_any.is_empty());
    // A named title is found by the references stage; the title channel would find it again.
    // Asking for a kind in the plural ("superhero movies", "scary films") is not typing a title
    // (Superhero Movie, Scary Movie): "scary movie" still is.
    let plural_kind = browse.is_some()
        && s.query
            .split_whitespace()
            .any(|w| w.eq_ignore_ascii_case("movies") || w.eq_ignore_ascii_case("films"));
    if s.mode == Mode::Hybrid
        && s.referenced.is_empty()
        && !s.intent.title_query.is_empty()
        && !plural_kind
    {
        out.push(probe(
            Channel::Title,
            Probe::Title(s.title_query.clone()),
            s.filter,
            TITLE_LIMIT,
        ));
        // "the dark night": the many Night titles outrank The Dark Knight's trigrams; its own
        // spelling finds it (and the titles spelled like it).
        for meant in s.sounds_like {
            out.push(probe(
                Channel::Title,
                Probe::Title(meant.clone()),
                s.filter,
                SOUNDS_LIKE_LIMIT,
            ));
        }
    }
    // Neighbours of a referenced title, of one kind: in the wanted genres first when a mood or
    // genre was asked for ("like The Matrix but funnier"), then under the plan's filter alone.
    let neighbours = |out: &mut Vec<ChannelProbe>, channel, p: Probe| {
        if !s.intent.genres.is_empty() {
            out.push(probe(channel, p.clone(), &in_wanted_genres(s), s.depth));
        }
        out.push(probe(channel, p, s.filter, s.depth));
    };
    // Graph: the stored embedding's nearest neighbours.
    for i in 0..s.referenced.len() {
        neighbours(&mut out, Channel::Graph, Probe::Neighbours(i));
    }
    // More like this: titles whose text shares the referenced title's rare words (hybrid only:
    // the keyword mode stays the plain BM25 baseline).
    if s.mode == Mode::Hybrid {
        for r in s.referenced.iter().filter(|r| !r.terms.is_empty()) {
            neighbours(
                &mut out,
                Channel::MoreLikeThis,
                Probe::Terms(more_like_this(r)),
            );
        }
    }
    // Shared cast or director: sequels, franchises, an actor's or a director's other work
    // (rare names weigh most).
    for r in s.referenced {
        if !r.payload.cast.is_empty() || !r.payload.directors.is_empty() {
            out.push(probe(
                Channel::Cast,
                Probe::Cast(people_vector(&r.payload.cast, &r.payload.directors)),
                s.filter,
                s.depth,
            ));
        }
    }
    // People the description names ("emma stone spreads a rumor at high school"): their titles,
    // through the same cast vectors. BM25 alone reads "emma" and "stone" apart and puts a
    // "Stone" in a title above the actress.
    if s.mode == Mode::Hybrid && s.text.split_whitespace().nth(1).is_some() {
        out.push(probe(
            Channel::Cast,
            Probe::Cast(named_people_vector(s.text)),
            s.filter,
            s.depth,
        ));
    }
    // A surname alone ("spielberg movies"): the people it stands for, through the same vectors.
    if s.mode == Mode::Hybrid && !s.people.is_empty() {
        out.push(probe(
            Channel::Cast,
            Probe::Cast(ranked_people_vector(s.people)),
            s.filter,
            s.depth,
        ));
    }
    if let Some(f) = browse {
        // Deeper than the other channels: the fuse stage puts titles with all the wanted
        // genres first, and the filter lets titles with any of them through.
        out.push(probe(
            Channel::Browse,
            Probe::Popular,
            &f,
            BROWSE_DEPTH * s.depth,
        ));
    }
    out
}

/// The plan's filter narrowed to the genres the query asked for, where the request named none.
fn in_wanted_genres(s: &Search<'_>) -> Filter {
    let mut f = s.filter.clone();
    if f.genres_any.is_empty() {
        f.genres_any = s.intent.genres.clone();
    }
    f
}

/// What the dense channel embeds. Hybrid: the description with its mood and genre words; the
/// whole query when nothing is left of it and no title was named (so "Inception" still runs a
/// dense probe).
fn dense_text(s: &Search<'_>) -> String {
    match s.mode {
        Mode::Keyword => String::new(),
        Mode::Dense => s.query.to_string(),
        Mode::Hybrid => {
            let semantic = {
                let mut i = s.intent.clone();
                i.text = s.text.to_string();
                i.semantic_text()
            };
            if semantic.is_empty() && s.referenced.is_empty() {
                s.query.to_string()
            } else {
                semantic
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::search::index::DocPayload;
    use crate::search::text::{cast_vector, title_trigrams};

    fn referenced(n: u128, cast: &[&str]) -> Referenced {
        Referenced {
            id: Uuid::from_u128(n),
            vector: vec![n as f32],
            payload: DocPayload {
                cast: cast.iter().map(|c| c.to_string()).collect(),
                ..DocPayload::default()
            },
            terms: vec![],
        }
    }

    fn plan<'a>(
        mode: Mode,
        intent: &'a ParsedIntent,
        title_query: &'a SparseVector,
        referenced: &'a [Referenced],
        filter: &'a Filter,
    ) -> Vec<ChannelProbe> {
        plan_expanded(mode, intent, title_query, referenced, filter, None)
    }

    fn plan_expanded<'a>(
        mode: Mode,
        intent: &'a ParsedIntent,
        title_query: &'a SparseVector,
        referenced: &'a [Referenced],
        filter: &'a Filter,
        expansion: Option<Expansion<'a>>,
    ) -> Vec<ChannelProbe> {
        probes(
            &Search {
                referenced,
                expansion,
                ..search(mode, intent, title_query, filter)
            },
            &Bm25::default(),
        )
    }

    /// A search of the intent as typed: no references, people, other spellings or expansion.
    fn search<'a>(
        mode: Mode,
        intent: &'a ParsedIntent,
        title_query: &'a SparseVector,
        filter: &'a Filter,
    ) -> Search<'a> {
        Search {
            mode,
            query: &intent.original,
            intent,
            text: &intent.text,
            title_query,
            sounds_like: &[],
            referenced: &[],
            people: &[],
            filter,
            depth: 80,
            expansion: None,
        }
    }

    fn shape(p: &[ChannelProbe]) -> Vec<(Channel, usize)> {
        p.iter().map(|p| (p.channel, p.limit)).collect()
    }

    #[test]
    fn a_title_typed_as_it_sounds_is_also_probed_as_spelled_in_the_catalog() {
        // Given "the dark night", which sounds like The Dark Knight,
        let intent = ParsedIntent {
            original: "the dark night".into(),
            text: "dark night".into(),
            title_query: "the dark night".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let meant = [title_trigrams("The Dark Knight")];
        let f = Filter::default();
        let search = |mode| Search {
            sounds_like: &meant,
            ..search(mode, &intent, &tq, &f)
        };
        // when hybrid plans it, a second title probe asks for the catalog's spelling;
        let p = probes(&search(Mode::Hybrid), &Bm25::default());
        let titles: Vec<&ChannelProbe> = p.iter().filter(|p| p.channel == Channel::Title).collect();
        assert_eq!(titles.len(), 2, "{:?}", shape(&p));
        assert_eq!(titles[0].probe, Probe::Title(tq.clone()));
        assert_eq!(titles[1].probe, Probe::Title(meant[0].clone()));
        assert_eq!(titles[1].limit, SOUNDS_LIKE_LIMIT);
        // the raw keyword mode has no title channel at all.
        let k = probes(&search(Mode::Keyword), &Bm25::default());
        assert!(k.iter().all(|p| p.channel != Channel::Title));
    }

    #[test]
    fn hybrid_without_references_runs_dense_keyword_and_title() {
        let intent = ParsedIntent {
            original: "funny robbery".into(),
            text: "robbery".into(),
            moods: vec!["funny".into()],
            genres: vec!["comedy".into()],
            title_query: "funny robbery".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter::default();
        let p = plan(Mode::Hybrid, &intent, &tq, &[], &f);
        assert_eq!(
            shape(&p),
            vec![
                (Channel::Dense, 80),
                (Channel::Keyword, 80),
                (Channel::Title, TITLE_LIMIT)
            ]
        );
        assert_eq!(p[0].probe, Probe::Embed("robbery funny comedy".into()));
        assert_eq!(p[1].probe, Probe::Terms(Bm25::default().query("robbery")));
        assert_eq!(p[2].probe, Probe::Title(tq.clone()));
    }

    #[test]
    fn a_genre_with_no_words_left_browses_the_best_known_titles_of_it() {
        // Given "90s romantic comedies": genres and an era, no words left to match,
        let intent = ParsedIntent {
            original: "90s romantic comedies".into(),
            genres: vec!["romance".into(), "comedy".into()],
            title_query: "90s romantic comedies".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter {
            year_range: Some((1990, 1999)),
            ..Filter::default()
        };
        // when hybrid plans it, a browse probe reads the filter's titles in the wanted genres,
        let p = plan(Mode::Hybrid, &intent, &tq, &[], &f);
        let browse: Vec<&ChannelProbe> =
            p.iter().filter(|p| p.channel == Channel::Browse).collect();
        assert_eq!(browse.len(), 1, "{:?}", shape(&p));
        assert_eq!(browse[0].probe, Probe::Popular);
        assert_eq!(browse[0].limit, BROWSE_DEPTH * 80);
        assert_eq!(browse[0].filter.genres_any, vec!["romance", "comedy"]);
        assert_eq!(browse[0].filter.year_range, Some((1990, 1999)));
        // Asked for in the plural, the kind is no title typed: no title probe ("superhero
        // movies" is not Superhero Movie), but the singular still runs it ("scary movie").
        for (query, titled) in [("superhero movies", false), ("scary movie", true)] {
            let kind = ParsedIntent {
                original: query.into(),
                genres: vec!["horror".into()],
                title_query: query.into(),
                ..ParsedIntent::default()
            };
            let p = plan(Mode::Hybrid, &kind, &tq, &[], &Filter::default());
            assert_eq!(
                p.iter().any(|p| p.channel == Channel::Title),
                titled,
                "{query}: {:?}",
                shape(&p)
            );
            assert!(p.iter().any(|p| p.channel == Channel::Browse), "{query}");
        }
        // and a query with words to match, a reference, a raw mode or nothing to browse by runs
        // none.
        let worded = ParsedIntent {
            text: "new york".into(),
            ..intent.clone()
        };
        // A word narrower than its genre stays in the text and still browses ("heist movies").
        let heist = ParsedIntent {
            text: "heist".into(),
            genres: vec!["crime".into()],
            ..intent.clone()
        };
        let p = plan(Mode::Hybrid, &heist, &tq, &[], &f);
        assert!(
            p.iter().any(|p| p.channel == Channel::Browse),
            "{:?}",
            shape(&p)
        );
        assert!(
            p.iter().any(|p| p.channel == Channel::Keyword),
            "{:?}",
            shape(&p)
        );
        let bare = ParsedIntent {
            genres: vec![],
            ..intent.clone()
        };
        let r = [referenced(1, &[])];
        for p in [
            plan(Mode::Hybrid, &worded, &tq, &[], &f),
            plan(Mode::Hybrid, &intent, &tq, &r, &f),
            plan(Mode::Dense, &intent, &tq, &[], &f),
            plan(Mode::Hybrid, &bare, &tq, &[], &Filter::default()),
        ] {
            assert!(
                p.iter().all(|p| p.channel != Channel::Browse),
                "{:?}",
                shape(&p)
            );
        }
    }

    #[test]
    fn a_lone_surname_looks_for_the_people_it_stands_for() {
        // Given "nolan movies", whose surname the catalog's credits resolved,
        let intent = ParsedIntent {
            original: "nolan movies".into(),
            text: "nolan".into(),
            title_query: "nolan".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter::default();
        let people = vec!["christopher nolan".to_string(), "lloyd nolan".to_string()];
        let search = |mode| Search {
            people: &people,
            ..search(mode, &intent, &tq, &f)
        };
        // when hybrid plans it, one people probe asks for them by their whole names, the best
        // known weighing most,
        let p = probes(&search(Mode::Hybrid), &Bm25::default());
        let cast: Vec<&ChannelProbe> = p.iter().filter(|p| p.channel == Channel::Cast).collect();
        assert_eq!(cast.len(), 1, "{:?}", shape(&p));
        let Probe::Cast(v) = &cast[0].probe else {
            panic!("a people probe")
        };
        let weight = |name: &str| {
            let term = cast_vector(&[name.to_string()]).indices[0];
            v.indices
                .iter()
                .position(|i| *i == term)
                .map(|at| v.values[at])
        };
        assert_eq!(weight("Christopher Nolan"), Some(1.0));
        assert_eq!(weight("Lloyd Nolan"), Some(0.5));
        // and the raw channels stay raw.
        for mode in [Mode::Keyword, Mode::Dense] {
            let p = probes(&search(mode), &Bm25::default());
            assert!(p.iter().all(|p| p.channel != Channel::Cast));
        }
    }

    #[test]
    fn a_description_of_several_words_also_looks_for_the_people_it_names() {
        // Given a description that names an actress,
        let intent = ParsedIntent {
            original: "emma stone spreads a rumor".into(),
            text: "emma stone spreads rumor".into(),
            title_query: "emma stone spreads a rumor".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter::default();
        // when hybrid plans it, a cast probe asks for every two- and three-word run,
        let p = plan(Mode::Hybrid, &intent, &tq, &[], &f);
        let cast: Vec<&ChannelProbe> = p.iter().filter(|p| p.channel == Channel::Cast).collect();
        assert_eq!(cast.len(), 1, "{:?}", shape(&p));
        let Probe::Cast(v) = &cast[0].probe else {
            panic!("a cast probe")
        };
        let emma_stone = cast_vector(&["Emma Stone".to_string()]);
        assert!(v.indices.contains(&emma_stone.indices[0]));
        assert_eq!(v.indices.len(), 3 + 2);
        // and the raw modes and one-word texts run none.
        for mode in [Mode::Keyword, Mode::Dense] {
            let p = plan(mode, &intent, &tq, &[], &f);
            assert!(p.iter().all(|p| p.channel != Channel::Cast));
        }
        let one = ParsedIntent {
            text: "heist".into(),
            ..intent.clone()
        };
        assert!(plan(Mode::Hybrid, &one, &tq, &[], &f)
            .iter()
            .all(|p| p.channel != Channel::Cast));
    }

    #[test]
    fn only_hybrid_widens_the_keyword_channel_with_related_words() {
        // Given a description and a list relating "jailed" to "prison",
        let intent = ParsedIntent {
            original: "jailed banker".into(),
            text: "jailed banker".into(),
            ..ParsedIntent::default()
        };
        let related = crate::search::related::Related::parse("jailed prison\n");
        let expansion = Some(Expansion {
            related: &related,
            per_word: 5,
            weight: 0.3,
        });
        let tq = SparseVector::default();
        let f = Filter::default();
        let keyword_terms = |mode| {
            plan_expanded(mode, &intent, &tq, &[], &f, expansion)
                .into_iter()
                .find(|p| p.channel == Channel::Keyword)
                .map(|p| p.probe)
        };
        // then hybrid also looks for "prison" (at 0.3), the raw keyword mode does not.
        let Some(Probe::Terms(hybrid)) = keyword_terms(Mode::Hybrid) else {
            panic!("hybrid runs the keyword channel")
        };
        assert_eq!(hybrid.indices.len(), 3);
        assert!(hybrid.values.contains(&0.3));
        assert_eq!(
            keyword_terms(Mode::Keyword),
            Some(Probe::Terms(Bm25::default().query("jailed banker")))
        );
    }

    #[test]
    fn a_bare_title_is_embedded_whole() {
        let intent = ParsedIntent {
            original: "Inception".into(),
            title_query: "inception".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter::default();
        let p = plan(Mode::Hybrid, &intent, &tq, &[], &f);
        assert_eq!(shape(&p), vec![(Channel::Dense, 80), (Channel::Title, 50)]);
        assert_eq!(p[0].probe, Probe::Embed("Inception".into()));
    }

    #[test]
    fn references_bring_graph_and_cast_probes_instead_of_titles() {
        // Given "like A and B but funnier": two referenced titles, only A with a cast,
        let intent = ParsedIntent {
            original: "like a and b but funnier".into(),
            references: vec!["a".into(), "b".into()],
            genres: vec!["comedy".into()],
            moods: vec!["funny".into()],
            title_query: "like a and b but funnier".into(),
            ..ParsedIntent::default()
        };
        let refs = [referenced(1, &["Keanu Reeves"]), referenced(2, &[])];
        let tq = title_trigrams(&intent.title_query);
        let f = Filter {
            exclude: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
            ..Filter::default()
        };
        // when planned,
        let p = plan(Mode::Hybrid, &intent, &tq, &refs, &f);
        // then each reference gets a genre-preferring and a plain graph probe, A a cast probe,
        // and no title probe runs.
        assert_eq!(
            shape(&p),
            vec![
                (Channel::Dense, 80),
                (Channel::Graph, 80),
                (Channel::Graph, 80),
                (Channel::Graph, 80),
                (Channel::Graph, 80),
                (Channel::Cast, 80)
            ]
        );
        assert_eq!(p[0].probe, Probe::Embed("funny comedy".into()));
        assert_eq!(p[1].probe, Probe::Neighbours(0));
        assert_eq!(p[1].filter.genres_any, vec!["comedy"]);
        assert_eq!(p[1].filter.exclude, f.exclude);
        assert_eq!(p[2].probe, Probe::Neighbours(0));
        assert_eq!(p[2].filter, f);
        assert_eq!(p[3].probe, Probe::Neighbours(1));
        assert_eq!(p[4].filter, f);
        assert_eq!(
            p[5].probe,
            Probe::Cast(cast_vector(&["Keanu Reeves".to_string()]))
        );
    }

    #[test]
    fn a_referenced_titles_director_joins_its_cast_probe() {
        // Given "like Inception", a title whose lead credits its director,
        let intent = ParsedIntent::default();
        let mut inception = referenced(1, &["Leonardo DiCaprio"]);
        inception.payload.directors = vec!["Christopher Nolan".into()];
        // and one with a director and no cast,
        let mut short = referenced(2, &[]);
        short.payload.directors = vec!["Hal Roach".into()];
        let refs = [inception, short];
        let f = Filter::default();
        // when planned,
        let p = plan(Mode::Hybrid, &intent, &SparseVector::default(), &refs, &f);
        let cast: Vec<&Probe> = p
            .iter()
            .filter(|p| p.channel == Channel::Cast)
            .map(|p| &p.probe)
            .collect();
        // then each gets a people probe asking for the director too.
        assert_eq!(
            cast,
            vec![
                &Probe::Cast(people_vector(
                    &["Leonardo DiCaprio".into()],
                    &["Christopher Nolan".into()]
                )),
                &Probe::Cast(people_vector(&[], &["Hal Roach".into()])),
            ]
        );
    }

    #[test]
    fn a_referenced_titles_words_ask_for_titles_told_alike() {
        // Given "like Jaws but funnier": Jaws's text holds three terms,
        let intent = ParsedIntent {
            original: "like jaws but funnier".into(),
            references: vec!["jaws".into()],
            genres: vec!["comedy".into()],
            ..ParsedIntent::default()
        };
        let mut jaws = referenced(1, &[]);
        jaws.terms = vec![30, 10, 20];
        let refs = [jaws, referenced(2, &[])];
        let f = Filter {
            exclude: vec![Uuid::from_u128(1)],
            ..Filter::default()
        };
        // when planned,
        let p = plan(Mode::Hybrid, &intent, &SparseVector::default(), &refs, &f);
        let alike: Vec<&ChannelProbe> = p
            .iter()
            .filter(|p| p.channel == Channel::MoreLikeThis)
            .collect();
        // then its terms, each once, are a keyword query in the wanted genres and one without
        // (and the title without terms asks for none),
        let terms = SparseVector::from_pairs(vec![(10, 1.0), (20, 1.0), (30, 1.0)]);
        assert_eq!(alike.len(), 2);
        assert_eq!(alike[0].probe, Probe::Terms(terms.clone()));
        assert_eq!(alike[0].filter.genres_any, vec!["comedy"]);
        assert_eq!(alike[0].filter.exclude, f.exclude);
        assert_eq!(alike[1].probe, Probe::Terms(terms));
        assert_eq!(alike[1].filter, f);
        // and the raw keyword mode, plain BM25, runs no such probe.
        let raw = plan(Mode::Keyword, &intent, &SparseVector::default(), &refs, &f);
        assert!(raw.iter().all(|p| p.channel != Channel::MoreLikeThis));
    }

    #[test]
    fn the_request_genres_stay_on_graph_probes() {
        let intent = ParsedIntent {
            genres: vec!["comedy".into()],
            ..ParsedIntent::default()
        };
        let refs = [referenced(1, &[])];
        let f = Filter {
            genres_any: vec!["drama".into()],
            ..Filter::default()
        };
        let p = plan(Mode::Hybrid, &intent, &SparseVector::default(), &refs, &f);
        assert_eq!(p[1].filter.genres_any, vec!["drama"]);
    }

    #[test]
    fn raw_modes_run_one_channel() {
        let intent = ParsedIntent {
            original: "bus can't slow down".into(),
            text: "bus can't slow down".into(),
            title_query: "bus can't slow down".into(),
            ..ParsedIntent::default()
        };
        let tq = title_trigrams(&intent.title_query);
        let f = Filter::default();
        let dense = plan(Mode::Dense, &intent, &tq, &[], &f);
        assert_eq!(shape(&dense), vec![(Channel::Dense, 80)]);
        assert_eq!(dense[0].probe, Probe::Embed("bus can't slow down".into()));
        let keyword = plan(Mode::Keyword, &intent, &tq, &[], &f);
        assert_eq!(shape(&keyword), vec![(Channel::Keyword, 80)]);
    }
}
