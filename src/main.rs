use std::process::ExitCode;

// Profiling the nested-page benchmark (perf, cpu-clock) put a third of the server's time in
// glibc's malloc and free; mimalloc is the measured fix (see bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use clinicgraph::cli::{Cli, Command};
use clinicgraph::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
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
    clinicgraph::telemetry::init(config.log_format);
    match clinicgraph::cli::run(command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "clinicgraph failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
