//! Every cell of the appointment, prescription and doctor permission table, and tenancy of
//! batched loads.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, at, demo_patient};
use crate::on_every_backend;

const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Doctor,
    Role::Nurse,
    Role::Receptionist,
    Role::Patient,
];
const STAFF: [Role; 4] = [Role::Admin, Role::Doctor, Role::Nurse, Role::Receptionist];

async fn reading_appointments_and_prescriptions(app: TestApp) {
    let count = "{ appointments { totalCount } }";
    let admin = app.token(Role::Admin).await;
    let all = app.ok(&admin, count, json!({})).await["appointments"]["totalCount"].clone();
    assert_eq!(
        all, 250,
        "the demo clinic has 50 patients with 5 visits each"
    );
    for role in ROLES {
        let token = app.token(role).await;
        let seen = app.ok(&token, count, json!({})).await["appointments"]["totalCount"].clone();
        let expected = if role == Role::Patient {
            json!(5)
        } else {
            all.clone()
        };
        assert_eq!(seen, expected, "{role:?} reads appointments");

        let response = app
            .gql(Some(&token), "{ prescriptions { totalCount } }", json!({}))
            .await;
        match role {
            Role::Receptionist => assert_eq!(response.code(), Some("FORBIDDEN")),
            Role::Patient => assert_eq!(response.body["data"]["prescriptions"]["totalCount"], 3),
            _ => assert_eq!(
                response.body["data"]["prescriptions"]["totalCount"], 150,
                "{role:?}"
            ),
        }
    }
    // Nested, the field is refused just the same. `prescriptions` is non-null, so its null
    // goes to the nearest nullable parent, the record (GraphQL spec, "Handling Execution
    // Errors"): a typed client is never handed null where the schema promises a value.
    let reception = app.token(Role::Receptionist).await;
    let response = app
        .gql(
            Some(&reception),
            "{ patientByPatientId(patientId: \"PAT-000001\") { name prescriptions { totalCount } appointments(first: 1) { nodes { prescriptions { id } } } } }",
            json!({}),
        )
        .await;
    let codes: Vec<_> = response.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["extensions"]["code"].clone(), e["path"].clone()))
        .collect();
    assert!(
        codes.contains(&(
            json!("FORBIDDEN"),
            json!(["patientByPatientId", "prescriptions"])
        )),
        "{codes:?}"
    );
    assert_eq!(
        response.body["data"],
        json!({ "patientByPatientId": null }),
        "{}",
        response.text
    );
}

async fn scheduling_moves_and_cancelling(app: TestApp) {
    let doctors = app.demo_doctor_ids().await;
    let patient = app.token(Role::Patient).await;
    for (n, role) in STAFF.into_iter().enumerate() {
        let token = app.token(role).await;
        let id = app
            .scheduled(
                &token,
                &demo_patient(2),
                &doctors[1],
                &at(70 + n as i64, 9, 0),
            )
            .await;
        let reschedule = app
            .gql(
                Some(&token),
                "mutation($id: ID!, $at: DateTime!) { rescheduleAppointment(id: $id, input: {scheduledAt: $at}) { status } }",
                json!({ "id": id, "at": at(70 + n as i64, 10, 0) }),
            )
            .await;
        assert!(
            reschedule.body.get("errors").is_none(),
            "{role:?}: {}",
            reschedule.text
        );
        for mutation in ["confirmAppointment", "checkInAppointment"] {
            let response = app.move_appointment(&token, mutation, &id).await;
            assert!(
                response.body.get("errors").is_none(),
                "{role:?} {mutation}: {}",
                response.text
            );
        }
        let response = app.move_appointment(&token, "markNoShow", &id).await;
        assert_eq!(
            response.code(),
            Some("INVALID_STATE_TRANSITION"),
            "{role:?}: allowed, but not after check-in"
        );
        let other = app
            .scheduled(
                &token,
                &demo_patient(2),
                &doctors[1],
                &at(80 + n as i64, 9, 0),
            )
            .await;
        assert!(
            app.move_appointment(&token, "markNoShow", &other)
                .await
                .body
                .get("errors")
                .is_none()
        );
        let third = app
            .scheduled(
                &token,
                &demo_patient(2),
                &doctors[1],
                &at(90 + n as i64, 9, 0),
            )
            .await;
        let cancel = app
            .move_appointment(&token, "cancelAppointment", &third)
            .await;
        assert_eq!(
            cancel.body["data"]["cancelAppointment"]["status"], "CANCELLED",
            "{role:?}"
        );
        // The PATIENT may do none of this to someone else's appointment...
        let fresh = app
            .scheduled(
                &token,
                &demo_patient(2),
                &doctors[1],
                &at(100 + n as i64, 9, 0),
            )
            .await;
        for mutation in [
            "confirmAppointment",
            "checkInAppointment",
            "markNoShow",
            "completeAppointment",
        ] {
            let response = app.move_appointment(&patient, mutation, &fresh).await;
            assert_eq!(response.code(), Some("FORBIDDEN"), "PATIENT {mutation}");
        }
        let response = app
            .move_appointment(&patient, "cancelAppointment", &fresh)
            .await;
        assert_eq!(
            response.code(),
            Some("NOT_FOUND"),
            "another patient's appointment"
        );
    }
    // ... nor schedule, even for themself; but they cancel their own.
    let response = app
        .schedule(&patient, &demo_patient(1), &doctors[1], &at(120, 9, 0), 30)
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"));
    let admin = app.token(Role::Admin).await;
    let own = app
        .scheduled(&admin, &demo_patient(1), &doctors[1], &at(121, 9, 0))
        .await;
    let response = app
        .move_appointment(&patient, "cancelAppointment", &own)
        .await;
    assert_eq!(
        response.body["data"]["cancelAppointment"]["status"], "CANCELLED",
        "{}",
        response.text
    );
}

