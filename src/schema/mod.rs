//! Builds the schema from the modules' roots; limits and settings are decided here only.
use std::sync::Arc;

pub mod node;

use async_graphql::{
    Json, MergedObject, MergedSubscription, Request, Schema, SchemaBuilder, ValidationMode,
};

use crate::config::{GraphqlExecution, GraphqlLimits};
use crate::graphql::documents::{CheckedParse, KeptDocument};
use crate::graphql::eager::{PlainExecution, PlainObjects};
use crate::graphql::nullability::OutputTypes;
use crate::graphql::resolver_spans::ResolverSpans;
use crate::graphql::subscriptions_only::SubscriptionsOnly;
use crate::graphql::validation::{RememberValidated, SchemaTypes, ValidateOnly};
use crate::modules::appointment::resolvers::{AppointmentMutation, AppointmentQuery};
use crate::modules::appointment::subscription::AppointmentSubscription;
use crate::modules::audit::extension::AuditExtension;
use crate::modules::audit::resolvers::AuditQuery;
use crate::modules::auth::resolvers::{AuthMutation, AuthQuery};
use crate::modules::auth::session::resolvers::{SessionMutation, SessionQuery};
use crate::modules::clinic::resolvers::ClinicQuery;
use crate::modules::doctor::resolvers::{DoctorMutation, DoctorQuery};
use crate::modules::file::resolvers::{FileMutation, FileQuery};
use crate::modules::file::subscription::FileSubscription;
use crate::modules::job::resolvers::{JobMutation, JobQuery};
use crate::modules::job::subscription::JobSubscription;
use crate::modules::patient::resolvers::{PatientMutation, PatientQuery};
use crate::modules::prescription::resolvers::{PrescriptionMutation, PrescriptionQuery};
use crate::modules::registry::Services;
use node::NodeQuery;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    AuthQuery,
    SessionQuery,
    ClinicQuery,
    PatientQuery,
    DoctorQuery,
    AppointmentQuery,
    PrescriptionQuery,
    AuditQuery,
    JobQuery,
    FileQuery,
    NodeQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    AuthMutation,
    SessionMutation,
    PatientMutation,
    DoctorMutation,
    AppointmentMutation,
    PrescriptionMutation,
    JobMutation,
    FileMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(AppointmentSubscription, JobSubscription, FileSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Directives on one field or fragment at most (each `@include`/`@skip` once is all a client
/// needs; thousands would each be evaluated).
const MAX_DIRECTIVES: usize = 8;

/// How the schema behaves for one deployment.
#[derive(Debug, Clone, Copy)]
pub struct SchemaSettings {
    /// "Did you mean …" hints help developers and help attackers map the schema.
    pub suggestions: bool,
    pub limits: GraphqlLimits,
    /// A span per resolver, for exported traces.
    pub resolver_spans: bool,
    pub execution: GraphqlExecution,
}

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .override_output_type_description::<Json<serde_json::Value>>(
        "Any JSON value, sent as is (an object, array, string, number, boolean or null); the \
         field that returns it describes its shape. `Job.result` is an object whose keys depend \
         on the job's kind, e.g. `{\"file\": \"patients.csv\", \"format\": \"CSV\", \
         \"rows\": 42, \"bytes\": 3120}` for an export.",
    )
}

/// The schema with every service reachable from resolvers through the context, twice: once
/// checking every validation rule, once only what can change between requests of a document
/// that passed them all (see `validation`).
#[derive(Clone)]
pub struct Schemas {
    strict: AppSchema,
    validated: AppSchema,
    types: SchemaTypes,
    /// Off with plain execution, which validates every request in full: what lets a request
    /// skip that reads async-graphql's registry (`graphql::engine::SchemaInputs`).
    skip_validated: bool,
    /// Where field errors leave their nulls.
    output_types: Arc<OutputTypes>,
}

impl Schemas {
    pub fn build(services: &Services, settings: SchemaSettings) -> Self {
        let types = SchemaTypes::default();
        let strict = configured(services, settings)
            .extension(RememberValidated(types.clone()))
            .finish();
        Self {
            output_types: Arc::new(OutputTypes::from_sdl(&strict.sdl())),
            strict,
            validated: configured(services, settings)
                .validation_mode(ValidationMode::Fast)
                .finish(),
            types,
            skip_validated: settings.execution == GraphqlExecution::Eager,
        }
    }

    /// The schema's output types, for placing the nulls of field errors.
    pub fn output_types(&self) -> &OutputTypes {
        &self.output_types
    }

    /// The complexity of `request` as validation measures it, without running it (`None` if
    /// it does not pass validation).
    pub async fn complexity(&self, request: Request) -> Option<usize> {
        let probe = ValidateOnly::default();
        self.strict.execute(request.data(probe.clone())).await;
        probe.complexity()
    }

    /// The schema to run `request` on, whose document is `kept`.
    pub fn for_request(&self, request: &mut Request, kept: Arc<KeptDocument>) -> &AppSchema {
        if self.skip_validated
            && kept.validated()
            && self.types.variables_fit(
                &kept.document,
                request.operation_name.as_deref(),
                &request.variables,
            )
        {
            return &self.validated;
        }
        // For the strict schema to mark it once it passes.
        request.data.insert(kept);
        &self.strict
    }
}

/// The same schema for the WebSocket endpoint, which runs subscriptions only. Each event's
/// audit trail is written as it is sent; over HTTP the handler does this per request, since any
/// extension costs every field of every query a detour through the extension chain.
pub fn build_subscription_schema(services: &Services, settings: SchemaSettings) -> AppSchema {
    configured(services, settings)
        .extension(CheckedParse {
            limits: (&settings.limits).into(),
        })
        .extension(SubscriptionsOnly)
        .extension(AuditExtension::new(services.audit_writer.clone()))
        .finish()
}

fn configured(
    services: &Services,
    settings: SchemaSettings,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let mut builder = builder()
        .data(services.auth.clone())
        .data(services.sessions.clone())
        .data(services.clinics.clone())
        .data(services.patients.clone())
        .data(services.doctors.clone())
        .data(services.appointments.clone())
        .data(services.prescriptions.clone())
        .data(services.audit.clone())
        .data(services.jobs.clone())
        .data(services.files.clone())
        .data(services.keys.clone());
    if !settings.suggestions {
        builder = builder.disable_suggestions();
    }
    if !settings.limits.introspection {
        builder = builder.disable_introspection();
    }
    if settings.execution == GraphqlExecution::Plain {
        builder = builder.data(PlainExecution);
    }
    if settings.resolver_spans || settings.execution == GraphqlExecution::Plain {
        builder = builder.data(PlainObjects);
    }
    if settings.resolver_spans {
        builder = builder.extension(ResolverSpans);
    }
    // Complexity is checked during validation, before anything runs (QUERY_TOO_COMPLEX); depth
    // is checked by `bounds` before validation, which counts a type reference's `ofType` chain
    // apart (async-graphql's own depth limit would refuse the standard introspection query).
    // The recursion limit is the one `bounds` holds every document to before it is parsed.
    builder
        .limit_complexity(settings.limits.max_complexity)
        .limit_recursive_depth(crate::graphql::bounds::MAX_NESTING)
        .limit_directives(MAX_DIRECTIVES)
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The names of the fields of the object type `type_name` in [`sdl`], for tests that hold
/// something to every field of a type.
#[cfg(test)]
pub fn fields_of_type(type_name: &str) -> Vec<String> {
    let sdl = sdl();
    let opening = format!("type {type_name} ");
    let mut fields = Vec::new();
    let mut in_description = false;
    for line in sdl
        .lines()
        .skip_while(|line| !line.starts_with(&opening))
        .skip(1)
    {
        if line.starts_with('}') {
            break;
        }
        // Deeper lines are a field's arguments.
        if line.starts_with("\t\t") {
            continue;
        }
        let line = line.trim();
        if line.starts_with("\"\"\"") {
            if line.len() < 6 || !line.ends_with("\"\"\"") {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || line.starts_with('"') {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            fields.push(name);
        }
    }
    fields
}
