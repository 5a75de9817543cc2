//! State-based CRDTs. Every `merge` is commutative, associative and idempotent (property-tested in
//! `sync::tests`), so replicas that saw the same operations in any order, any number of times,
//! hold equal state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::hlc::Hlc;

/// Last-writer-wins register: the value with the greater stamp wins. Equal stamps (one device
/// writing twice in one clock tick) fall back to the greater value so the merge stays commutative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LwwRegister<T> {
    pub value: T,
    pub stamp: Hlc,
}

impl<T: Ord + Clone> LwwRegister<T> {
    pub fn new(value: T, stamp: Hlc) -> Self {
        Self { value, stamp }
    }

    /// Keeps the later write; returns true when `other` replaced the value.
    pub fn merge(&mut self, other: &LwwRegister<T>) -> bool {
        let wins = (other.stamp, &other.value) > (self.stamp, &self.value);
        if wins {
            *self = other.clone();
        }
        wins
    }
}

/// One live add in an [`OrSet`]: the element and when it was added.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tagged<E> {
    pub element: E,
    pub added: Hlc,
}

/// Observed-remove set (add-wins): every add carries a unique tag; a remove tombstones the tags
/// it observed, so an add the remover never saw survives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrSet<E: Ord> {
    adds: BTreeMap<Uuid, Tagged<E>>,
    removed: BTreeSet<Uuid>,
}

impl<E: Ord> Default for OrSet<E> {
    fn default() -> Self {
        Self {
            adds: BTreeMap::new(),
            removed: BTreeSet::new(),
        }
    }
}

impl<E: Ord + Clone> OrSet<E> {
    /// Adds `element` under a fresh `tag`; a tag already tombstoned stays removed. Returns true
    /// when the set changed.
    pub fn add(&mut self, element: E, tag: Uuid, added: Hlc) -> bool {
        if self.removed.contains(&tag) {
            return false;
        }
        let new = Tagged { element, added };
        match self.adds.get(&tag) {
            // Tags are unique by construction; keep a deterministic winner if a client reuses one.
            Some(old) if *old >= new => false,
            _ => {
                self.adds.insert(tag, new);
                true
            }
        }
    }

    /// Tombstones `tags` (those the remover observed). Returns true when a live add disappeared.
    pub fn remove(&mut self, tags: impl IntoIterator<Item = Uuid>) -> bool {
        let mut changed = false;
        for tag in tags {
            self.removed.insert(tag);
            changed |= self.adds.remove(&tag).is_some();
        }
        changed
    }

    pub fn merge(&mut self, other: &OrSet<E>) {
        for (tag, t) in &other.adds {
            self.add(t.element.clone(), *tag, t.added);
        }
        self.remove(other.removed.iter().copied());
    }

    pub fn contains(&self, element: &E) -> bool {
        self.adds.values().any(|t| &t.element == element)
    }

    /// Live tags of `element`: what a client must send to remove it everywhere it was seen.
    pub fn tags_of<'a>(&'a self, element: &'a E) -> impl Iterator<Item = Uuid> + 'a {
        self.adds
            .iter()
            .filter(move |(_, t)| &t.element == element)
            .map(|(tag, _)| *tag)
    }

    /// Live elements with their earliest add.
    pub fn elements(&self) -> BTreeMap<E, Hlc> {
        let mut out: BTreeMap<E, Hlc> = BTreeMap::new();
        for t in self.adds.values() {
            out.entry(t.element.clone())
                .and_modify(|h| *h = (*h).min(t.added))
                .or_insert(t.added);
        }
        out
    }
}

/// Grow-only counter: one monotone count per device; the value is their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GCounter {
    counts: BTreeMap<Uuid, u64>,
}

impl GCounter {
    /// Records that `device` has counted `total` so far (a device's count never goes down, so an
    /// old or repeated report changes nothing).
    pub fn observe(&mut self, device: Uuid, total: u64) -> bool {
        let c = self.counts.entry(device).or_insert(0);
        if total > *c {
            *c = total;
            true
        } else {
            false
        }
    }

    pub fn merge(&mut self, other: &GCounter) {
        for (d, n) in &other.counts {
            self.observe(*d, *n);
        }
    }

    pub fn value(&self) -> u64 {
        self.counts.values().fold(0, |a, b| a.saturating_add(*b))
    }

    pub fn of(&self, device: Uuid) -> u64 {
        self.counts.get(&device).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(ms: u64, dev: u128) -> Hlc {
        Hlc {
            physical_ms: ms,
            logical: 0,
            device_id: Uuid::from_u128(dev),
        }
    }

    #[test]
    fn lww_later_stamp_wins_and_device_breaks_ties() {
        // Seed example: phone 1234 ms @100, TV 5678 ms @101 → 5678.
        let mut phone = LwwRegister::new(1234u64, h(100, 1));
        let tv = LwwRegister::new(5678u64, h(101, 2));
        assert!(phone.merge(&tv));
        assert_eq!(phone.value, 5678);
        assert!(!phone.merge(&LwwRegister::new(1, h(100, 9))));
        let mut a = LwwRegister::new(10u64, h(200, 1));
        a.merge(&LwwRegister::new(20u64, h(200, 2)));
        assert_eq!(a.value, 20, "same time: the greater device id wins");
    }

    #[test]
    fn or_set_is_add_wins_for_unobserved_tags() {
        // Seed example: A adds (tag_a), B removes the tag it saw (tag_b): the movie stays.
        let movie = Uuid::from_u128(42);
        let (tag_a, tag_b) = (Uuid::from_u128(100), Uuid::from_u128(101));
        let mut a = OrSet::default();
        a.add(movie, tag_b, h(1, 1));
        let mut b = a.clone();
        a.add(movie, tag_a, h(10, 1));
        b.remove(b.tags_of(&movie).collect::<Vec<_>>());
        assert!(!b.contains(&movie));
        a.merge(&b);
        b.merge(&a);
        assert!(a.contains(&movie) && b.contains(&movie));
        assert_eq!(a, b);
        // Removing every observed tag removes it.
        let tags: Vec<_> = a.tags_of(&movie).collect();
        a.remove(tags);
        assert!(!a.contains(&movie));
    }

    #[test]
    fn or_set_remove_before_add_keeps_it_removed() {
        let mut s = OrSet::default();
        let tag = Uuid::from_u128(7);
        s.remove([tag]);
        assert!(!s.add(1u8, tag, h(1, 1)));
        assert!(!s.contains(&1));
    }

    #[test]
    fn g_counter_sums_devices_and_ignores_stale_reports() {
        let mut c = GCounter::default();
        c.observe(Uuid::from_u128(1), 3);
        c.observe(Uuid::from_u128(2), 2);
        assert!(!c.observe(Uuid::from_u128(1), 2));
        assert_eq!(c.value(), 5);
    }
}
