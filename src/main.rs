use std::process::ExitCode;

// Profiling the nested-page benchmark (perf, cpu-clock) put a third of the server's time in
// glibc's malloc and free; mimalloc is the measured fix (see bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use clinicgraph::cli::{Cli, Command};
use clinicgraph::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // The schema needs no configuration, so CI and contributors can print it anywhere.
    if matches!(command, Command::Schema) {
        print!("{}", clinicgraph::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(2);
        }
    };
    // Outside the runtime: the exporters flush with blocking calls when this guard drops, after
    // the runtime (and every request in it) has finished.
    let telemetry = match clinicgraph::telemetry::init(&config) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: telemetry: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(clinicgraph::cli::run(command, config));
    drop(runtime);
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "clinicgraph failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    };
    drop(telemetry);
    code
}
