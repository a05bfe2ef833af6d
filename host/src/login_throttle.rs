//! Login throttling: after a few wrong passwords, an account, and
//! separately the address they came from, must wait before the next try,
//! and the wait doubles with every further failure (capped). A refused try
//! costs no argon2 hash and no database lock, so a flood of guesses cannot
//! slow kiosk sync; a good password resets its account.
//!
//! The account key stops one person's password being guessed from many
//! addresses; the address key stops one machine trying many accounts. A ward
//! computer shared by several nurses sits behind one address, so addresses
//! get more free failures than accounts.
//!
//! Why not `governor` (the well-kept rate limiter): it grants a fixed rate
//! of attempts, whereas a lockout must grow with consecutive failures and
//! end with a success; that rule is a few lines over a bounded map.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The rule: how many failures are free, the first wait, the longest wait,
/// and how long a quiet key is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one account before it must wait.
    pub free_per_account: u32,
    /// Failures from one address before it must wait.
    pub free_per_address: u32,
    /// The first wait, ms; each further failure doubles it.
    pub first_wait_ms: u64,
    /// The longest wait, ms.
    pub max_wait_ms: u64,
    /// A key with no failure for this long is forgotten, ms.
    pub forget_after_ms: u64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_per_account: 5,
            free_per_address: 20,
            first_wait_ms: 2_000,
            max_wait_ms: 15 * 60 * 1000,
            forget_after_ms: 30 * 60 * 1000,
        }
    }
}

/// Keys remembered at most; beyond it the longest-quiet ones are dropped
/// first, so a spray of names or addresses cannot grow memory.
pub const MAX_KEYS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: u64,
    blocked_until_ms: u64,
}

/// Why a try must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the next try is accepted (rounded up, at least 1).
    pub retry_after_s: u64,
    /// What is throttled, in plain words ("account `ana`", "address 192.0.2.7").
    pub what: String,
}

/// A wait that a failure has just started (for the security-event table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWait {
    /// What must wait.
    pub what: String,
    /// Consecutive failures so far.
    pub failures: u32,
    /// How long, ms.
    pub wait_ms: u64,
}

/// Failures per account and per address, shared by every login request.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    keys: Mutex<HashMap<Key, Entry>>,
}

fn describe(key: &Key) -> String {
    match key {
        Key::Account(name) => format!("account `{name}`"),
        Key::Address(addr) => format!("address {addr}"),
    }
}

fn keys(account: &str, address: Option<IpAddr>) -> Vec<Key> {
    let mut keys = vec![Key::Account(account.to_lowercase())];
    keys.extend(address.map(Key::Address));
    keys
}

impl LoginThrottle {
    /// A throttle applying `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        LoginThrottle {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The rule it applies.
    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// `Err` when `account` or `address` must still wait at `now_ms`.
    pub fn check(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<(), Throttled> {
        let map = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = keys(account, address)
            .into_iter()
            .filter_map(|k| {
                let e = map.get(&k)?;
                (e.blocked_until_ms > now_ms).then(|| (e.blocked_until_ms - now_ms, k))
            })
            .max_by_key(|(left, _)| *left);
        match waiting {
            Some((left_ms, key)) => Err(Throttled {
                retry_after_s: left_ms.div_ceil(1000).max(1),
                what: describe(&key),
            }),
            None => Ok(()),
        }
    }

    /// Counts a wrong password for `account` from `address`; returns the
    /// waits this failure started.
    pub fn failed(&self, account: &str, address: Option<IpAddr>, now_ms: u64) -> Vec<NewWait> {
        let p = self.policy;
        let mut map = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS {
            self.prune(&mut map, now_ms);
        }
        let mut started = Vec::new();
        for key in keys(account, address) {
            let free = match key {
                Key::Account(_) => p.free_per_account,
                Key::Address(_) => p.free_per_address,
            };
            let e = map.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last_failure_ms: now_ms,
                blocked_until_ms: 0,
            });
            if now_ms.saturating_sub(e.last_failure_ms) > p.forget_after_ms {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last_failure_ms = now_ms;
            if e.failures >= free {
                let doublings = (e.failures - free).min(32);
                let wait_ms = p
                    .first_wait_ms
                    .saturating_mul(1u64 << doublings)
                    .min(p.max_wait_ms);
                e.blocked_until_ms = now_ms + wait_ms;
                started.push(NewWait {
                    what: describe(&key),
                    failures: e.failures,
                    wait_ms,
                });
            }
        }
        started
    }

