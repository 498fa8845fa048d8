//! The nightly clinic report. Each day's report is a delayed job with a key of its own, so
//! however many workers and instances try, one exists per clinic and day. Each report queues
//! the next day's when it runs, and the workers check every hour that the current day's is
//! queued (new clinics join; a chain broken by a failure mends), so nothing depends on a
//! process being up at the moment the report is due: a report due while every worker was down
//! runs when one is back.
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::worker::JobContext;
use crate::modules::job::model::{JobKind, NewJob, ReportRequest};
use crate::modules::report::model::DailyReportTarget;

/// The clinic's local time at which a day's report is made, once the day is over.
const DAILY_REPORT_AT: NaiveTime = match NaiveTime::from_hms_opt(1, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};
const CHECK_EVERY: Duration = Duration::from_secs(3600);

/// The clinic's time zone; an unknown name is read as UTC.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The UTC instant at which `local` (a wall-clock time in `zone`) happens; in a DST gap, the
/// first instant after it.
pub fn utc_of(local: NaiveDateTime, zone: Tz) -> NaiveDateTime {
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map_or(local, |at| at.naive_utc())
}

/// When the report of `day` is due: `DAILY_REPORT_AT` the next morning, clinic time.
pub fn due(day: NaiveDate, zone: Tz) -> NaiveDateTime {
    let next = day.succ_opt().unwrap_or(day);
    utc_of(next.and_time(DAILY_REPORT_AT), zone)
}

/// Queues the report of `day` for `target` unless it exists; whether it queued one.
pub async fn ensure_daily_report(
    context: &JobContext,
    target: &DailyReportTarget,
    day: NaiveDate,
) -> anyhow::Result<bool> {
    let run_at = due(day, zone(&target.timezone));
    let payload = serde_json::to_string(&ReportRequest {
        from: day,
        to: day,
        daily: true,
    })?;
    let job = NewJob {
        dedupe_key: Some(format!("daily-report:{}:{day}", target.clinic_id)),
        ..NewJob::queued(
            target.clinic_id,
            target.admin_id,
            JobKind::ClinicReport,
            Some(payload),
            Some(run_at),
        )
    };
    context
        .services
        .jobs
        .queue_once(job)
        .await
        .map_err(|error| error.context("a daily report"))
}

/// For every clinic, today's report (in its own calendar) is queued.
pub async fn ensure_todays_reports(context: &JobContext) -> anyhow::Result<()> {
    for target in context.services.reports.daily_report_targets().await? {
        let today = Utc::now()
            .with_timezone(&zone(&target.timezone))
            .date_naive();
        ensure_daily_report(context, &target, today).await?;
    }
    Ok(())
}

/// Runs beside the workers until they stop.
pub async fn keep_daily_reports(context: JobContext) {
    let mut every = tokio::time::interval(CHECK_EVERY);
    loop {
        every.tick().await;
        if let Err(error) = ensure_todays_reports(&context).await {
            tracing::warn!(error = format!("{error:#}"), "scheduling daily reports");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn a_days_report_is_due_at_one_the_next_morning_clinic_time() {
        let london = zone("Europe/London");
        // Winter: GMT; summer: BST, an hour ahead of UTC.
        assert_eq!(
            due(date(2026, 11, 25), london).to_string(),
            "2026-11-26 01:00:00"
        );
        assert_eq!(
            due(date(2026, 7, 1), london).to_string(),
            "2026-07-02 00:00:00"
        );
        let tokyo = zone("Asia/Tokyo");
        assert_eq!(
            due(date(2026, 11, 25), tokyo).to_string(),
            "2026-11-25 16:00:00"
        );
        assert_eq!(
            due(date(2026, 11, 25), zone("Nowhere/Else")).to_string(),
            "2026-11-26 01:00:00"
        );
    }

    #[test]
    fn a_local_time_in_a_dst_gap_moves_to_the_next_instant() {
        // 2027-03-28 01:30 does not exist in London (clocks go from 01:00 to 02:00 GMT→BST).
        let gap = date(2027, 3, 28).and_hms_opt(1, 30, 0).expect("a time");
        assert_eq!(
            utc_of(gap, zone("Europe/London")).to_string(),
            "2027-03-28 01:30:00"
        );
    }
}
