//! Prescribing and discontinuing.
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, demo_patient, violated_fields};
use crate::on_every_backend;

const PRESCRIBE: &str = "mutation($i: PrescribeInput!) { prescribe(input: $i) {
  id medication dosage frequency route startDate endDate refills status
  prescriber { name } patient { patientId } appointment { id }
} }";

fn input(patient: &str) -> Value {
    json!({
        "patientId": patient,
        "medication": "Ibuprofen",
        "dosage": "400 mg",
        "frequency": "every 8 hours",
        "route": "oral",
        "startDate": "2026-12-01",
        "endDate": "2026-12-10",
        "refills": 2,
    })
}

async fn a_doctor_prescribes_as_themself(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let nurse = app.token(Role::Nurse).await;
    let doctors = app.demo_doctor_ids().await;
    let visit = app
        .scheduled(&nurse, &demo_patient(2), &doctors[0], &at(60, 9, 0))
        .await;
    let mut fields = input(&demo_patient(2));
    fields["appointmentId"] = json!(visit);
    let data = app.ok(&doctor, PRESCRIBE, json!({ "i": fields })).await;
    assert_eq!(
        data["prescribe"].as_object().map(|o| {
            let mut o = o.clone();
            o.remove("id");
            Value::Object(o)
        }),
        Some(json!({
            "medication": "Ibuprofen", "dosage": "400 mg", "frequency": "every 8 hours",
            "route": "oral", "startDate": "2026-12-01", "endDate": "2026-12-10", "refills": 2,
            "status": "ACTIVE", "prescriber": { "name": "Dr. Grace Hopper" },
            "patient": { "patientId": "PAT-000002" }, "appointment": { "id": visit },
        }))
    );
    let id = data["prescribe"]["id"].clone();
    let nested = app
        .ok(
            &doctor,
            "query($id: ID!) { appointment(id: $id) { prescriptions { id medication } } }",
            json!({ "id": visit }),
        )
        .await;
    assert_eq!(
        nested["appointment"]["prescriptions"],
        json!([{ "id": id, "medication": "Ibuprofen" }])
    );
    let found = app
        .ok(
            &nurse,
            "{ prescriptions(filter: {medication: \"IBUPRO\"}) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found["prescriptions"],
        json!({ "totalCount": 1, "nodes": [{ "id": id }] })
    );
}

async fn bad_prescriptions_report_every_problem(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let nurse = app.token(Role::Nurse).await;
    let doctors = app.demo_doctor_ids().await;
    let others_visit = app
        .scheduled(&nurse, &demo_patient(3), &doctors[0], &at(61, 9, 0))
        .await;
    let mut fields = input(&demo_patient(2));
    fields["medication"] = json!("  ");
    fields["refills"] = json!(13);
    fields["endDate"] = json!("2026-11-30");
    fields["appointmentId"] = json!(others_visit);
    let response = app
        .gql(Some(&doctor), PRESCRIBE, json!({ "i": fields }))
        .await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(
        violated_fields(&response),
        ["medication", "refills", "endDate", "appointmentId"]
    );
    let response = app
        .gql(Some(&doctor), PRESCRIBE, json!({ "i": input("garbage") }))
        .await;
    assert_eq!(violated_fields(&response), ["patientId"]);
}

async fn only_the_prescriber_discontinues_and_only_once(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let id = app
        .ok(&doctor, PRESCRIBE, json!({ "i": input(&demo_patient(2)) }))
        .await["prescribe"]["id"]
        .clone();
    let discontinue = "mutation($id: ID!, $r: String!) { discontinuePrescription(id: $id, reason: $r) { status discontinuedReason } }";
    let response = app
        .gql(Some(&doctor), discontinue, json!({ "id": id, "r": "  " }))
        .await;
    assert_eq!(violated_fields(&response), ["reason"]);
    let data = app
        .ok(&doctor, discontinue, json!({ "id": id, "r": "Rash" }))
        .await;
    assert_eq!(
        data["discontinuePrescription"],
        json!({ "status": "DISCONTINUED", "discontinuedReason": "Rash" })
    );
    let again = app
        .gql(Some(&doctor), discontinue, json!({ "id": id, "r": "Rash" }))
        .await;
    assert_eq!(
        again.code(),
        Some("INVALID_STATE_TRANSITION"),
        "{}",
        again.text
    );
    assert_eq!(
        again.body["errors"][0]["extensions"]["currentStatus"],
        "DISCONTINUED"
    );

    // A seeded prescription written by another doctor of the clinic.
    let someone_elses = app
        .ok(
            &doctor,
            "query($d: ID!) { prescriptions(filter: {prescriberId: $d, status: ACTIVE}, first: 1) { nodes { id } } }",
            json!({ "d": app.demo_doctor_ids().await[1] }),
        )
        .await["prescriptions"]["nodes"][0]["id"]
        .clone();
    let response = app
        .gql(
            Some(&doctor),
            discontinue,
            json!({ "id": someone_elses, "r": "Not mine" }),
        )
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"), "{}", response.text);
}

/// "Part of the medication name, case-insensitive", in any script and on every backend.
async fn medication_search_ignores_case_in_any_script(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let mut greek = input(&demo_patient(3));
    greek["medication"] = json!("Αμοξικιλλίνη Ωmega");
    let mut german = input(&demo_patient(3));
    german["medication"] = json!("Süßholz-Öl");
    let mut ids = Vec::new();
    for fields in [greek, german] {
        let created = app.ok(&doctor, PRESCRIBE, json!({ "i": fields })).await;
        ids.push(created["prescribe"]["id"].clone());
    }
    let search = "query($m: String!) { prescriptions(first: 10, filter: { medication: $m }) { nodes { id } } }";
    for (term, expected) in [
        ("αμοξικιλλίνη", &ids[0]),
        ("ΑΜΟΞΙΚΙΛΛΊΝΗ ω", &ids[0]),
        ("ικιλλ", &ids[0]),
        ("süßholz", &ids[1]),
        ("-ÖL", &ids[1]),
    ] {
        let found = app.ok(&doctor, search, json!({ "m": term })).await;
        assert_eq!(
            found["prescriptions"]["nodes"],
            json!([{ "id": expected }]),
            "{term}"
        );
    }
}

on_every_backend!(
    medication_search_ignores_case_in_any_script,
    a_doctor_prescribes_as_themself,
    bad_prescriptions_report_every_problem,
    only_the_prescriber_discontinues_and_only_once,
);
