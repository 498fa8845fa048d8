//! The committed SDL is the schema the server serves.
#[test]
fn committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = clinicgraph::schema::sdl();
    if committed != current {
        let diff = similar::TextDiff::from_lines(&committed, &current)
            .unified_diff()
            .header("schema.graphql (committed)", "clinicgraph schema (current)")
            .to_string();
        panic!(
            "schema.graphql differs from the code:\n{diff}\n\
             If the change is intended, review it and regenerate the file with:\n    \
             cargo run -- schema > schema.graphql\n"
        );
    }
}
