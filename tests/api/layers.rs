//! The layers of `src/`, as its `crate::` paths say: every top-level module names only modules
//! of lower layers (so no import cycle can form between them), and a feature module names another
//! only through what that module declares for others at its root (`pub use` in its `mod.rs`).
//!
//! Written here rather than taken from a tool: cargo-modules' acyclic check fails on every cycle
//! at every level, while the GraphQL object graph is cyclic by nature (a patient's appointments,
//! an appointment's patient) and may be, through declared interfaces; and it builds
//! rust-analyzer's crates, minutes on a 2-core CI machine. This reads the sources' paths, which
//! is all the rule needs. Test code is left out: a test may compose the whole system.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module names only modules of layers below its own.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["app"],
    &["http", "seed", "migrate"],
    &["schema", "jobs"],
    &["modules"],
    &["graphql", "shared"],
    &["audit_trail", "events", "cache", "ratelimit", "storage"],
    &["db", "telemetry"],
    &["config"],
    &["persisted"],
    &["redis", "core"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("src is readable").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The file's code without its tests (each item marked `#[cfg(test)]`, and `tests.rs` files,
/// which are test modules) and without comments. Braces inside strings are not told apart;
/// the sources have none in test items' headers.
fn code_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    Some(without_test_items(&code))
}

fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut kept = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        kept.push_str(&rest[..at]);
        rest = &rest[at + MARK.len()..];
        // The item ends at its `;` (`mod fakes;`) or at the brace closing its body.
        let end = match (rest.find(';'), rest.find('{')) {
            (Some(semi), Some(brace)) if semi < brace => semi + 1,
            (_, Some(brace)) => closing_brace(rest, brace),
            (Some(semi), None) => semi + 1,
            (None, None) => rest.len(),
        };
        rest = &rest[end..];
    }
    kept.push_str(rest);
    kept
}

fn closing_brace(text: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Every path that starts with `crate::`, `use` groups expanded: `crate::a::{b, c::d}` gives
/// `[a, b]` and `[a, c, d]`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let end = path_end(after);
        expand(&after[..end], Vec::new(), &mut paths);
        rest = &after[end..];
    }
    paths
}

/// Where the path at the start of `text` ends (after its closing brace, for a group).
fn path_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return i,
            _ => {}
        }
    }
    text.len()
}

fn expand(path: &str, prefix: Vec<String>, paths: &mut Vec<Vec<String>>) {
    let path = path.trim();
    if let Some(start) = path.find('{') {
        let head: Vec<String> = path[..start]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let base = [prefix, head].concat();
        let inner = &path[start + 1..path.rfind('}').unwrap_or(path.len())];
        let mut depth = 0usize;
        let mut from = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    expand(&inner[from..i], base.clone(), paths);
                    from = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[from..], base, paths);
    } else {
        let segments: Vec<String> = path
            .split("::")
            .map(|s| s.split_whitespace().next().unwrap_or_default())
            .filter(|s| !s.is_empty() && *s != "self")
            .map(str::to_owned)
            .collect();
        paths.push([prefix, segments].concat());
    }
}

/// The module a file belongs to: its first directory under `src/` (or its own name), and for a
/// feature module under `modules/`, the feature too.
fn owner(file: &Path) -> (String, Option<String>) {
    let relative = file.strip_prefix(src()).expect("under src");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    let feature = (parts[0] == "modules" && parts.len() > 2).then(|| parts[1].clone());
    (parts[0].clone(), feature)
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn is_module(name: &str) -> bool {
    let src = src();
    src.join(format!("{name}.rs")).exists() || src.join(name).join("mod.rs").exists()
}

fn is_feature(name: &str) -> bool {
    src().join("modules").join(name).join("mod.rs").exists()
}

fn is_submodule(feature: &str, name: &str) -> bool {
    let dir = src().join("modules").join(feature);
    dir.join(format!("{name}.rs")).exists() || dir.join(name).is_dir()
}

/// (from, to) → the files that make the edge.
type Edges = BTreeMap<(String, String), BTreeSet<String>>;

fn edges() -> (Edges, Edges) {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut top = Edges::new();
    let mut internals = Edges::new();
    for file in files {
        let (module, feature) = owner(&file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(code) = code_of(&file) else { continue };
        let shown = file
            .strip_prefix(src())
            .expect("under src")
            .display()
            .to_string();
        for path in crate_paths(&code) {
            let Some(target) = path.first() else { continue };
            if *target != module && is_module(target) {
                top.entry((module.clone(), target.clone()))
                    .or_default()
                    .insert(shown.clone());
            }
            // Another feature's item named by a path into its insides.
            if let (Some(feature), [first, other, inner, _, ..]) = (&feature, path.as_slice())
                && first == "modules"
                && other != feature
                && is_feature(other)
                && is_submodule(other, inner)
            {
                internals
                    .entry((feature.clone(), path.join("::")))
                    .or_default()
                    .insert(shown.clone());
            }
        }
    }
    (top, internals)
}

#[test]
fn every_top_level_module_names_only_lower_layers() {
    let (top, _) = edges();
    let mut wrong = Vec::new();
    for ((from, to), files) in &top {
        match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) if a < b => {}
            (None, _) => wrong.push(format!("src/{from} is in no layer of tests/api/layers.rs")),
            (_, None) => wrong.push(format!("src/{to} is in no layer of tests/api/layers.rs")),
            _ => wrong.push(format!("{from} → {to} goes up or sideways, in {files:?}")),
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn feature_modules_name_each_other_only_through_what_they_declare() {
    let (_, internals) = edges();
    let wrong: Vec<String> = internals
        .iter()
        .map(|((feature, path), files)| {
            format!("{feature} reaches into crate::{path} in {files:?}")
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "use the other module's root (its `pub use` list):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import_and_a_reach_inside() {
    let paths = crate_paths("use crate::{app::Shared, modules::patient::{service::X, Y}};");
    assert!(paths.contains(&vec!["app".into(), "Shared".into()]));
    assert!(paths.contains(&vec![
        "modules".into(),
        "patient".into(),
        "service".into(),
        "X".into()
    ]));
    assert!(paths.contains(&vec!["modules".into(), "patient".into(), "Y".into()]));
    assert!(layer_of("core") > layer_of("http"));
    let code = "use a;\n#[cfg(test)]\nmod fakes;\n#[cfg(test)]\nmod tests {\n    fn f() { g() }\n}\nuse b;";
    assert_eq!(without_test_items(code), "use a;\n\n\nuse b;");
}
