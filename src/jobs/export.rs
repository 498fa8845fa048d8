//! `EXPORT_PATIENTS`: the clinic's patients matching a filter, page by page into a file, so
//! 10,000 rows never sit in memory at once; progress is reported as pages are written.
use serde_json::{Value, json};

use super::pdf::PdfWriter;
use super::worker::JobContext;
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{Direction, Page, PageRequest};
use crate::core::sealing::DataKeys;
use crate::modules::job::model::{ExportFormat, ExportRequest, Job};
use crate::modules::patient::model::{Patient, PatientCursor, PatientOrder};

/// Rows read per query.
const PAGE: usize = 500;

const HEADER: [&str; 9] = [
    "id",
    "patientId",
    "name",
    "email",
    "phone",
    "bloodGroup",
    "dateOfBirth",
    "createdAt",
    "updatedAt",
];

/// The PDF's table: header and relative width.
const PDF_COLUMNS: [(&str, f32); 6] = [
    ("Patient", 1.1),
    ("Name", 2.2),
    ("Email", 3.9),
    ("Phone", 1.4),
    ("Blood group", 0.9),
    ("Date of birth", 1.1),
];

/// The file name of a job's export: the same on every attempt, so a re-run replaces it.
pub fn file_name(job_id: i64, format: ExportFormat) -> String {
    match format {
        ExportFormat::Csv => format!("patients-job{job_id}.csv"),
        ExportFormat::Xlsx => format!("patients-job{job_id}.xlsx"),
        ExportFormat::Pdf => format!("patients-job{job_id}.pdf"),
    }
}

/// What an export shows in place of a value that does not decrypt (logged with the record's
/// id as it failed): never a blank that would pass for "not given".
const UNREADABLE_CELL: &str = "[unreadable]";

fn record(patient: &Patient, keys: &DataKeys) -> [String; 9] {
    let unreadable = |_| Some(UNREADABLE_CELL.to_owned());
    [
        ids::encode(NodeType::Patient, patient.id),
        patient.patient_number(),
        patient.name.clone(),
        patient.email.clone(),
        patient
            .phone(keys)
            .unwrap_or_else(unreadable)
            .unwrap_or_default(),
        patient
            .blood_group()
            .map(|group| group.as_str().to_owned())
            .unwrap_or_default(),
        // An empty cell when no date of birth was given.
        match patient.date_of_birth(keys) {
            Ok(date) => date.map(|date| date.to_string()).unwrap_or_default(),
            Err(_) => UNREADABLE_CELL.to_owned(),
        },
        patient.created_at.and_utc().to_rfc3339(),
        patient.updated_at.and_utc().to_rfc3339(),
    ]
}

