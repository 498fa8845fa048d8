//! Validating a document once instead of on every request.
//!
//! async-graphql checks each request against all of the specification's validation rules: a
//! walk of the whole document with schema lookups at every field, a fifth of the server's work
//! for one patient by id (callgrind, `bench/README.md`). All of those rules but one depend only
//! on the document and the schema, and a kept document (`documents.rs`) is the same text every
//! time. So a document runs on the strict schema until a request with it passes; from then on
//! its requests run on a second schema in async-graphql's `Fast` mode, which still measures
//! complexity with each request's own variables and enforces its limit (depth depends on the
//! document alone: `bounds` checks it before validation).
//!
//! The one rule that reads the request is that every argument's value fits its type, variables
//! substituted. A request takes the fast schema only if each of its variables fits the type the
//! operation declares for it (the document's validation proved that this type fits wherever
//! the variable is used). Anything else — a value that does not fit, a required variable left
//! out, a null sent over a default, a type the check does not know — runs the strict rules, so
//! a client gets exactly the errors it always got.
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition};
use async_graphql::{Response, ServerError, ValidationResult, Value, Variables};

use super::documents::KeptDocument;
use super::engine::SchemaInputs;

/// The schema's input types, once a strict request has shown them (async-graphql hands them
/// only to extensions).
#[derive(Clone, Default)]
pub struct SchemaTypes(Arc<OnceLock<SchemaInputs>>);

impl SchemaTypes {
    /// Whether `variables` fit the types that `document`'s operation declares for them, so
    /// that the strict rules, if run, would find nothing in them. `false` when unsure.
    pub fn variables_fit(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> bool {
        let Some(inputs) = self.0.get() else {
            return false;
        };
        let Some(operation) = selected_operation(document, operation_name) else {
            return false;
        };
        operation.variable_definitions.iter().all(|definition| {
            let definition = &definition.node;
            let has_default = definition.default_value.is_some();
            match variables.get(&definition.name.node) {
                // A default stands in; the strict rules checked it against the type.
                None => has_default || definition.var_type.node.nullable,
                // Null over a default is where the variable's type and the argument's may
                // differ (a nullable variable with a default, used where null is refused).
                Some(Value::Null) if has_default => false,
                Some(value) => inputs.fits(&definition.var_type.node.to_string(), value),
            }
        })
    }
}

/// The operation a request runs, chosen as async-graphql chooses it.
fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        _ => None,
    }
}

/// Marks a request that is only to be validated, on the strict schema: nothing of it runs, and
/// its complexity is kept here (`None` if it did not pass). A batch's operations are measured
/// this way before any of them runs, since their complexity counts against one limit.
#[derive(Clone, Default)]
pub struct ValidateOnly(Arc<Mutex<Option<usize>>>);

impl ValidateOnly {
    pub fn complexity(&self) -> Option<usize> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// On the strict schema: marks a document whose request passed validation, shows
/// [`SchemaTypes`] the registry, and serves [`ValidateOnly`].
pub struct RememberValidated(pub SchemaTypes);

impl ExtensionFactory for RememberValidated {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RememberValidatedOnce(self.0.clone()))
    }
}

struct RememberValidatedOnce(SchemaTypes);

#[async_trait::async_trait]
impl Extension for RememberValidatedOnce {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.0.0.get_or_init(|| SchemaInputs::of(ctx));
        let result = next.run(ctx).await;
        if let Some(probe) = ctx.data_opt::<ValidateOnly>() {
            *probe.0.lock().unwrap_or_else(|e| e.into_inner()) =
                result.as_ref().ok().map(|r| r.complexity);
        }
        if result.is_ok()
            && let Some(kept) = ctx.data_opt::<Arc<KeptDocument>>()
        {
            kept.mark_validated();
        }
        result
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if ctx.data_opt::<ValidateOnly>().is_some() {
            return Response::default();
        }
        next.run(ctx, operation_name).await
    }
}
