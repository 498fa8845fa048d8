//! The Grafana dashboard (`deploy/grafana/clinicgraph.json`) charts only metrics the code
//! emits, so a renamed metric cannot leave a panel silently empty.
use std::collections::BTreeSet;
use std::path::Path;

/// Every name given to a `metrics::counter!`, `histogram!` or `gauge!` in `src/`.
fn emitted() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                for macro_call in ["counter!(\"", "histogram!(\"", "gauge!(\""] {
                    for (at, _) in text.match_indices(macro_call) {
                        let rest = &text[at + macro_call.len()..];
                        names.insert(rest[..rest.find('"').expect("closing quote")].to_owned());
                    }
                }
            }
        }
    }
    names
}

/// The metric names in a PromQL expression: identifiers with an underscore that are not
/// functions (label names here have none).
fn referenced(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = String::new();
    for (i, c) in expr.char_indices().chain([(expr.len(), ' ')]) {
        if c.is_ascii_alphanumeric() || c == '_' {
            token.push(c);
            continue;
        }
        let is_function = expr[i..].starts_with('(');
        if token.contains('_') && !is_function && !token.starts_with(char::is_numeric) {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| token.strip_suffix(suffix))
                .unwrap_or(&token);
            names.push(base.to_owned());
        }
        token.clear();
    }
    names
}

#[test]
fn every_panel_charts_metrics_the_code_emits() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/clinicgraph.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    let emitted = emitted();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 6, "{}", panels.len());
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let names = referenced(expr);
            assert!(!names.is_empty(), "no metric in {expr}");
            for name in names {
                assert!(
                    emitted.contains(&name),
                    "{name} (in {expr}) is not emitted: {emitted:?}"
                );
            }
        }
    }
}
