//! The registries of repositories and services, built once at start-up. They sit above the
//! feature modules they list, so no module needs them: a module names only the services and
//! repository traits it depends on.
use std::sync::Arc;

use crate::cache::EntityCache;
use crate::config::Config;
use crate::core::auth::TokenService;
use crate::core::sealing::DataKeys;
use crate::db::DbPool;
use crate::events::EventBus;
use crate::modules::appointment::Appointments;
use crate::modules::appointment::repository::{AppointmentRepository, DieselAppointmentRepository};
use crate::modules::appointment::service::AppointmentService;
use crate::modules::audit::repository::{AuditRepository, DieselAuditRepository};
use crate::modules::audit::service::AuditService;
use crate::modules::audit::writer::AuditWriter;
use crate::modules::auth::repository::{DieselUserRepository, UserRepository};
use crate::modules::auth::service::AuthService;
use crate::modules::auth::session::refresh_token::RefreshTokens;
use crate::modules::auth::session::repository::{DieselSessionRepository, SessionRepository};
use crate::modules::auth::session::service::SessionService;
use crate::modules::clinic::repository::{ClinicRepository, DieselClinicRepository};
use crate::modules::clinic::service::ClinicService;
use crate::modules::doctor::repository::{DieselDoctorRepository, DoctorRepository};
use crate::modules::doctor::service::DoctorService;
use crate::modules::file::repository::{DieselFileRepository, FileRepository};
use crate::modules::file::service::FileService;
use crate::modules::job::published::PublishedJobRepository;
use crate::modules::job::repository::{DieselJobRepository, JobRepository};
use crate::modules::job::service::{JobService, JobSink};
use crate::modules::nested::NestedRepository;
use crate::modules::patient::repository::{DieselPatientRepository, PatientRepository};
use crate::modules::patient::service::PatientService;
use crate::modules::prescription::Prescriptions;
use crate::modules::prescription::repository::{
    DieselPrescriptionRepository, PrescriptionRepository,
};
use crate::modules::prescription::service::PrescriptionService;
use crate::modules::report::repository::{DieselReportRepository, ReportRepository};
use crate::modules::report::service::ReportService;
use crate::shared::Shared;
use crate::storage::FileStorage;

/// Every repository, behind its trait.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub clinics: Arc<dyn ClinicRepository>,
    pub doctors: Arc<dyn DoctorRepository>,
    pub patients: Arc<dyn PatientRepository>,
    pub appointments: Arc<dyn AppointmentRepository>,
    pub prescriptions: Arc<dyn PrescriptionRepository>,
    /// The nested lists of appointments and of prescriptions.
    pub appointment_lists: Arc<NestedRepository<Appointments>>,
    pub prescription_lists: Arc<NestedRepository<Prescriptions>>,
    pub audit: Arc<dyn AuditRepository>,
    pub jobs: Arc<dyn JobRepository>,
    pub reports: Arc<dyn ReportRepository>,
    pub files: Arc<dyn FileRepository>,
}

impl Repositories {
    /// Straight to the database (commands that only write, such as seeding).
    pub fn diesel(pool: &DbPool, keys: &Arc<DataKeys>) -> Self {
        Self {
            users: Arc::new(DieselUserRepository::new(pool.clone())),
            sessions: Arc::new(DieselSessionRepository::new(pool.clone())),
            clinics: Arc::new(DieselClinicRepository::new(pool.clone())),
            doctors: Arc::new(DieselDoctorRepository::new(pool.clone())),
            patients: Arc::new(DieselPatientRepository::new(pool.clone(), keys.clone())),
            appointments: Arc::new(DieselAppointmentRepository::new(pool.clone(), keys.clone())),
            prescriptions: Arc::new(DieselPrescriptionRepository::new(
                pool.clone(),
                keys.clone(),
            )),
            appointment_lists: Arc::new(NestedRepository::new(pool.clone())),
            prescription_lists: Arc::new(NestedRepository::new(pool.clone())),
            audit: Arc::new(DieselAuditRepository::new(pool.clone())),
            jobs: Arc::new(DieselJobRepository::new(pool.clone())),
            reports: Arc::new(DieselReportRepository::new(pool.clone())),
            files: Arc::new(DieselFileRepository::new(pool.clone(), keys.clone())),
        }
    }

    /// The audit trail written through a pool of its own, so the background writer never takes
    /// a connection a request is waiting for (nor shows up in a request's statements).
    pub fn with_audit_pool(mut self, pool: &DbPool) -> Self {
        self.audit = Arc::new(DieselAuditRepository::new(pool.clone()));
        self
    }

