//! The one place where text inputs are held to the characters they may contain, for every
//! argument of every operation (mutation inputs, filters, ids, cursors, logins): no control
//! characters at all, except tab and line breaks in free text. Checked before anything runs,
//! on the document's literals once (a kept document's literals do not change) and on each
//! request's variables, so a refused request is a request error that wrote nothing.
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Value, Variables};

use super::bounds::Refused;
use crate::core::error::FieldViolation;
use crate::core::text::forbidden_control;

/// Input fields and arguments holding free text, where tab and line breaks belong. Every other
/// text input is a single line (names, emails, phone numbers, codes, ids, searches).
pub const FREE_TEXT: &[&str] = &["internalNotes", "notes", "reason", "password"];

/// Reports are cut short after this many fields.
const MAX_REPORTED: usize = 20;

/// Checks each variable's text.
pub fn check_variables(variables: &Variables) -> Result<(), Refused> {
    let mut found = Vec::new();
    for (name, value) in variables.iter() {
        walk(value, &mut Path::root(name.as_str()), &mut found);
    }
    refusal(found)
}

/// Checks the text literals in the arguments of every field of `document`, fragments
/// included (each definition once).
pub fn check_literals(document: &ExecutableDocument) -> Result<(), Refused> {
    let mut found = Vec::new();
    for (_, operation) in document.operations.iter() {
        literals_in(&operation.node.selection_set, &mut found);
    }
    for fragment in document.fragments.values() {
        literals_in(&fragment.node.selection_set, &mut found);
    }
    refusal(found)
}

fn refusal(found: Vec<FieldViolation>) -> Result<(), Refused> {
    if found.is_empty() {
        return Ok(());
    }
    Err(Refused {
        code: "VALIDATION_FAILED",
        message: "the input is invalid".to_owned(),
        fields: found,
    })
}

fn literals_in(set: &Positioned<SelectionSet>, found: &mut Vec<FieldViolation>) {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    // Variables are checked with the request; a literal holds none of theirs.
                    let Ok(value) = value
                        .node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null));
                    walk(&value, &mut Path::root(name.node.as_str()), found);
                }
                literals_in(&field.node.selection_set, found);
            }
            Selection::InlineFragment(inline) => literals_in(&inline.node.selection_set, found),
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Where a value sits, named as the services name fields: inside an argument or variable called
/// `input` by its own path (`name`, `items[2].dosage`), elsewhere from the argument
/// (`filter.search`, `id`).
struct Path {
    segments: Vec<String>,
}

impl Path {
    fn root(name: &str) -> Self {
        Self {
            segments: vec![name.to_owned()],
        }
    }

    fn name(&self) -> String {
        let segments = match self.segments.split_first() {
            Some((first, rest)) if first == "input" && !rest.is_empty() => rest,
            _ => &self.segments,
        };
        let mut name = String::new();
        for segment in segments {
            if !segment.starts_with('[') && !name.is_empty() {
                name.push('.');
            }
            name.push_str(segment);
        }
        name
    }

    /// The innermost field or argument name, which says whether the text is free text.
    fn field(&self) -> &str {
        self.segments
            .iter()
            .rev()
            .find(|s| !s.starts_with('['))
            .map_or("", String::as_str)
    }
}

fn walk(value: &Value, path: &mut Path, found: &mut Vec<FieldViolation>) {
    if found.len() >= MAX_REPORTED {
        return;
    }
    match value {
        Value::String(text) => {
            let multiline = FREE_TEXT.contains(&path.field());
            if let Some(c) = forbidden_control(text, multiline) {
                let allowed = if multiline {
                    "; only tab and line breaks are allowed"
                } else {
                    ""
                };
                found.push(FieldViolation::new(
                    path.name(),
                    format!(
                        "must not contain control characters (found U+{:04X}){allowed}",
                        u32::from(c)
                    ),
                ));
            }
        }
        Value::List(items) => {
            for (index, item) in items.iter().enumerate() {
                path.segments.push(format!("[{index}]"));
                walk(item, path, found);
                path.segments.pop();
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                path.segments.push(Name::as_str(name).to_owned());
                walk(item, path, found);
                path.segments.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn fields(refused: Refused) -> Vec<String> {
        assert_eq!(refused.code, "VALIDATION_FAILED");
        refused.fields.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn variables_are_named_as_the_services_name_fields() {
        let variables = Variables::from_json(json!({
            "input": { "name": "Ann\u{0}", "internalNotes": "line\nnext\ttab", "phone": "1\t2" },
            "filter": { "search": "x\u{1b}" },
            "ids": ["a", "b\u{7f}"],
        }));
        let mut named = fields(check_variables(&variables).unwrap_err());
        named.sort();
        assert_eq!(named, ["filter.search", "ids[1]", "name", "phone"]);
        assert_eq!(
            check_variables(&Variables::from_json(json!({ "notes": "a\r\nb" }))),
            Ok(())
        );
    }

    #[test]
    fn literals_are_checked_in_operations_and_fragments() {
        let document = parse_query(
            "mutation { createDoctor(input: { name: \"a\\u0000\", specialty: $s }) { id } } \
             fragment F on Query { patients(filter: { search: \"\\u0007\" }) { totalCount } }",
        )
        .expect("parses");
        let mut named = fields(check_literals(&document).unwrap_err());
        named.sort();
        assert_eq!(named, ["filter.search", "name"]);
    }

    #[test]
    fn every_free_text_name_is_a_text_input_of_the_schema() {
        let sdl = crate::schema::sdl();
        for name in FREE_TEXT {
            assert!(
                sdl.contains(&format!("{name}: String")),
                "{name} is no text input of the schema"
            );
        }
    }
}
