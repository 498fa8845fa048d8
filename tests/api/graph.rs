//! The graph: nested reads across every type, batched into a fixed number of statements.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

const NESTED: &str = "query($n: Int) { patients(first: $n) { nodes {
  primaryDoctor { name } clinic { name } appointmentCount prescriptionCount
  appointments(first: 10) { nodes { status doctor { name } prescriptions { medication } } }
  prescriptions(first: 10) { nodes { medication prescriber { name } } }
} } }";

async fn the_nested_page_costs_the_same_few_statements_for_any_size(app: TestApp) {
    let clinic = app
        .repos
        .clinics
        .find_by_name(clinicgraph::seed::DEMO_CLINIC)
        .await
        .expect("query")
        .expect("demo clinic");
    clinicgraph::seed::bulk_patients(&app.repos, clinic.id, 60)
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

on_both_backends!(the_nested_page_costs_the_same_few_statements_for_any_size);
