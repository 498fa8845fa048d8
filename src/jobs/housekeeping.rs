//! Tidying that the workers do by themselves, beside the jobs: uploads asked for but never
//! completed expire (REJECTED, their bytes erased; they already hold no quota), and exports and
//! reports past `EXPORT_TTL_HOURS` leave the file store whether or not anyone came for them.
//! Every worker process does it; each step may run on several at once.
use std::time::Duration;

use super::worker::JobContext;

/// How often: half the upload window, so an expired upload is marked within half as long
/// again, and at most every 5 minutes.
pub fn period(upload_window: Duration) -> Duration {
    (upload_window / 2).clamp(Duration::from_secs(5), Duration::from_secs(300))
}

/// Runs beside the workers until they stop.
pub async fn keep_tidy(context: JobContext) {
    let mut every = tokio::time::interval(period(context.services.files.upload_window()));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match context.services.files.expire_uploads().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "uploads not completed in time expired"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "expiring uploads"),
        }
        match context.exports.sweep(context.export_ttl).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired exports removed"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "removing expired exports"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn tidying_runs_every_half_window_within_bounds() {
        assert_eq!(
            super::period(Duration::from_secs(20)),
            Duration::from_secs(10)
        );
        assert_eq!(
            super::period(Duration::from_secs(2)),
            Duration::from_secs(5)
        );
        assert_eq!(
            super::period(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            super::period(Duration::from_secs(7200)),
            Duration::from_secs(300)
        );
    }
}
