//! A circuit breaker for Redis: after a failure, callers skip Redis (and use their fallback)
//! for a back-off that doubles with each consecutive failure, so a dead or slow Redis costs one
//! timed-out command per back-off period rather than one per request.
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(super) struct Breaker(Mutex<State>);

#[derive(Default)]
struct State {
    open_until: Option<Instant>,
    backoff: Option<Duration>,
}

impl Breaker {
    /// Whether a command may be tried now. After the back-off, commands are let through again;
    /// the first outcome closes the breaker or opens it for longer.
    pub(super) fn allows(&self) -> bool {
        match self.0.lock() {
            Ok(state) => state.open_until.is_none_or(|until| Instant::now() >= until),
            Err(_) => true,
        }
    }

    pub(super) fn succeeded(&self) {
        if let Ok(mut state) = self.0.lock()
            && state.open_until.is_some()
        {
            tracing::info!("Redis is answering again");
            *state = State::default();
        }
    }

    /// Opens (or extends) the breaker; true when it was closed, so the caller logs the outage
    /// once rather than on every retry.
    pub(super) fn failed(&self) -> bool {
        let Ok(mut state) = self.0.lock() else {
            return false;
        };
        let was_closed = state.open_until.is_none();
        let backoff = state
            .backoff
            .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
        state.backoff = Some(backoff);
        state.open_until = Some(Instant::now() + backoff);
        was_closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_and_closes_on_success() {
        let breaker = Breaker::default();
        assert!(breaker.allows());
        assert!(breaker.failed(), "the first failure is reported");
        assert!(!breaker.allows(), "open right after a failure");
        assert!(
            !breaker.failed(),
            "a failure while open is not reported again"
        );
        breaker.succeeded();
        assert!(breaker.allows());
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let breaker = Breaker::default();
        for _ in 0..20 {
            breaker.failed();
        }
        let backoff = breaker.0.lock().unwrap().backoff.unwrap();
        assert_eq!(backoff, MAX_BACKOFF);
    }
}
