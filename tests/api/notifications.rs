//! Appointment emails: sent by the workers over SMTP (a real server on loopback), with the
//! clinic's name and the time in the clinic's zone; a reminder a day ahead that is skipped when
//! the appointment has moved or been cancelled; without SMTP, .eml files in the outbox.
use std::time::{Duration, Instant};

use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::smtp::{SmtpServer, parse};
use crate::helpers::{Backend, TestApp, at, demo_patient, patient_input};

const PATIENT: &str = "query($id: ID!) { patient(id: $id) { name email } }";
const JOBS: &str =
    "query($k: JobKind) { jobs(kind: $k, first: 50) { nodes { id status result runAt error } } }";
const NEW_DOCTOR: &str = "mutation($name: String!) { createDoctor(input: { name: $name, specialty: \"General\" }) { id } }";
const RESCHEDULE: &str = "mutation($id: ID!, $at: DateTime!) { rescheduleAppointment(id: $id, input: { scheduledAt: $at }) { id } }";

/// The demo clinic's sender, as the test configures it.
const FROM: &str = "front-desk@demo-clinic.example";

/// A demo app sending its emails to a fresh SMTP server, from `FROM`.
async fn app_with_smtp() -> (SmtpServer, TestApp) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SMTP_URL", &url), ("MAIL_FROM", FROM)])
        .await
        .expect("SQLite");
    (smtp, app)
}

