//! `dtm0`: check the DTM0 model, browse it in stateright's explorer.

use clap::{Parser, Subcommand, ValueEnum};
use dtm0::check::{self, RunOpts};
use dtm0::config::{ModelSpec, Strategy};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "dtm0",
    version,
    about = "Model checker and explorer for DTM0, the distributed transaction manager of CORTX Motr",
    long_about = "Model checker and explorer for DTM0, the distributed transaction manager of CORTX Motr.\n\n\
Models are TOML files (see models/). `dtm0 check` explores a model's state space and reports every \
property of PROTOCOL.md (S1-S9, L1-L3) with its reachability witness; `dtm0 explore` serves \
stateright's web explorer to browse states and counterexamples step by step.\n\n\
Exit codes: 0 every property holds and every witness was reached; 1 a property is violated or a \
witness was not reached; 2 bad input (model file, flag, address)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum StrategyArg {
    /// Breadth-first (keeps whole states in its queue: memory-hungry)
    Bfs,
    /// Depth-first (small memory; finds deep bugs fast)
    Dfs,
    /// Random walks: a sample, never a proof
    Sim,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check every property of a model and print the verdicts
    #[command(
        long_about = "Check every property of a model and print the verdicts.\n\n\
Prints progress lines on standard error during long runs, then one line per property: its \
verdict and whether its reachability witness was found. A run is EXHAUSTIVE when it explored \
every state within the model's crash budgets; otherwise it says BOUNDED and why (time or depth \
limit, simulation). A violation comes with a shortest counterexample in protocol terms and the \
explorer path that opens it."
    )]
    Check {
        /// Model file (default: models/seed.toml)
        model: Option<PathBuf>,
        /// Search strategy (default: the model's [check] strategy, else dfs)
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
        /// Worker threads (default: the model's, else 2)
        #[arg(long)]
        threads: Option<usize>,
        /// Stop exploring below this depth (makes the run bounded)
        #[arg(long)]
        max_depth: Option<usize>,
        /// Stop after this many seconds (makes the run bounded if reached)
        #[arg(long)]
        timeout: Option<u64>,
        /// Explore up to renaming of interchangeable participants (dfs, sim)
        #[arg(long)]
        symmetry: bool,
        /// Protocol variant to apply on top of the model's (repeatable); see `dtm0 variants`
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
        /// Print the report as JSON on standard output
        #[arg(long)]
        json: bool,
        /// Explore actions in a seeded random order (dfs): better at finding
        /// bugs in bounded runs; verdicts of exhaustive runs do not change
        #[arg(long)]
        random_order: bool,
        /// Seed of the random walks (sim) and of --random-order
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Serve stateright's web explorer for a model
    #[command(long_about = "Serve stateright's web explorer for a model.\n\n\
Open the printed URL in a browser; a counterexample printed by `dtm0 check` opens at \
URL#/steps/<path>. The explorer's JSON API is GET /.states/<path>.")]
    Explore {
        /// Model file (default: models/seed.toml)
        model: Option<PathBuf>,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
        /// Protocol variant to apply on top of the model's (repeatable)
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
    },
    /// List the protocol variants a model or --variant can name
    #[command(
        long_about = "List the protocol variants a model file (`variants = [...]`) or \
`dtm0 check --variant NAME` can name, with what each one changes. The defaults are the \
correct protocol: the tombstone rule, no skipping in restore rounds, STABLE at the first P \
notice, and the own-redo fix when pruning is on."
    )]
    Variants,
}

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Check {
            model,
            strategy,
            threads,
            max_depth,
            timeout,
            symmetry,
            variants,
            json,
            random_order,
            seed,
        } => {
            let spec = load(model, &variants)?;
            if threads == Some(0) {
                return Err("--threads: must be at least 1".into());
            }
            let strategy = match strategy {
                Some(StrategyArg::Bfs) => Strategy::Bfs,
                Some(StrategyArg::Dfs) => Strategy::Dfs,
                Some(StrategyArg::Sim) => Strategy::Sim,
                None => spec.check.strategy.unwrap_or_default(),
            };
            let opts = RunOpts {
                strategy,
                threads: threads.or(spec.check.threads).unwrap_or(2),
                max_depth: max_depth.or(spec.check.max_depth),
                timeout: timeout.or(spec.check.timeout_secs).map(Duration::from_secs),
                symmetry: symmetry || spec.check.symmetry.unwrap_or(false),
                progress: true,
                seed,
                random_order: random_order || spec.check.order == Some(dtm0::config::Order::Random),
            };
            if opts.strategy == Strategy::Sim && opts.timeout.is_none() && opts.max_depth.is_none()
            {
                return Err("--strategy sim: give --timeout or --max-depth (random walks never end by themselves)".into());
            }
            let report = check::run(&spec, &opts)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", check::text(&report));
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Explore {
            model,
            addr,
            variants,
        } => {
            let spec = load(model, &variants)?;
            let listener = std::net::TcpListener::bind(&addr)
                .map_err(|e| format!("--addr {addr}: cannot listen: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            drop(listener);
            println!("explorer for model {} at http://{bound}/", spec.name);
            println!("(a counterexample path P opens at http://{bound}/#/steps/P; Ctrl-C stops)");
            use stateright::Model;
            dtm0::model::build(&spec).checker().serve(bound);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Variants => {
            for (name, what) in dtm0::cluster::VARIANT_NAMES {
                println!("{name:<26} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
