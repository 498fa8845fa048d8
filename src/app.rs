//! Wiring: repositories into services into the schema and router. The only place that knows
//! which implementation backs which trait.
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::core::auth::TokenService;
use crate::db::DbPool;
use crate::graphql::build_schema;
use crate::graphql::schema::{SchemaServices, SchemaSettings};
use crate::http::AppState;
use crate::modules::auth::repository::{DieselUserRepository, UserRepository};
use crate::modules::auth::service::AuthService;
use crate::modules::clinic::repository::{ClinicRepository, DieselClinicRepository};
use crate::modules::doctor::repository::{DieselDoctorRepository, DoctorRepository};
use crate::modules::patient::repository::{DieselPatientRepository, PatientRepository};
use crate::modules::patient::service::PatientService;

/// Every repository, behind its trait.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub clinics: Arc<dyn ClinicRepository>,
    pub doctors: Arc<dyn DoctorRepository>,
    pub patients: Arc<dyn PatientRepository>,
}

impl Repositories {
    pub fn diesel(pool: &DbPool) -> Self {
        Self {
            users: Arc::new(DieselUserRepository::new(pool.clone())),
            clinics: Arc::new(DieselClinicRepository::new(pool.clone())),
            doctors: Arc::new(DieselDoctorRepository::new(pool.clone())),
            patients: Arc::new(DieselPatientRepository::new(pool.clone())),
        }
    }
}

/// Every service, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub tokens: Arc<TokenService>,
    pub auth: Arc<AuthService>,
    pub patients: Arc<PatientService>,
}

impl Services {
    pub fn new(config: &Config, repositories: &Repositories) -> anyhow::Result<Self> {
        let tokens = Arc::new(TokenService::new(
            &config.auth.jwt_secret,
            config.auth.token_ttl,
        ));
        Ok(Self {
            auth: Arc::new(AuthService::new(
                repositories.users.clone(),
                tokens.clone(),
            )?),
            patients: Arc::new(PatientService::new(
                repositories.patients.clone(),
                repositories.doctors.clone(),
            )),
            tokens,
        })
    }
}

/// The state the router serves from.
pub fn app_state(config: &Config, pool: DbPool, services: &Services) -> AppState {
    let schema = build_schema(
        SchemaServices {
            auth: services.auth.clone(),
            patients: services.patients.clone(),
        },
        SchemaSettings {
            suggestions: !config.is_production(),
        },
    );
    AppState {
        schema,
        tokens: services.tokens.clone(),
        pool,
        graphiql: config.graphiql,
        started_at: Instant::now(),
    }
}