async fn jobs_of_kind(app: &TestApp, admin: &str, kind: &str) -> Vec<Value> {
    let data = app.ok(admin, JOBS, json!({ "k": kind })).await;
    data["jobs"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until every job of `kind` has finished, and there are `count` of them.
async fn finished_jobs(app: &TestApp, admin: &str, kind: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = jobs_of_kind(app, admin, kind).await;
        if jobs.len() == count && jobs.iter().all(|j| j["status"] == "SUCCEEDED") {
            return jobs;
        }
        assert!(Instant::now() < deadline, "{kind}: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_rescheduling_and_cancelling_email_the_patient_in_the_clinics_time() {
    let (smtp, app) = app_with_smtp().await;
    let admin = app.token(Role::Admin).await;
    let patient_id = demo_patient(1);
    let patient = app.ok(&admin, PATIENT, json!({ "id": patient_id })).await["patient"].clone();
    let (name, email) = (
        patient["name"].as_str().expect("name"),
        patient["email"].as_str().expect("email"),
    );
    let doctor = &app.demo_doctor_ids().await[0];

    // 09:30 UTC in July is 10:30 in London (BST); 14:00 UTC in December is 14:00 GMT.
    let id = app
        .scheduled(&admin, &patient_id, doctor, "2027-07-15T09:30:00Z")
        .await;
    let moved = json!({ "id": id, "at": "2027-12-02T14:00:00Z" });
    app.ok(&admin, RESCHEDULE, moved).await;
    let cancelled = app.move_appointment(&admin, "cancelAppointment", &id).await;
    assert!(cancelled.body.get("errors").is_none(), "{}", cancelled.text);

    let mut emails = smtp.wait_for(3).await;
    assert_eq!(emails.len(), 3, "{emails:?}");
    emails.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    for email_seen in &emails {
        assert!(email_seen.rcpt_to.contains(email), "{email_seen:?}");
        assert_eq!(email_seen.to, format!("{name} <{email}>"));
        assert_eq!(email_seen.from, format!("Demo Clinic <{FROM}>"));
        assert!(email_seen.subject.contains("Demo Clinic"), "{email_seen:?}");
        assert!(
            email_seen.body.starts_with(&format!("Dear {name},")),
            "{email_seen:?}"
        );
    }
    let by_subject = |word: &str| {
        emails
            .iter()
            .find(|e| e.subject.contains(word))
            .unwrap_or_else(|| panic!("no email about {word}: {emails:?}"))
    };
    let booked = by_subject("on Thursday 15 July");
    assert!(
        booked.body.contains("Thursday 15 July 2027 at 10:30 BST"),
        "{booked:?}"
    );
    let rescheduled = by_subject("has moved");
    assert!(
        rescheduled
            .body
            .contains("Thursday 2 December 2027 at 14:00 GMT"),
        "{rescheduled:?}"
    );
    let cancelled = by_subject("is cancelled");
    assert!(
        cancelled
            .body
            .contains("Thursday 2 December 2027 at 14:00 GMT"),
        "{cancelled:?}"
    );

    let notices = finished_jobs(&app, &admin, "APPOINTMENT_NOTICE", 3).await;
    assert!(
        notices.iter().all(|j| j["result"]["delivery"] == "SMTP"),
        "{notices:?}"
    );
    // Two reminders were queued, a day before each time; neither is due for months.
    let reminders = jobs_of_kind(&app, &admin, "APPOINTMENT_REMINDER").await;
    let mut due: Vec<&str> = reminders
        .iter()
        .filter_map(|j| j["runAt"].as_str())
        .collect();
    due.sort_unstable();
    assert_eq!(
        due,
        ["2027-07-14T09:30:00+00:00", "2027-12-01T14:00:00+00:00"]
    );
    assert!(
        reminders.iter().all(|j| j["status"] == "QUEUED"),
        "{reminders:?}"
    );
}

/// An RFC 3339 instant a day and `seconds` from now, so its reminder is due in `seconds`.
fn a_day_and(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_goes_out_a_day_ahead_unless_the_appointment_moved_or_was_cancelled() {
    let (smtp, app) = app_with_smtp().await;
    let admin = app.token(Role::Admin).await;
    // Of their own, so no demo appointment is in the way at that hour.
    let mut booked = Vec::new();
    for who in ["kept", "moved", "dropped", "returned"] {
        let doctor = app
            .ok(&admin, NEW_DOCTOR, json!({ "name": format!("Dr. {who}") }))
            .await["createDoctor"]["id"]
            .as_str()
            .expect("doctor")
            .to_owned();
        let email = format!("{who}@patients.example");
        let patient = app
            .create_patient(&admin, patient_input(&format!("Pat {who}"), &email))
            .await;
        let start = a_day_and(8);
        let id = app.scheduled(&admin, &patient, &doctor, &start).await;
        booked.push((id, email, start));
    }
    let [
        (_, kept, _),
        (moved, ..),
        (dropped, ..),
        (returned, back, start),
    ] = booked.try_into().expect("four");
    for (id, to) in [
        (&moved, at(30, 9, 0)),
        (&returned, at(31, 9, 0)),
        (&returned, start),
    ] {
        app.ok(&admin, RESCHEDULE, json!({ "id": id, "at": to }))
            .await;
    }
    let cancelled = app
        .move_appointment(&admin, "cancelAppointment", &dropped)
        .await;
    assert!(cancelled.body.get("errors").is_none(), "{}", cancelled.text);

    // 4 booked, 3 moves, 1 cancelled; then one reminder each for the kept appointment and
    // the one moved away and back (once, though two were asked for its time).
    let emails = smtp.wait_for(10).await;
    let mut reminded: Vec<&str> = emails
        .iter()
        .filter(|e| e.subject.starts_with("Reminder:"))
        .map(|e| e.rcpt_to.as_str())
        .collect();
    reminded.sort_unstable();
    assert_eq!(emails.len(), 10, "{emails:?}");
    assert_eq!(reminded.len(), 2, "{emails:?}");
    assert!(reminded[0].contains(&kept), "{reminded:?}");
    assert!(reminded[1].contains(&back), "{reminded:?}");

    // Six reminders were queued: one per booking and per move away (the move back found its
    // time's reminder queued). The two whose appointment changed ran and skipped; the two for
    // the times moved to wait.
    let reminders = jobs_of_kind(&app, &admin, "APPOINTMENT_REMINDER").await;
    assert_eq!(reminders.len(), 6, "{reminders:?}");
    let skipped = reminders
        .iter()
        .filter(|j| j["result"]["skipped"] == "the appointment was moved or cancelled")
        .count();
    let sent = reminders
        .iter()
        .filter(|j| j["result"]["delivery"] == "SMTP")
        .count();
    let waiting = reminders.iter().filter(|j| j["status"] == "QUEUED").count();
    assert_eq!((sent, skipped, waiting), (2, 2, 2), "{reminders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_an_email_is_an_eml_file_in_the_outbox_once_per_job() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let doctor = &app.demo_doctor_ids().await[0];
    app.scheduled(&admin, &demo_patient(1), doctor, "2027-07-15T09:30:00Z")
        .await;
    let notices = finished_jobs(&app, &admin, "APPOINTMENT_NOTICE", 1).await;
    assert_eq!(notices[0]["result"]["delivery"], "OUTBOX");
    let outbox = app.jobs_dir.path().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let email = parse(&std::fs::read(&files[0]).expect("eml"));
    assert!(email.subject.contains("Demo Clinic"), "{email:?}");
    assert!(
        email.body.contains("Thursday 15 July 2027 at 10:30 BST"),
        "{email:?}"
    );
    let job_id = notices[0]["id"].as_str().expect("id");
    assert_eq!(
        files[0].file_name().and_then(|n| n.to_str()),
        Some(format!("appointment-email-{job_id}.eml").as_str())
    );
}
