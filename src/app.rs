//! Wiring: repositories into services into the schema and router. The only place that knows
//! which implementation backs which trait.
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::core::auth::TokenService;
use crate::db::DbPool;
use crate::graphql::build_schema;
use crate::graphql::schema::SchemaSettings;
use crate::http::AppState;
use crate::modules::appointment::repository::{AppointmentRepository, DieselAppointmentRepository};
use crate::modules::appointment::service::AppointmentService;
use crate::modules::auth::repository::{DieselUserRepository, UserRepository};
use crate::modules::auth::service::AuthService;
use crate::modules::clinic::repository::{ClinicRepository, DieselClinicRepository};
use crate::modules::clinic::service::ClinicService;
use crate::modules::doctor::repository::{DieselDoctorRepository, DoctorRepository};
use crate::modules::doctor::service::DoctorService;
use crate::modules::patient::repository::{DieselPatientRepository, PatientRepository};
use crate::modules::patient::service::PatientService;
use crate::modules::prescription::repository::{
    DieselPrescriptionRepository, PrescriptionRepository,
};
use crate::modules::prescription::service::PrescriptionService;

/// Every repository, behind its trait.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub clinics: Arc<dyn ClinicRepository>,
    pub doctors: Arc<dyn DoctorRepository>,
    pub patients: Arc<dyn PatientRepository>,
    pub appointments: Arc<dyn AppointmentRepository>,
    pub prescriptions: Arc<dyn PrescriptionRepository>,
}

impl Repositories {
    pub fn diesel(pool: &DbPool) -> Self {
        Self {
            users: Arc::new(DieselUserRepository::new(pool.clone())),
            clinics: Arc::new(DieselClinicRepository::new(pool.clone())),
            doctors: Arc::new(DieselDoctorRepository::new(pool.clone())),
            patients: Arc::new(DieselPatientRepository::new(pool.clone())),
            appointments: Arc::new(DieselAppointmentRepository::new(pool.clone())),
            prescriptions: Arc::new(DieselPrescriptionRepository::new(pool.clone())),
        }
    }
}

/// Every service, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub tokens: Arc<TokenService>,
    pub auth: Arc<AuthService>,
    pub clinics: Arc<ClinicService>,
    pub patients: Arc<PatientService>,
    pub doctors: Arc<DoctorService>,
    pub appointments: Arc<AppointmentService>,
    pub prescriptions: Arc<PrescriptionService>,
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
            clinics: Arc::new(ClinicService::new(repositories.clinics.clone())),
            patients: Arc::new(PatientService::new(
                repositories.patients.clone(),
                repositories.doctors.clone(),
            )),
            doctors: Arc::new(DoctorService::new(
                repositories.doctors.clone(),
                repositories.users.clone(),
            )),
            appointments: Arc::new(AppointmentService::new(
                repositories.appointments.clone(),
                repositories.patients.clone(),
                repositories.doctors.clone(),
            )),
            prescriptions: Arc::new(PrescriptionService::new(
                repositories.prescriptions.clone(),
                repositories.patients.clone(),
                repositories.appointments.clone(),
                repositories.doctors.clone(),
            )),
            tokens,
        })
    }
}

/// The state the router serves from.
pub fn app_state(
    config: &Config,
    pool: DbPool,
    repositories: &Repositories,
    services: &Services,
) -> AppState {
    let schema = build_schema(
        services,
        SchemaSettings {
            suggestions: !config.is_production(),
        },
    );
    AppState {
        schema,
        tokens: services.tokens.clone(),
        repositories: repositories.clone(),
        pool,
        graphiql: config.graphiql,
        started_at: Instant::now(),
    }
}