    /// A good password: its account starts afresh (the address does not, so
    /// one known account cannot launder guesses at others).
    pub fn succeeded(&self, account: &str) {
        let mut map = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Key::Account(account.to_lowercase()));
    }

    /// Drops forgotten keys, then, if still full, the longest-quiet half.
    fn prune(&self, map: &mut HashMap<Key, Entry>, now_ms: u64) {
        let forget = self.policy.forget_after_ms;
        map.retain(|_, e| {
            e.blocked_until_ms > now_ms || now_ms.saturating_sub(e.last_failure_ms) <= forget
        });
        if map.len() >= MAX_KEYS {
            let mut quiet: Vec<(u64, Key)> = map
                .iter()
                .map(|(k, e)| (e.last_failure_ms, k.clone()))
                .collect();
            quiet.sort_unstable_by_key(|(t, _)| *t);
            for (_, k) in quiet.into_iter().take(MAX_KEYS / 2) {
                map.remove(&k);
            }
        }
    }

    /// Keys remembered now (tests, diagnostics).
    pub fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy::default())
    }

    #[test]
    fn an_account_waits_after_its_free_failures_and_the_wait_doubles() {
        let t = throttle();
        for i in 0..4 {
            assert!(t.failed("ana", None, i).is_empty());
            assert!(t.check("ana", None, i).is_ok());
        }
        let started = t.failed("ana", None, 10);
        assert_eq!(started[0].wait_ms, 2_000);
        assert_eq!(started[0].what, "account `ana`");
        let refused = t.check("ANA", None, 11).unwrap_err();
        assert_eq!(refused.retry_after_s, 2);
        assert!(t.check("ana", None, 2_010).is_ok());
        assert_eq!(t.failed("ana", None, 2_010)[0].wait_ms, 4_000);
        assert_eq!(t.failed("ana", None, 6_010)[0].wait_ms, 8_000);
        // Other accounts are untouched.
        assert!(t.check("ben", None, 6_011).is_ok());
    }

    #[test]
    fn the_wait_is_capped() {
        let t = throttle();
        let mut last = Vec::new();
        for i in 0..100 {
            last = t.failed("ana", None, i * 1_000_000);
        }
        assert_eq!(last[0].wait_ms, ThrottlePolicy::default().max_wait_ms);
    }

    #[test]
    fn an_address_spraying_accounts_waits_too() {
        let t = throttle();
        for i in 0..19 {
            assert!(t.failed(&format!("user{i}"), ADDR, 0).is_empty());
        }
        let started = t.failed("user19", ADDR, 0);
        assert_eq!(started[0].what, "address 192.0.2.7");
        let refused = t.check("someone-new", ADDR, 1).unwrap_err();
        assert_eq!(refused.what, "address 192.0.2.7");
        assert!(t.check("someone-new", None, 1).is_ok());
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let t = throttle();
        for i in 0..4 {
            t.failed("ana", ADDR, i);
        }
        t.succeeded("Ana");
        for i in 0..4 {
            assert!(
                t.failed("ana", ADDR, 10 + i).is_empty(),
                "account started afresh"
            );
        }
        for i in 0..12 {
            t.failed("ana2", ADDR, 20 + i);
        }
        // 4 + 4 + 12 = 20 failures from the address: it waits now.
        assert!(t.check("ben", ADDR, 40).is_err());
    }

    #[test]
    fn quiet_keys_are_forgotten() {
        let t = throttle();
        for i in 0..4 {
            t.failed("ana", None, i);
        }
        let later = ThrottlePolicy::default().forget_after_ms + 10;
        assert!(t.failed("ana", None, later).is_empty(), "counted afresh");
    }

    #[test]
    fn a_spray_of_names_stays_bounded() {
        let t = throttle();
        for i in 0..(MAX_KEYS as u64 * 2) {
            t.failed(&format!("u{i}"), None, i);
        }
        assert!(t.len() <= MAX_KEYS, "{} keys", t.len());
    }
}
