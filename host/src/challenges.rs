//! Single-use challenges a kiosk signs into its next sync batch.
//!
//! The clinic hands one out in every hello answer and every sync response;
//! a batch is taken only when it answers a challenge that is still open, and
//! that challenge is then closed. A captured request therefore cannot be
//! replayed, and nobody without an enrolled kiosk's key gets an answer that
//! says anything about that kiosk's chain.
//!
//! Challenges live in memory: a clinic restart forgets them, and a kiosk whose
//! challenge was forgotten is refused once and starts again with a hello on
//! its next sync run. Hellos are unauthenticated, so the table is bounded:
//! past [`MAX_OPEN`], the oldest open challenge is dropped first.

use rand::RngCore;
use screening::record::wire::Challenge;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How long a challenge stays open, in milliseconds: a sync batch is built
/// and sent within seconds of the answer that carried it.
pub const OPEN_MS: u64 = 5 * 60 * 1000;
/// Most challenges open at once.
pub const MAX_OPEN: usize = 20_000;

/// Why a batch's challenge was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeRefused {
    /// Never issued, already answered, or forgotten by a clinic restart.
    #[error("the challenge is not one this clinic has open (never issued, already used, or issued before a clinic restart)")]
    Unknown,
    /// Issued longer than [`OPEN_MS`] ago.
    #[error("the challenge expired")]
    Expired,
}

/// The open challenges.
#[derive(Debug, Default)]
pub struct Challenges {
    inner: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    /// Challenge → when it was issued.
    issued: HashMap<Challenge, u64>,
    /// Issue order, for dropping the oldest; may hold challenges already taken.
    order: VecDeque<Challenge>,
}

impl Challenges {
    /// No challenge open.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh random challenge, open from `now_ms`.
    pub fn issue(&self, now_ms: u64) -> Challenge {
        let mut c = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut c);
        let mut open = self.lock();
        while open.issued.len() >= MAX_OPEN {
            match open.order.pop_front() {
                Some(old) => {
                    open.issued.remove(&old);
                }
                None => break,
            }
        }
        open.issued.insert(c, now_ms);
        open.order.push_back(c);
        // Taken challenges leave `order` lazily; keep it from growing past
        // twice the table.
        if open.order.len() > 2 * MAX_OPEN {
            let Open { issued, order } = &mut *open;
            order.retain(|c| issued.contains_key(c));
        }
        c
    }

    /// Whether `c` is open at `now_ms`, without closing it: a batch's
    /// signature is checked before its challenge is spent, so a stranger who
    /// saw a challenge cannot burn it with a forged batch.
    pub fn check(&self, c: &Challenge, now_ms: u64) -> Result<(), ChallengeRefused> {
        let open = self.lock();
        match open.issued.get(c) {
            None => Err(ChallengeRefused::Unknown),
            Some(&at) if now_ms.saturating_sub(at) > OPEN_MS => Err(ChallengeRefused::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Closes `c` if it is open at `now_ms`; exactly one of several callers
    /// with the same challenge succeeds.
    pub fn take(&self, c: &Challenge, now_ms: u64) -> Result<(), ChallengeRefused> {
        let mut open = self.lock();
        match open.issued.remove(c) {
            None => Err(ChallengeRefused::Unknown),
            Some(at) if now_ms.saturating_sub(at) > OPEN_MS => Err(ChallengeRefused::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Challenges open (or expired but not yet dropped).
    pub fn len(&self) -> usize {
        self.lock().issued.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // A panic while holding this lock leaves a consistent map: go on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_taken_once_and_expires() {
        let c = Challenges::new();
        let a = c.issue(1_000);
        let b = c.issue(1_000);
        assert_ne!(a, b);
        assert_eq!(c.check(&a, 2_000), Ok(()));
        assert_eq!(c.take(&a, 2_000), Ok(()));
        assert_eq!(
            c.take(&a, 2_000),
            Err(ChallengeRefused::Unknown),
            "single use"
        );
        assert_eq!(c.check(&[0; 32], 2_000), Err(ChallengeRefused::Unknown));
        assert_eq!(
            c.take(&b, 1_000 + OPEN_MS + 1),
            Err(ChallengeRefused::Expired)
        );
        assert!(c.is_empty());
    }

    #[test]
    fn the_table_stays_bounded_and_drops_the_oldest() {
        let c = Challenges::new();
        let first = c.issue(0);
        for _ in 0..MAX_OPEN {
            c.issue(1);
        }
        assert_eq!(c.len(), MAX_OPEN);
        assert_eq!(c.check(&first, 2), Err(ChallengeRefused::Unknown));
        let last = c.issue(3);
        assert_eq!(c.take(&last, 3), Ok(()));
    }
}
