//! Clinic reports: `clinicReport` counts what the API lists for the same period, in the
//! clinic's calendar, and prints it to a PDF; the nightly report of each clinic is queued once
//! per day, and each queues the next.
use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use clinicgraph::core::auth::Role;
use clinicgraph::jobs::schedule;
use serde_json::{Value, json};

use crate::exports::{as_drawn, assert_in_order, download, pdf_text};
use crate::helpers::{Backend, TestApp, demo_patient};
use crate::jobs::job_until;
use crate::on_every_backend;

const REPORT: &str =
    "mutation($from: Date!, $to: Date!) { clinicReport(from: $from, to: $to) { id kind status } }";
const COUNT: &str = "query($f: AppointmentFilter) { appointments(filter: $f) { totalCount } }";
const ACTIVE: &str = "query($after: String) { prescriptions(filter: { status: ACTIVE }, first: 100, after: $after) { nodes { medication startDate } pageInfo { hasNextPage endCursor } } }";
const REPORTS: &str =
    "{ jobs(kind: CLINIC_REPORT, first: 20) { nodes { id status runAt result } } }";
const STATUSES: [&str; 6] = [
    "CANCELLED",
    "CHECKED_IN",
    "COMPLETED",
    "CONFIRMED",
    "NO_SHOW",
    "SCHEDULED",
];

/// Midnight at the start of `day` in London, as an RFC 3339 UTC instant.
fn london_midnight(day: NaiveDate) -> String {
    London
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("a London time")
        .with_timezone(&Utc)
        .to_rfc3339()
}