    /// Sessions checked and written through a pool of their own: a request's authentication
    /// never waits behind other requests' queries for a connection, and a query's statements
    /// are its own (the check is at most one read per session per instance per second).
    pub fn with_session_pool(mut self, pool: &DbPool) -> Self {
        self.sessions = Arc::new(DieselSessionRepository::new(pool.clone()));
        self
    }

    /// Job changes announced on `events`, for `jobUpdated` subscribers.
    pub fn with_job_events(mut self, events: &EventBus) -> Self {
        self.jobs = Arc::new(PublishedJobRepository::new(self.jobs, events.clone()));
        self
    }

    /// Reads by id through the entity cache; writes invalidate it.
    pub fn cached(pool: &DbPool, cache: &EntityCache, keys: &Arc<DataKeys>) -> Self {
        let cache = cache.clone();
        Self {
            clinics: Arc::new(DieselClinicRepository::cached(pool.clone(), cache.clone())),
            doctors: Arc::new(DieselDoctorRepository::cached(pool.clone(), cache.clone())),
            patients: Arc::new(DieselPatientRepository::cached(
                pool.clone(),
                cache.clone(),
                keys.clone(),
            )),
            appointments: Arc::new(DieselAppointmentRepository::cached(
                pool.clone(),
                cache,
                keys.clone(),
            )),
            ..Self::diesel(pool, keys)
        }
    }
}

/// Every service, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub tokens: Arc<TokenService>,
    pub auth: Arc<AuthService>,
    pub sessions: Arc<SessionService>,
    pub clinics: Arc<ClinicService>,
    pub patients: Arc<PatientService>,
    pub doctors: Arc<DoctorService>,
    pub appointments: Arc<AppointmentService>,
    pub prescriptions: Arc<PrescriptionService>,
    pub audit: Arc<AuditService>,
    /// Stores what requests recorded in the audit trail.
    pub audit_writer: AuditWriter,
    pub jobs: Arc<JobService>,
    pub reports: Arc<ReportService>,
    /// Patients' photos and documents.
    pub files: Arc<FileService>,
    /// The file store (`FILES_DIR` or `FILES_URL`): patients' files, exports, reports.
    pub storage: FileStorage,
    /// Opens sealed fields for those who may read them (`core::sealing`).
    pub keys: Arc<DataKeys>,
}

impl Services {
    /// Must run inside the Tokio runtime: it starts the audit writer.
    pub fn new(
        config: &Config,
        repositories: &Repositories,
        shared: &Shared,
        queue: Arc<dyn JobSink>,
    ) -> anyhow::Result<Self> {
        let tokens = Arc::new(TokenService::new(
            &config.auth.jwt_secret,
            config.auth.token_ttl,
        ));
        let doctors = Arc::new(DoctorService::new(
            repositories.doctors.clone(),
            repositories.users.clone(),
        ));
        let keys = config.data_keys()?;
        let patients = Arc::new(PatientService::new(
            repositories.patients.clone(),
            doctors.clone(),
            keys.clone(),
        ));
        let jobs = Arc::new(JobService::new(
            repositories.jobs.clone(),
            queue,
            shared.events.clone(),
            patients.clone(),
        ));
        let appointments = Arc::new(AppointmentService::new(
            repositories.appointments.clone(),
            repositories.appointment_lists.clone(),
            patients.clone(),
            doctors.clone(),
            shared.events.clone(),
            jobs.clone(),
        ));
        let prescriptions = Arc::new(PrescriptionService::new(
            repositories.prescriptions.clone(),
            repositories.prescription_lists.clone(),
            patients.clone(),
            appointments.clone(),
            doctors.clone(),
        ));
        let sessions = Arc::new(SessionService::new(
            repositories.sessions.clone(),
            repositories.users.clone(),
            tokens.clone(),
            RefreshTokens::new(&config.auth.jwt_secret),
            config.auth.sessions,
        ));
        let storage = FileStorage::open(&config.files.location, &keys)?;
        let files = Arc::new(FileService::new(
            repositories.files.clone(),
            patients.clone(),
            jobs.clone(),
            shared.events.clone(),
            keys.clone(),
            storage.clone(),
            config,
        ));
        Ok(Self {
            files,
            storage,
            auth: Arc::new(AuthService::new(
                repositories.users.clone(),
                patients.clone(),
                sessions.clone(),
                shared.limiter.clone(),
            )?),
            sessions,
            clinics: Arc::new(ClinicService::new(repositories.clinics.clone())),
            patients,
            doctors,
            appointments,
            prescriptions,
            audit: Arc::new(AuditService::new(repositories.audit.clone())),
            audit_writer: AuditWriter::start(repositories.audit.clone()),
            jobs: jobs.clone(),
            reports: Arc::new(ReportService::new(repositories.reports.clone())),
            tokens,
            keys,
        })
    }
}
