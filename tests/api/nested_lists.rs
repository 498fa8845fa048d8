//! A page's nested lists: read for all the page's parents at once, each parent's as its own.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_every_backend;

/// A page's nested lists are read for all its parents at once (with the doctors their rows name,
/// when selected); each must still be the start of that parent's own list, in its order, with
/// the same doctors.
async fn each_parents_nested_page_is_the_start_of_its_own_list(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    let nested = app
        .ok(
            &token,
            "{ patients(first: 20) { nodes { id appointments(first: 3) { nodes { id doctor { id name } } }
                 prescriptions(first: 2) { nodes { id prescriber { id } } } } }
               doctors(first: 10) { nodes { id appointments(first: 4) { edges { node { ...visit } } }
                 patients(first: 5) { nodes { id } } } } }
             fragment visit on Appointment { id doctor { id } }",
            json!({}),
        )
        .await;
    let patients = nested["patients"]["nodes"].as_array().expect("patients");
    assert_eq!(patients.len(), 20);
    for patient in patients {
        let own = app
            .ok(
                &token,
                "query($p: ID!) { appointments(filter: { patientId: $p }, first: 3) { nodes { id doctor { id name } } }
                   prescriptions(filter: { patientId: $p }, first: 2) { nodes { id prescriber { id } } } }",
                json!({ "p": patient["id"] }),
            )
            .await;
        // The demo patients have five appointments and three prescriptions: the pages are full.
        assert_eq!(
            own["appointments"]["nodes"].as_array().map(Vec::len),
            Some(3)
        );
        assert_eq!(
            own["prescriptions"]["nodes"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(patient["appointments"], own["appointments"], "{patient}");
        assert_eq!(patient["prescriptions"], own["prescriptions"], "{patient}");
    }
    let doctors = nested["doctors"]["nodes"].as_array().expect("doctors");
    assert_eq!(doctors.len(), 3);
    for doctor in doctors {
        let own = app
            .ok(
                &token,
                "query($d: ID!) { appointments(filter: { doctorId: $d }, first: 4) { edges { node { id doctor { id } } } }
                   patients(filter: { primaryDoctorId: $d }, first: 5,
                     orderBy: { field: NAME, direction: ASC }) { nodes { id } } }",
                json!({ "d": doctor["id"] }),
            )
            .await;
        assert_eq!(
            own["appointments"]["edges"].as_array().map(Vec::len),
            Some(4)
        );
        assert_eq!(own["patients"]["nodes"].as_array().map(Vec::len), Some(5));
        assert_eq!(doctor["appointments"], own["appointments"], "{doctor}");
        assert_eq!(doctor["patients"], own["patients"], "{doctor}");
    }
}

/// The patients of a page share each nested list's load, made when the first patient's field
/// asks; selections of one list with other arguments (aliases), or twice with the same, are each
/// answered as their own.
async fn aliased_nested_lists_of_a_page_are_each_their_own(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    const LISTS: &str = "one: appointments(first: 1) { nodes { id } }
      again: appointments(first: 1) { nodes { id } }
      three: appointments(first: 3) { nodes { id scheduledAt doctor { name } } }
      newest: prescriptions(first: 1) { nodes { id } }
      all: prescriptions(first: 5) { nodes { id medication } }";
    let page = app
        .ok(
            &token,
            &format!("{{ patients(first: 10) {{ nodes {{ id {LISTS} }} }} }}"),
            json!({}),
        )
        .await;
    let patients = page["patients"]["nodes"].as_array().expect("patients");
    assert_eq!(patients.len(), 10);
    for patient in patients {
        let own = app
            .ok(
                &token,
                &format!("query($p: ID!) {{ patient(id: $p) {{ {LISTS} }} }}"),
                json!({ "p": patient["id"] }),
            )
            .await;
        let own = &own["patient"];
        // The demo patients have five appointments and three prescriptions.
        for (list, rows) in [
            ("one", 1),
            ("again", 1),
            ("three", 3),
            ("newest", 1),
            ("all", 3),
        ] {
            assert_eq!(own[list]["nodes"].as_array().map(Vec::len), Some(rows));
            assert_eq!(patient[list], own[list], "{list}: {patient}");
        }
    }
}

on_every_backend!(
    each_parents_nested_page_is_the_start_of_its_own_list,
    aliased_nested_lists_of_a_page_are_each_their_own,
);
