//! Builds the schema from the modules' roots; limits and settings are decided here only.
use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use super::node::NodeQuery;
use crate::app::Services;
use crate::modules::appointment::resolvers::{AppointmentMutation, AppointmentQuery};
use crate::modules::auth::resolvers::{AuthMutation, AuthQuery};
use crate::modules::clinic::resolvers::ClinicQuery;
use crate::modules::doctor::resolvers::{DoctorMutation, DoctorQuery};
use crate::modules::patient::resolvers::{PatientMutation, PatientQuery};
use crate::modules::prescription::resolvers::{PrescriptionMutation, PrescriptionQuery};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    AuthQuery,
    ClinicQuery,
    PatientQuery,
    DoctorQuery,
    AppointmentQuery,
    PrescriptionQuery,
    NodeQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    AuthMutation,
    PatientMutation,
    DoctorMutation,
    AppointmentMutation,
    PrescriptionMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// How the schema behaves for one deployment.
#[derive(Debug, Clone, Copy)]
pub struct SchemaSettings {
    /// "Did you mean …" hints help developers and help attackers map the schema.
    pub suggestions: bool,
}

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
}

/// The schema with every service reachable from resolvers through the context.
pub fn build_schema(services: &Services, settings: SchemaSettings) -> AppSchema {
    let mut builder = builder()
        .data(services.auth.clone())
        .data(services.clinics.clone())
        .data(services.patients.clone())
        .data(services.doctors.clone())
        .data(services.appointments.clone())
        .data(services.prescriptions.clone());
    if !settings.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
