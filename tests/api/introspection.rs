//! Introspection as tools send it: graphql-js's standard introspection query (GraphiQL's
//! documentation explorer, codegen, Postman, schemathesis) is answered in full at the default
//! limits; documents that ask far more of it than any tool are refused with a code; and with
//! introspection turned off, asking for it fails loudly.
use axum::http::StatusCode;
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::subscriber::{client_dir, install_client};
use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

/// The standard introspection documents, made by the `graphql` package itself: `plain` and
/// `everyOption` (descriptions, specifiedByUrl, directiveIsRepeatable, schemaDescription,
/// inputValueDeprecation, oneOf).
fn standard_documents() -> Value {
    install_client();
    let output = std::process::Command::new("node")
        .arg(client_dir().join("introspection-queries.mjs"))
        .output()
        .expect("node (Node.js) runs the graphql package");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("the documents as JSON")
}

/// A request error, as a client without `Accept` (read as `application/json`) gets it: 200,
/// no `data`.
fn refused(response: &TestResponse, code: &str) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.code(), Some(code), "{}", response.text);
    assert!(response.body.get("data").is_none(), "{}", response.text);
}

async fn the_standard_introspection_query_is_answered_in_full(app: TestApp) {
    let documents = standard_documents();
    for form in ["plain", "everyOption"] {
        let query = documents[form].as_str().expect("a document");
        // As GraphiQL sends it: before anyone has logged in.
        let response = app
            .post(
                None,
                &json!({ "query": query, "operationName": "IntrospectionQuery" }),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{form}: {}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "{form}: {}",
            response.text
        );
        let schema = &response.body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query", "{form}");
        assert_eq!(schema["mutationType"]["name"], "Mutation", "{form}");
        let types = schema["types"].as_array().expect("types");
        let query_type = types
            .iter()
            .find(|t| t["name"] == "Query")
            .expect("the Query type");
        let fields: Vec<&str> = query_type["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert!(fields.contains(&"patients"), "{form}: {fields:?}");
        // The deepest type reference of the schema is followed to its named type.
        let patients = &query_type["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == "patients")
            .expect("patients")["type"];
        assert_eq!(patients["kind"], "NON_NULL", "{form}: {patients}");
        assert_eq!(patients["ofType"]["name"], "PatientConnection", "{form}");
        if form == "everyOption" {
            let input = types
                .iter()
                .find(|t| t["name"] == "CreatePatientInput")
                .expect("CreatePatientInput");
            assert_eq!(input["isOneOf"], false, "{input}");
            assert!(types.iter().any(|t| t["description"].is_string()));
            assert!(schema["directives"][0]["isRepeatable"].is_boolean());
        }
    }
}

async fn introspection_that_no_tool_sends_is_refused_with_its_code(app: TestApp) {
    let token = app.token(Role::Admin).await;
    // 60 levels of `ofType`, written out and spread from fragment to fragment.
    let chain = (0..60).fold("name".to_owned(), |inner, _| {
        format!("ofType {{ {inner} }}")
    });
    let written = format!("{{ __type(name: \"Patient\") {{ {chain} }} }}");
    refused(
        &app.gql(Some(&token), &written, json!({})).await,
        "DOCUMENT_TOO_NESTED",
    );
    let mut spread = String::from("{ __type(name: \"Patient\") { ...R0 } }\n");
    for i in 0..60 {
        spread.push_str(&format!(
            "fragment R{i} on __Type {{ ofType {{ ...R{} }} }}\n",
            i + 1
        ));
    }
    spread.push_str("fragment R60 on __Type { name }\n");
    refused(
        &app.gql(Some(&token), &spread, json!({})).await,
        "DOCUMENT_TOO_NESTED",
    );
    // Thousands of aliased `__schema`, each an answer of the whole schema.
    let aliases: String = (0..2_000)
        .map(|i| format!("s{i}: __schema {{ __typename }} "))
        .collect();
    let response = app
        .gql(Some(&token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    refused(&response, "INTROSPECTION_TOO_COMPLEX");
    // The schema's field lists, over and over under one `__schema`.
    let lists: String = (0..100)
        .map(|i| format!("f{i}: fields {{ name }} "))
        .collect();
    let response = app
        .gql(
            Some(&token),
            &format!("{{ __schema {{ types {{ {lists} }} }} }}"),
            json!({}),
        )
        .await;
    refused(&response, "INTROSPECTION_TOO_COMPLEX");
}

on_every_backend!(
    the_standard_introspection_query_is_answered_in_full,
    introspection_that_no_tool_sends_is_refused_with_its_code,
);

/// In production: `__schema` and `__type` are request errors with their own code.
mod turned_off {
    use super::*;

    async fn asking_for_the_schema_fails_loudly(app: TestApp) {
        let documents = standard_documents();
        for query in [
            documents["plain"].as_str().expect("plain"),
            "{ __type(name: \"Patient\") { name } }",
        ] {
            let response = app.post(None, &json!({ "query": query })).await;
            refused(&response, "INTROSPECTION_DISABLED");
            let message = response.body["errors"][0]["message"].as_str().unwrap_or("");
            assert!(message.contains("turned off"), "{}", response.text);
        }
        // `__typename` is not introspection of the schema, and clients rely on it.
        let token = app.token(Role::Admin).await;
        let data = app
            .ok(&token, "{ __typename me { __typename email } }", json!({}))
            .await;
        assert_eq!(data["__typename"], "Query");
    }

    on_every_backend!(env [("INTROSPECTION", "false")]; asking_for_the_schema_fails_loudly);
}
