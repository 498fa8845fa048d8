//! The README's example operations run against a fresh demo server, so they cannot rot.
use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_every_backend;

/// The bodies of the README's ```graphql blocks, in order.
pub(crate) fn readme_operations() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut operations = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(block), "```") => {
                operations.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    operations
}

/// Each object type's fields and the named type of each, from the schema's SDL.
fn field_types() -> HashMap<String, HashMap<String, String>> {
    let sdl = clinicgraph::schema::sdl();
    let schema = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let mut types = HashMap::new();
    for definition in schema.definitions {
        let TypeSystemDefinition::Type(definition) = definition else {
            continue;
        };
        let fields = match definition.node.kind {
            TypeKind::Object(object) => object.fields,
            TypeKind::Interface(interface) => interface.fields,
            _ => continue,
        };
        let fields = fields
            .into_iter()
            .map(|f| (f.node.name.node.to_string(), named(&f.node.ty.node)))
            .collect();
        types.insert(definition.node.name.node.to_string(), fields);
    }
    types
}

fn named(ty: &Type) -> String {
    match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(item) => named(item),
    }
}

/// The selections under `type_name` that select an object with an `id` without its `id`.
fn objects_without_id(
    types: &HashMap<String, HashMap<String, String>>,
    type_name: &str,
    set: &SelectionSet,
    missing: &mut Vec<String>,
) {
    for selection in &set.items {
        let Selection::Field(field) = &selection.node else {
            continue;
        };
        let field = &field.node;
        let Some(child) = types
            .get(type_name)
            .and_then(|f| f.get(field.name.node.as_str()))
        else {
            continue;
        };
        let inner = &field.selection_set.node;
        if inner.items.is_empty() {
            continue;
        }
        let has_id_field = types.get(child).is_some_and(|f| f.contains_key("id"));
        let selects_id = inner
            .items
            .iter()
            .any(|s| matches!(&s.node, Selection::Field(f) if f.node.name.node.as_str() == "id"));
        if has_id_field && !selects_id {
            missing.push(format!("{}: {child}", field.name.node));
        }
        objects_without_id(types, child, inner, missing);
    }
}

/// A normalizing cache (Apollo Client, urql's graphcache, Relay) can keep and update only an
/// object that comes with its `id`: every example selects it wherever the type has one.
#[test]
fn readme_examples_select_the_id_of_every_object() {
    let types = field_types();
    let mut missing = Vec::new();
    for operation in readme_operations() {
        let document = async_graphql::parser::parse_query(&operation).expect("example parses");
        for (_, definition) in document.operations.iter() {
            let root = format!("{:?}", definition.node.ty);
            objects_without_id(
                &types,
                &root,
                &definition.node.selection_set.node,
                &mut missing,
            );
        }
    }
    assert!(
        missing.is_empty(),
        "README examples without `id`: {missing:?}"
    );
}

async fn readme_examples_run_as_documented(app: TestApp) {
    let operations = readme_operations();
    assert!(operations.len() >= 6, "the README lost its examples");
    let admin = app.token(Role::Admin).await;
    for operation in operations {
        // A block that starts with `# as <email>` runs as that demo account.
        let token = match operation
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# as "))
        {
            Some(email) => {
                let response = app
                    .login(email.trim(), clinicgraph::seed::DEMO_PASSWORD)
                    .await;
                response.body["data"]["login"]["accessToken"]
                    .as_str()
                    .unwrap_or_else(|| panic!("README account {email}: {}", response.text))
                    .to_owned()
            }
            None => admin.clone(),
        };
        let response = app.gql(Some(&token), &operation, json!({})).await;
        assert_eq!(response.status, 200, "{operation}\n{}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "README example failed:\n{operation}\n{}",
            response.text
        );
    }
}

/// The benchmark's request bodies, with the first patient's id as the benchmark substitutes it,
/// each within its budget of SQL statements (q1: 1, q2: 2, q3: 5).
async fn bench_queries_run(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let first = app
        .ok(&admin, "{ patients(first: 1) { nodes { id } } }", json!({}))
        .await;
    let id = first["patients"]["nodes"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut counted = 0;
    for (name, body, budget) in [
        ("q1", include_str!("../../bench/queries/q1.json"), 1),
        ("q2", include_str!("../../bench/queries/q2.json"), 2),
        ("q3", include_str!("../../bench/queries/q3.json"), 5),
    ] {
        let body: serde_json::Value =
            serde_json::from_str(&body.replace("__PATIENT_ID__", &id)).expect("bench body is JSON");
        let before = app.statements.get();
        let response = app.post(Some(&admin), &body).await;
        let statements = app.statements.get() - before;
        counted += statements;
        assert!(
            statements <= budget,
            "{name}: {statements} statements, budget {budget}"
        );
        assert_eq!(response.status, 200, "{name}: {}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "{name}: {}",
            response.text
        );
        assert!(!response.body["data"].is_null(), "{name}");
    }
    // The lists are read from the database: a counter that saw nothing counts nothing.
    assert!(counted > 0, "no statement was counted");
}

on_every_backend!(readme_examples_run_as_documented, bench_queries_run);
