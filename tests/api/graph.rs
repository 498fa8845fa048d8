//! The graph: nested reads across every type, batched into a fixed number of statements.
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, patient_input};
use crate::on_every_backend;

const NESTED: &str = "query($n: Int) { patients(first: $n) { nodes {
  primaryDoctor { name } clinic { name } appointmentCount prescriptionCount
  appointments(first: 10) { nodes { status doctor { name } prescriptions { medication } } }
  prescriptions(first: 10) { nodes { medication prescriber { name } } }
} } }";

async fn the_nested_page_costs_the_same_few_statements_for_any_size(app: TestApp) {
    let clinic_id = app.demo_clinic_id().await;
    clinicgraph::seed::bulk_patients(&app.services, clinic_id, 60)
        .await
        .expect("more patients");
    let token = app.token(Role::Doctor).await;
    let mut counts = Vec::new();
    for n in [1, 10, 100] {
        let (data, statements) = app.counted(&token, NESTED, json!({ "n": n })).await;
        let nodes = data["patients"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n as usize);
        // The page really is nested data, not empty lists.
        let appointments: usize = nodes
            .iter()
            .map(|p| p["appointments"]["nodes"].as_array().map_or(0, Vec::len))
            .sum();
        assert!(
            appointments >= n as usize,
            "{appointments} appointments for {n} patients"
        );
        counts.push(statements);
    }
    eprintln!("statements for 1, 10, 100 patients: {counts:?}");
    assert!(counts[0] <= 10, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "depends on the page size: {counts:?}"
    );
}

async fn a_nested_query_across_the_graph_returns_what_was_written(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctor = app.token(Role::Doctor).await;
    let doctors = app.demo_doctor_ids().await;
    let mut input = patient_input("Graph Walker", "graph@example.com");
    input["primaryDoctorId"] = json!(doctors[0]);
    let patient = app.create_patient(&admin, input).await;
    let first = app
        .scheduled(&admin, &patient, &doctors[0], &at(200, 9, 0))
        .await;
    let second = app
        .scheduled(&admin, &patient, &doctors[1], &at(201, 14, 30))
        .await;
    let prescribe = "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }";
    let tied = app
        .ok(
            &doctor,
            prescribe,
            json!({ "i": { "patientId": patient, "appointmentId": first, "medication": "Amoxicillin",
                "dosage": "500 mg", "frequency": "three times daily", "route": "oral",
                "startDate": "2027-01-01", "endDate": "2027-01-08", "refills": 0 } }),
        )
        .await["prescribe"]["id"]
        .clone();
    let loose = app
        .ok(
            &doctor,
            prescribe,
            json!({ "i": { "patientId": patient, "medication": "Vitamin D", "dosage": "1000 IU",
                "frequency": "daily", "route": "oral", "startDate": "2027-01-01", "refills": 3 } }),
        )
        .await["prescribe"]["id"]
        .clone();

    let data = app
        .ok(
            &doctor,
            "query($id: ID!) { patient(id: $id) {
              name clinic { name timezone } primaryDoctor { name specialty }
              appointmentCount prescriptionCount
              appointments { totalCount nodes { id scheduledAt endsAt durationMinutes status
                doctor { name } clinic { name } patient { name } prescriptions { id medication prescriber { name } } } }
              prescriptions { totalCount nodes { id medication dosage frequency route startDate endDate
                refills status prescriber { name } appointment { id } patient { name } } }
            } }",
            json!({ "id": patient }),
        )
        .await;
    let expected = json!({ "patient": {
        "name": "Graph Walker",
        "clinic": { "name": "Demo Clinic", "timezone": "Europe/London" },
        "primaryDoctor": { "name": "Dr. Grace Hopper", "specialty": "General Practice" },
        "appointmentCount": 2,
        "prescriptionCount": 2,
        "appointments": { "totalCount": 2, "nodes": [
            { "id": first, "scheduledAt": at(200, 9, 0), "endsAt": at(200, 9, 30), "durationMinutes": 30,
              "status": "SCHEDULED", "doctor": { "name": "Dr. Grace Hopper" }, "clinic": { "name": "Demo Clinic" },
              "patient": { "name": "Graph Walker" },
              "prescriptions": [{ "id": tied, "medication": "Amoxicillin", "prescriber": { "name": "Dr. Grace Hopper" } }] },
            { "id": second, "scheduledAt": at(201, 14, 30), "endsAt": at(201, 15, 0), "durationMinutes": 30,
              "status": "SCHEDULED", "doctor": { "name": "Dr. Chloé Nakamura" }, "clinic": { "name": "Demo Clinic" },
              "patient": { "name": "Graph Walker" }, "prescriptions": [] },
        ] },
        "prescriptions": { "totalCount": 2, "nodes": [
            { "id": loose, "medication": "Vitamin D", "dosage": "1000 IU", "frequency": "daily", "route": "oral",
              "startDate": "2027-01-01", "endDate": null, "refills": 3, "status": "ACTIVE",
              "prescriber": { "name": "Dr. Grace Hopper" }, "appointment": null, "patient": { "name": "Graph Walker" } },
            { "id": tied, "medication": "Amoxicillin", "dosage": "500 mg", "frequency": "three times daily", "route": "oral",
              "startDate": "2027-01-01", "endDate": "2027-01-08", "refills": 0, "status": "ACTIVE",
              "prescriber": { "name": "Dr. Grace Hopper" }, "appointment": { "id": first }, "patient": { "name": "Graph Walker" } },
        ] },
    } });
    assert_eq!(data, expected);

    // The same records from the doctor's side, and by global id.
    let from_doctor = app
        .ok(
            &doctor,
            "query($d: ID!, $from: DateTime!) { doctor(id: $d) { name appointments(from: $from) { nodes { id } } patients(first: 100) { nodes { name } } } }",
            json!({ "d": doctors[1], "from": at(201, 0, 0) }),
        )
        .await;
    assert_eq!(
        from_doctor["doctor"]["appointments"]["nodes"],
        json!([{ "id": second }])
    );
    let names = from_doctor["doctor"]["patients"]["nodes"]
        .as_array()
        .expect("nodes")
        .len();
    assert_eq!(
        names, 17,
        "the seed gives doctor 2 of 3 seventeen of the 50 patients"
    );
    for (id, typename) in [
        (&json!(first), "Appointment"),
        (&tied, "Prescription"),
        (&json!(doctors[0]), "Doctor"),
        (&json!(patient), "Patient"),
    ] {
        let node = app
            .ok(
                &doctor,
                "query($id: ID!) { node(id: $id) { id __typename } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(node["node"], json!({ "id": id, "__typename": typename }));
    }
    let clinic = app.ok(&doctor, "{ clinic { id name } }", json!({})).await;
    let node = app
        .ok(
            &doctor,
            "query($id: ID!) { node(id: $id) { __typename } }",
            json!({ "id": clinic["clinic"]["id"] }),
        )
        .await;
    assert_eq!(node["node"]["__typename"], "Clinic");
}

