//! Reports are made by jobs acting for a clinic (requested by its ADMIN, or the nightly report):
//! the figures of one clinic, and which clinics get a nightly report.
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use super::model::{ClinicSummary, DailyReportTarget};
use super::repository::ReportRepository;
use crate::core::error::AppResult;

pub struct ReportService {
    reports: Arc<dyn ReportRepository>,
}

impl ReportService {
    pub fn new(reports: Arc<dyn ReportRepository>) -> Self {
        Self { reports }
    }

    /// The clinic's figures for `[from, to)` (UTC); prescriptions that started before `until`.
    pub async fn summary(
        &self,
        clinic_id: i64,
        from: NaiveDateTime,
        to: NaiveDateTime,
        until: NaiveDate,
    ) -> AppResult<ClinicSummary> {
        Ok(self.reports.summary(clinic_id, from, to, until).await?)
    }

    /// Every clinic that has an ADMIN, with its time zone and its first ADMIN.
    pub async fn daily_report_targets(&self) -> AppResult<Vec<DailyReportTarget>> {
        Ok(self.reports.daily_report_targets().await?)
    }
}
