//! `dtm0`: check the DTM0 model, browse it in stateright's explorer.

mod args;
mod bench;
mod check;
mod explore;
mod golden;
mod live_cmd;
mod live_seed;
mod nemesis;
mod nemesis_judge;
mod properties;
mod report;
mod results;
mod scenario;
mod trace;
mod variants;

use args::{Cli, ClusterCmd, Cmd, ScenarioName};
use clap::Parser;
use dtm0::model::file::ModelSpec;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

fn default_model() -> PathBuf {
    let local = PathBuf::from("models/seed.toml");
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/seed.toml")
}

fn load(model: Option<PathBuf>, variants: &[String]) -> Result<ModelSpec, String> {
    let path = model.unwrap_or_else(default_model);
    ModelSpec::load(&path)?.with_variants(variants)
}

/// mimalloc: the checker allocates and frees a state per transition; glibc
/// malloc was a fifth of the profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses the command line. Help and version print as clap writes them;
/// a usage error is one line (clap's first line, with the possible values
/// when it lists them) and exit 2.
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            Err(ExitCode::from(2))
        }
        Err(e) => {
            let text = e.render().to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("error: bad command line");
            let values = lines.find(|l| l.starts_with("[possible values:"));
            match values {
                Some(v) => eprintln!("{first} {v}; see --help"),
                None => eprintln!("{first}; see --help"),
            }
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if !matches!(
        cli.cmd,
        Cmd::Explore { .. } | Cmd::Cluster(_) | Cmd::Node { .. } | Cmd::Ha { .. }
    ) {
        // A reader that closes early (`dtm0 trace FILE | head`) ends the
        // process quietly, as for any Unix filter, instead of a panic in
        // println!. The servers keep Rust's default (write errors).
        // SAFETY: resetting a signal's disposition at start, before any
        // thread is spawned.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Each subcommand to its handler.
fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Golden {
            write,
            semantic_only,
            models,
        } => golden::run(write, semantic_only, models),
        Cmd::Check(a) => check::run(a),
        Cmd::Explore {
            model,
            addr,
            variants,
            network,
        } => explore::run(model, &addr, &variants, network),
        Cmd::Scenario {
            name: ScenarioName::Seed,
            model,
            variants,
            finish,
            json,
            live,
            verbose,
        } => scenario::run(model, &variants, finish, json, live, verbose),
        Cmd::Trace {
            file,
            property,
            json,
        } => trace::run(&file, property.as_deref(), json),
        Cmd::Cluster(ClusterCmd::Up {
            cluster,
            data,
            faults,
            allow_mutants,
        }) => live_cmd::up(cluster, data, faults, allow_mutants),
        Cmd::Node {
            cluster,
            id,
            data,
            faults,
            allow_mutants,
            repair,
            first_boot,
        } => {
            let boot = dtm0::live::boot::Boot {
                repair,
                first_boot,
                ..Default::default()
            };
            live_cmd::node(cluster, &id, data, faults, allow_mutants, &boot)
        }
        Cmd::Ha {
            cluster,
            data,
            faults,
            allow_mutants,
        } => live_cmd::node(
            cluster,
            "ha",
            data,
            faults,
            allow_mutants,
            &Default::default(),
        ),
        Cmd::Client {
            cluster,
            slot,
            data,
            wait,
            timeout,
            json,
            clock_lag,
            op,
        } => live_cmd::client(
            cluster,
            slot,
            data,
            op.into(),
            live_cmd::ClientOpts {
                wait: wait.into(),
                json,
                timeout: Duration::from_secs(timeout),
                clock_lag: Duration::from_millis(clock_lag),
            },
        ),
        Cmd::Inspect {
            cluster,
            id,
            all,
            json,
        } => live_cmd::inspect(cluster, id, all, json),
        Cmd::Bench(b) => bench::run(b),
        Cmd::Nemesis {
            cluster,
            duration,
            seed,
            faults,
            variants,
            keys,
            history,
            json,
            schedule_only,
        } => nemesis::run(nemesis::Args {
            cluster,
            duration,
            seed,
            faults,
            variants,
            keys,
            history,
            json,
            schedule_only,
        }),
        Cmd::Variants => variants::run(),
        Cmd::Properties { ids } => properties::run(&ids),
        Cmd::Keygen { file, force } => {
            dtm0::live::auth::keygen(&file, force)?;
            println!(
                "wrote a cluster key to {} (mode 0600); name it in the cluster file: key = \"{}\"",
                file.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