async fn doctors_are_listed_filtered_and_paged(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let page = "query($f: DoctorFilter, $after: String) { doctors(filter: $f, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { name specialty } } }";
    let first = app.ok(&nurse, page, json!({})).await["doctors"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let rest = app
        .ok(
            &nurse,
            page,
            json!({ "after": first["pageInfo"]["endCursor"] }),
        )
        .await["doctors"]
        .clone();
    let mut names: Vec<Value> = first["nodes"].as_array().expect("nodes").clone();
    names.extend(rest["nodes"].as_array().expect("nodes").iter().cloned());
    assert_eq!(
        names
            .iter()
            .map(|n| n["name"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        [
            "Dr. Chloé Nakamura",
            "Dr. Dmitri Okafor",
            "Dr. Grace Hopper"
        ]
    );
    let cardiology = app
        .ok(&nurse, page, json!({ "f": { "specialty": "Cardiology" } }))
        .await;
    assert_eq!(
        cardiology["doctors"]["nodes"],
        json!([{ "name": "Dr. Chloé Nakamura", "specialty": "Cardiology" }])
    );
    let search = app
        .ok(&nurse, page, json!({ "f": { "search": "GRACE" } }))
        .await;
    assert_eq!(search["doctors"]["totalCount"], 1);
}

/// What a connection computes depends on what its selection reads, and fragments are read too:
/// a count or a doctor selected only through a fragment is still answered.
async fn what_a_fragment_selects_is_answered(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    let plain = app
        .ok(
            &token,
            "{ patients(first: 3) { totalCount nodes { appointments(first: 2) {
                 totalCount edges { node { doctor { name } } } } } } }",
            json!({}),
        )
        .await;
    let through_fragments = app
        .ok(
            &token,
            "{ patients(first: 3) { ... on PatientConnection { totalCount } ...visits } }
             fragment visits on PatientConnection { nodes { appointments(first: 2) { ...visit } } }
             fragment visit on AppointmentConnection {
               ... { totalCount } edges { node { ... on Appointment { doctor { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(through_fragments, plain);
    assert_eq!(plain["patients"]["totalCount"], 50);
    let first = &plain["patients"]["nodes"][0]["appointments"];
    assert_eq!(first["totalCount"], 5, "{first}");
    assert!(
        first["edges"][0]["node"]["doctor"]["name"].is_string(),
        "{first}"
    );
}

/// A nested list reads only the columns its selection needs; whatever it selects, each field
/// is what the record's own query answers, alone or with any other.
async fn a_nested_list_answers_each_field_as_the_record_does(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctor = app.token(Role::Doctor).await;
    let doctors = app.demo_doctor_ids().await;
    let patient = app
        .create_patient(
            &admin,
            patient_input("Column Reader", "columns@example.com"),
        )
        .await;
    let appointment = app
        .ok(
            &admin,
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
            json!({ "i": { "patientId": patient, "doctorId": doctors[0], "scheduledAt": at(210, 9, 0),
                "durationMinutes": 45, "reason": "Follow-up", "notes": "Bring the old scans" } }),
        )
        .await["scheduleAppointment"]["id"]
        .clone();
    app.move_appointment(
        &admin,
        "cancelAppointment",
        appointment.as_str().expect("id"),
    )
    .await;
    let prescription = app
        .ok(
            &doctor,
            "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }",
            json!({ "i": { "patientId": patient, "appointmentId": appointment, "medication": "Ibuprofen",
                "dosage": "200 mg", "frequency": "as needed", "route": "oral",
                "startDate": "2027-02-01", "endDate": "2027-02-10", "refills": 1 } }),
        )
        .await["prescribe"]["id"]
        .clone();
    app.ok(
        &doctor,
        "mutation($id: ID!) { discontinuePrescription(id: $id, reason: \"Stomach upset\") { id } }",
        json!({ "id": prescription }),
    )
    .await;

    let appointment_fields = "id scheduledAt durationMinutes endsAt status reason notes \
        cancellationReason createdAt updatedAt clinic { name } doctor { name } patient { name } \
        prescriptions { id }";
    let prescription_fields = "id medication dosage frequency route startDate endDate refills \
        status discontinuedReason createdAt prescriber { name } appointment { id } patient { name }";
    let whole = app
        .ok(
            &doctor,
            &format!(
                "query($a: ID!, $p: ID!) {{ appointment(id: $a) {{ {appointment_fields} }}
                   prescription(id: $p) {{ {prescription_fields} }} }}"
            ),
            json!({ "a": appointment, "p": prescription }),
        )
        .await;
    assert_eq!(whole["appointment"]["reason"], "Follow-up", "{whole}");
    assert_eq!(whole["appointment"]["notes"], "Bring the old scans");
    assert_eq!(
        whole["appointment"]["cancellationReason"],
        "Patient is unwell"
    );
    assert_eq!(whole["prescription"]["discontinuedReason"], "Stomach upset");

    let nested = |appointment: &str, prescription: &str| {
        format!(
            "query($id: ID!) {{ patient(id: $id) {{
               appointments {{ nodes {{ {appointment} }} }}
               prescriptions {{ edges {{ node {{ {prescription} }} }} }} }} }}"
        )
    };
    let all = app
        .ok(
            &doctor,
            &nested(appointment_fields, prescription_fields),
            json!({ "id": patient }),
        )
        .await;
    assert_eq!(
        all["patient"]["appointments"]["nodes"][0],
        whole["appointment"]
    );
    assert_eq!(
        all["patient"]["prescriptions"]["edges"][0]["node"],
        whole["prescription"]
    );
    // Each field alone: a read of just its columns (and the keys).
    let fields = |list: &str| {
        list.split_whitespace()
            .filter(|word| !matches!(*word, "{" | "}" | "name" | "id"))
            .chain(["id"])
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for (appointment_field, prescription_field) in fields(appointment_fields)
        .into_iter()
        .zip(fields(prescription_fields).into_iter().cycle())
    {
        let selection = |field: &str| match field {
            "clinic" | "doctor" | "patient" | "prescriber" => format!("{field} {{ name }}"),
            "prescriptions" | "appointment" => format!("{field} {{ id }}"),
            _ => field.to_owned(),
        };
        let one = app
            .ok(
                &doctor,
                &nested(
                    &selection(&appointment_field),
                    &selection(&prescription_field),
                ),
                json!({ "id": patient }),
            )
            .await;
        assert_eq!(
            one["patient"]["appointments"]["nodes"][0][&appointment_field],
            whole["appointment"][&appointment_field],
            "{appointment_field}: {one}"
        );
        assert_eq!(
            one["patient"]["prescriptions"]["edges"][0]["node"][&prescription_field],
            whole["prescription"][&prescription_field],
            "{prescription_field}: {one}"
        );
    }
}

