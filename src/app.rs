//! Wiring: repositories into services into the schema and router. The only place that knows
//! which implementation backs which trait.
use std::sync::Arc;
use std::time::Instant;

use crate::cache::{EntityCache, MemoryStore, RedisStore};
use crate::config::{Config, DatabaseUrl, SharedStateConfig};
use crate::core::auth::TokenService;
use crate::db::DbPool;
use crate::events::EventBus;
use crate::graphql::Schemas;
use crate::graphql::documents::ParsedDocuments;
use crate::graphql::schema::{SchemaSettings, build_subscription_schema};
use crate::http::{AppParts, AppState, SocketCaps};
use crate::jobs::export::LocalExports;
use crate::modules::appointment::cached::CachedAppointmentRepository;
use crate::modules::appointment::repository::{AppointmentRepository, DieselAppointmentRepository};
use crate::modules::appointment::service::AppointmentService;
use crate::modules::audit::repository::{AuditRepository, DieselAuditRepository};
use crate::modules::audit::service::AuditService;
use crate::modules::audit::writer::AuditWriter;
use crate::modules::auth::repository::{DieselUserRepository, UserRepository};
use crate::modules::auth::service::AuthService;
use crate::modules::clinic::cached::CachedClinicRepository;
use crate::modules::clinic::repository::{ClinicRepository, DieselClinicRepository};
use crate::modules::clinic::service::ClinicService;
use crate::modules::doctor::cached::CachedDoctorRepository;
use crate::modules::doctor::repository::{DieselDoctorRepository, DoctorRepository};
use crate::modules::doctor::service::DoctorService;
use crate::modules::job::published::PublishedJobRepository;
use crate::modules::job::repository::{DieselJobRepository, JobRepository};
use crate::modules::job::service::{JobService, JobSink};
use crate::modules::patient::cached::CachedPatientRepository;
use crate::modules::patient::repository::{DieselPatientRepository, PatientRepository};
use crate::modules::patient::service::PatientService;
use crate::modules::prescription::repository::{
    DieselPrescriptionRepository, PrescriptionRepository,
};
use crate::modules::prescription::service::PrescriptionService;
use crate::modules::report::repository::{DieselReportRepository, ReportRepository};
use crate::persisted::PersistedQueries;
use crate::ratelimit::RateLimiter;
use crate::redis::Redis;

/// Every repository, behind its trait.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub clinics: Arc<dyn ClinicRepository>,
    pub doctors: Arc<dyn DoctorRepository>,
    pub patients: Arc<dyn PatientRepository>,
    pub appointments: Arc<dyn AppointmentRepository>,
    pub prescriptions: Arc<dyn PrescriptionRepository>,
    pub audit: Arc<dyn AuditRepository>,
    pub jobs: Arc<dyn JobRepository>,
    pub reports: Arc<dyn ReportRepository>,
}

impl Repositories {
    /// Straight to the database (commands that only write, such as seeding).
    pub fn diesel(pool: &DbPool) -> Self {
        Self {
            users: Arc::new(DieselUserRepository::new(pool.clone())),
            clinics: Arc::new(DieselClinicRepository::new(pool.clone())),
            doctors: Arc::new(DieselDoctorRepository::new(pool.clone())),
            patients: Arc::new(DieselPatientRepository::new(pool.clone())),
            appointments: Arc::new(DieselAppointmentRepository::new(pool.clone())),
            prescriptions: Arc::new(DieselPrescriptionRepository::new(pool.clone())),
            audit: Arc::new(DieselAuditRepository::new(pool.clone())),
            jobs: Arc::new(DieselJobRepository::new(pool.clone())),
            reports: Arc::new(DieselReportRepository::new(pool.clone())),
        }
    }

    /// The audit trail written through a pool of its own, so the background writer never takes
    /// a connection a request is waiting for (nor shows up in a request's statements).
    pub fn with_audit_pool(mut self, pool: &DbPool) -> Self {
        self.audit = Arc::new(DieselAuditRepository::new(pool.clone()));
        self
    }

    /// Job changes announced on `events`, for `jobUpdated` subscribers.
    pub fn with_job_events(mut self, events: &EventBus) -> Self {
        self.jobs = Arc::new(PublishedJobRepository::new(self.jobs, events.clone()));
        self
    }

    /// Reads by id through the entity cache; writes invalidate it.
    pub fn cached(pool: &DbPool, cache: &EntityCache) -> Self {
        let direct = Self::diesel(pool);
        Self {
            clinics: Arc::new(CachedClinicRepository::new(direct.clinics, cache.clone())),
            doctors: Arc::new(CachedDoctorRepository::new(direct.doctors, cache.clone())),
            patients: Arc::new(CachedPatientRepository::new(direct.patients, cache.clone())),
            appointments: Arc::new(CachedAppointmentRepository::new(
                direct.appointments,
                cache.clone(),
            )),
            ..direct
        }
    }
}

/// What instances share, through Redis when it is configured and in process otherwise.
#[derive(Clone)]
pub struct Shared {
    pub redis: Option<Redis>,
    pub cache: EntityCache,
    pub events: EventBus,
    pub limiter: Arc<RateLimiter>,
}

