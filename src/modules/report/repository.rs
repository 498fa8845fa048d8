//! The counts a clinic report is made of; the only report code that touches diesel.
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{ClinicSummary, DailyReportTarget, MedicationCount};
use crate::core::auth::Role;
use crate::db::schema::{appointments, clinics, patients, prescriptions, users};
use crate::db::{DbPool, DbResult};
use crate::modules::prescription::PrescriptionStatus;
use crate::with_conn;

#[async_trait]
pub trait ReportRepository: Send + Sync {
    /// The clinic's figures for `[from, to)` (UTC); prescriptions that started before `until`
    /// (the day after the period, in the clinic's calendar).
    async fn summary(
        &self,
        clinic_id: i64,
        from: NaiveDateTime,
        to: NaiveDateTime,
        until: NaiveDate,
    ) -> DbResult<ClinicSummary>;
    /// Every clinic that has an ADMIN, with its time zone and its first ADMIN.
    async fn daily_report_targets(&self) -> DbResult<Vec<DailyReportTarget>>;
}

pub struct DieselReportRepository {
    pool: DbPool,
}

impl DieselReportRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ReportRepository for DieselReportRepository {
    async fn summary(
        &self,
        clinic_id: i64,
        from: NaiveDateTime,
        to: NaiveDateTime,
        until: NaiveDate,
    ) -> DbResult<ClinicSummary> {
        with_conn!(&self.pool, |conn| {
            let by_status: Vec<(String, i64)> = appointments::table
                .filter(appointments::clinic_id.eq(clinic_id))
                .filter(appointments::scheduled_at.ge(from))
                .filter(appointments::scheduled_at.lt(to))
                .group_by(appointments::status)
                .select((appointments::status, count_star()))
                .load(conn)
                .await?;
            let new_patients: i64 = patients::table
                .filter(patients::clinic_id.eq(clinic_id))
                .filter(patients::deleted_at.is_null())
                .filter(patients::created_at.ge(from))
                .filter(patients::created_at.lt(to))
                .count()
                .get_result(conn)
                .await?;
            let medications: Vec<(String, i64)> = prescriptions::table
                .filter(prescriptions::clinic_id.eq(clinic_id))
                .filter(prescriptions::status.eq(PrescriptionStatus::Active.as_str()))
                .filter(prescriptions::start_date.lt(until))
                .group_by(prescriptions::medication)
                .select((prescriptions::medication, count_star()))
                .order_by((count_star().desc(), prescriptions::medication.asc()))
                .load(conn)
                .await?;
            let medications = medications
                .into_iter()
                .map(|(medication, prescriptions)| MedicationCount {
                    medication,
                    prescriptions,
                })
                .collect();
            Ok(ClinicSummary::new(&by_status, new_patients, medications))
        })
    }

    async fn daily_report_targets(&self) -> DbResult<Vec<DailyReportTarget>> {
        with_conn!(&self.pool, |conn| {
            let rows: Vec<(i64, String, Option<i64>)> = clinics::table
                .inner_join(users::table.on(users::clinic_id.eq(clinics::id)))
                .filter(users::role.eq(Role::Admin.as_str()))
                .filter(users::disabled_at.is_null())
                .group_by((clinics::id, clinics::timezone))
                .select((clinics::id, clinics::timezone, min(users::id)))
                .order_by(clinics::id)
                .load(conn)
                .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(clinic_id, timezone, admin)| {
                    admin.map(|admin_id| DailyReportTarget {
                        clinic_id,
                        timezone,
                        admin_id,
                    })
                })
                .collect())
        })
    }
}
