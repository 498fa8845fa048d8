//! "At most once every so often, per process": for housekeeping that requests set off in the
//! background (deleting expired rows), so that a busy server does it once per period rather
//! than once per request.
use std::sync::atomic::{AtomicI64, Ordering};

pub struct Throttle {
    every_secs: i64,
    /// When it was last due (Unix seconds).
    last: AtomicI64,
}

impl Throttle {
    pub const fn new(every_secs: i64) -> Self {
        Self {
            every_secs,
            last: AtomicI64::new(0),
        }
    }

    /// Whether the period has passed since it was last due; true for one caller only when
    /// several ask at once.
    pub fn due(&self) -> bool {
        let now = chrono::Utc::now().timestamp();
        let last = self.last.load(Ordering::Relaxed);
        now - last >= self.every_secs
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_due_once_per_period() {
        let throttle = Throttle::new(3_600);
        assert!(throttle.due());
        assert!(!throttle.due());
        assert!(Throttle::new(0).due());
    }
}
