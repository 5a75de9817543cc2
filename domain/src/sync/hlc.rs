//! Hybrid Logical Clock (Kulkarni et al.): physical milliseconds, a logical counter for events within
//! one millisecond, and the device id as the final tie-breaker, so any two stamps are totally
//! ordered and a stamp never goes backwards even when a device's wall clock does.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A clock reading. The derived order (physical, logical, device) is the causality-respecting total
/// order every CRDT here uses; the device id only breaks exact ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    pub physical_ms: u64,
    pub logical: u32,
    pub device_id: Uuid,
}

/// A remote stamp too far ahead of our wall clock: accepting it would drag every later stamp into
/// the future.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clock is {ahead_ms} ms ahead of the server (at most {max_drift_ms} ms accepted)")]
pub struct ClockDrift {
    pub ahead_ms: u64,
    pub max_drift_ms: u64,
}

impl Hlc {
    pub const fn zero(device_id: Uuid) -> Self {
        Self {
            physical_ms: 0,
            logical: 0,
            device_id,
        }
    }

    /// The stamp for a local event (or a send) at wall time `now_ms`: strictly greater than `self`.
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.physical_ms {
            Hlc {
                physical_ms: now_ms,
                logical: 0,
                device_id: self.device_id,
            }
        } else {
            Hlc {
                physical_ms: self.physical_ms,
                logical: self.logical.saturating_add(1),
                device_id: self.device_id,
            }
        }
    }

    /// Our next stamp after observing `remote` at wall time `now_ms`: greater than both `self` and
    /// `remote`. Refuses a remote stamp more than `max_drift_ms` ahead of `now_ms`.
    pub fn receive(self, remote: Hlc, now_ms: u64, max_drift_ms: u64) -> Result<Hlc, ClockDrift> {
        check_drift(remote, now_ms, max_drift_ms)?;
        let physical_ms = now_ms.max(self.physical_ms).max(remote.physical_ms);
        let logical = match (
            physical_ms == self.physical_ms,
            physical_ms == remote.physical_ms,
        ) {
            (true, true) => self.logical.max(remote.logical).saturating_add(1),
            (true, false) => self.logical.saturating_add(1),
            (false, true) => remote.logical.saturating_add(1),
            (false, false) => 0,
        };
        Ok(Hlc {
            physical_ms,
            logical,
            device_id: self.device_id,
        })
    }
}

/// Refuses a stamp more than `max_drift_ms` ahead of `now_ms`.
pub fn check_drift(stamp: Hlc, now_ms: u64, max_drift_ms: u64) -> Result<(), ClockDrift> {
    let ahead_ms = stamp.physical_ms.saturating_sub(now_ms);
    if ahead_ms > max_drift_ms {
        return Err(ClockDrift {
            ahead_ms,
            max_drift_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);

    #[test]
    fn tick_is_monotonic_when_the_wall_clock_goes_back() {
        let t1 = Hlc::zero(A).tick(1_000);
        let t2 = t1.tick(900); // wall clock stepped back
        let t3 = t2.tick(900);
        assert!(t1 < t2 && t2 < t3);
        assert_eq!((t3.physical_ms, t3.logical), (1_000, 2));
        assert_eq!(t3.tick(1_001).logical, 0);
    }

    #[test]
    fn receive_orders_after_both_clocks() {
        let local = Hlc::zero(A).tick(1_000);
        let remote = Hlc {
            physical_ms: 1_500,
            logical: 7,
            device_id: B,
        };
        let next = local.receive(remote, 1_200, 60_000).unwrap();
        assert!(next > local && next > remote);
        assert_eq!(
            (next.physical_ms, next.logical, next.device_id),
            (1_500, 8, A)
        );
        // Same physical on both sides: max logical + 1.
        let same = Hlc {
            physical_ms: 1_500,
            logical: 3,
            device_id: B,
        };
        assert_eq!(next.receive(same, 1_000, 60_000).unwrap().logical, 9);
    }

    #[test]
    fn receive_refuses_stamps_beyond_the_drift_bound() {
        let remote = Hlc {
            physical_ms: 200_000,
            logical: 0,
            device_id: B,
        };
        let err = Hlc::zero(A).receive(remote, 100_000, 60_000).unwrap_err();
        assert_eq!(err.ahead_ms, 100_000);
        assert!(Hlc::zero(A).receive(remote, 150_000, 60_000).is_ok());
    }

    #[test]
    fn device_id_breaks_exact_ties() {
        let a = Hlc {
            physical_ms: 5,
            logical: 1,
            device_id: A,
        };
        let b = Hlc { device_id: B, ..a };
        assert!(a < b);
    }
}
