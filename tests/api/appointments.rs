//! Booking appointments, the status state machine, and no double booking.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, TestResponse, at, demo_patient, violated_fields};
use crate::on_every_backend;

async fn an_appointment_walks_from_scheduled_to_completed(app: TestApp) {
    let reception = app.token(Role::Receptionist).await;
    let doctors = app.demo_doctor_ids().await;
    let start = at(30, 9, 0);
    let response = app
        .schedule(&reception, &demo_patient(2), &doctors[0], &start, 45)
        .await;
    let booked = &response.body["data"]["scheduleAppointment"];
    assert_eq!(booked["status"], "SCHEDULED", "{}", response.text);
    assert_eq!(booked["scheduledAt"], start);
    assert_eq!(booked["endsAt"], at(30, 9, 45));
    assert_eq!(booked["durationMinutes"], 45);
    let id = booked["id"].as_str().expect("id").to_owned();

    for (token, mutation, status) in [
        (&reception, "confirmAppointment", "CONFIRMED"),
        (&reception, "checkInAppointment", "CHECKED_IN"),
    ] {
        let response = app.move_appointment(token, mutation, &id).await;
        assert_eq!(
            response.body["data"][mutation]["status"], status,
            "{}",
            response.text
        );
    }
    let doctor = app.token(Role::Doctor).await;
    let response = app
        .move_appointment(&doctor, "completeAppointment", &id)
        .await;
    assert_eq!(
        response.body["data"]["completeAppointment"]["status"], "COMPLETED",
        "{}",
        response.text
    );

    // COMPLETED is final: every move is refused, naming the current status.
    for mutation in [
        "confirmAppointment",
        "checkInAppointment",
        "completeAppointment",
        "cancelAppointment",
        "markNoShow",
    ] {
        let token = if mutation == "completeAppointment" {
            &doctor
        } else {
            &reception
        };
        let response = app.move_appointment(token, mutation, &id).await;
        assert_eq!(
            response.code(),
            Some("INVALID_STATE_TRANSITION"),
            "{mutation}: {}",
            response.text
        );
        assert_eq!(
            response.body["errors"][0]["extensions"]["currentStatus"],
            "COMPLETED"
        );
        assert!(
            response.body["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("COMPLETED")
        );
    }
    let reschedule = app
        .gql(
            Some(&reception),
            "mutation($id: ID!, $at: DateTime!) { rescheduleAppointment(id: $id, input: {scheduledAt: $at}) { id } }",
            json!({ "id": id, "at": at(31, 9, 0) }),
        )
        .await;
    assert_eq!(reschedule.code(), Some("INVALID_STATE_TRANSITION"));
}

async fn forbidden_moves_name_the_current_status(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let doctor = app.token(Role::Doctor).await;
    let doctors = app.demo_doctor_ids().await;
    // (moves that succeed first, the refused move, the status it reports)
    let cases: [(&[&str], &str, &str); 6] = [
        (&[], "completeAppointment", "SCHEDULED"),
        (&["confirmAppointment"], "confirmAppointment", "CONFIRMED"),
        (&["cancelAppointment"], "confirmAppointment", "CANCELLED"),
        (&["markNoShow"], "checkInAppointment", "NO_SHOW"),
        (&["checkInAppointment"], "markNoShow", "CHECKED_IN"),
        (&["checkInAppointment"], "cancelAppointment", "CHECKED_IN"),
    ];
    for (n, (before, refused, current)) in cases.into_iter().enumerate() {
        let id = app
            .scheduled(
                &nurse,
                &demo_patient(3),
                &doctors[0],
                &at(40 + n as i64, 10, 0),
            )
            .await;
        for mutation in before {
            let response = app.move_appointment(&nurse, mutation, &id).await;
            assert!(
                response.body.get("errors").is_none(),
                "{mutation}: {}",
                response.text
            );
        }
        let token = if refused == "completeAppointment" {
            &doctor
        } else {
            &nurse
        };
        let response = app.move_appointment(token, refused, &id).await;
        assert_eq!(
            response.code(),
            Some("INVALID_STATE_TRANSITION"),
            "{refused}: {}",
            response.text
        );
        assert_eq!(
            response.body["errors"][0]["extensions"]["currentStatus"],
            current
        );
    }
}

async fn bad_bookings_report_every_problem(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let response = app
        .schedule(&admin, &demo_patient(2), &doctors[0], &at(-1, 9, 0), 4)
        .await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(
        violated_fields(&response),
        ["scheduledAt", "durationMinutes"]
    );
    let response = app
        .schedule(&admin, &demo_patient(2), &doctors[0], &at(20, 9, 0), 481)
        .await;
    assert_eq!(violated_fields(&response), ["durationMinutes"]);
    let response = app
        .schedule(&admin, "garbage", &demo_patient(2), &at(20, 9, 0), 30)
        .await;
    assert_eq!(violated_fields(&response), ["patientId", "doctorId"]);
    let long = app
        .schedule(&admin, &demo_patient(2), &doctors[0], &at(20, 9, 0), 480)
        .await;
    assert!(long.body.get("errors").is_none(), "{}", long.text);
}

async fn overlapping_bookings_are_refused_naming_the_other_appointment(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let first = app
        .scheduled(&admin, &demo_patient(2), &doctors[0], &at(25, 9, 0))
        .await;
    // The same doctor, overlapping; the same patient with another doctor, overlapping.
    for (patient, doctor, start) in [
        (demo_patient(3), &doctors[0], at(25, 9, 15)),
        (demo_patient(2), &doctors[1], at(25, 8, 45)),
    ] {
        let response = app.schedule(&admin, &patient, doctor, &start, 30).await;
        assert_eq!(
            response.code(),
            Some("APPOINTMENT_CONFLICT"),
            "{}",
            response.text
        );
        assert_eq!(
            response.body["errors"][0]["extensions"]["conflictingAppointmentId"],
            first
        );
    }
    // Back to back is fine.
    app.scheduled(&admin, &demo_patient(3), &doctors[0], &at(25, 9, 30))
        .await;
    // The patient of `first`, with another doctor, later that day.
    let second = app
        .scheduled(&admin, &demo_patient(2), &doctors[1], &at(25, 11, 0))
        .await;
    let reschedule = "mutation($id: ID!, $at: DateTime!) { rescheduleAppointment(id: $id, input: {scheduledAt: $at}) { scheduledAt status } }";
    let response = app
        .gql(
            Some(&admin),
            reschedule,
            json!({ "id": second, "at": at(25, 9, 10) }),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("APPOINTMENT_CONFLICT"),
        "{}",
        response.text
    );
    // A cancelled appointment frees its slot.
    app.move_appointment(&admin, "cancelAppointment", &first)
        .await;
    let moved = app
        .gql(
            Some(&admin),
            reschedule,
            json!({ "id": second, "at": at(25, 8, 30) }),
        )
        .await;
    assert_eq!(
        moved.body["data"]["rescheduleAppointment"]["scheduledAt"],
        at(25, 8, 30),
        "{}",
        moved.text
    );
    assert_eq!(
        moved.body["data"]["rescheduleAppointment"]["status"],
        "SCHEDULED"
    );
}

async fn racing_bookings_for_one_slot_give_exactly_one_appointment(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let start = at(50, 14, 0);
    let attempts = (2..=13).map(|patient| {
        let (app, admin, doctor, start) = (&app, &admin, &doctors[2], &start);
        async move {
            app.schedule(admin, &demo_patient(patient), doctor, start, 30)
                .await
        }
    });
    one_booked_eleven_refused(futures_util::future::join_all(attempts).await);
    let data = app
        .ok(
            &admin,
            "query($d: ID!, $from: DateTime!) { appointments(filter: {doctorId: $d, from: $from}) { totalCount } }",
            json!({ "d": doctors[2], "from": start }),
        )
        .await;
    assert_eq!(data["appointments"]["totalCount"], 1);
}

/// Of twelve racing bookings, exactly one was made and the others refused as conflicts.
fn one_booked_eleven_refused(responses: Vec<TestResponse>) {
    let booked = responses
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .count();
    let conflicts = responses
        .iter()
        .filter(|r| r.code() == Some("APPOINTMENT_CONFLICT"))
        .count();
    assert_eq!(
        (booked, conflicts),
        (1, 11),
        "{:?}",
        responses.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
}

/// One patient booked at one time with twelve doctors at once: the patient's overlap rule
/// holds like the doctor's.
async fn racing_bookings_for_one_patient_give_exactly_one_appointment(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let patient = demo_patient(3);
    let start = at(51, 10, 0);
    // Twelve bookings over the demo's doctors, each doctor free at that time.
    let attempts = (0..12).map(|n| {
        let (app, admin, doctor, patient, start) =
            (&app, &admin, &doctors[n % doctors.len()], &patient, &start);
        async move { app.schedule(admin, patient, doctor, start, 30).await }
    });
    one_booked_eleven_refused(futures_util::future::join_all(attempts).await);
    let data = app
        .ok(
            &admin,
            "query($p: ID!, $from: DateTime!) { appointments(filter: {patientId: $p, from: $from}) { totalCount } }",
            json!({ "p": patient, "from": start }),
        )
        .await;
    assert_eq!(data["appointments"]["totalCount"], 1);
}

on_every_backend!(
    racing_bookings_for_one_patient_give_exactly_one_appointment,
    an_appointment_walks_from_scheduled_to_completed,
    forbidden_moves_name_the_current_status,
    bad_bookings_report_every_problem,
    overlapping_bookings_are_refused_naming_the_other_appointment,
    racing_bookings_for_one_slot_give_exactly_one_appointment,
);
