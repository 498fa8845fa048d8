//! `APPOINTMENT_NOTICE` and `APPOINTMENT_REMINDER`: an email to the patient about their
//! appointment. A reminder is a delayed job that cannot be moved or withdrawn in the queue, so
//! it checks, when it runs, that the appointment is still on at the time it was queued for.
use serde_json::{Value, json};

use super::mail::{self, Facts};
use super::worker::JobContext;
use crate::modules::appointment::model::AppointmentStatus;
use crate::modules::job::model::{Job, Notice, NoticeRequest};

pub async fn run(context: &JobContext, job: &Job) -> anyhow::Result<Value> {
    let request: NoticeRequest =
        serde_json::from_str(job.payload.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("the email's payload is unreadable: {e}"))?;
    let Some(appointment) = context
        .services
        .appointments
        .find_in_clinic(job.clinic_id, request.appointment_id)
        .await?
    else {
        return Ok(json!({ "skipped": "the appointment no longer exists" }));
    };
    if request.notice == Notice::Reminder {
        let still_on = matches!(
            appointment.status(),
            AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
        );
        if !still_on || appointment.scheduled_at != request.scheduled_at {
            return Ok(json!({ "skipped": "the appointment was moved or cancelled" }));
        }
    }
    let patient = context
        .services
        .patients
        .find_in_clinic(job.clinic_id, appointment.patient_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the appointment's patient is gone"))?;
    let clinic = context.clinic_of(job).await?;
    let doctor = context
        .services
        .doctors
        .find_in_clinic(job.clinic_id, appointment.doctor_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the appointment's doctor is gone"))?;
    let letter = mail::write(
        request.notice,
        &Facts {
            clinic: &clinic.name,
            timezone: &clinic.timezone,
            patient: &patient.name,
            doctor: &doctor.name,
            // The time the email is about: for a notice, the one the change set.
            starts_at: request.scheduled_at,
            minutes: appointment.duration_minutes,
        },
    )?;
    let message = mail::message(
        letter,
        (&clinic.name, &context.mail_from),
        (&patient.name, &patient.email),
        job.id,
    )?;
    let delivery = context
        .mailer
        .deliver(&format!("appointment-email-{}", job.id), message)
        .await?;
    Ok(json!({ "email": request.notice.name(), "delivery": delivery }))
}
