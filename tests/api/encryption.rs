//! Health data encrypted at rest, as someone with a copy of the database meets it: the raw
//! database (the SQLite file, `pg_dump`, `mariadb-dump`) holds none of what was written through
//! the API, while the API reads it all back; a value moved to another row or altered is that
//! field's error, never a blank or someone else's data.
use clinicgraph::core::auth::Role;
use clinicgraph::core::ids;
use serde_json::{Value, json};

use crate::helpers::raw_sql::{self, contains};
use crate::helpers::server::Server;
use crate::helpers::{TestApp, at};
use crate::on_every_backend;
use crate::resilience::{post_keyed, replayed};

const CREATE: &str = "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }";
const SCHEDULE: &str =
    "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }";
const CANCEL: &str =
    "mutation($id: ID!, $r: String!) { cancelAppointment(id: $id, reason: $r) { id } }";
const PRESCRIBE: &str = "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }";
const DISCONTINUE: &str =
    "mutation($id: ID!, $r: String!) { discontinuePrescription(id: $id, reason: $r) { id } }";
const READ: &str = "query($id: ID!) { patient(id: $id) {
    name phone dateOfBirth internalNotes
    appointments { nodes { reason notes cancellationReason } }
    prescriptions { nodes { medication dosage frequency route discontinuedReason } }
} }";
const SEARCH: &str =
    "query($s: String) { patients(filter: { search: $s }) { totalCount nodes { name } } }";

/// Plain by design (searched by substring): a dump shows it, which proves the dump is read.
const NAME: &str = "Ελένη Σφραγισμένη";
/// Written through the API; none may appear in the raw database.
const SECRETS: [&str; 12] = [
    "5550137788",
    "1977-03-09",
    "Αλλεργία στην πενικιλίνη 7731",
    "reason-ακτινογραφία-4471",
    "notes-ιστορικό-9912",
    "cancel-ταξίδι-5530",
    "dosage-500mg-6621",
    "frequency-τρεις-φορές-3390",
    "route-sublingual-8812",
    "discontinued-αντίδραση-2207",
    // The search key no longer holds the phone either.
    "555 013 7788",
    // Nor does the answer kept for an `Idempotency-Key`.
    "kept-answer-notes-4242",
];

