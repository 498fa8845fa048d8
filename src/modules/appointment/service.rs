//! The rules of appointments: who may book and move them, the state machine, no overlaps.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::events::{AppointmentChange, AppointmentEvent};
use super::lists::Appointments;
use super::model::{
    Appointment, AppointmentFilter, AppointmentStatus, NewAppointment, Slot, Transition,
};
use super::repository::{AppointmentRepository, Booking};
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, Page};
use crate::core::scope::Scope;
use crate::core::text::{optional_text, required_text};
use crate::db;
use crate::events::EventBus;
use crate::modules::doctor::DoctorService;
use crate::modules::nested::{NestedReads, NestedRepository};
use crate::modules::patient::PatientService;

/// May schedule, reschedule and cancel any appointment, confirm, check in and mark no-shows.
pub const FRONT_DESK: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse, Role::Receptionist];
/// May read and write an appointment's `notes`: they are clinical, like a patient's
/// `internalNotes`. The `Appointment.notes` field guards with this list, so every way to an
/// appointment (root fields, nested lists, `node`, subscription events) keeps the rule.
pub const NOTE_READERS: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse];
pub const MIN_MINUTES: i32 = 5;
pub const MAX_MINUTES: i32 = 480;
const MAX_REASON_CHARS: usize = 500;
const MAX_NOTES_CHARS: usize = 2000;

/// A booking request; ids are `None` when the client sent something that is not such an id.
#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    pub patient_id: Option<i64>,
    pub doctor_id: Option<i64>,
    pub scheduled_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub reason: Option<String>,
    pub notes: Option<String>,
}

pub struct AppointmentService {
    appointments: Arc<dyn AppointmentRepository>,
    lists: Arc<NestedRepository<Appointments>>,
    /// The services of the records an appointment names, which say whether they may be
    /// named.
    patients: Arc<PatientService>,
    doctors: Arc<DoctorService>,
    events: EventBus,
    notifier: Arc<dyn AppointmentNotifier>,
}

/// Tells patients of changes to their appointments (by email, in the background). Behind a
/// trait so the service is tested without a job queue.
#[async_trait]
pub trait AppointmentNotifier: Send + Sync {
    /// Called once the change is stored; it cannot undo it, so it reports its own failures
    /// rather than returning them.
    async fn appointment_changed(
        &self,
        caller: &Caller,
        change: AppointmentChange,
        appointment: &Appointment,
    );
}

impl AppointmentService {
    pub fn new(
        appointments: Arc<dyn AppointmentRepository>,
        lists: Arc<NestedRepository<Appointments>>,
        patients: Arc<PatientService>,
        doctors: Arc<DoctorService>,
        events: EventBus,
        notifier: Arc<dyn AppointmentNotifier>,
    ) -> Self {
        Self {
            appointments,
            lists,
            patients,
            doctors,
            events,
            notifier,
        }
    }

    /// Tells subscribers and the patient, then hands the appointment back to the caller.
    async fn announce(
        &self,
        caller: &Caller,
        change: AppointmentChange,
        appointment: Appointment,
    ) -> Appointment {
        self.notifier
            .appointment_changed(caller, change, &appointment)
            .await;
        self.events
            .publish(AppointmentEvent {
                change,
                appointment: appointment.clone(),
            })
            .await;
        appointment
    }

