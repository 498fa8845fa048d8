//! Failed logins, counted so that guessing is slowed and then stopped without ever locking out a
//! clinic or a user (OWASP ASVS V6: brute force protection that cannot be turned against the
//! account). Only failures count: a clinic's staff signing in from one address use up nothing.
//! Three counts, each over a window from its first failure (`LOGIN_FAILURE_WINDOW_SECONDS`):
//!
//! - **the pair** (one account from one address): after `LOGIN_PAIR_DELAY_AFTER` failures each
//!   attempt waits a delay that doubles with every failure (at most a minute); after
//!   `LOGIN_PAIR_LOCK_AFTER` the pair is locked for the rest of the window;
//! - **the account**, from every address: after `LOGIN_ACCOUNT_DELAY_AFTER` failures, addresses
//!   that have failed for the account themselves wait as above. An address without failures for
//!   it is never held back, so nobody can lock a doctor out by guessing from elsewhere;
//! - **the address**, over every account: after `LOGIN_ADDRESS_FAILURE_LIMIT` failures
//!   (credential stuffing) it waits for the rest of its window.
//!
//! An attempt that must wait is refused before its password is checked, so the answer is the same
//! whether the password was right. An attempt is registered as in flight for its pair while its
//! password is checked, and counts as a failure for the pair's lock and delay meanwhile: attempts
//! sent together cannot all pass before the first failure is recorded. Accounts are counted by a
//! digest of the email tried, whether or not an account has it, so the answers say nothing of
//! which accounts exist. The counts live in Redis when it is configured (shared by every
//! instance) and are kept in the process as well, which is what is consulted while Redis is
//! unavailable.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::LoginLimits;
use crate::redis::Redis;

static CHECK: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("failures_check.lua")));
static RECORD: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("failures_record.lua")));

/// The longest wait between two attempts of a pair.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// What the counts say of one attempt, as Redis or the process has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Failures {
    pub account: u32,
    pub pair: u32,
    /// Since the pair's last failure (`Duration::MAX` without one).
    pub since_pair_failed: Duration,
    pub address: u32,
    /// Until the account's and the address's windows end.
    pub account_left: Duration,
    pub address_left: Duration,
    /// The pair's other attempts whose passwords are being checked.
    pub others_in_flight: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Failed,
    Succeeded,
    /// Refused before its password was checked, or abandoned: nothing to count.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Failed => "failed",
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
        }
    }
}

/// Whether an attempt may go ahead; `Err(wait)` when it must wait.
pub(super) fn verdict(limits: &LoginLimits, f: &Failures) -> Result<(), Duration> {
    // The pair's attempts in flight count for its own lock and delay.
    let pair = f.pair.saturating_add(f.others_in_flight);
    if pair >= limits.pair_lock_after {
        return Err(f.account_left.max(Duration::from_secs(1)));
    }
    let mut wait = Duration::ZERO;
    if pair >= limits.pair_delay_after {
        wait = wait.max(delay(pair - limits.pair_delay_after));
    }
    // Only an address that failed for the account waits for the account's failures.
    if f.pair > 0 && f.account >= limits.account_delay_after {
        wait = wait.max(delay(f.account - limits.account_delay_after));
    }
    if wait > f.since_pair_failed {
        return Err(wait - f.since_pair_failed);
    }
    if f.address >= limits.address_failure_limit {
        return Err(f.address_left.max(Duration::from_secs(1)));
    }
    Ok(())
}

/// 1 s, doubling with each failure past a threshold, at most [`MAX_DELAY`].
fn delay(past_threshold: u32) -> Duration {
    Duration::from_secs(1u64 << past_threshold.min(6)).min(MAX_DELAY)
}

/// The counts of this process.
#[derive(Default)]
pub(super) struct LocalFailures {
    state: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    accounts: HashMap<String, Account>,
    addresses: HashMap<IpAddr, (Instant, u32)>,
    in_flight: InFlight,
}

struct Account {
    started: Instant,
    total: u32,
    pairs: HashMap<IpAddr, (u32, Instant)>,
}

/// Attempts whose passwords are being checked, per account and address.
type InFlight = HashMap<(String, IpAddr), u32>;

impl LocalFailures {
    /// The counts for an attempt, which is registered as in flight until [`Self::record`].
    pub(super) fn reserve(&self, window: Duration, account: &str, ip: IpAddr) -> Failures {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.forget_before(now, window);
        let in_flight = state.in_flight.entry((account.to_owned(), ip)).or_default();
        let mut failures = Failures {
            others_in_flight: *in_flight,
            since_pair_failed: Duration::MAX,
            ..Failures::default()
        };
        *in_flight += 1;
        if let Some(entry) = state.accounts.get(account) {
            failures.account = entry.total;
            failures.account_left = window.saturating_sub(now - entry.started);
            if let Some(&(count, at)) = entry.pairs.get(&ip) {
                failures.pair = count;
                failures.since_pair_failed = now - at;
            }
        }
        if let Some(&(started, count)) = state.addresses.get(&ip) {
            failures.address = count;
            failures.address_left = window.saturating_sub(now - started);
        }
        failures
    }