/// A CSV cell that a spreadsheet opens as text: one that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be read as a formula (OWASP "CSV injection": a patient named
/// `=HYPERLINK(…)` runs in the ADMIN's spreadsheet), so it gets a leading `'`, which
/// spreadsheets show as nothing but the text. A phone number such as `+44…` keeps its digits.
fn inert_in_csv(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

pub async fn run(context: &JobContext, job: &Job) -> anyhow::Result<Value> {
    let request: ExportRequest =
        serde_json::from_str(job.payload.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("the export's payload is unreadable: {e}"))?;
    let name = file_name(job.id, request.format);
    let scratch = context.exports.scratch(&name)?;
    // Characters drawn as the font's missing glyph (PDF only).
    let mut missing_glyphs = None;
    let rows = match request.format {
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(scratch.writer()?);
            writer.write_record(HEADER)?;
            let rows = stream(context, job, &request, |record| {
                Ok(writer.write_record(record.map(inert_in_csv))?)
            })
            .await?;
            writer.flush()?;
            rows
        }
        ExportFormat::Xlsx => {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            // Rows go to a temporary file as they are written, not into memory.
            let sheet = workbook.add_worksheet_with_constant_memory()?;
            sheet.set_name("Patients")?;
            sheet.write_row(0, 0, HEADER)?;
            let mut next_row: u32 = 1;
            let rows = stream(context, job, &request, |record| {
                // Text cells, never formulas, whatever the text looks like.
                for (column, cell) in (0..).zip(&record) {
                    sheet.write_string(next_row, column, cell)?;
                }
                next_row += 1;
                Ok(())
            })
            .await?;
            workbook.save_to_writer(scratch.writer()?)?;
            rows
        }
        ExportFormat::Pdf => {
            // krilla's document cannot cross an `.await` (it is not `Send`), and shaping text
            // is work for a thread of its own: rows go to a blocking task over a bounded
            // channel, so no more than `PAGE` of them wait there at any time.
            let (rows_in, rows_out) = std::sync::mpsc::sync_channel::<[String; 9]>(PAGE);
            let out = scratch.writer()?;
            let fonts = context.pdf_fonts.clone();
            let exported = crate::db::now().format("%Y-%m-%d %H:%M").to_string();
            let drawing = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut pdf = PdfWriter::new(out, &fonts, "Patients")?;
                pdf.line(&format!("Exported {exported} UTC."))?;
                pdf.table(&PDF_COLUMNS)?;
                for record in rows_out {
                    // For people to read: the columns that identify and reach a patient.
                    let [_, number, name, email, phone, blood, born, ..] = &record;
                    pdf.row(&[number, name, email, phone, blood, born])?;
                }
                Ok(pdf.finish()?.missing_glyphs)
            });
            let rows = stream(context, job, &request, |record| {
                rows_in
                    .send(record)
                    .map_err(|_| anyhow::anyhow!("the PDF writer stopped"))
            })
            .await;
            drop(rows_in);
            // The writer's own error, if it failed, says more than the closed channel.
            missing_glyphs = Some(drawing.await??);
            rows?
        }
    };
    let bytes = context.exports.publish(&name, scratch).await?;
    let format = match request.format {
        ExportFormat::Csv => "CSV",
        ExportFormat::Xlsx => "XLSX",
        ExportFormat::Pdf => "PDF",
    };
    let mut result = json!({ "file": name, "format": format, "rows": rows, "bytes": bytes });
    if let (Some(missing), Value::Object(fields)) = (missing_glyphs, &mut result) {
        fields.insert("missingGlyphs".into(), missing.into());
    }
    Ok(result)
}

/// Reads the matching patients page by page and hands each row to `emit`; reports progress.
/// Returns how many rows there were.
async fn stream(
    context: &JobContext,
    job: &Job,
    request: &ExportRequest,
    mut emit: impl FnMut([String; 9]) -> anyhow::Result<()> + Send,
) -> anyhow::Result<i64> {
    let total = context
        .services
        .patients
        .export_count(job.clinic_id, &request.filter)
        .await?;
    let order = PatientOrder::default();
    let mut cursor = None;
    let mut written: i64 = 0;
    let mut reported = 0;
    loop {
        let page_request = PageRequest {
            limit: PAGE,
            direction: Direction::Forward,
            cursor: cursor.take(),
        };
        let rows = context
            .services
            .patients
            .export_page(job.clinic_id, &request.filter, order, &page_request)
            .await?;
        let page = Page::from_rows(rows, &page_request);
        for patient in &page.items {
            emit(record(patient, &context.services.keys))?;
        }
        written += i64::try_from(page.items.len()).unwrap_or(i64::MAX);
        let percent = i32::try_from(written * 99 / total.max(1)).unwrap_or(99);
        if percent >= reported + 5 {
            context.services.jobs.progress(job.id, percent).await?;
            reported = percent;
        }
        match (page.has_next_page, page.items.last()) {
            (true, Some(last)) => cursor = Some(PatientCursor::for_patient(last, order)),
            _ => return Ok(written),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::inert_in_csv;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_made_text() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(inert_in_csv(formula.into()), format!("'{formula}"));
        }
        for text in ["Zoë Adams", "a=b", "", "PAT-000001", "2026-01-01"] {
            assert_eq!(inert_in_csv(text.into()), text);
        }
    }
}
