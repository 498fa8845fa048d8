//! What introspection may ask for. Introspection answers from the schema held in memory, but
//! its lists are not weighed by the complexity limit as a page of records is: each alias of
//! `__schema`, or of a list such as `fields`, repeats the schema's whole contents in the answer.
//! So, in one operation, `__schema` and `__type` and each list that runs over the schema may be
//! selected only as often as graphql-js's standard introspection query selects them (graphql-java's
//! "good faith introspection" holds clients to the same), and the introspection part makes at
//! most [`MAX_SELECTIONS`] selections. The answer then grows with the schema, never faster.
//!
//! Fields are recognised by name before validation, which knows the types; no type of this
//! schema has a field named like one of these (a test holds it to that).
use super::Refused;

/// The roots of introspection.
const ROOTS: [&str; 2] = ["__schema", "__type"];

/// How often one operation may select each counted field: the roots, and the lists that run
/// over the whole schema. `args` stands twice in the standard query (a field's and a
/// directive's).
const ALLOWED: [(&str, u64); 10] = [
    ("__schema", 1),
    ("__type", 1),
    ("types", 1),
    ("directives", 1),
    ("fields", 1),
    ("inputFields", 1),
    ("interfaces", 1),
    ("possibleTypes", 1),
    ("enumValues", 1),
    ("args", 2),
];

/// Selections inside `__schema` and `__type`, expanded: graphql-js's standard introspection
/// query makes 230, 240 with every option on (its `ofType` chains included); graphql-java's
/// limit for introspection is 500 as well.
pub const MAX_SELECTIONS: u64 = 500;

/// The field of a type reference that leads to the type it wraps (`[Patient!]!` → `Patient!`).
/// Its chain ends after at most three links (list, non-null, named type), so it adds nothing
/// to an answer's fan-out, and the standard query nests it nine deep: it does not count as a
/// level of depth.
pub const TYPE_REFERENCE: &str = "ofType";

/// The introspection fields of a selection set, once its fragments are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Introspection {
    /// How often each field of [`ALLOWED`] is selected, in its order.
    counts: [u64; ALLOWED.len()],
    /// Selections inside `__schema` and `__type` fields, those fields included.
    pub selections: u64,
}

impl Introspection {
    pub const NONE: Introspection = Introspection {
        counts: [0; ALLOWED.len()],
        selections: 0,
    };

    /// A field named `name`, whose selection set expands to `inner` with `inner_selections`
    /// selections.
    pub fn field(name: &str, inner: &Introspection, inner_selections: u64) -> Introspection {
        let mut own = *inner;
        if let Some(index) = ALLOWED.iter().position(|(allowed, _)| *allowed == name) {
            own.counts[index] = own.counts[index].saturating_add(1);
        }
        if ROOTS.contains(&name) {
            own.selections = inner_selections.saturating_add(1);
        }
        own
    }

    pub fn add(&mut self, other: &Introspection) {
        for (count, more) in self.counts.iter_mut().zip(other.counts) {
            *count = count.saturating_add(more);
        }
        self.selections = self.selections.saturating_add(other.selections);
    }

    /// Whether `__schema` or `__type` is selected.
    pub fn used(&self) -> bool {
        self.counts[0] > 0 || self.counts[1] > 0
    }

    /// The bounds above, for one operation.
    pub fn check(&self) -> Result<(), Refused> {
        for ((name, allowed), count) in ALLOWED.iter().zip(self.counts) {
            if count > *allowed {
                let times = if *allowed == 1 { "once" } else { "twice" };
                return Err(too_complex(format!(
                    "the operation selects `{name}` {count} times; introspection allows it \
                     {times}"
                )));
            }
        }
        if self.selections > MAX_SELECTIONS {
            return Err(too_complex(format!(
                "the operation makes {} selections inside `__schema` and `__type`; the limit is \
                 {MAX_SELECTIONS}",
                self.selections
            )));
        }
        Ok(())
    }
}

fn too_complex(message: String) -> Refused {
    Refused::new("INTROSPECTION_TOO_COMPLEX", message)
}

/// With introspection turned off, a request for it fails loudly: a code generator must say why
/// it got no schema, not read a `null` as an empty one.
pub fn disabled() -> Refused {
    Refused::new(
        "INTROSPECTION_DISABLED",
        "introspection (`__schema`, `__type`) is turned off on this server; `__typename` stays \
         available",
    )
}

/// Whether the schema's own types (not introspection's) have a field of a counted name.
#[cfg(test)]
pub fn schema_uses_counted_name(sdl: &str) -> Option<String> {
    sdl.lines()
        .map(str::trim_start)
        .filter_map(|line| {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let rest = &line[name.len()..];
            (rest.starts_with(':') || rest.starts_with('(')).then_some(name)
        })
        .find(|name| name == TYPE_REFERENCE || ALLOWED.iter().any(|(counted, _)| counted == name))
}