/// Active prescriptions that started before `until`, by medication, most first.
async fn active_by_medication(app: &TestApp, admin: &str, until: NaiveDate) -> Vec<Value> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let page = app.ok(admin, ACTIVE, json!({ "after": after })).await["prescriptions"].clone();
        for node in page["nodes"].as_array().expect("nodes") {
            let start: NaiveDate = node["startDate"]
                .as_str()
                .expect("date")
                .parse()
                .expect("date");
            if start < until {
                *counts
                    .entry(node["medication"].as_str().expect("name").to_owned())
                    .or_default() += 1;
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let mut counts: Vec<(String, i64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .into_iter()
        .map(|(medication, prescriptions)| json!({ "medication": medication, "prescriptions": prescriptions }))
        .collect()
}

/// Medications named in the scripts the PDFs' own font covers.
const MEDICATIONS: [&str; 4] = ["Παρακεταμόλη", "Ибупрофен", "باراسيتامول", "אקמול"];

async fn a_clinic_report_counts_what_the_api_lists_and_prints_it(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let today = Utc::now().with_timezone(&London).date_naive();
    let doctor = app.token(Role::Doctor).await;
    for medication in MEDICATIONS {
        let input = json!({
            "patientId": demo_patient(3), "medication": medication, "dosage": "500 mg",
            "frequency": "daily", "route": "oral", "startDate": today, "refills": 0,
        });
        app.ok(
            &doctor,
            "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    }
    let (from, to) = (
        today - chrono::Days::new(180),
        today + chrono::Days::new(180),
    );
    let queued = app
        .ok(&admin, REPORT, json!({ "from": from, "to": to }))
        .await["clinicReport"]
        .clone();
    assert_eq!(queued["kind"], "CLINIC_REPORT");
    assert_eq!(queued["status"], "QUEUED");
    let job = job_until(
        &app,
        &admin,
        queued["id"].as_str().expect("id"),
        "SUCCEEDED",
    )
    .await;
    let report = &job["result"];
    assert_eq!(report["timezone"], "Europe/London");

    // The period is London's days, both included.
    let until = to + chrono::Days::new(1);
    let period = json!({ "from": london_midnight(from), "to": london_midnight(until) });
    let mut total = 0;
    for status in STATUSES {
        let mut filter = period.clone();
        filter["status"] = json!(status);
        let listed =
            app.ok(&admin, COUNT, json!({ "f": filter })).await["appointments"]["totalCount"]
                .as_i64()
                .expect("count");
        assert_eq!(
            report["appointmentsByStatus"][status], listed,
            "{status}: {report}"
        );
        total += listed;
    }
    assert!(total > 0, "the demo clinic has appointments in the period");
    assert_eq!(report["appointments"], total);
    let count_of = |status: &str| report["appointmentsByStatus"][status].as_f64().expect("n");
    let known = count_of("COMPLETED") + count_of("NO_SHOW");
    let rate = report["noShowRate"].as_f64().expect("a rate");
    assert!(
        (rate - count_of("NO_SHOW") / known).abs() < 1e-9,
        "{report}"
    );

    // Every demo patient was registered just now, inside the period.
    let patients = app
        .ok(&admin, "{ patients { totalCount } }", json!({}))
        .await;
    assert_eq!(report["newPatients"], patients["patients"]["totalCount"]);
    let medications = active_by_medication(&app, &admin, until).await;
    assert!(!medications.is_empty());
    assert_eq!(
        report["activePrescriptionsByMedication"],
        json!(medications)
    );

    // The same figures in the PDF, as downloaded.
    let response = download(&app, Some(&admin), job["id"].as_str().expect("id")).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(
        response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let (_, lines) = pdf_text(&response.bytes);
    assert_eq!(lines[0], "Demo Clinic: report");
    assert_eq!(lines[1], format!("{from} to {to} (Europe/London)"));
    let mut expected: Vec<String> = Vec::new();
    for status in STATUSES {
        expected.push(status.to_owned());
        expected.push(report["appointmentsByStatus"][status].to_string());
    }
    expected.push(format!("New patients: {}", report["newPatients"]));
    for medication in &medications {
        expected.push(as_drawn(medication["medication"].as_str().expect("name")));
        expected.push(medication["prescriptions"].to_string());
    }
    assert_in_order(&lines, &expected);
    for medication in MEDICATIONS {
        assert!(lines.contains(&as_drawn(medication)), "{medication}");
    }
    assert_eq!(report["missingGlyphs"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_for_admins_and_a_sensible_period() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let admin = app.token(Role::Admin).await;
    app.assert_each_fails(
        &admin,
        "VALIDATION_FAILED",
        vec![
            (REPORT, json!({ "from": "2026-11-02", "to": "2026-11-01" })),
            (REPORT, json!({ "from": "2025-01-01", "to": "2026-11-01" })),
        ],
    )
    .await;
    let doctor = app.token(Role::Doctor).await;
    let refused = app
        .gql(
            Some(&doctor),
            REPORT,
            json!({ "from": "2026-11-01", "to": "2026-11-02" }),
        )
        .await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.text);
}

async fn each_nightly_report_is_queued_once_and_queues_the_next(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let context = &app.job_context;
    // Twice, as two workers would: one report for today, due tomorrow at 01:00 London time.
    schedule::ensure_todays_reports(context)
        .await
        .expect("scheduled");
    schedule::ensure_todays_reports(context)
        .await
        .expect("scheduled");
    let today = Utc::now().with_timezone(&London).date_naive();
    let due_today = schedule::due(today, London).and_utc().to_rfc3339();
    let reports = app.ok(&admin, REPORTS, json!({})).await["jobs"]["nodes"].clone();
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
    assert_eq!(reports[0]["status"], "QUEUED");
    assert_eq!(reports[0]["runAt"], due_today);

    // A report two days old was due yesterday: it runs now and queues yesterday's, which is due
    // today at 01:00: past after that hour, when it runs too and finds today's already queued;
    // still to come between midnight and 01:00 (found by a CI run at 00:10).
    let yesterday = today - chrono::Days::new(1);
    let yesterdays_is_due = schedule::due(yesterday, London) <= Utc::now().naive_utc();
    let runs = if yesterdays_is_due { 2 } else { 1 };
    let target = app
        .repos
        .reports
        .daily_report_targets()
        .await
        .expect("targets")
        .pop()
        .expect("the demo clinic");
    let two_days_ago = today - chrono::Days::new(2);
    let queued = schedule::ensure_daily_report(context, &target, two_days_ago)
        .await
        .expect("queued");
    assert!(queued);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let reports = loop {
        let reports = app.ok(&admin, REPORTS, json!({})).await["jobs"]["nodes"].clone();
        let done = reports
            .as_array()
            .expect("jobs")
            .iter()
            .filter(|job| job["status"] == "SUCCEEDED")
            .count();
        if done == runs {
            break reports;
        }
        assert!(std::time::Instant::now() < deadline, "{reports}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut days: Vec<(String, String)> = reports
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| {
            let day = job["result"]["from"]
                .as_str()
                .unwrap_or("not run")
                .to_owned();
            (day, job["status"].as_str().expect("status").to_owned())
        })
        .collect();
    days.sort();
    let not_run = ("not run".to_owned(), "QUEUED".to_owned());
    let yesterdays = if yesterdays_is_due {
        (yesterday.to_string(), "SUCCEEDED".to_owned())
    } else {
        not_run.clone()
    };
    let mut expected = vec![
        (two_days_ago.to_string(), "SUCCEEDED".to_owned()),
        yesterdays,
        not_run,
    ];
    expected.sort();
    assert_eq!(days, expected, "{reports}");
    let due_yesterday = schedule::due(yesterday, London).and_utc().to_rfc3339();
    assert!(
        reports
            .as_array()
            .expect("jobs")
            .iter()
            .any(|job| job["runAt"] == due_yesterday),
        "yesterday's report is queued for today at 01:00: {reports}"
    );
}

on_every_backend!(
    a_clinic_report_counts_what_the_api_lists_and_prints_it,
    each_nightly_report_is_queued_once_and_queues_the_next,
);
