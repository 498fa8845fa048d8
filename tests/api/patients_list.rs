//! The patient list: keyset pages in both directions, the 100 cap, search and filters.
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_input, violated_fields};
use crate::on_every_backend;

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: PatientOrder, $filter: PatientFilter) {
  patients(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
    nodes { id name }
  }
}";

fn names(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("name").to_owned())
        .collect()
}

fn ids(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn forward_pages_cover_every_patient_once(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let first = app.ok(&token, PAGE, json!({})).await["patients"].clone();
    assert_eq!(first["totalCount"], 50);
    assert_eq!(ids(&first).len(), 20, "the default page holds 20");
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        first["edges"][0]["cursor"],
        first["pageInfo"]["startCursor"]
    );
    assert_eq!(first["edges"][19]["cursor"], first["pageInfo"]["endCursor"]);

    let mut seen = ids(&first);
    let mut after = first["pageInfo"]["endCursor"].clone();
    loop {
        let page = app
            .ok(&token, PAGE, json!({ "first": 20, "after": after }))
            .await["patients"]
            .clone();
        assert_eq!(page["pageInfo"]["hasPreviousPage"], true);
        seen.extend(ids(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            assert_eq!(ids(&page).len(), 10, "the last page holds the remainder");
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (50, 50));
}

async fn backward_pages_mirror_forward_pages(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let order = json!({ "field": "NAME", "direction": "ASC" });
    let all = app
        .ok(&token, PAGE, json!({ "first": 100, "order": order }))
        .await["patients"]
        .clone();
    let all_names = names(&all);
    let mut sorted = all_names.clone();
    sorted.sort();
    assert_eq!(all_names.len(), 50);

    let last = app
        .ok(&token, PAGE, json!({ "last": 15, "order": order }))
        .await["patients"]
        .clone();
    assert_eq!(ids(&last), ids(&all)[35..].to_vec());
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);

    let before = app
        .ok(
            &token,
            PAGE,
            json!({ "last": 15, "before": last["pageInfo"]["startCursor"], "order": order }),
        )
        .await["patients"]
        .clone();
    assert_eq!(ids(&before), ids(&all)[20..35].to_vec());
    assert_eq!(before["pageInfo"]["hasNextPage"], true);

    let after = app
        .ok(
            &token,
            PAGE,
            json!({ "first": 5, "after": all["edges"][9]["cursor"], "order": order }),
        )
        .await["patients"]
        .clone();
    assert_eq!(ids(&after), ids(&all)[10..15].to_vec());
}

async fn page_size_is_capped_at_one_hundred_never_cut(app: TestApp) {
    let token = app.token(Role::Admin).await;
    for variables in [
        json!({ "first": 101 }),
        json!({ "last": 500 }),
        json!({ "first": -1 }),
    ] {
        let response = app.gql(Some(&token), PAGE, variables.clone()).await;
        assert_eq!(
            response.code(),
            Some("VALIDATION_FAILED"),
            "{variables}: {}",
            response.text
        );
    }
    let response = app.gql(Some(&token), PAGE, json!({ "first": 101 })).await;
    assert_eq!(violated_fields(&response), ["first"]);
    let hundred = app.ok(&token, PAGE, json!({ "first": 100 })).await;
    assert_eq!(ids(&hundred["patients"]).len(), 50);
    let zero = app.ok(&token, PAGE, json!({ "first": 0 })).await;
    assert_eq!(ids(&zero["patients"]).len(), 0);
}

async fn foreign_and_mismatched_cursors_are_refused(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let by_name = app
        .ok(
            &token,
            PAGE,
            json!({ "first": 2, "order": { "field": "NAME" } }),
        )
        .await["patients"]
        .clone();
    let cursor = by_name["pageInfo"]["endCursor"].clone();
    for variables in [
        json!({ "after": cursor }),
        json!({ "after": "bm90IGEgY3Vyc29y" }),
        json!({ "first": 1, "last": 1 }),
    ] {
        let response = app.gql(Some(&token), PAGE, variables.clone()).await;
        assert_eq!(
            response.code(),
            Some("VALIDATION_FAILED"),
            "{variables}: {}",
            response.text
        );
    }
}

async fn search_is_case_insensitive_for_every_letter(app: TestApp) {
    let token = app.token(Role::Admin).await;
    app.create_patient(
        &token,
        patient_input("ZOË ÅSTRÖM", "zoe.astrom@example.com"),
    )
    .await;
    for search in ["zoë åström", "Zoë", "ÅSTRÖM", "ASTROM@EXAMPLE"] {
        let data = app
            .ok(
                &token,
                PAGE,
                json!({ "filter": { "search": search }, "first": 100 }),
            )
            .await;
        assert!(
            names(&data["patients"]).contains(&"ZOË ÅSTRÖM".to_owned()),
            "{search}: {:?}",
            names(&data["patients"])
        );
    }
    // The demo seed has five patients named Zoë; accents fold away, so "zoë" and "zoe" find
    // those and ZOË ÅSTRÖM alike.
    let zoe = app
        .ok(
            &token,
            PAGE,
            json!({ "filter": { "search": "zoë" }, "first": 100 }),
        )
        .await;
    assert_eq!(zoe["patients"]["totalCount"], 6);
    let plain = app
        .ok(
            &token,
            PAGE,
            json!({ "filter": { "search": "zoe" }, "first": 100 }),
        )
        .await;
    assert_eq!(plain["patients"]["totalCount"], 6);
    let phone = app
        .ok(
            &token,
            PAGE,
            json!({ "filter": { "search": "5550000042" } }),
        )
        .await;
    assert_eq!(phone["patients"]["totalCount"], 1);
}

async fn search_wildcards_match_literally(app: TestApp) {
    let token = app.token(Role::Admin).await;
    app.create_patient(
        &token,
        patient_input("Percent 100% Sure", "percent@example.com"),
    )
    .await;
    app.create_patient(&token, patient_input("Under_Score", "under@example.com"))
        .await;
    app.create_patient(&token, patient_input("UnderXScore", "underx@example.com"))
        .await;
    let count = |search: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.ok(&token, PAGE, json!({ "filter": { "search": search } }))
                .await["patients"]["totalCount"]
                .as_i64()
                .expect("count")
        }
    };
    assert_eq!(count("100%").await, 1);
    assert_eq!(count("%").await, 1);
    assert_eq!(count("under_").await, 1);
    assert_eq!(count("_").await, 1);
    assert_eq!(count("\\").await, 0);
}

