//! The user profile fold: what each feedback signal says about one title for one user, and the
//! temporal pattern of their activity. Folding is commutative per title (maxima and latest-wins by
//! timestamp), so a profile does not depend on the order in which two topics' records arrive.

use serde::{Deserialize, Serialize};

use crate::interaction::Signal;
use crate::sync::{CrdtOperation, OperationType};

/// Playback past this share of the runtime counts as watched (seed: "completed").
pub const WATCHED_AT: f32 = 0.9;

/// Everything one user told us about one title.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemSignals {
    /// Latest rating: (rating, scale, at_ms).
    pub rating: Option<(u8, u8, i64)>,
    /// Highest completion seen (0–1).
    pub completion: f32,
    pub watched_at: Option<i64>,
    pub added_at: Option<i64>,
    pub dismissed_at: Option<i64>,
    pub first_at: i64,
    pub last_at: i64,
}

impl ItemSignals {
    /// Folds one signal in (commutative: any order of the same signals gives the same state).
    pub fn absorb(&mut self, signal: Signal, at_ms: i64) {
        if self.first_at == 0 || at_ms < self.first_at {
            self.first_at = at_ms;
        }
        self.last_at = self.last_at.max(at_ms);
        let latest = |slot: &mut Option<i64>| *slot = Some(slot.map_or(at_ms, |t| t.max(at_ms)));
        match signal {
            Signal::Watched { completion } => {
                self.completion = self.completion.max(completion);
                latest(&mut self.watched_at);
            }
            Signal::Rated { rating, scale } => {
                let newer = match self.rating {
                    None => true,
                    // Same instant: the higher rating wins, so the result is order-free.
                    Some((r, _, t)) => (at_ms, rating) > (t, r),
                };
                if newer {
                    self.rating = Some((rating, scale, at_ms));
                }
            }
            Signal::Dismissed => latest(&mut self.dismissed_at),
            Signal::Added => latest(&mut self.added_at),
        }
    }

    /// Dismissed after any sign of interest.
    pub fn dismissed(&self) -> bool {
        let interest = [
            self.watched_at,
            self.added_at,
            self.rating.map(|(_, _, t)| t),
        ]
        .into_iter()
        .flatten()
        .max();
        match (self.dismissed_at, interest) {
            (Some(d), Some(i)) => d > i,
            (Some(_), None) => true,
            _ => false,
        }
    }

    pub fn watched(&self) -> bool {
        self.completion >= WATCHED_AT || self.rating.is_some()
    }

    /// The rating as a share of its scale (0–1).
    pub fn normalized_rating(&self) -> Option<f32> {
        self.rating.map(|(rating, scale, _)| {
            Signal::Rated { rating, scale }
                .normalized_rating()
                .unwrap_or(0.5)
        })
    }

    /// How much the user likes the title, −1 (dismissed, panned) … +1 (loved): what the preference
    /// vector, genre affinities and explanations read. Negative feedback subtracts.
    pub fn preference(&self) -> f32 {
        if self.dismissed() {
            return -1.0;
        }
        if let Some(r) = self.normalized_rating() {
            // 0.5 of the scale is neutral; a 10/10 is +1, a 1/5 or 0/10 is −1.
            return ((r - 0.5) * 2.0).clamp(-1.0, 1.0);
        }
        if self.completion >= WATCHED_AT {
            return 0.8;
        }
        if self.added_at.is_some() {
            return 0.5;
        }
        // Abandoned early: mild dislike.
        if self.watched_at.is_some() && self.completion < 0.25 {
            return -0.3;
        }
        0.2
    }

    /// Whether the title counts as a positive interaction for collaborative filtering: users rate,
    /// watch and list what they chose to engage with, whatever the verdict (implicit feedback);
    /// dismissed titles do not count.
    pub fn engaged(&self) -> bool {
        !self.dismissed()
            && (self.rating.is_some() || self.added_at.is_some() || self.completion >= 0.25)
    }
}

/// When the user is active: UTC hour of day and day of week (Monday = 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Temporal {
    pub hours: [u32; 24],
    pub days: [u32; 7],
}

impl Temporal {
    pub fn absorb(&mut self, at_ms: i64) {
        let secs = at_ms.div_euclid(1000);
        let hour = secs.div_euclid(3600).rem_euclid(24) as usize;
        // 1970-01-01 was a Thursday (Monday = 0 → Thursday = 3).
        let day = (secs.div_euclid(86_400) + 3).rem_euclid(7) as usize;
        self.hours[hour] += 1;
        self.days[day] += 1;
    }

