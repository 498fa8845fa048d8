//! Builds the schema from the modules' roots; limits and settings are decided here only.
use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use super::node::NodeQuery;
use crate::modules::auth::resolvers::{AuthMutation, AuthQuery};
use crate::modules::auth::service::AuthService;
use crate::modules::patient::resolvers::{PatientMutation, PatientQuery};
use crate::modules::patient::service::PatientService;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(AuthQuery, PatientQuery, NodeQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(AuthMutation, PatientMutation);

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

/// The services every resolver reaches through the context.
pub struct SchemaServices {
    pub auth: Arc<AuthService>,
    pub patients: Arc<PatientService>,
}

pub fn build_schema(services: SchemaServices, settings: SchemaSettings) -> AppSchema {
    let mut builder = builder().data(services.auth).data(services.patients);
    if !settings.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
