//! The command line: `serve` (the default), `migrate`, `schema`, `persisted-queries`, `seed`,
//! `clinic`, `user`, `backup`, `restore`.
use std::io::BufRead;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::app_state;
use crate::config::Config;
use crate::core::auth::Role;
use crate::db::{self, DbPool};
use crate::events::EventBus;
use crate::jobs::queue::NoQueue;
use crate::jobs::{self, JobContext, JobQueue};
use crate::modules::auth::service::NewAccount;
use crate::modules::clinic::model::NewClinic;
use crate::modules::registry::{Repositories, Services};
use crate::redis::Redis;
use crate::seed;
use crate::shared::Shared;
use crate::storage::FileStorage;

#[derive(Debug, Parser)]
#[command(name = "clinicgraph", version, about = "A GraphQL API for clinics")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (what runs when no command is given).
    Serve,
    /// Run the background-job workers only (scaled apart from the API).
    Worker,
    /// Apply pending database migrations.
    Migrate,
    /// Print the GraphQL schema (SDL) to stdout.
    Schema,
    /// Print the allow-list for PERSISTED_QUERIES_ONLY: each file is one document, exactly as
    /// the client sends it, keyed by its SHA-256.
    PersistedQueries {
        /// `.graphql` files of the client's operations.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Add demo data or bulk synthetic patients (not in production).
    Seed(SeedArgs),
    /// Manage clinics.
    #[command(subcommand)]
    Clinic(ClinicCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Snapshot the database into the file store (FILES_DIR or FILES_URL, under `backups/`),
    /// keeping the newest BACKUP_KEEP; prints the snapshot's name. SQLite: VACUUM INTO;
    /// PostgreSQL: pg_dump (custom format); MySQL/MariaDB: mariadb-dump or mysqldump (one
    /// transaction). Every clinic's data is in it: an operator's command (run it from cron or
    /// a systemd timer), which no account of the API can start.
    Backup {
        /// Print the names of the snapshots in the store, oldest first, instead.
        #[arg(long)]
        list: bool,
    },
    /// Restore a snapshot made by `backup` into the (empty) database of DATABASE_URL.
    Restore {
        /// The snapshot: its name in the file store, as `backup` printed it, or a file.
        snapshot: String,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct SeedArgs {
    /// The demo clinic, doctors, patients and accounts (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// This many synthetic patients, for benchmarks.
    #[arg(long)]
    pub patients: Option<usize>,
    /// The clinic that receives --patients (default: the demo clinic).
    #[arg(long, requires = "patients")]
    pub clinic_id: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ClinicCommand {
    /// Create a clinic and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// IANA time zone of the clinic.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read as one line from stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// ADMIN, DOCTOR, NURSE, RECEPTIONIST or PATIENT.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        clinic_id: i64,
        /// For a PATIENT account: the numeric key of a patient record of the same clinic.
        #[arg(long)]
        patient_id: Option<i64>,
    },
    /// Set an account's password, read as one line from stdin, and end all its sessions.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Give a staff account another staff role; its sessions carry the new role within
    /// seconds.
    SetRole {
        #[arg(long)]
        email: String,
        /// ADMIN, DOCTOR, NURSE or RECEPTIONIST.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Stop an account signing in, and end its sessions (refused within seconds).
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Let a disabled account sign in again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// End an account for good: it cannot sign in, its name and password are erased and its
    /// email address is free for a new account.
    Delete {
        #[arg(long)]
        email: String,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

/// Runs the chosen command with a validated configuration.
pub async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    // These print what is there without reading any sealed value. (Backups are sealed in
    // the local file store, so `backup` and `restore` need the keys.)
    let keyless = matches!(command, Command::Schema | Command::PersistedQueries { .. });
    if !keyless && let Some(path) = config.keep_development_keys()? {
        tracing::warn!(
            path = %path.display(),
            "DATA_KEYS is not set: made a development key in this file, which encrypts health \
             data from now on; without it that data cannot be read"
        );
    }
    match command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Migrate => {
            let applied = crate::migrate::run(&config.database_url, &*config.data_keys()?).await?;
            println!("applied {applied} migration(s)");
            Ok(())
        }
        Command::Schema => {
            print!("{}", crate::schema::sdl());
            Ok(())
        }
        Command::PersistedQueries { files } => {
            let mut list = std::collections::BTreeMap::new();
            for file in files {
                let document = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                list.insert(crate::persisted::hash(&document), document);
            }
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        Command::Seed(args) => seed_command(config, args).await,
        Command::Clinic(ClinicCommand::Create { name, timezone }) => {
            let services = open(&config).await?;
            let name = name.trim().to_owned();
            anyhow::ensure!(
                (1..=200).contains(&name.chars().count()),
                "--name must be 1 to 200 characters"
            );
            let now = db::now();
            let clinic = services
                .clinics
                .create(NewClinic {
                    name,
                    timezone,
                    address: None,
                    phone: None,
                    created_at: now,
                    updated_at: now,
                })
                .await?;
            println!("{}", clinic.id);
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            name,
            role,
            clinic_id,
            patient_id,
        }) => {
            let services = open(&config).await?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let user = services
                .auth
                .create_account(NewAccount {
                    clinic_id,
                    email,
                    name,
                    role,
                    password,
                    patient_id,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{}", user.id);
            Ok(())
        }
        Command::User(UserCommand::SetPassword { email }) => {
            let services = open(&config).await?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            services
                .auth
                .reset_password(&email, password)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("password set for {email}; its sessions have ended");
            Ok(())
        }
        Command::User(UserCommand::SetRole { email, role }) => {
            let services = open(&config).await?;
            let user = services
                .auth
                .set_role(&email, role)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{email} is {}", user.role.as_str());
            Ok(())
        }
        Command::User(UserCommand::Disable { email }) => {
            let services = open(&config).await?;
            services
                .auth
                .set_disabled(&email, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("disabled {email}");
            Ok(())
        }
        Command::User(UserCommand::Enable { email }) => {
            let services = open(&config).await?;
            services
                .auth
                .set_disabled(&email, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("enabled {email}");
            Ok(())
        }
        Command::User(UserCommand::Delete { email }) => {
            let services = open(&config).await?;
            services
                .auth
                .delete_account(&email)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("deleted {email}");
            Ok(())
        }
        Command::Backup { list } => {
            let files = file_store(&config)?;
            if list {
                for name in jobs::backup::list(&files).await? {
                    println!("{name}");
                }
                return Ok(());
            }
            let pool = DbPool::connect(&config.database_url, 1).await?;
            let done = jobs::backup::run(
                &config.database_url,
                &pool,
                &files,
                &config.jobs.backup_dir,
                config.jobs.backup_keep,
            )
            .await?;
            println!("{}", done["file"].as_str().unwrap_or_default());
            Ok(())
        }
        Command::Restore { snapshot } => {
            let files = file_store(&config)?;
            jobs::backup::restore_named(
                &config.database_url,
                &files,
                &config.jobs.backup_dir,
                &snapshot,
            )
            .await?;
            println!("restored {snapshot}");
            Ok(())
        }
    }
}

/// The file store of `config`, for the commands that need nothing else.
fn file_store(config: &Config) -> anyhow::Result<FileStorage> {
    FileStorage::open(&config.files.location, &config.data_keys()?)
}

/// The services of an operator's command; the repositories are only wiring for them.
async fn open(config: &Config) -> anyhow::Result<Services> {
    let pool = DbPool::connect(&config.database_url, config.db_pool_size).await?;
    if config.migrate_on_start {
        crate::migrate::run(&config.database_url, &*config.data_keys()?).await?;
    }
    Services::new(
        config,
        &Repositories::diesel(&pool, &config.data_keys()?),
        &Shared::for_commands(&config.shared),
        Arc::new(NoQueue),
    )
}

async fn seed_command(config: Config, args: SeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.is_production(),
        "seeding is refused in production (APP_ENV=production)"
    );
    let services = open(&config).await?;
    if args.demo {
        match seed::demo(&services).await? {
            seed::DemoSeed::Created { .. } => print_demo_accounts(None),
            seed::DemoSeed::AlreadyPresent => println!("demo data already present"),
        }
    }
    if let Some(count) = args.patients {
        let clinic_id = match args.clinic_id {
            // Checked first: the rows would otherwise fail on their foreign key, unexplained.
            Some(id) => {
                services
                    .clinics
                    .find(id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no clinic {id}"))?
                    .id
            }
            None => {
                services
                    .clinics
                    .find_by_name(seed::DEMO_CLINIC)
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no demo clinic: run `seed --demo` first or pass --clinic-id"
                        )
                    })?
                    .id
            }
        };
        seed::bulk_patients(&services, clinic_id, count).await?;
        println!("added {count} patients to clinic {clinic_id}");
    }
    Ok(())
}

fn print_demo_accounts(graphiql_url: Option<&str>) {
    println!(
        "Demo data created. Accounts (password: {}):",
        seed::DEMO_PASSWORD
    );
    for (email, _, role) in seed::DEMO_ACCOUNTS {
        println!("  {email:<24} {}", role.as_str());
    }
    if let Some(url) = graphiql_url {
        println!("GraphiQL: {url}");
    }
}

async fn serve(mut config: Config) -> anyhow::Result<()> {
    if let Some(path) = config.keep_development_secret()? {
        tracing::warn!(
            path = %path.display(),
            "JWT_SECRET is not set: signing tokens with the development secret kept in this file"
        );
    }
    let pool = DbPool::connect(&config.database_url, config.db_pool_size).await?;
    if config.migrate_on_start {
        let applied = crate::migrate::run(&config.database_url, &*config.data_keys()?).await?;
        tracing::info!(applied, backend = pool.backend_name(), "migrations checked");
    }
    let shared = Shared::from_config(&config)?;
    let audit_pool = DbPool::connect(&config.database_url, crate::app::AUDIT_POOL_SIZE).await?;
    let session_pool = DbPool::connect(&config.database_url, crate::app::SESSION_POOL_SIZE).await?;
    let repos = Repositories::cached(&pool, &shared.cache, &config.data_keys()?)
        .with_audit_pool(&audit_pool)
        .with_session_pool(&session_pool)
        .with_job_events(&shared.events);
    let queue = JobQueue::open(&config).await?;
    let services = Services::new(&config, &repos, &shared, Arc::new(queue.clone()))?;
    let shutdown = shutdown_signal()?;
    // One signal stops both the server and the in-process workers.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let listener = TcpListener::bind(config.bind_addr).await?;
    let address = listener.local_addr()?;
    let graphiql_url = format!("http://{address}/graphql");
    if config.env == crate::config::AppEnv::Development
        && !services
            .auth
            .any_users()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
    {
        if let seed::DemoSeed::Created { .. } = seed::demo(&services).await? {
            print_demo_accounts(config.graphiql.then_some(graphiql_url.as_str()));
        }
    } else if config.graphiql {
        println!("GraphiQL: {graphiql_url}");
    }
    // After the demo seed, so its clinic's nightly report is scheduled from the start.
    let workers = if config.jobs.workers_in_process {
        let context = JobContext::new(&config, &pool, &services, Arc::new(queue.clone()))?;
        let mut stopping = stopping.clone();
        Some(tokio::spawn(jobs::run_workers(
            queue.clone(),
            context,
            async move {
                let _ = stopping.changed().await;
            },
        )))
    } else {
        None
    };
    let statistics_pool = pool.clone();
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            if let Err(error) = statistics_pool.optimize().await {
                tracing::warn!(%error, "refreshing SQLite planner statistics");
            }
        }
    });
    let state = app_state(&config, pool, &services, &shared);
    if let Some(metrics_addr) = config.metrics_addr {
        let listener = TcpListener::bind(metrics_addr).await?;
        tracing::info!(address = %listener.local_addr()?, "metrics listening");
        let metrics = crate::http::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, metrics).await {
                tracing::error!(%error, "metrics server stopped");
            }
        });
    }
    if config.metrics_addr.is_none() && !config.metrics_on_api_port {
        tracing::info!("/metrics is not served: set METRICS_ADDR to scrape it");
    }
    let app = crate::http::router(state);
    let audit = services.audit_writer.clone();
    tracing::info!(%address, redis = shared.redis.is_some(), "clinicgraph listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    // Requests have finished; what they recorded must reach the database before we exit.
    audit.flush().await;
    if let Some(workers) = workers {
        match workers.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(error = format!("{error:#}"), "job workers"),
            Err(error) => tracing::error!(%error, "job workers panicked"),
        }
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// `clinicgraph worker`: the workers without the API, until SIGTERM or Ctrl-C; the jobs in
/// hand finish first.
async fn worker(config: Config) -> anyhow::Result<()> {
    let pool = DbPool::connect(&config.database_url, config.db_pool_size).await?;
    if config.migrate_on_start {
        crate::migrate::run(&config.database_url, &*config.data_keys()?).await?;
    }
    let events = match &config.shared.redis_url {
        Some(url) => EventBus::publisher(Redis::new(url, &config.shared.redis_prefix)?),
        // Without Redis nothing reaches the API's subscribers; they poll the job instead.
        None => EventBus::in_process(),
    };
    let repos = Repositories::diesel(&pool, &config.data_keys()?).with_job_events(&events);
    let queue = JobQueue::open(&config).await?;
    let shutdown = shutdown_signal()?;
    tracing::info!(
        redis = config.shared.redis_url.is_some(),
        "job workers running"
    );
    let shared = Shared {
        events,
        ..Shared::for_commands(&config.shared)
    };
    let services = Services::new(&config, &repos, &shared, Arc::new(queue.clone()))?;
    let context = JobContext::new(&config, &pool, &services, Arc::new(queue.clone()))?;
    jobs::run_workers(queue, context, shutdown).await?;
    tracing::info!("job workers stopped cleanly");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server exits. The
/// handlers are installed when this is called, before the server announces itself, so a signal
/// sent right after start-up is not lost.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received: finishing in-flight requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received: finishing in-flight requests");
    })
}