    /// The outcome of an attempt [`Self::reserve`] registered; for a failure, the pair's
    /// failures counted now (0 otherwise).
    pub(super) fn record(
        &self,
        window: Duration,
        account: &str,
        ip: IpAddr,
        outcome: Outcome,
    ) -> u32 {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (account.to_owned(), ip);
        if let Some(in_flight) = state.in_flight.get_mut(&key) {
            *in_flight = in_flight.saturating_sub(1);
            if *in_flight == 0 {
                state.in_flight.remove(&key);
            }
        }
        match outcome {
            Outcome::Failed => state.failed(now, window, account, ip),
            Outcome::Succeeded => {
                if let Some(entry) = state.accounts.get_mut(account) {
                    entry.pairs.remove(&ip);
                }
                0
            }
            Outcome::Refused => 0,
        }
    }
}

impl LocalFailures {
    /// Forgets the account's failures, from every address.
    pub(super) fn forget_account(&self, account: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.accounts.remove(account);
    }
}

impl Local {
    /// Counts a failure; the pair's failures now.
    fn failed(&mut self, now: Instant, window: Duration, account: &str, ip: IpAddr) -> u32 {
        self.forget_before(now, window);
        let entry = self
            .accounts
            .entry(account.to_owned())
            .or_insert_with(|| Account {
                started: now,
                total: 0,
                pairs: HashMap::new(),
            });
        entry.total += 1;
        let pair = entry.pairs.entry(ip).or_insert((0, now));
        *pair = (pair.0 + 1, now);
        let pair_failures = pair.0;
        self.addresses.entry(ip).or_insert((now, 0)).1 += 1;
        pair_failures
    }

    /// Counts whose window has ended are gone, as their Redis keys would be.
    fn forget_before(&mut self, now: Instant, window: Duration) {
        self.accounts
            .retain(|_, entry| now.duration_since(entry.started) < window);
        self.addresses
            .retain(|_, (started, _)| now.duration_since(*started) < window);
    }
}

/// The counts in Redis for an attempt, registered there as in flight until [`record_shared`];
/// `None` when Redis is unavailable.
pub(super) async fn reserve_shared(
    redis: &Redis,
    window: Duration,
    account: &str,
    ip: IpAddr,
) -> Option<Failures> {
    let mut invocation = CHECK.prepare_invoke();
    invocation
        .key(account_key(redis, account))
        .key(address_key(redis, ip))
        .arg(ip.to_string())
        .arg(millis(window));
    let answer: (i64, i64, i64, i64, i64, i64, i64, i64) = redis
        .run("login_failures", async move |mut c| {
            invocation.invoke_async(&mut c).await
        })
        .await?;
    let (account, pair, pair_at, address, account_left, address_left, now, in_flight) = answer;
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    // PTTL is negative for a key without an expiry or without a value.
    let duration = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    Some(Failures {
        account: count(account),
        pair: count(pair),
        since_pair_failed: if pair_at == 0 {
            Duration::MAX
        } else {
            duration(now - pair_at)
        },
        address: count(address),
        account_left: duration(account_left),
        address_left: duration(address_left),
        others_in_flight: count(in_flight - 1),
    })
}

/// The outcome of an attempt [`reserve_shared`] registered; for a failure, the pair's
/// failures counted now across instances (`None` if Redis did not answer).
pub(super) async fn record_shared(
    redis: &Redis,
    window: Duration,
    account: &str,
    ip: IpAddr,
    outcome: Outcome,
) -> Option<u32> {
    let mut invocation = RECORD.prepare_invoke();
    invocation
        .key(account_key(redis, account))
        .key(address_key(redis, ip))
        .arg(ip.to_string())
        .arg(millis(window))
        .arg(outcome.as_str());
    let pair: Option<i64> = redis
        .run("login_failures", async move |mut c| {
            invocation.invoke_async(&mut c).await
        })
        .await;
    pair.map(|count| u32::try_from(count).unwrap_or(0))
}