    /// Changes the caller may see, as they happen: their clinic's appointments, and for a
    /// PATIENT only their own — the rule every appointment read applies.
    pub fn changes(&self, caller: &Caller) -> impl Stream<Item = Arc<AppointmentEvent>> + use<> {
        let scope = Scope::of(caller);
        futures_util::stream::unfold(
            self.events.subscribe::<AppointmentEvent>(),
            move |mut events| async move {
                loop {
                    match events.recv().await {
                        Ok(event)
                            if scope.admits(
                                event.appointment.clinic_id,
                                event.appointment.patient_id,
                            ) =>
                        {
                            return Some((event, events));
                        }
                        Ok(_) => {}
                        Err(RecvError::Lagged(skipped)) => {
                            tracing::warn!(skipped, "a slow subscriber skipped appointment events");
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            },
        )
    }

    /// An appointment the caller may read (a PATIENT only their own); NOT_FOUND otherwise.
    pub async fn get(&self, caller: &Caller, id: i64) -> AppResult<Appointment> {
        self.appointments
            .find(&Scope::of(caller), id)
            .await?
            .ok_or(AppError::NotFound("appointment"))
    }

    /// A clinic's appointment, for a job acting for the clinic (its email).
    pub async fn find_in_clinic(&self, clinic_id: i64, id: i64) -> AppResult<Option<Appointment>> {
        let scope = Scope {
            clinic_id,
            patient_id: None,
        };
        Ok(self.appointments.find(&scope, id).await?)
    }

    /// The appointments among `ids` the caller may read, in one statement (nested reads).
    pub async fn find_many(&self, caller: &Caller, ids: &[i64]) -> AppResult<Vec<Appointment>> {
        Ok(self.appointments.find_many(&Scope::of(caller), ids).await?)
    }

    pub async fn list(
        &self,
        caller: &Caller,
        filter: &AppointmentFilter,
        args: ConnectionArgs,
    ) -> AppResult<Page<Appointment>> {
        let request = args.parse_timed()?;
        let rows = self
            .appointments
            .list(&Scope::of(caller), filter, &request)
            .await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count(&self, caller: &Caller, filter: &AppointmentFilter) -> AppResult<i64> {
        Ok(self.appointments.count(&Scope::of(caller), filter).await?)
    }

    pub async fn schedule(
        &self,
        caller: &Caller,
        request: ScheduleRequest,
    ) -> AppResult<Appointment> {
        require(
            caller,
            FRONT_DESK,
            "your role may not schedule appointments",
        )?;
        if request.notes.is_some() {
            require(caller, NOTE_READERS, "your role may not write notes")?;
        }
        let mut problems = Vec::new();
        let slot = checked_slot(
            request.scheduled_at,
            request.duration_minutes,
            &mut problems,
        );
        let reason = checked_text("reason", request.reason, MAX_REASON_CHARS, &mut problems);
        let notes = checked_text("notes", request.notes, MAX_NOTES_CHARS, &mut problems);
        let patient_id = match request.patient_id {
            Some(id) if !self.patients.find_many(caller, &[id]).await?.is_empty() => Some(id),
            _ => {
                problems.push(FieldViolation::new(
                    "patientId",
                    "is not a patient of this clinic",
                ));
                None
            }
        };
        let in_clinic = match request.doctor_id {
            Some(id) => self.doctors.find_in_clinic(caller.clinic_id, id).await?,
            None => None,
        };
        let doctor_id = match in_clinic {
            Some(doctor) => Some(doctor.id),
            None => {
                problems.push(FieldViolation::new(
                    "doctorId",
                    "is not a doctor of this clinic",
                ));
                None
            }
        };
        let (Some(slot), Some(patient_id), Some(doctor_id), true) =
            (slot, patient_id, doctor_id, problems.is_empty())
        else {
            return Err(AppError::Validation(problems));
        };
        let now = db::now();
        let booking = self
            .appointments
            .book(NewAppointment {
                clinic_id: caller.clinic_id,
                patient_id,
                doctor_id,
                scheduled_at: slot.start,
                ends_at: slot.end,
                duration_minutes: slot.minutes,
                status: AppointmentStatus::Scheduled.as_str().to_owned(),
                reason: reason.flatten(),
                notes: notes.flatten(),
                cancellation_reason: None,
                created_at: now,
                updated_at: now,
            })
            .await?;
        match booking {
            Booking::Booked(appointment) => Ok(self
                .announce(caller, AppointmentChange::Scheduled, appointment)
                .await),
            Booking::Clash(other) => Err(conflict(other)),
            Booking::NotFound => Err(AppError::NotFound("appointment")),
        }
    }

    /// Moves an appointment to a new time (and length); it then needs confirming again.
    pub async fn reschedule(
        &self,
        caller: &Caller,
        id: i64,
        scheduled_at: DateTime<Utc>,
        duration_minutes: Option<i32>,
    ) -> AppResult<Appointment> {
        require(
            caller,
            FRONT_DESK,
            "your role may not reschedule appointments",
        )?;
        let current = self.get(caller, id).await?;
        let mut problems = Vec::new();
        let minutes = duration_minutes.unwrap_or(current.duration_minutes);
        let Some(slot) = checked_slot(scheduled_at, minutes, &mut problems) else {
            return Err(AppError::Validation(problems));
        };
        let transition = Transition::Reschedule;
        match self
            .appointments
            .rebook(
                caller.clinic_id,
                id,
                slot,
                transition.allowed_from(),
                db::now(),
            )
            .await?
        {
            Booking::Booked(appointment) => Ok(self
                .announce(caller, AppointmentChange::Rescheduled, appointment)
                .await),
            Booking::Clash(other) => Err(conflict(other)),
            Booking::NotFound => Err(self.refused(caller, id, transition).await),
        }
    }

    pub async fn confirm(&self, caller: &Caller, id: i64) -> AppResult<Appointment> {
        require(caller, FRONT_DESK, "your role may not confirm appointments")?;
        self.apply(caller, id, Transition::Confirm, None).await
    }

    pub async fn check_in(&self, caller: &Caller, id: i64) -> AppResult<Appointment> {
        require(caller, FRONT_DESK, "your role may not check patients in")?;
        self.apply(caller, id, Transition::CheckIn, None).await
    }

    pub async fn mark_no_show(&self, caller: &Caller, id: i64) -> AppResult<Appointment> {
        require(caller, FRONT_DESK, "your role may not mark no-shows")?;
        self.apply(caller, id, Transition::MarkNoShow, None).await
    }

    /// Only the appointment's own doctor completes it.
    pub async fn complete(&self, caller: &Caller, id: i64) -> AppResult<Appointment> {
        require(
            caller,
            &[Role::Doctor],
            "only the appointment's doctor may complete it",
        )?;
        let appointment = self.get(caller, id).await?;
        let own_profile = self.doctors.own_profile(caller).await?;
        if own_profile.map(|d| d.id) != Some(appointment.doctor_id) {
            return Err(AppError::forbidden(
                "only the appointment's doctor may complete it",
            ));
        }
        self.apply(caller, id, Transition::Complete, None).await
    }

    /// Staff cancel any appointment; a PATIENT only their own (others read as not found).
    pub async fn cancel(&self, caller: &Caller, id: i64, reason: &str) -> AppResult<Appointment> {
        if !caller.has_any_role(FRONT_DESK) && caller.role != Role::Patient {
            return Err(AppError::forbidden("your role may not cancel appointments"));
        }
        let reason = required_text(reason, MAX_REASON_CHARS)
            .map_err(|message| AppError::invalid("reason", message))?;
        // `apply` reads through the caller's scope: a PATIENT cannot reach others' appointments.
        self.apply(caller, id, Transition::Cancel, Some(reason))
            .await
    }

    async fn apply(
        &self,
        caller: &Caller,
        id: i64,
        transition: Transition,
        cancellation_reason: Option<String>,
    ) -> AppResult<Appointment> {
        self.get(caller, id).await?;
        let moved = self
            .appointments
            .transition(
                caller.clinic_id,
                id,
                transition.allowed_from(),
                transition.target(),
                cancellation_reason,
                db::now(),
            )
            .await?;
        let change = match transition {
            Transition::Cancel => AppointmentChange::Cancelled,
            _ => AppointmentChange::StatusChanged,
        };
        match moved {
            Some(appointment) => Ok(self.announce(caller, change, appointment).await),
            None => Err(self.refused(caller, id, transition).await),
        }
    }

    /// Why a move matched no row: gone, or in a status the move cannot start from.
    async fn refused(&self, caller: &Caller, id: i64, transition: Transition) -> AppError {
        match self.get(caller, id).await {
            Ok(current) => AppError::InvalidStateTransition {
                entity: "an appointment",
                action: transition.verb(),
                current: current.status().as_str(),
            },
            Err(error) => error,
        }
    }

    /// Stores `rows` as given, without a caller, overlap checks or notices: seeding only, whose
    /// slots never overlap; the new ids in input order.
    pub async fn insert_seeded(&self, rows: Vec<NewAppointment>) -> AppResult<Vec<i64>> {
        Ok(self.appointments.insert_many(rows).await?)
    }

    /// When the clinic's last appointment ends: seeding only, to place new visits after it.
    pub async fn latest_end(&self, clinic_id: i64) -> AppResult<Option<NaiveDateTime>> {
        Ok(self.appointments.latest_end(clinic_id).await?)
    }
}

fn require(caller: &Caller, roles: &[Role], reason: &str) -> AppResult<()> {
    if caller.has_any_role(roles) {
        Ok(())
    } else {
        Err(AppError::forbidden(reason))
    }
}

/// Nested lists of appointments: the rule of every appointment read — the caller's clinic, and
/// for a PATIENT their own.
impl NestedReads<Appointments> for AppointmentService {
    fn readable(&self, caller: &Caller) -> AppResult<Scope> {
        Ok(Scope::of(caller))
    }

    fn lists(&self) -> &NestedRepository<Appointments> {
        &self.lists
    }
}

fn conflict(other: i64) -> AppError {
    AppError::AppointmentConflict(ids::encode(NodeType::Appointment, other))
}

/// A future slot of an allowed length, truncated to whole seconds.
fn checked_slot(
    start: DateTime<Utc>,
    minutes: i32,
    problems: &mut Vec<FieldViolation>,
) -> Option<Slot> {
    let mut ok = true;
    if start <= Utc::now() {
        problems.push(FieldViolation::new("scheduledAt", "must be in the future"));
        ok = false;
    }
    if !(MIN_MINUTES..=MAX_MINUTES).contains(&minutes) {
        problems.push(FieldViolation::new(
            "durationMinutes",
            format!("must be between {MIN_MINUTES} and {MAX_MINUTES}"),
        ));
        ok = false;
    }
    let start = DateTime::from_timestamp(start.timestamp(), 0)?.naive_utc();
    // Inputs end with year 9999 (the `DateTime` scalar); so must the slot, which is stored.
    let end = start
        .checked_add_signed(Duration::minutes(i64::from(minutes)))
        .filter(|end| end.year() <= 9999);
    if ok && end.is_none() {
        problems.push(FieldViolation::new(
            "durationMinutes",
            "would end after 9999-12-31T23:59:59Z, the last instant a timestamp can name",
        ));
    }
    Some(Slot {
        start,
        end: end?,
        minutes,
    })
    .filter(|_| ok)
}

fn checked_text(
    field: &str,
    value: Option<String>,
    max_chars: usize,
    problems: &mut Vec<FieldViolation>,
) -> Option<Option<String>> {
    match optional_text(value, max_chars) {
        Ok(text) => Some(text),
        Err(message) => {
            problems.push(FieldViolation::new(field, message));
            None
        }
    }
}