/// A patient with every sealed field of theirs, their appointments' and prescriptions' filled
/// in (one appointment cancelled, one prescription discontinued); the patient's id.
async fn patient_with_everything(app: &TestApp, token: &str) -> String {
    let patient = app
        .ok(
            token,
            CREATE,
            json!({ "i": {
                "name": NAME, "email": "eleni.sealed@example.gr", "phone": "555 013 7788",
                "dateOfBirth": "1977-03-09", "internalNotes": SECRETS[2],
            } }),
        )
        .await["createPatient"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let doctor = app.demo_doctor_ids().await[0].clone();
    let appointment = app
        .ok(
            token,
            SCHEDULE,
            json!({ "i": {
                "patientId": patient, "doctorId": doctor, "scheduledAt": at(40, 11, 0),
                "reason": SECRETS[3], "notes": SECRETS[4],
            } }),
        )
        .await["scheduleAppointment"]["id"]
        .clone();
    app.ok(token, CANCEL, json!({ "id": appointment, "r": SECRETS[5] }))
        .await;
    let doctor = app.token(Role::Doctor).await;
    let prescription = app
        .ok(
            &doctor,
            PRESCRIBE,
            json!({ "i": {
                "patientId": patient, "medication": "Amoxicillin", "dosage": SECRETS[6],
                "frequency": SECRETS[7], "route": SECRETS[8], "startDate": "2026-12-01",
            } }),
        )
        .await["prescribe"]["id"]
        .clone();
    app.ok(
        &doctor,
        DISCONTINUE,
        json!({ "id": prescription, "r": SECRETS[9] }),
    )
    .await;
    patient
}

async fn health_data_reads_back_and_the_raw_database_holds_none_of_it(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let patient = patient_with_everything(&app, &admin).await;

    let read = app.ok(&admin, READ, json!({ "id": patient })).await;
    assert_eq!(
        read["patient"],
        json!({
            "name": NAME, "phone": "5550137788", "dateOfBirth": "1977-03-09",
            "internalNotes": SECRETS[2],
            "appointments": { "nodes": [{
                "reason": SECRETS[3], "notes": SECRETS[4], "cancellationReason": SECRETS[5],
            }] },
            "prescriptions": { "nodes": [{
                "medication": "Amoxicillin", "dosage": SECRETS[6], "frequency": SECRETS[7],
                "route": SECRETS[8], "discontinuedReason": SECRETS[9],
            }] },
        })
    );

    // A phone is found by exact match of its digits, however it is written; never in part.
    for search in ["5550137788", "(555) 013-7788"] {
        let found = app.ok(&admin, SEARCH, json!({ "s": search })).await;
        assert_eq!(
            found["patients"]["nodes"],
            json!([{ "name": NAME }]),
            "{search}"
        );
    }
    let part = app.ok(&admin, SEARCH, json!({ "s": "0137788" })).await;
    assert_eq!(part["patients"]["totalCount"], 0);
    // Another clinic's search for the same phone finds nobody.
    let other = app.other_clinic_admin().await;
    let elsewhere = app.ok(&other, SEARCH, json!({ "s": "5550137788" })).await;
    assert_eq!(elsewhere["patients"]["totalCount"], 0);

    // An answer kept for replay holds what it showed: it is sealed too, and replays as sent.
    let update = json!({
        "query": "mutation($id: ID!) { updatePatient(id: $id, input: { internalNotes: \"kept-answer-notes-4242\" }) { internalNotes phone } }",
        "variables": { "id": patient },
    });
    let first = post_keyed(&app, Some(&admin), &["sealed-answer-1"], &update).await;
    assert!(
        first.text.contains("kept-answer-notes-4242"),
        "{}",
        first.text
    );
    let again = post_keyed(&app, Some(&admin), &["sealed-answer-1"], &update).await;
    assert!(replayed(&again));
    assert_eq!(again.body, first.body);

    app.services.audit_writer.flush().await;
    let dump = raw_sql::dump(&app.database_url).await;
    assert!(contains(&dump, NAME), "the dump holds the (plain) name");
    for secret in SECRETS {
        assert!(
            !contains(&dump, secret),
            "{secret:?} is in the raw database"
        );
    }
    // What the sealed columns hold instead: the format's version and the key's id.
    let phones = raw_sql::texts(
        &app.database_url,
        "SELECT phone AS value FROM patients WHERE phone IS NOT NULL",
    )
    .await;
    assert!(!phones.is_empty());
    assert!(
        phones.iter().all(|p| p.starts_with("cg1.test-1.")),
        "{phones:?}"
    );
}

/// The error entries of `response` at `path`.
fn codes_at(response: &Value, path: &[&str]) -> Vec<String> {
    let path: Vec<Value> = path.iter().map(|p| json!(p)).collect();
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter(|e| e["path"].as_array() == Some(&path))
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn a_value_moved_or_altered_is_a_field_error_never_a_blank(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let create = |name: &'static str, email: &'static str, notes: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let id = app
                .ok(
                    &admin,
                    CREATE,
                    json!({ "i": {
                        "name": name, "email": email, "phone": "5550101010",
                        "dateOfBirth": "1990-01-02", "internalNotes": notes,
                    } }),
                )
                .await["createPatient"]["id"]
                .as_str()
                .expect("id")
                .to_owned();
            let key = ids::decode_as(ids::NodeType::Patient, &id).expect("a patient id");
            (id, key)
        }
    };
    let (first, first_key) = create("First Holder", "first@example.org", "first's notes").await;
    let (second, second_key) = create("Second Holder", "second@example.org", "second's").await;
    let url = &app.database_url;
    let column = |column: &str, key: i64| {
        let sql = format!("SELECT {column} AS value FROM patients WHERE id = {key}");
        async move { raw_sql::texts(url, &sql).await.remove(0) }
    };

    // The first patient's notes copied over the second's: they do not open there.
    let notes = column("internal_notes", first_key).await;
    let set = |column: &str, value: String, key: i64| {
        let sql = format!("UPDATE patients SET {column} = '{value}' WHERE id = {key}");
        async move { raw_sql::execute(url, &sql).await.expect("update") }
    };
    set("internal_notes", notes, second_key).await;
    // The first patient's phone altered in one character of its ciphertext.
    let phone = column("phone", first_key).await;
    let mut altered = phone.clone().into_bytes();
    let at = altered.len() - 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    set(
        "phone",
        String::from_utf8(altered).expect("ascii"),
        first_key,
    )
    .await;
    // The second patient's date of birth named under a key the keyring lacks.
    let born = column("date_of_birth", second_key).await;
    set(
        "date_of_birth",
        born.replacen("cg1.test-1.", "cg1.retired.", 1),
        second_key,
    )
    .await;

    let query = "query($id: ID!) { patient(id: $id) { name phone dateOfBirth internalNotes } }";
    let read = app.gql(Some(&admin), query, json!({ "id": first })).await;
    assert_eq!(
        codes_at(&read.body, &["patient", "phone"]),
        ["DATA_UNREADABLE"],
        "{}",
        read.text
    );
    assert_eq!(read.body["data"]["patient"]["name"], "First Holder");
    assert_eq!(read.body["data"]["patient"]["phone"], Value::Null);
    assert_eq!(
        read.body["data"]["patient"]["internalNotes"],
        "first's notes"
    );
    assert_eq!(read.body["data"]["patient"]["dateOfBirth"], "1990-01-02");

    let read = app.gql(Some(&admin), query, json!({ "id": second })).await;
    for field in ["internalNotes", "dateOfBirth"] {
        assert_eq!(
            codes_at(&read.body, &["patient", field]),
            ["DATA_UNREADABLE"],
            "{}",
            read.text
        );
        assert_eq!(read.body["data"]["patient"][field], Value::Null);
    }
    assert_eq!(read.body["data"]["patient"]["phone"], "5550101010");
    assert!(!read.text.contains("first's notes"));
    assert!(
        !read.text.contains("INTERNAL_SERVER_ERROR"),
        "{}",
        read.text
    );

    // An update that would have to write the unreadable value back is refused with the same
    // code and changes nothing.
    let update =
        "mutation($id: ID!) { updatePatient(id: $id, input: { name: \"Renamed\" }) { name } }";
    let refused = app.gql(Some(&admin), update, json!({ "id": second })).await;
    assert_eq!(refused.code(), Some("DATA_UNREADABLE"), "{}", refused.text);
    let name = app
        .ok(
            &admin,
            "query($id: ID!) { patient(id: $id) { name } }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(name["patient"]["name"], "Second Holder");
}

/// A second key, made current by listing it with a `*` beside the tests' `test-1`.
const SECOND_KEY: &str = "test-2:dGVzdC1rZXktMi0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ=";
const JOB: &str = "query($id: ID!) { job(id: $id) { status result error } }";
const EVERYTHING: &str = "query($after: String) { patients(first: 20, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { name email phone dateOfBirth internalNotes
        appointments(first: 10) { nodes { reason notes cancellationReason } }
        prescriptions(first: 10) { nodes { dosage frequency route discontinuedReason } } }
} }";

