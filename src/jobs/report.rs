//! `CLINIC_REPORT`: a clinic's figures for a period of days in its own calendar, as a PDF to
//! download (`GET /exports/{jobId}`) and as the job's JSON result.
use serde_json::{Value, json};

use super::export_files::Scratch;
use super::pdf::PdfWriter;
use super::schedule;
use super::worker::JobContext;
use crate::modules::job::model::{Job, ReportRequest};
use crate::modules::report::model::{ClinicSummary, DailyReportTarget};

pub fn file_name(job_id: i64) -> String {
    format!("clinic-report-job{job_id}.pdf")
}

pub async fn run(context: &JobContext, job: &Job) -> anyhow::Result<Value> {
    let request: ReportRequest =
        serde_json::from_str(job.payload.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("the report's payload is unreadable: {e}"))?;
    let clinic = context.clinic_of(job).await?;
    if request.daily {
        // First, so that a failing report does not end the chain.
        let target = DailyReportTarget {
            clinic_id: clinic.id,
            timezone: clinic.timezone.clone(),
            admin_id: job.requested_by,
        };
        if let Some(next) = request.to.succ_opt() {
            schedule::ensure_daily_report(context, &target, next).await?;
        }
    }
    let zone = schedule::zone(&clinic.timezone);
    let until = request
        .to
        .succ_opt()
        .ok_or_else(|| anyhow::anyhow!("the period ends too late"))?;
    let from = schedule::utc_of(request.from.and_time(chrono::NaiveTime::MIN), zone);
    let to = schedule::utc_of(until.and_time(chrono::NaiveTime::MIN), zone);
    let summary = context
        .services
        .reports
        .summary(clinic.id, from, to, until)
        .await?;
    context.services.jobs.progress(job.id, 50).await?;

    let name = file_name(job.id);
    let period = format!("{} to {} ({})", request.from, request.to, zone.name());
    let scratch = context.exports.scratch(&name)?;
    let missing_glyphs = write_pdf(context, &scratch, &clinic.name, &period, &summary)?;
    let bytes = context.exports.publish(&name, scratch).await?;
    let mut result = json!({
        "file": name,
        "format": "PDF",
        "bytes": bytes,
        "from": request.from,
        "to": request.to,
        "timezone": zone.name(),
        "missingGlyphs": missing_glyphs,
    });
    if let (Value::Object(result), Value::Object(figures)) =
        (&mut result, serde_json::to_value(&summary)?)
    {
        result.extend(figures);
    }
    Ok(result)
}

fn write_pdf(
    context: &JobContext,
    scratch: &Scratch,
    clinic: &str,
    period: &str,
    summary: &ClinicSummary,
) -> anyhow::Result<usize> {
    let mut pdf = PdfWriter::new(
        scratch.writer()?,
        &context.pdf_fonts,
        &format!("{clinic}: report"),
    )?;
    pdf.line(period)?;
    pdf.heading("Appointments")?;
    pdf.table(&[("Status", 2.0), ("Appointments", 1.0)])?;
    for (status, count) in &summary.appointments_by_status {
        pdf.row(&[status, &count.to_string()])?;
    }
    pdf.row(&["All", &summary.appointments.to_string()])?;
    pdf.line(&match summary.no_show_rate {
        Some(rate) => format!(
            "No-show rate: {:.1} % (no-shows among completed appointments and no-shows)",
            rate * 100.0
        ),
        None => "No-show rate: none yet (no appointment completed or missed)".to_owned(),
    })?;
    pdf.heading("Patients")?;
    pdf.line(&format!("New patients: {}", summary.new_patients))?;
    pdf.heading("Active prescriptions by medication")?;
    pdf.table(&[("Medication", 2.0), ("Prescriptions", 1.0)])?;
    for medication in &summary.active_prescriptions_by_medication {
        pdf.row(&[
            &medication.medication,
            &medication.prescriptions.to_string(),
        ])?;
    }
    Ok(pdf.finish()?.missing_glyphs)
}
