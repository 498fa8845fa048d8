//! Patient exports: every matching row in the file, read back and compared with the database;
//! CSV, XLSX and PDF; the download's rules and expiry.
use clinicgraph::core::auth::Role;
use clinicgraph::core::pagination::{Direction, PageRequest};
use clinicgraph::core::sealing::DataKeys;
use clinicgraph::modules::patient::model::{Patient, PatientFilter, PatientOrder};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, patient_input};
use crate::jobs::{EXPORT, job_until};
use crate::on_every_backend;

pub async fn download(
    app: &TestApp,
    token: Option<&str>,
    id: &str,
) -> crate::helpers::TestResponse {
    let mut request = axum::http::Request::get(format!("/exports/{id}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(axum::body::Body::empty()).expect("request"))
        .await
}

/// Every live patient of the clinic, in the order exports write them.
async fn stored_patients(app: &TestApp, clinic_id: i64) -> Vec<Patient> {
    let all = PageRequest {
        limit: 10_000,
        direction: Direction::Forward,
        cursor: None,
    };
    app.repos
        .patients
        .list(
            clinic_id,
            &PatientFilter::default(),
            PatientOrder::default(),
            &all,
        )
        .await
        .expect("patients")
}

/// Runs an export as `admin` to SUCCEEDED; returns the job.
async fn exported(app: &TestApp, admin: &str, filter: Value) -> Value {
    let queued = app.ok(admin, EXPORT, json!({ "f": filter })).await["exportPatients"].clone();
    assert_eq!(queued["kind"], "EXPORT_PATIENTS");
    assert_eq!(queued["status"], "QUEUED");
    job_until(app, admin, queued["id"].as_str().expect("id"), "SUCCEEDED").await
}

/// Runs an export of the clinic's patients in `format` to SUCCEEDED, downloads it as
/// `media_type`, and returns the job and the file as downloaded.
async fn finished_export(
    app: &TestApp,
    admin: &str,
    format: &str,
    media_type: &str,
) -> (Value, Vec<u8>) {
    let mutation = format!("mutation {{ exportPatients(format: {format}) {{ id }} }}");
    let id = app.ok(admin, &mutation, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let job = job_until(app, admin, &id, "SUCCEEDED").await;
    assert_eq!(job["result"]["format"], format);
    let response = download(app, Some(admin), &id).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(media_type)
    );
    assert_eq!(
        Some(response.bytes.len() as u64),
        job["result"]["bytes"].as_u64(),
        "the whole file"
    );
    (job, response.bytes)
}

/// The PDF's pages, and its text line by line (runs of spaces as one: lopdf adds one where a
/// glyph is placed apart from the font's own advance).
pub fn pdf_text(file: &[u8]) -> (usize, Vec<String>) {
    let document = lopdf::Document::load_mem(file).expect("a PDF file");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).expect("text");
    let lines = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (pages.len(), lines)
}

/// `text` as its glyphs stand on a PDF page, left to right: right-to-left runs reversed (the
/// Unicode bidi algorithm). Readers such as pdftotext put them back in reading order; lopdf's
/// extraction does not.
pub fn as_drawn(text: &str) -> String {
    let bidi = unicode_bidi::BidiInfo::new(text, None);
    match bidi.paragraphs.first() {
        Some(paragraph) => bidi
            .reorder_line(paragraph, paragraph.range.clone())
            .into_owned(),
        None => String::new(),
    }
}

/// A patient's date of birth as exports write it: empty when none was given.
fn born(patient: &Patient, keys: &DataKeys) -> String {
    patient
        .date_of_birth(keys)
        .expect("opens")
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// Each of `cells` is a line of `lines`, in this order.
pub fn assert_in_order<S: AsRef<str>>(lines: &[String], cells: impl IntoIterator<Item = S>) {
    let mut at = 0;
    for cell in cells {
        let cell = cell.as_ref();
        let found = lines[at..].iter().position(|line| line == cell);
        at += found.unwrap_or_else(|| panic!("{cell:?} missing or out of order")) + 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_every_matching_patient_and_downloads_by_the_rules() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let clinic_id = app.demo_clinic_id().await;
    // More than one page of the export's reads (500).
    clinicgraph::seed::bulk_patients(&app.services, clinic_id, 1_200)
        .await
        .expect("bulk patients");
    let admin = app.token(Role::Admin).await;
    let job = exported(&app, &admin, Value::Null).await;
    assert_eq!(job["progress"], 100);
    let id = job["id"].as_str().expect("id").to_owned();

    let response = download(&app, Some(&admin), &id).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(
        response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let mut reader = csv::Reader::from_reader(response.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "patientId",
            "name",
            "email",
            "phone",
            "bloodGroup",
            "dateOfBirth",
            "createdAt",
            "updatedAt"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let stored = stored_patients(&app, clinic_id).await;
    assert!(stored.len() > 1_200);
    assert_eq!(rows.len(), stored.len());
    assert_eq!(job["result"]["rows"], json!(stored.len()));
    for (row, patient) in rows.iter().zip(&stored) {
        let expected = [
            clinicgraph::core::ids::encode(clinicgraph::core::ids::NodeType::Patient, patient.id),
            patient.patient_number(),
            patient.name.clone(),
            patient.email.clone(),
            patient
                .phone(&app.services.keys)
                .expect("opens")
                .unwrap_or_default(),
            patient
                .blood_group()
                .map(|g| g.as_str().to_owned())
                .unwrap_or_default(),
            born(patient, &app.services.keys),
        ];
        let got: Vec<&str> = row.iter().take(expected.len()).collect();
        assert_eq!(got, expected.iter().map(String::as_str).collect::<Vec<_>>());
    }

    // A filtered export holds exactly the patients the same filter lists.
    let filter = json!({ "bloodGroup": "O_NEG" });
    let filtered = exported(&app, &admin, filter.clone()).await;
    let count = app
        .ok(
            &admin,
            "query($f: PatientFilter) { patients(filter: $f) { totalCount } }",
            json!({ "f": filter }),
        )
        .await["patients"]["totalCount"]
        .clone();
    assert_eq!(filtered["result"]["rows"], count);
    let text = download(&app, Some(&admin), filtered["id"].as_str().expect("id"))
        .await
        .text;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let groups: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[5].to_owned())
        .collect();
    assert_eq!(json!(groups.len()), count);
    assert!(groups.iter().all(|g| g == "O_NEG"), "{groups:?}");

    // The same rules as job(id): no token, another user, another clinic, no such export.
    assert_eq!(download(&app, None, &id).await.status, 401);
    let doctor = app.token(Role::Doctor).await;
    let other = app.other_clinic_admin().await;
    for (token, export) in [
        (&doctor, id.as_str()),
        (&other, id.as_str()),
        (&admin, "999999"),
        (&admin, "x"),
    ] {
        let response = download(&app, Some(token), export).await;
        assert_eq!(response.status, 404, "{export}: {}", response.text);
        assert_eq!(response.code(), Some("NOT_FOUND"));
    }
    let response = app.gql(Some(&doctor), EXPORT, json!({})).await;
    assert_eq!(response.code(), Some("FORBIDDEN"));
}

/// Where the job's file is in the test's local file store.
fn stored_export(app: &TestApp, job: &Value) -> std::path::PathBuf {
    app.jobs_dir
        .path()
        .join("files/exports")
        .join(job["result"]["file"].as_str().expect("file"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_export_is_gone() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("EXPORT_TTL_HOURS", "0")])
        .await
        .expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let job = exported(&app, &admin, Value::Null).await;
    // In the file store, sealed with the data keys like every stored file; nothing is left in
    // the scratch folder.
    let file = stored_export(&app, &job);
    let stored = std::fs::read(&file).expect("the stored export");
    assert!(stored.starts_with(b"cg1s"), "sealed");
    assert!(!String::from_utf8_lossy(&stored).contains("PAT-"));
    let scratch = app.jobs_dir.path().join("exports");
    assert_eq!(std::fs::read_dir(&scratch).map_or(0, Iterator::count), 0);
    let response = download(&app, Some(&admin), job["id"].as_str().expect("id")).await;
    assert_eq!(response.status, 410, "{}", response.text);
    assert_eq!(response.code(), Some("EXPORT_EXPIRED"));
    assert!(!file.exists(), "an expired export is deleted");
}

/// Exports nobody downloads do not stay in the store: the workers remove them once expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_nobody_downloads_leaves_the_store_when_it_expires() {
    // Expired at once; the workers tidy every 10 seconds with links of 10 seconds.
    let env = [("EXPORT_TTL_HOURS", "0"), ("FILES_URL_TTL_SECONDS", "10")];
    let app = TestApp::spawn_with(Backend::Sqlite, &env)
        .await
        .expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let job = exported(&app, &admin, Value::Null).await;
    let file = stored_export(&app, &job);
    let started = std::time::Instant::now();
    while file.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "an expired export stays in the store"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_export_reads_back_as_the_database_rows() {
    use calamine::{Reader, Xlsx};
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (_, bytes) = finished_export(&app, &admin, "XLSX", xlsx).await;
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx file");
    let sheet = workbook
        .worksheet_range("Patients")
        .expect("the Patients sheet");
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect();
    assert_eq!(rows[0][..4], ["id", "patientId", "name", "email"]);
    let clinic_id = app.demo_clinic_id().await;
    let stored = stored_patients(&app, clinic_id).await;
    assert!(!stored.is_empty());
    assert_eq!(rows.len() - 1, stored.len());
    for (row, patient) in rows[1..].iter().zip(&stored) {
        assert_eq!(row[1], patient.patient_number());
        assert_eq!(row[2], patient.name);
        assert_eq!(row[3], patient.email);
        assert_eq!(row[6], born(patient, &app.services.keys));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_export_holds_every_patient_in_its_text() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let clinic_id = app.demo_clinic_id().await;
    // Enough for many pages.
    clinicgraph::seed::bulk_patients(&app.services, clinic_id, 1_200)
        .await
        .expect("bulk patients");
    let admin = app.token(Role::Admin).await;
    let (job, file) = finished_export(&app, &admin, "PDF", "application/pdf").await;
    let (pages, lines) = pdf_text(&file);
    assert!(pages > 10, "{pages} pages");
    assert_eq!(lines[0], "Patients");

    // Every patient, in the database's order, each with their name, email and birth date.
    let stored = stored_patients(&app, clinic_id).await;
    assert_eq!(json!(stored.len()), job["result"]["rows"]);
    let cells = stored.iter().flat_map(|patient| {
        [
            patient.patient_number(),
            patient.name.clone(),
            patient.email.clone(),
            born(patient, &app.services.keys),
        ]
    });
    // A patient without a date of birth has an empty cell, which holds no text line.
    assert_in_order(&lines, cells.filter(|cell| !cell.is_empty()));
    let numbers = lines.iter().filter(|l| l.starts_with("PAT-")).count();
    assert_eq!(numbers, stored.len());
}

/// Names a spreadsheet would run as formulas (OWASP "CSV injection").
const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://evil.example/\",\"Click\")",
    "@SUM(A1:A2)",
    "+1+1 Plus",
    "-2+3 Minus",
];

/// Patients named like formulas; returns their emails with their names.
async fn formula_patients(app: &TestApp, admin: &str) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for (n, name) in FORMULAS.into_iter().enumerate() {
        let email = format!("formula{n}@example.com");
        app.create_patient(admin, patient_input(name, &email)).await;
        made.push((email, name.to_owned()));
    }
    made
}

async fn a_csv_export_writes_formula_like_cells_as_text(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let made = formula_patients(&app, &admin).await;
    let (_, file) = finished_export(&app, &admin, "CSV", "text/csv; charset=utf-8").await;
    let text = String::from_utf8(file).expect("UTF-8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    for (email, name) in &made {
        let row = rows
            .iter()
            .find(|row| &row[3] == email)
            .unwrap_or_else(|| panic!("{email} not exported"));
        // A leading quote: the spreadsheet shows the text, and runs nothing.
        assert_eq!(&row[2], format!("'{name}"), "{email}");
    }
    // Ordinary cells are left alone.
    assert!(
        rows.iter()
            .any(|row| row[2].starts_with(char::is_alphabetic))
    );
}

async fn an_xlsx_export_writes_formula_like_cells_as_strings(app: TestApp) {
    use calamine::{Data, Reader, Xlsx};
    let admin = app.token(Role::Admin).await;
    let made = formula_patients(&app, &admin).await;
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (_, bytes) = finished_export(&app, &admin, "XLSX", xlsx).await;
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx file");
    let formulas = workbook
        .worksheet_formula("Patients")
        .expect("the Patients sheet");
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "the workbook holds formulas"
    );
    let sheet = workbook
        .worksheet_range("Patients")
        .expect("the Patients sheet");
    for (email, name) in &made {
        let row = sheet
            .rows()
            .find(|row| row[3] == Data::String(email.clone()))
            .unwrap_or_else(|| panic!("{email} not exported"));
        assert_eq!(row[2], Data::String(name.clone()), "{email}");
    }
}

/// `exportPatients` takes the filter of `patients` with the same checks: another clinic's
/// doctor is a mistake to report, not an export of nobody.
async fn an_export_refuses_another_clinics_doctor_as_patients_does(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let other = app.other_clinic_admin().await;
    let theirs = app
        .ok(
            &other,
            "mutation { createDoctor(input: { name: \"Dr. Elsewhere\", specialty: \"GP\" }) { id } }",
            json!({}),
        )
        .await["createDoctor"]["id"]
        .clone();
    let filter = json!({ "primaryDoctorId": theirs });
    let listed = app
        .gql(
            Some(&admin),
            "query($f: PatientFilter) { patients(filter: $f) { totalCount } }",
            json!({ "f": filter }),
        )
        .await;
    let refused = app.gql(Some(&admin), EXPORT, json!({ "f": filter })).await;
    for response in [&listed, &refused] {
        assert_eq!(
            response.code(),
            Some("VALIDATION_FAILED"),
            "{}",
            response.text
        );
        assert_eq!(
            crate::helpers::violated_fields(response),
            ["filter.primaryDoctorId"]
        );
    }
    // The clinic's own doctor is accepted by both.
    let ours = app.demo_doctor_ids().await[0].clone();
    let job = exported(&app, &admin, json!({ "primaryDoctorId": ours })).await;
    assert_eq!(job["status"], "SUCCEEDED");
}

/// Patients whose names are in the scripts the PDFs' own font covers.
const NAMES: [&str; 5] = [
    "Ελένη Παπαδοπούλου",
    "Иван Петров",
    "محمد عبد الرحمن",
    "דוד לוי",
    "Zoë Ñúñez",
];

async fn a_pdf_export_prints_every_script_and_counts_what_no_font_has(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    for (n, name) in NAMES.into_iter().chain(["王小明"]).enumerate() {
        app.create_patient(
            &admin,
            patient_input(name, &format!("script{n}@example.com")),
        )
        .await;
    }
    let (job, file) = finished_export(&app, &admin, "PDF", "application/pdf").await;
    let (_, lines) = pdf_text(&file);
    let clinic_id = app.demo_clinic_id().await;
    let stored = stored_patients(&app, clinic_id).await;
    assert_eq!(json!(stored.len()), job["result"]["rows"]);
    // Every name as stored, in the database's order; the one in Chinese as three missing
    // glyphs (U+FFFD in the text), never as question marks.
    let cells = stored.iter().flat_map(|patient| {
        let name = if patient.name == "王小明" {
            "\u{fffd}\u{fffd}\u{fffd}".to_owned()
        } else {
            as_drawn(&patient.name)
        };
        [patient.patient_number(), name, patient.email.clone()]
    });
    assert_in_order(&lines, cells);
    for name in NAMES {
        assert!(lines.contains(&as_drawn(name)), "{name}");
    }
    assert!(!lines.iter().any(|line| line.contains('?')));
    assert_eq!(job["result"]["missingGlyphs"], 3, "{}", job["result"]);
}

/// A Tagalog name, in a script DejaVu Sans lacks: drawn from the `PDF_FONT` file.
async fn a_pdf_export_draws_what_its_font_lacks_from_pdf_font(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    app.create_patient(&admin, patient_input("Ana ᜀᜊ", "tagalog@example.com"))
        .await;
    let (job, file) = finished_export(&app, &admin, "PDF", "application/pdf").await;
    let (_, lines) = pdf_text(&file);
    assert_eq!(job["result"]["missingGlyphs"], 0, "{}", job["result"]);
    // One text object per font: the fallback's glyphs follow on a line of their own.
    let at = lines
        .iter()
        .position(|line| line == "Ana")
        .expect("the name");
    assert_eq!(lines[at + 1], "ᜀᜊ");
}

mod with_pdf_font {
    use super::a_pdf_export_draws_what_its_font_lacks_from_pdf_font;
    crate::on_every_backend!(
        env [(
            "PDF_FONT",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fonts/NotoSansTagalog-Regular.ttf"),
        )];
        a_pdf_export_draws_what_its_font_lacks_from_pdf_font,
    );
}

/// Instances on different hosts share only the database, Redis and the bucket: a worker and two
/// API processes, each with local folders of its own (`FILES_DIR`, `EXPORT_DIR`), on the S3
/// store. The export the worker wrote downloads from both API processes, the same bytes.
async fn an_export_made_on_one_host_downloads_from_every_other(app: TestApp) {
    use crate::helpers::s3::S3Server;
    use crate::helpers::server::{Namespace, Server, redis_url};
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(s3) = S3Server::start("clinic-exports").await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let mut env = s3.env("eu/prod");
    env.extend([
        ("WORKERS_IN_PROCESS", "false".to_owned()),
        ("REDIS_URL", redis.clone()),
        ("REDIS_PREFIX", namespace.prefix.clone()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = Server::start(&app.database_url, &env).await;
    let second = Server::start(&app.database_url, &env).await;
    let admin = app.token_without_http(Role::Admin).await;
    app.create_patient(
        &admin,
        patient_input("Ελένη Δήμου", "eleni.hosts@example.gr"),
    )
    .await;
    let id = first.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let _worker = Server::start_worker(&app.database_url, &env);
    let job = crate::jobs::job_until_on(&second, &admin, &id, "SUCCEEDED").await;
    let file = job["result"]["file"].as_str().expect("file");

    let from_first = crate::jobs::download(&first, &admin, &id).await;
    let from_second = crate::jobs::download(&second, &admin, &id).await;
    assert_eq!(from_first, from_second);
    assert_eq!(
        Some(from_first.len() as u64),
        job["result"]["bytes"].as_u64()
    );
    assert_eq!(json!(from_first.lines().count() - 1), job["result"]["rows"]);
    assert!(from_first.contains("Ελένη Δήμου"));
    // In the bucket under the prefix, written with server-side encryption.
    let key = format!("eu/prod/exports/{file}");
    assert!(s3.keys().await.contains(&key), "{:?}", s3.keys().await);
    assert!(
        s3.encryption()
            .await
            .contains(&(key.clone(), Some("AES256".to_owned()))),
        "{:?}",
        s3.encryption().await
    );
}

on_every_backend!(
    an_export_made_on_one_host_downloads_from_every_other,
    a_pdf_export_prints_every_script_and_counts_what_no_font_has,
    a_csv_export_writes_formula_like_cells_as_text,
    an_xlsx_export_writes_formula_like_cells_as_strings,
    an_export_refuses_another_clinics_doctor_as_patients_does,
);