/// Connections of the audit writer's pool: it writes one batch at a time, and a second
/// connection serves `auditEvents` reads meanwhile.
pub const AUDIT_POOL_SIZE: u32 = 2;

/// Entries the in-process cache holds at most (a few hundred bytes each).
const MEMORY_CACHE_ENTRIES: u64 = 100_000;

impl Shared {
    /// Must run inside the Tokio runtime: with Redis, it starts the event relay.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        // Installed before anything counts, so no early failure goes uncounted.
        crate::telemetry::metrics();
        let shared = &config.shared;
        let redis = shared
            .redis_url
            .as_ref()
            .map(|url| Redis::new(url, &shared.redis_prefix))
            .transpose()?;
        // Without Redis, a cache in this process is only safe when no other process writes:
        // the embedded SQLite file, or an operator's word for a single PostgreSQL instance.
        let single_process =
            matches!(config.database_url, DatabaseUrl::Sqlite(_)) || shared.cache_in_process;
        let cache = match &redis {
            Some(redis) => {
                EntityCache::new(Arc::new(RedisStore::new(redis.clone())), shared.cache_ttl)
            }
            None if single_process => EntityCache::new(
                Arc::new(MemoryStore::new(MEMORY_CACHE_ENTRIES)),
                shared.cache_ttl,
            ),
            None => {
                tracing::info!(
                    "entity cache off: PostgreSQL without REDIS_URL may be shared by several \
                     instances (set REDIS_URL, or CACHE_IN_PROCESS=true for a single instance)"
                );
                EntityCache::disabled()
            }
        };
        Ok(Self {
            cache,
            events: match &redis {
                Some(redis) => EventBus::shared(redis.clone()),
                None => EventBus::in_process(),
            },
            limiter: Arc::new(RateLimiter::new(shared.limits, redis.clone())),
            redis,
        })
    }

    /// For one-off commands (seeding, accounts): nothing cached, nobody listening.
    pub fn for_commands(config: &SharedStateConfig) -> Self {
        Self {
            redis: None,
            cache: EntityCache::disabled(),
            events: EventBus::in_process(),
            limiter: Arc::new(RateLimiter::new(config.limits, None)),
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
    pub audit: Arc<AuditService>,
    /// Stores what requests recorded in the audit trail.
    pub audit_writer: AuditWriter,
    pub jobs: Arc<JobService>,
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
        let patients = Arc::new(PatientService::new(
            repositories.patients.clone(),
            repositories.doctors.clone(),
        ));
        let jobs = Arc::new(JobService::new(
            repositories.jobs.clone(),
            queue,
            shared.events.clone(),
            patients.clone(),
        ));
        Ok(Self {
            auth: Arc::new(AuthService::new(
                repositories.users.clone(),
                repositories.patients.clone(),
                tokens.clone(),
                shared.limiter.clone(),
            )?),
            clinics: Arc::new(ClinicService::new(repositories.clinics.clone())),
            patients,
            doctors: Arc::new(DoctorService::new(
                repositories.doctors.clone(),
                repositories.users.clone(),
            )),
            appointments: Arc::new(AppointmentService::new(
                repositories.appointments.clone(),
                repositories.patients.clone(),
                repositories.doctors.clone(),
                shared.events.clone(),
                jobs.clone(),
            )),
            prescriptions: Arc::new(PrescriptionService::new(
                repositories.prescriptions.clone(),
                repositories.patients.clone(),
                repositories.appointments.clone(),
                repositories.doctors.clone(),
            )),
            audit: Arc::new(AuditService::new(repositories.audit.clone())),
            audit_writer: AuditWriter::start(repositories.audit.clone()),
            jobs: jobs.clone(),
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
    shared: &Shared,
) -> AppState {
    let settings = SchemaSettings {
        suggestions: !config.is_production(),
        limits: config.limits,
        resolver_spans: config.observability.otlp_endpoint.is_some(),
    };
    AppParts {
        schemas: Schemas::build(services, settings),
        subscription_schema: build_subscription_schema(services, settings),
        tokens: services.tokens.clone(),
        repositories: repositories.clone(),
        pool,
        graphiql: config.graphiql,
        started_at: Instant::now(),
        shared: shared.clone(),
        trust_forwarded_for: config.shared.limits.trust_forwarded_for,
        limits: config.limits,
        websocket: config.websocket,
        sockets: SocketCaps::new(&config.websocket),
        cors_origins: config.cors_origins.clone(),
        metrics_on_api_port: config.metrics_on_api_port,
        audit: services.audit_writer.clone(),
        documents: ParsedDocuments::default(),
        jobs: services.jobs.clone(),
        exports: Arc::new(LocalExports::new(config.jobs.export_dir.clone())),
        export_ttl: config.jobs.export_ttl,
        error_reports: config.observability.sentry_dsn.is_some(),
        persisted: Arc::new(PersistedQueries::new(
            shared.redis.clone(),
            config.persisted_allow_list.as_deref().cloned(),
        )),
    }
    .into()
}