    /// The busiest hour and day, if any activity was seen.
    pub fn peak(&self) -> Option<(usize, usize)> {
        let argmax = |v: &[u32]| {
            v.iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                .filter(|(_, c)| **c > 0)
                .map(|(i, _)| i)
        };
        Some((argmax(&self.hours)?, argmax(&self.days)?))
    }
}

/// A sync operation that says something about taste: a watchlist add is `Added`; playback past
/// 90 % of the runtime or a view-count increment is `Watched`.
pub fn signal_from_sync(op: &CrdtOperation) -> Option<(uuid::Uuid, Signal)> {
    match op.operation_type {
        OperationType::WatchlistAdd { content_id, .. } => Some((content_id, Signal::Added)),
        OperationType::PlaybackUpdate {
            content_id,
            position_ms,
            duration_ms: Some(duration),
        } if duration > 0 => {
            let completion = (position_ms as f64 / duration as f64).min(1.0) as f32;
            (completion >= WATCHED_AT).then_some((content_id, Signal::Watched { completion }))
        }
        OperationType::ViewCount { content_id, count } if count > 0 => {
            Some((content_id, Signal::Watched { completion: 1.0 }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(signals: &[(Signal, i64)]) -> ItemSignals {
        let mut s = ItemSignals::default();
        for (sig, at) in signals {
            s.absorb(*sig, *at);
        }
        s
    }

    #[test]
    fn ratings_map_to_preferences_on_both_scales() {
        let r = |rating, scale| fold(&[(Signal::Rated { rating, scale }, 1)]).preference();
        assert_eq!(r(10, 10), 1.0);
        assert_eq!(r(5, 5), 1.0);
        assert_eq!(r(1, 5), -1.0);
        assert_eq!(r(0, 10), -1.0);
        assert!(r(9, 10) > 0.7 && r(4, 5) > 0.4);
    }

    #[test]
    fn dismissing_after_interest_wins_and_interest_after_dismissing_undoes_it() {
        let s = fold(&[(Signal::Added, 1), (Signal::Dismissed, 2)]);
        assert!(s.dismissed() && !s.engaged());
        assert_eq!(s.preference(), -1.0);
        let s = fold(&[
            (Signal::Dismissed, 1),
            (
                Signal::Rated {
                    rating: 9,
                    scale: 10,
                },
                2,
            ),
        ]);
        assert!(!s.dismissed() && s.engaged());
    }

    #[test]
    fn latest_rating_wins() {
        let a = (
            Signal::Rated {
                rating: 3,
                scale: 10,
            },
            5,
        );
        let b = (
            Signal::Rated {
                rating: 9,
                scale: 10,
            },
            9,
        );
        assert_eq!(fold(&[a, b]).rating, Some((9, 10, 9)));
        assert_eq!(fold(&[b, a]).rating, Some((9, 10, 9)));
    }

    #[test]
    fn temporal_buckets_use_utc_hour_and_weekday() {
        let mut t = Temporal::default();
        // 2026-12-05 (a Saturday) 20:30 UTC.
        t.absorb(1_796_502_600_000);
        assert_eq!(t.peak(), Some((20, 5)));
    }

    proptest::proptest! {
        /// Any order of the same signals folds to the same state.
        #[test]
        fn folding_is_order_independent(
            raw in proptest::collection::vec((0u8..4, 0u8..=10, 1i64..50), 1..12),
            seed in 0u64..1000,
        ) {
            let signals: Vec<(Signal, i64)> = raw.iter().map(|(k, v, at)| (match k {
                0 => Signal::Watched { completion: *v as f32 / 10.0 },
                1 => Signal::Rated { rating: *v, scale: 10 },
                2 => Signal::Dismissed,
                _ => Signal::Added,
            }, *at)).collect();
            let mut shuffled = signals.clone();
            // Deterministic shuffle.
            let n = shuffled.len();
            for i in 0..n {
                let j = (seed as usize * 31 + i * 17) % n;
                shuffled.swap(i, j);
            }
            let (a, b) = (fold(&signals), fold(&shuffled));
            proptest::prop_assert_eq!(a, b);
        }
    }
}