/// A root page reads the doctors its rows name together; each row must still get its own.
async fn a_root_pages_doctors_are_each_rows_own(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    let page = app
        .ok(
            &token,
            "{ appointments(first: 30) { nodes { id doctor { id name } } }
               prescriptions(first: 30) { edges { node { id prescriber { id name } } } }
               patients(first: 30) { nodes { id primaryDoctor { id name } } } }",
            json!({}),
        )
        .await;
    let list = |rows: &Value| rows.as_array().expect("a list").clone();
    let prescriptions = list(&page["prescriptions"]["edges"])
        .into_iter()
        .map(|edge| edge["node"].clone())
        .collect();
    let checks = [
        (
            "appointment",
            "doctor",
            list(&page["appointments"]["nodes"]),
        ),
        ("prescription", "prescriber", prescriptions),
        ("patient", "primaryDoctor", list(&page["patients"]["nodes"])),
    ];
    for (entity, doctor, listed) in checks {
        assert_eq!(listed.len(), 30, "{entity}");
        let query =
            format!("query($id: ID!) {{ {entity}(id: $id) {{ id {doctor} {{ id name }} }} }}");
        let mut doctors = std::collections::HashSet::new();
        for row in &listed {
            let own = app.ok(&token, &query, json!({ "id": row["id"] })).await;
            assert_eq!(&own[entity], row, "{entity}");
            doctors.insert(row[doctor]["id"].to_string());
        }
        assert!(doctors.len() > 1, "the {entity}s name one doctor only");
    }
}