/// Every patient of the caller's clinic with every sealed field of theirs, page by page.
async fn everything(server: &Server, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = server
            .ok(token, EVERYTHING, json!({ "after": after }))
            .await;
        let page = &page["patients"];
        all.extend(page["nodes"].as_array().expect("nodes").iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The sealed columns, by table.
const SEALED: [(&str, &str); 10] = [
    ("patients", "phone"),
    ("patients", "date_of_birth"),
    ("patients", "internal_notes"),
    ("appointments", "reason"),
    ("appointments", "notes"),
    ("appointments", "cancellation_reason"),
    ("prescriptions", "dosage"),
    ("prescriptions", "frequency"),
    ("prescriptions", "route"),
    ("prescriptions", "discontinued_reason"),
];

/// How many values of the sealed columns of `tables` (of clinic `clinic`, if given) are
/// under key `id`.
async fn under_key(url: &str, tables: &[&str], clinic: Option<i64>, id: &str) -> u64 {
    let clinic = clinic.map_or_else(String::new, |clinic| format!("clinic_id = {clinic} AND "));
    let mut count = 0;
    for (table, column) in SEALED.iter().filter(|(table, _)| tables.contains(table)) {
        let sql = format!(
            "SELECT {column} AS value FROM {table} WHERE {clinic}{column} LIKE 'cg1.{id}.%'"
        );
        count += raw_sql::texts(url, &sql).await.len() as u64;
    }
    count
}

const ALL_TABLES: [&str; 3] = ["patients", "appointments", "prescriptions"];

async fn rotation_under_load_loses_nothing_and_leaves_nothing_under_the_old_key(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    patient_with_everything(&app, &admin).await;
    let url = app.database_url.clone();
    let clinic = app.demo_clinic_id().await;
    // Enough rows for the job to take several batches of each table while the load runs.
    clinicgraph::seed::bulk_patients(&app.services, clinic, 700)
        .await
        .expect("seeded");
    let sealed = under_key(&url, &ALL_TABLES, Some(clinic), "test-1").await;
    assert!(sealed > 2_000, "{sealed}");

    // An instance whose keyring has the new key, current, beside the old one.
    let both = format!(
        "{},*{SECOND_KEY}",
        crate::helpers::DATA_KEYS.trim_start_matches('*')
    );
    let server = Server::start(
        &url,
        &[("DATA_KEYS", both.as_str()), ("RATE_LIMIT_PER_MINUTE", "0")],
    )
    .await;
    let token = server.login("admin@demo.clinic").await;
    let before = everything(&server, &token).await;

    // Reads and writes go on while the job runs: every one must succeed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (server, token, stop) = (&server, token.clone(), stop.clone());
        async move {
            let mut written = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let email = format!("during.rotation.{n}@example.org");
                let input = json!({
                    "name": format!("Ρωτάω {n}"), "email": email, "phone": "555 777 0000",
                    "dateOfBirth": "2001-02-03", "internalNotes": format!("written while rotating {n}"),
                });
                server.ok(&token, CREATE, json!({ "i": input })).await;
                written.push(email);
                let page = server
                    .ok(&token, EVERYTHING, json!({ "after": null }))
                    .await;
                assert!(
                    page["patients"]["nodes"]
                        .as_array()
                        .is_some_and(|n| !n.is_empty())
                );
            }
            written
        }
    };
    let rotate = async {
        let job = server
            .ok(
                &token,
                "mutation { rotateDataKeys { id kind status } }",
                json!({}),
            )
            .await["rotateDataKeys"]
            .clone();
        assert_eq!(job["kind"], "ROTATE_DATA_KEYS");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let job = loop {
            let job = server.ok(&token, JOB, json!({ "id": job["id"] })).await["job"].clone();
            if job["status"] == "SUCCEEDED" || job["status"] == "FAILED" {
                break job;
            }
            assert!(std::time::Instant::now() < deadline, "{job}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        job
    };
    let (written, job) = tokio::join!(load, rotate);
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let result = &job["result"];
    assert_eq!(result["done"], true, "{result}");
    assert_eq!(result["currentKey"], "test-2");
    assert_eq!(result["unreadable"], 0);
    assert!(!written.is_empty());
    server.stop().await;

    // Nothing of the clinic is left under the old key (another clinic's ADMIN rotates that
    // clinic's)…
    assert_eq!(
        under_key(&url, &ALL_TABLES, Some(clinic), "test-1").await,
        0
    );
    // …so an instance with the new key alone reads every value, and every write is there.
    let alone = format!("*{SECOND_KEY}");
    let server = Server::start(
        &url,
        &[
            ("DATA_KEYS", alone.as_str()),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    )
    .await;
    let token = server.login("admin@demo.clinic").await;
    let after = everything(&server, &token).await;
    assert_eq!(after.len(), before.len() + written.len());
    for patient in &before {
        assert!(after.contains(patient), "{patient} changed");
    }
    let found = server
        .ok(&token, SEARCH, json!({ "s": "5550137788" }))
        .await;
    assert_eq!(found["patients"]["nodes"], json!([{ "name": NAME }]));
    server.stop().await;
}

/// A pass stopped after its first batch (its process gone) and run again: the rerun rewrites
/// only what the first did not, and a third finds nothing left.
async fn an_interrupted_rotation_resumes_where_it_stopped(app: TestApp) {
    use clinicgraph::core::sealing::{DataKeys, ResealPass};
    use clinicgraph::modules::{patient, resealing};
    let clinic = app.demo_clinic_id().await;
    clinicgraph::seed::bulk_patients(&app.services, clinic, 60)
        .await
        .expect("seeded");
    let url = app.database_url.clone();
    let before = under_key(&url, &["patients"], None, "test-1").await;
    assert!(before > 100, "{before}");
    let both = format!(
        "{},*{SECOND_KEY}",
        crate::helpers::DATA_KEYS.trim_start_matches('*')
    );
    let keys = DataKeys::parse(&both).expect("keyring");

    let pass = ResealPass {
        after: 0,
        limit: 10,
        clinic_id: None,
        plain_allowed: false,
    };
    let first = patient::repository::reseal(&app.pool, &keys, pass)
        .await
        .expect("first batch");
    assert!(first.resealed >= 10, "{first:?}");
    assert_eq!(
        under_key(&url, &["patients"], None, "test-1").await,
        before - first.resealed
    );

    let rest = resealing::table(&app.pool, &keys, "patients", None, false)
        .await
        .expect("rerun");
    assert_eq!(rest.resealed, before - first.resealed);
    assert_eq!(rest.unreadable, 0);
    assert_eq!(under_key(&url, &["patients"], None, "test-1").await, 0);
    assert_eq!(under_key(&url, &["patients"], None, "test-2").await, before);
    let again = resealing::table(&app.pool, &keys, "patients", None, false)
        .await
        .expect("third run");
    assert_eq!(again.resealed, 0);
}

on_every_backend!(
    an_interrupted_rotation_resumes_where_it_stopped,
    health_data_reads_back_and_the_raw_database_holds_none_of_it,
    a_value_moved_or_altered_is_a_field_error_never_a_blank,
    rotation_under_load_loses_nothing_and_leaves_nothing_under_the_old_key,
);