/// Forgets the account's failures in Redis; whether Redis answered.
pub(super) async fn clear_account_shared(redis: &Redis, account: &str) -> bool {
    let key = account_key(redis, account);
    let fields = ["total".to_owned()];
    // Attempts in flight (`f:…`) keep their fields: they still report their outcome.
    let deleted: Option<i64> = redis
        .run("login_failures", async move |mut c| {
            let pairs: Vec<String> = redis::cmd("HKEYS").arg(&key).query_async(&mut c).await?;
            let counted = pairs
                .into_iter()
                .filter(|field| field.starts_with("n:") || field.starts_with("at:"))
                .chain(fields);
            redis::cmd("HDEL")
                .arg(&key)
                .arg(counted.collect::<Vec<_>>())
                .query_async(&mut c)
                .await
        })
        .await;
    deleted.is_some()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn account_key(redis: &Redis, account: &str) -> String {
    redis.key(&format!("login-failures:account:{account}"))
}

fn address_key(redis: &Redis, ip: IpAddr) -> String {
    redis.key(&format!("login-failures:address:{ip}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            window: Duration::from_secs(900),
            pair_delay_after: 5,
            pair_lock_after: 10,
            account_delay_after: 20,
            address_failure_limit: 100,
        }
    }

    fn after(pair: u32, since: u64) -> Failures {
        Failures {
            account: pair,
            pair,
            since_pair_failed: Duration::from_secs(since),
            address: pair,
            account_left: Duration::from_secs(600),
            address_left: Duration::from_secs(600),
            others_in_flight: 0,
        }
    }

    #[test]
    fn a_pair_waits_longer_with_each_failure_then_is_locked() {
        let limits = limits();
        assert_eq!(verdict(&limits, &after(4, 0)), Ok(()));
        assert_eq!(verdict(&limits, &after(5, 0)), Err(Duration::from_secs(1)));
        assert_eq!(verdict(&limits, &after(5, 1)), Ok(()));
        assert_eq!(verdict(&limits, &after(7, 1)), Err(Duration::from_secs(3)));
        assert_eq!(verdict(&limits, &after(9, 16)), Ok(()));
        // Locked for the rest of the window, however long ago the last failure was.
        assert_eq!(
            verdict(&limits, &after(10, 3600)),
            Err(Duration::from_secs(600))
        );
    }

    #[test]
    fn an_address_without_failures_of_its_own_is_never_held_back_for_the_account() {
        let limits = limits();
        let elsewhere = Failures {
            account: 500,
            ..Failures::default()
        };
        assert_eq!(verdict(&limits, &elsewhere), Ok(()));
        let guessing = Failures {
            account: 22,
            pair: 1,
            ..Failures::default()
        };
        assert_eq!(verdict(&limits, &guessing), Err(Duration::from_secs(4)));
    }

    /// Attempts sent together from an address without failures wait for nothing but the lock.
    #[test]
    fn attempts_in_flight_of_a_clean_address_are_not_delayed() {
        let limits = limits();
        let clean = |others_in_flight| Failures {
            account: 500,
            others_in_flight,
            since_pair_failed: Duration::MAX,
            ..Failures::default()
        };
        assert_eq!(verdict(&limits, &clean(7)), Ok(()));
        assert!(verdict(&limits, &clean(10)).is_err());
        let local = LocalFailures::default();
        let window = Duration::from_secs(60);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for _ in 0..30 {
            local.reserve(window, "doctor", "10.0.0.1".parse().unwrap());
            local.record(
                window,
                "doctor",
                "10.0.0.1".parse().unwrap(),
                Outcome::Failed,
            );
        }
        local.reserve(window, "doctor", ip);
        let second = local.reserve(window, "doctor", ip);
        assert_eq!(
            (second.account, second.pair, second.others_in_flight),
            (30, 0, 1)
        );
        assert_eq!(verdict(&limits, &second), Ok(()));
    }

    #[test]
    fn an_address_with_many_failures_waits_out_its_window() {
        let failures = Failures {
            address: 100,
            address_left: Duration::from_secs(42),
            ..Failures::default()
        };
        assert_eq!(verdict(&limits(), &failures), Err(Duration::from_secs(42)));
    }

    #[test]
    fn local_counts_follow_outcomes_and_a_success_clears_the_pair() {
        let local = LocalFailures::default();
        let window = Duration::from_secs(60);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let attempt = |ip, outcome| {
            local.reserve(window, "doctor", ip);
            local.record(window, "doctor", ip, outcome);
        };
        attempt(a, Outcome::Failed);
        attempt(a, Outcome::Failed);
        attempt(b, Outcome::Failed);
        attempt(a, Outcome::Refused);
        let seen = local.reserve(window, "doctor", a);
        assert_eq!((seen.account, seen.pair, seen.address), (3, 2, 2));
        assert_eq!(seen.others_in_flight, 0);
        local.record(window, "doctor", a, Outcome::Succeeded);
        let seen = local.reserve(window, "doctor", a);
        assert_eq!((seen.account, seen.pair, seen.address), (3, 0, 2));
        // The attempt just reserved is in flight for the next one of its pair.
        assert_eq!(local.reserve(window, "doctor", a).others_in_flight, 1);
        assert_eq!(local.reserve(window, "doctor", b).pair, 1);
    }
}