/// Counted with the entity cache off: what is measured is the batching, which a warm cache
/// would hide (the cache's own savings are tested in `cache.rs`).
mod cold {
    use super::*;
    on_every_backend!(
        // A page of 100 patients with all that nested is over the default complexity limit.
        env [("CACHE_TTL_SECONDS", "0"), ("MAX_QUERY_COMPLEXITY", "100000")];
        the_nested_page_costs_the_same_few_statements_for_any_size,
    );
}

/// `Doctor.patients.totalCount` counts every patient of the doctor (what `patients` with the
/// same doctor counts), not just the page; a PATIENT counts only themself.
async fn a_doctors_patients_are_counted_across_pages(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let nested =
        "query($d: ID!) { doctor(id: $d) { patients(first: 2) { totalCount nodes { id } } } }";
    let root = "query($d: ID!) { patients(filter: { primaryDoctorId: $d }) { totalCount } }";
    for doctor in &doctors {
        let page =
            app.ok(&admin, nested, json!({ "d": doctor })).await["doctor"]["patients"].clone();
        let expected =
            app.ok(&admin, root, json!({ "d": doctor })).await["patients"]["totalCount"].clone();
        assert!(expected.as_i64().unwrap_or(0) > 2, "{expected}");
        assert_eq!(page["totalCount"], expected, "{doctor}: {page}");
        assert_eq!(page["nodes"].as_array().map(Vec::len), Some(2));
    }
    // All three doctors in one request: each its own count.
    let all = app
        .ok(
            &admin,
            "{ doctors { nodes { patients(first: 1) { totalCount } } } }",
            json!({}),
        )
        .await;
    let total: i64 = all["doctors"]["nodes"]
        .as_array()
        .expect("doctors")
        .iter()
        .map(|d| d["patients"]["totalCount"].as_i64().unwrap_or(0))
        .sum();
    let everyone = app
        .ok(&admin, "{ patients { totalCount } }", json!({}))
        .await;
    assert_eq!(json!(total), everyone["patients"]["totalCount"]);

    let patient = app.token(Role::Patient).await;
    let mine = app
        .ok(
            &patient,
            "{ doctors { nodes { patients { totalCount nodes { id } } } } }",
            json!({}),
        )
        .await;
    for doctor in mine["doctors"]["nodes"].as_array().expect("doctors") {
        let nodes = doctor["patients"]["nodes"].as_array().map_or(0, Vec::len);
        assert_eq!(doctor["patients"]["totalCount"], json!(nodes), "{mine}");
    }
}

on_every_backend!(
    a_doctors_patients_are_counted_across_pages,
    a_nested_query_across_the_graph_returns_what_was_written,
    doctors_are_listed_filtered_and_paged,
    what_a_fragment_selects_is_answered,
    a_root_pages_doctors_are_each_rows_own,
    a_nested_list_answers_each_field_as_the_record_does,
);