async fn filters_combine(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let by_group = app
        .ok(
            &token,
            PAGE,
            json!({ "filter": { "bloodGroup": "AB_NEG" }, "first": 100 }),
        )
        .await;
    // The seed cycles through the 8 groups: indexes 7, 15, 23, 31, 39, 47.
    assert_eq!(by_group["patients"]["totalCount"], 6);
    let combined = app
        .ok(
            &token,
            PAGE,
            json!({ "filter": { "bloodGroup": "AB_NEG", "search": "MÜLLER" }, "first": 100 }),
        )
        .await;
    // Of those six, only index 15 is a Müller (indexes 10 to 19).
    assert_eq!(names(&combined["patients"]), ["Dmitri Müller"]);
    assert_eq!(combined["patients"]["totalCount"], 1);
    let response = app
        .gql(
            Some(&token),
            PAGE,
            json!({ "filter": { "primaryDoctorId": "garbage" } }),
        )
        .await;
    assert_eq!(response.code(), Some("VALIDATION_FAILED"));
}

async fn total_count_is_only_computed_when_asked(app: TestApp) {
    // Asking only for nodes works and returns the page; totalCount is a separate, lazy field.
    let token = app.token(Role::Admin).await;
    let data = app
        .ok(
            &token,
            "{ patients(first: 3) { nodes { patientId } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["patients"]["nodes"].as_array().map(Vec::len), Some(3));
    assert!(data["patients"].get("totalCount").is_none());
}

async fn total_count_stays_exact_under_concurrent_writes(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let create = "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }";
    let delete = "mutation($id: ID!) { deletePatient(id: $id) }";
    let restore = "mutation($id: ID!) { restorePatient(id: $id) { id } }";
    // 30 creates over 25 emails (so some lose to DUPLICATE_EMAIL), 10 deletes, and restores
    // racing the deletes of the same records.
    let mut writes = Vec::new();
    for i in 0..30 {
        let input = patient_input("Load Test", &format!("load{}@example.com", i % 25));
        writes.push((create, json!({ "i": input })));
    }
    for n in 2..12 {
        writes.push((delete, json!({ "id": crate::helpers::demo_patient(n) })));
    }
    for n in 2..7 {
        writes.push((restore, json!({ "id": crate::helpers::demo_patient(n) })));
    }
    let responses = futures_util::future::join_all(
        writes
            .iter()
            .map(|(query, variables)| app.gql(Some(&admin), query, variables.clone())),
    )
    .await;
    let succeeded = |query: &str| {
        writes
            .iter()
            .zip(&responses)
            .filter(|((q, _), r)| *q == query && r.body.get("errors").is_none())
            .count() as i64
    };
    assert_eq!((succeeded(create), succeeded(delete)), (25, 10));
    // A restore that ran before its delete found a live record and changed nothing.
    let live = 50 + 25 - 10;

    // Unfiltered: the maintained counter. Searching "@" matches every email: a real count(*).
    let counted =
        app.ok(&admin, PAGE, json!({ "first": 1 })).await["patients"]["totalCount"].clone();
    let scanned = app
        .ok(
            &admin,
            PAGE,
            json!({ "first": 1, "filter": { "search": "@" } }),
        )
        .await["patients"]["totalCount"]
        .clone();
    assert_eq!(counted, scanned);
    let counted = counted.as_i64().expect("count");
    assert!(
        (live..=live + 5).contains(&counted),
        "{counted} live patients"
    );
}

async fn primary_doctor_must_be_of_the_same_clinic(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let mut input = patient_input("Ann", "ann@example.com");
    input["primaryDoctorId"] = json!(doctors[0]);
    let id = app.create_patient(&token, input).await;

    let theirs = app.other_clinic_admin().await;
    let mut foreign = patient_input("Bo", "bo@example.com");
    foreign["primaryDoctorId"] = json!(doctors[0]);
    let response = app
        .gql(
            Some(&theirs),
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            json!({ "i": foreign }),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(violated_fields(&response), ["primaryDoctorId"]);
    // The filter follows the same rule: another clinic's doctor is an error, not an empty page.
    let response = app
        .gql(
            Some(&theirs),
            "query($d: ID!) { patients(filter: {primaryDoctorId: $d}) { totalCount } }",
            json!({ "d": doctors[0] }),
        )
        .await;
    assert_eq!(
        violated_fields(&response),
        ["filter.primaryDoctorId"],
        "{}",
        response.text
    );

    let filtered = app
        .ok(
            &token,
            "query($d: ID!) { patients(filter: {primaryDoctorId: $d}, first: 100) { nodes { id } } }",
            json!({ "d": doctors[0] }),
        )
        .await;
    let ids: Vec<&Value> = filtered["patients"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert!(ids.contains(&&json!(id)));
    // The demo seed spreads 50 patients over 3 doctors, plus the one above.
    assert_eq!(ids.len(), 18);
}

on_every_backend!(
    primary_doctor_must_be_of_the_same_clinic,
    total_count_stays_exact_under_concurrent_writes,
    forward_pages_cover_every_patient_once,
    backward_pages_mirror_forward_pages,
    page_size_is_capped_at_one_hundred_never_cut,
    foreign_and_mismatched_cursors_are_refused,
    search_is_case_insensitive_for_every_letter,
    search_wildcards_match_literally,
    filters_combine,
    total_count_is_only_computed_when_asked,
);
