//! Prior stage input: how well known a title is, before any query. The catalog says more than it
//! seems: a famous film has a long encyclopedic overview and a long credited cast, an obscure one
//! two lines and two names (on the shared Wikipedia films, the titles people describe sit at the
//! 91st percentile of overview length). Interactions (feedback, watches) add to it where the
//! product has them. The reranker weighs the prior against the channels; it never decides alone.

/// Overview length (characters) at which the length signal saturates.
const LONG_OVERVIEW: f32 = 1_500.0;
/// Overviews shorter than this say nothing (stubs, one-line synopses).
const SHORT_OVERVIEW: f32 = 100.0;
/// Credited cast size at which the cast signal saturates.
const FULL_CAST: f32 = 10.0;

/// Catalog prior in [0, 1]: 0.8 × log-scaled overview length + 0.2 × credited cast size.
pub fn catalog_prior(overview: Option<&str>, cast: usize) -> f32 {
    let len = overview.map_or(0, |o| o.trim().chars().count()) as f32;
    let length = ((1.0 + len).ln() - (1.0 + SHORT_OVERVIEW).ln())
        / ((1.0 + LONG_OVERVIEW).ln() - (1.0 + SHORT_OVERVIEW).ln());
    let cast = (cast as f32 / FULL_CAST).min(1.0);
    (0.8 * length.clamp(0.0, 1.0) + 0.2 * cast).clamp(0.0, 1.0)
}

/// Adds interaction evidence (distinct users who watched, rated well or saved a title) to a
/// catalog prior: half the weight goes to interactions once `users` reaches `saturation`.
pub fn with_interactions(catalog: f32, users: u64, saturation: u64) -> f32 {
    if users == 0 || saturation == 0 {
        return catalog;
    }
    let share = ((1.0 + users as f32).ln() / (1.0 + saturation as f32).ln()).min(1.0);
    (0.5 * catalog + 0.5 * share).max(catalog).clamp(0.0, 1.0)
}

/// The catalog prior back out of a prior with interactions folded in, given the interaction
/// share that was folded (`Engagement::share`): how the title would rank for a deployment with no
/// interactions yet (`mediagw train search-ranker` reports it).
pub fn without_interactions(prior: f32, share: f32) -> f32 {
    // with_interactions = max(catalog, (catalog + share) / 2); the mean won only if share > prior.
    if share > 0.0 && prior < share {
        (2.0 * prior - share).max(0.0)
    } else {
        prior
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_overviews_and_casts_rank_higher_within_bounds() {
        let stub = catalog_prior(Some("A short film."), 1);
        let known = catalog_prior(Some(&"word ".repeat(150)), 7);
        let famous = catalog_prior(Some(&"word ".repeat(400)), 12);
        assert!(stub < 0.1, "{stub}");
        assert!(stub < known && known < famous, "{stub} {known} {famous}");
        assert!(famous <= 1.0);
        assert_eq!(catalog_prior(None, 0), 0.0);
    }

    #[test]
    fn interactions_only_add() {
        let base = catalog_prior(Some(&"word ".repeat(100)), 3);
        assert_eq!(with_interactions(base, 0, 100), base);
        let some = with_interactions(base, 10, 100);
        let many = with_interactions(base, 1_000, 100);
        assert!(base <= some && some < many, "{base} {some} {many}");
        assert!(many <= 1.0);
        assert!(with_interactions(0.9, 1, 100) >= 0.9);
    }

    #[test]
    fn interactions_come_back_out() {
        for (catalog, users) in [(0.2, 1_000), (0.9, 1_000), (0.1, 3), (0.6, 3), (0.4, 0)] {
            let share = if users == 0 {
                0.0
            } else {
                ((1.0 + users as f32).ln() / (1.0 + 1_000f32).ln()).min(1.0)
            };
            let prior = with_interactions(catalog, users, 1_000);
            assert!((without_interactions(prior, share) - catalog).abs() < 1e-6);
        }
    }
}
