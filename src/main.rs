use std::process::ExitCode;

// Profiling the nested-page benchmark (perf, cpu-clock) put a third of the server's time in
// glibc's malloc and free; mimalloc is the measured fix (see bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use clinicgraph::cli::{Cli, Command};
use clinicgraph::config::Config;

/// mimalloc's `mi_option_arena_eager_commit` (`mimalloc.h`, v2 and v3 alike): the Rust bindings
/// name only some of its options.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// On Linux (an OS that overcommits) mimalloc commits each arena it reserves up front, and the
/// memory it frees stays resident. Committed as used and given back when freed, the server's
/// peak RSS under the benchmark's load fell by a third or more (q3 60–63 to 37–43 MB, q2 70 to
/// 46 MB) for the same requests per second (`bench/README.md`). Elsewhere that is mimalloc's default.
extern "C" fn commit_memory_as_used() {
    // SAFETY: sets an option value; no pointers, no other state.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) }
}

/// An ELF constructor: it runs before `main` and before the Rust runtime's first allocation,
/// which reserves mimalloc's first arena (set in `main`, the option came too late to matter).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_MEMORY_AS_USED: extern "C" fn() = commit_memory_as_used;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // The schema needs no configuration, so CI and contributors can print it anywhere.
    if matches!(command, Command::Schema) {
        print!("{}", clinicgraph::schema::sdl());
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
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.enable_all().build() {
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
