//! The no-double-booking rule: a slot is checked and taken in one write transaction. SQLite's
//! BEGIN IMMEDIATE serialises those transactions; on PostgreSQL two can pass the check at once,
//! and the exclusion constraints refuse the second insert, which is reported like a failed check;
//! on MySQL, which has no exclusion constraint, the transaction first locks the doctor's and the
//! patient's rows (`db::RowLocks`), so bookings that share either check one after the other.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Booking, DieselAppointmentRepository, names};
use crate::db::schema::appointments;
use crate::db::{DbError, DbResult, RowLocks};
use crate::modules::appointment::model::{Appointment, AppointmentStatus, NewAppointment, Slot};
use crate::{in_transaction, insert_sealed, update_returning, with_conn};

/// The id of a live appointment of `doctor_id` or `patient_id` overlapping `slot`.
macro_rules! clash {
    ($conn:expr, $clinic_id:expr, $doctor_id:expr, $patient_id:expr, $slot:expr, $except:expr) => {{
        let slot: Slot = $slot;
        appointments::table
            .filter(appointments::clinic_id.eq($clinic_id))
            .filter(appointments::status.eq_any(AppointmentStatus::ACTIVE))
            .filter(appointments::scheduled_at.lt(slot.end))
            .filter(appointments::ends_at.gt(slot.start))
            .filter(
                appointments::doctor_id
                    .eq($doctor_id)
                    .or(appointments::patient_id.eq($patient_id)),
            )
            .filter(appointments::id.ne($except))
            .order(appointments::scheduled_at.asc())
            .select(appointments::id)
            .first::<i64>($conn)
            .await
            .optional()?
    }};
}

/// Locks the doctor's row, then the patient's, where the backend needs it (`db::RowLocks`):
/// every booking takes them in that order.
macro_rules! lock_parties {
    ($conn:expr, $doctor_id:expr, $patient_id:expr) => {{
        RowLocks::lock_rows(&mut *$conn, "doctors", &[$doctor_id]).await?;
        RowLocks::lock_rows(&mut *$conn, "patients", &[$patient_id]).await?;
    }};
}

/// Bookings retried when the appointment that beat them is already gone.
const MAX_ATTEMPTS: usize = 3;

impl DieselAppointmentRepository {
    /// Inserts after checking, inside the same write transaction, that the slot is free.
    pub(super) async fn book_free_slot(&self, appointment: NewAppointment) -> DbResult<Booking> {
        let slot = Slot {
            start: appointment.scheduled_at,
            end: appointment.ends_at,
            minutes: appointment.duration_minutes,
        };
        let (clinic_id, doctor_id, patient_id) = (
            appointment.clinic_id,
            appointment.doctor_id,
            appointment.patient_id,
        );
        let mut attempts = 0;
        loop {
            attempts += 1;
            let keys = &self.keys;
            let outcome = in_transaction!(&self.pool, |conn| {
                lock_parties!(conn, doctor_id, patient_id);
                if let Some(other) = clash!(conn, clinic_id, doctor_id, patient_id, slot, 0_i64) {
                    return Ok(Booking::Clash(other));
                }
                let id = insert_sealed!(conn, appointments, &appointment, |id| appointment
                    .sealed(keys, id));
                let booked = appointments::table
                    .find(id)
                    .select(Appointment::as_select())
                    .get_result(conn)
                    .await?;
                Ok(Booking::Booked(booked))
            });
            match outcome {
                Err(DbError::ExclusionViolation(constraint)) => {
                    match self
                        .winner(clinic_id, doctor_id, patient_id, slot, 0)
                        .await?
                    {
                        Some(other) => return Ok(Booking::Clash(other)),
                        // The winner was cancelled in the meantime: the slot may be free.
                        None if attempts < MAX_ATTEMPTS => continue,
                        None => return Err(DbError::ExclusionViolation(constraint)),
                    }
                }
                other => return other,
            }
        }
    }

    /// Moves an appointment to `slot` with the same check.
    pub(super) async fn move_to_free_slot(
        &self,
        clinic_id: i64,
        id: i64,
        slot: Slot,
        from: &[AppointmentStatus],
        at: NaiveDateTime,
    ) -> DbResult<Booking> {
        let from = names(from);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut parties = None;
            let outcome = in_transaction!(&self.pool, |conn| {
                let current: Option<(i64, i64)> = appointments::table
                    .filter(appointments::id.eq(id))
                    .filter(appointments::clinic_id.eq(clinic_id))
                    .filter(appointments::status.eq_any(&from))
                    .select((appointments::doctor_id, appointments::patient_id))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((doctor_id, patient_id)) = current else {
                    return Ok(Booking::NotFound);
                };
                parties = Some((doctor_id, patient_id));
                lock_parties!(conn, doctor_id, patient_id);
                if let Some(other) = clash!(conn, clinic_id, doctor_id, patient_id, slot, id) {
                    return Ok(Booking::Clash(other));
                }
                let moved = update_returning!(
                    conn,
                    diesel::update(
                        appointments::table
                            .filter(appointments::id.eq(id))
                            .filter(appointments::status.eq_any(&from)),
                    )
                    .set((
                        appointments::scheduled_at.eq(slot.start),
                        appointments::ends_at.eq(slot.end),
                        appointments::duration_minutes.eq(slot.minutes),
                        appointments::status.eq(AppointmentStatus::Scheduled.as_str()),
                        appointments::updated_at.eq(at),
                    )),
                    appointments,
                    id,
                    Appointment
                );
                Ok(moved.map_or(Booking::NotFound, Booking::Booked))
            });
            match (outcome, parties) {
                (Err(DbError::ExclusionViolation(constraint)), Some((doctor_id, patient_id))) => {
                    match self
                        .winner(clinic_id, doctor_id, patient_id, slot, id)
                        .await?
                    {
                        Some(other) => return Ok(Booking::Clash(other)),
                        // The winner was cancelled in the meantime: the slot may be free.
                        None if attempts < MAX_ATTEMPTS => continue,
                        None => return Err(DbError::ExclusionViolation(constraint)),
                    }
                }
                (other, _) => return other,
            }
        }
    }

    /// After PostgreSQL's exclusion constraint refused a racing booking: which appointment won
    /// (none if it was cancelled since).
    async fn winner(
        &self,
        clinic_id: i64,
        doctor_id: i64,
        patient_id: i64,
        slot: Slot,
        except: i64,
    ) -> DbResult<Option<i64>> {
        with_conn!(&self.pool, |conn| Ok::<_, DbError>(clash!(
            conn, clinic_id, doctor_id, patient_id, slot, except
        )))
    }
}