async fn only_the_appointments_doctor_completes_it(app: TestApp) {
    let doctors = app.demo_doctor_ids().await;
    let admin = app.token(Role::Admin).await;
    let mine = app
        .scheduled(&admin, &demo_patient(2), &doctors[0], &at(130, 9, 0))
        .await;
    let theirs = app
        .scheduled(&admin, &demo_patient(3), &doctors[1], &at(130, 9, 0))
        .await;
    for id in [&mine, &theirs] {
        app.move_appointment(&admin, "checkInAppointment", id).await;
    }
    for role in [Role::Admin, Role::Nurse, Role::Receptionist, Role::Patient] {
        let token = app.token(role).await;
        let response = app
            .move_appointment(&token, "completeAppointment", &mine)
            .await;
        assert_eq!(response.code(), Some("FORBIDDEN"), "{role:?}");
    }
    let doctor = app.token(Role::Doctor).await;
    let response = app
        .move_appointment(&doctor, "completeAppointment", &theirs)
        .await;
    assert_eq!(
        response.code(),
        Some("FORBIDDEN"),
        "another doctor's appointment"
    );
    let response = app
        .move_appointment(&doctor, "completeAppointment", &mine)
        .await;
    assert_eq!(
        response.body["data"]["completeAppointment"]["status"], "COMPLETED",
        "{}",
        response.text
    );
}

async fn prescribing_and_managing_doctors(app: TestApp) {
    let prescribe = "mutation($p: ID!) { prescribe(input: {patientId: $p, medication: \"Aspirin\", dosage: \"75 mg\", frequency: \"daily\", route: \"oral\", startDate: \"2026-12-01\"}) { id } }";
    let create = "mutation($n: String!) { createDoctor(input: {name: $n, specialty: \"Dermatology\"}) { id name } }";
    let update = "mutation($id: ID!) { updateDoctor(id: $id, input: {specialty: \"Oncology\", licenseNumber: null}) { specialty licenseNumber } }";
    let doctors = app.demo_doctor_ids().await;
    for role in ROLES {
        let token = app.token(role).await;
        let prescribed = app
            .gql(Some(&token), prescribe, json!({ "p": demo_patient(2) }))
            .await;
        let created = app
            .gql(
                Some(&token),
                create,
                json!({ "n": format!("Dr. {role:?}") }),
            )
            .await;
        let updated = app
            .gql(Some(&token), update, json!({ "id": doctors[2] }))
            .await;
        if role == Role::Doctor {
            assert!(
                prescribed.body.get("errors").is_none(),
                "{}",
                prescribed.text
            );
        } else {
            assert_eq!(prescribed.code(), Some("FORBIDDEN"), "{role:?} prescribes");
        }
        if role == Role::Admin {
            assert_eq!(
                created.body["data"]["createDoctor"]["name"], "Dr. Admin",
                "{}",
                created.text
            );
            assert_eq!(
                updated.body["data"]["updateDoctor"],
                json!({ "specialty": "Oncology", "licenseNumber": null })
            );
        } else {
            assert_eq!(
                created.code(),
                Some("FORBIDDEN"),
                "{role:?} creates doctors"
            );
            assert_eq!(
                updated.code(),
                Some("FORBIDDEN"),
                "{role:?} updates doctors"
            );
        }
        // Every user of the clinic reads doctors and the clinic.
        let read = app
            .ok(
                &token,
                "{ clinic { name } doctors { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(read["clinic"]["name"], "Demo Clinic");
    }
}

async fn another_clinic_sees_none_of_it(app: TestApp) {
    let ours = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let appointment = app
        .scheduled(&ours, &demo_patient(2), &doctors[0], &at(140, 9, 0))
        .await;
    let prescription = app
        .ok(
            &ours,
            "{ prescriptions(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await["prescriptions"]["nodes"][0]["id"]
        .clone();
    let theirs = app.other_clinic_admin().await;
    let data = app
        .ok(
            &theirs,
            "{ appointments { totalCount } prescriptions { totalCount } doctors { totalCount } clinic { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "appointments": { "totalCount": 0 }, "prescriptions": { "totalCount": 0 }, "doctors": { "totalCount": 0 }, "clinic": { "name": "Other Clinic" } })
    );
    for (query, id) in [
        (
            "query($id: ID!) { appointment(id: $id) { id } }",
            &json!(appointment),
        ),
        (
            "query($id: ID!) { prescription(id: $id) { id } }",
            &prescription,
        ),
        (
            "query($id: ID!) { doctor(id: $id) { id } }",
            &json!(doctors[0]),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            &json!(appointment),
        ),
    ] {
        let response = app.gql(Some(&theirs), query, json!({ "id": id })).await;
        assert_eq!(
            response.code(),
            Some("NOT_FOUND"),
            "{query}: {}",
            response.text
        );
    }
    // Batched loads are scoped too: their own patient, booked with our doctor id, is refused.
    let response = app
        .gql(
            Some(&theirs),
            "mutation($d: ID!, $at: DateTime!) { scheduleAppointment(input: {patientId: \"UGF0aWVudDox\", doctorId: $d, scheduledAt: $at}) { id } }",
            json!({ "d": doctors[0], "at": at(141, 9, 0) }),
        )
        .await;
    assert_eq!(response.code(), Some("VALIDATION_FAILED"));
}

on_every_backend!(
    reading_appointments_and_prescriptions,
    scheduling_moves_and_cancelling,
    only_the_appointments_doctor_completes_it,
    prescribing_and_managing_doctors,
    another_clinic_sees_none_of_it,
);
