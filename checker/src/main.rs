//! `dtm0`: check the DTM0 model, browse it in stateright's explorer.

mod live_cmd;
mod live_seed;

use clap::{Parser, Subcommand, ValueEnum};
use dtm0::engine::check::{self, RunOpts};
use dtm0::model::file::{ModelSpec, NetworkKind, Strategy};
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
enum ReductionArg {
    /// Our reduced DFS: persistent sets over independent actions (different
    /// actors), plus sleep sets with --threads 1; same verdicts as `none`
    Por,
    /// stateright's own checker, no reduction (uses every --threads)
    None,
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

#[derive(Clone, Copy, ValueEnum)]
enum NetworkArg {
    /// Per pair, messages arrive in send order (Motr's RPC)
    Ordered,
    /// Any order, each message delivered at most once
    Unordered,
    /// Any order, and a message may be delivered again
    Duplicating,
    /// Any order, and a message may be lost
    Lossy,
}

impl From<NetworkArg> for NetworkKind {
    fn from(n: NetworkArg) -> NetworkKind {
        match n {
            NetworkArg::Ordered => NetworkKind::Ordered,
            NetworkArg::Unordered => NetworkKind::Unordered,
            NetworkArg::Duplicating => NetworkKind::Duplicating,
            NetworkArg::Lossy => NetworkKind::Lossy,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    /// Verdicts, then each counterexample as a list of steps
    Text,
    /// Verdicts, then each counterexample as the seed's events-and-states table
    Table,
    /// The whole report as JSON
    Json,
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Start HA and every participant of the cluster file as local processes
    #[command(
        long_about = "Start HA and every participant of the cluster file as local processes on \
the file's loopback addresses, print where each listens, and stop them all on Ctrl-C. Each \
participant keeps its durable log in DATA/<name>."
    )]
    Up {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Data directory (one subdirectory per participant)
        #[arg(long, default_value = "dtm0-data")]
        data: PathBuf,
        /// Start every node with the fault layer on
        #[arg(long)]
        faults: bool,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Throughput, time-to-STABLE and restart time of a live 3-participant cluster
    #[command(
        long_about = "Measure the live prototype on loopback: a 3-participant cluster of \
processes with real fsync. Throughput: CLIENTS originator slots in parallel, each running \
incarnations of BATCH puts and waiting for STABLE. Time-to-STABLE unloaded: one dtx at a time, \
from its issue to the first PERSISTENT notice. Restart time: a participant log of N records \
replayed by a real node start. Prints the figures and writes them as JSON with --out."
    )]
    Live {
        /// Length of the throughput run
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Parallel originator slots
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Dtxs per client incarnation
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Distinct keys written
        #[arg(long, default_value_t = 1024)]
        keys: u32,
        /// Unloaded time-to-STABLE samples
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Log lengths for the restart measure (comma-separated)
        #[arg(long, default_value = "1000,10000,100000", value_delimiter = ',')]
        logs: Vec<usize>,
        /// Group-commit delay of the participants
        #[arg(long, default_value_t = 1)]
        commit_delay_ms: u64,
        /// Where the cluster keeps its logs during the run
        #[arg(long, default_value = "dtm0-data")]
        data: PathBuf,
        /// Write the figures as JSON here
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum WaitArg {
    /// One participant executed it
    Executed,
    /// One participant made it persistent
    Stable,
    /// Every participant made it persistent
    Done,
}

#[derive(Subcommand)]
enum ClientOp {
    /// Write KEY (k1, k2, ...) = VALUE (an unsigned integer)
    Put { key: String, value: u64 },
    /// Delete KEY (writes a tombstone)
    Del { key: String },
    /// Read KEY from the ONLINE participants
    Get { key: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum ScenarioName {
    /// 3pa-and-originator-failure: PUTs, reboots of p1, p3 and o1, DELs, REDOs
    Seed,
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
explorer path that opens it.\n\n\
DFS runs use our reduced search by default (--reduction por: persistent sets, plus sleep sets \
with --threads 1); --reduction none runs stateright's checker; --compare runs both and prints \
the reduction factor. --all runs every model of models/ and every mutant and rewrites results/."
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
        /// Partial-order reduction for dfs runs: por (default) or none; see README, "Partial-order reduction"
        #[arg(long, value_enum, value_name = "KIND")]
        reduction: Option<ReductionArg>,
        /// Run again without reduction and print the reduction factor
        #[arg(long)]
        compare: bool,
        /// Protocol variant to apply on top of the model's (repeatable); see `dtm0 variants`
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
        /// Print the report as JSON on standard output (same as --format json)
        #[arg(long)]
        json: bool,
        /// Output format: text, table (counterexamples as the seed's table), json
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Save the counterexamples to FILE (JSON), to show later with `dtm0 trace FILE`
        #[arg(long, value_name = "FILE")]
        save_trace: Option<PathBuf>,
        /// Override the model's network
        #[arg(long, value_enum)]
        network: Option<NetworkArg>,
        /// Explore actions in a seeded random order (dfs): better at finding
        /// bugs in bounded runs; verdicts of exhaustive runs do not change
        #[arg(long)]
        random_order: bool,
        /// Seed of the random walks (sim) and of --random-order
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run every model of models/ against its expected verdict and every mutant of
        /// models/mutants.toml (must be caught); write results/results.json, RESULTS.md, states.svg
        #[arg(long, conflicts_with_all = ["model", "strategy", "variants", "symmetry", "save_trace", "max_depth", "network", "format", "random_order"])]
        all: bool,
        /// With --all: where to write the results (default: results/ beside models/)
        #[arg(long)]
        results: Option<PathBuf>,
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
        /// Override the model's network
        #[arg(long, value_enum)]
        network: Option<NetworkArg>,
    },
    /// Show a counterexample saved by `dtm0 check --save-trace` as the seed's table
    #[command(
        long_about = "Show a counterexample saved by `dtm0 check --save-trace FILE` as the \
seed's events-and-states table.\n\n\
The trace file holds the model's text, its variants and network, and each path as events; the \
path is replayed through the model's actors and must give the same path as when it was saved \
(a trace from another version of the protocol is refused). Prints the table, the final \
catalogues, every property's verdict on the path, and the explorer command and path.\n\n\
Exit codes: 0 shown; 2 unreadable trace, or it no longer replays."
    )]
    Trace {
        /// Trace file written by `dtm0 check --save-trace`
        file: PathBuf,
        /// Show only the path violating this property (S1..S9, L1..L3)
        #[arg(long)]
        property: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Replay a scenario (the seed) through the model's actors, as the seed's table
    #[command(
        long_about = "Replay a scenario through the model's own actors and print it as the \
seed's events-and-states table.\n\n\
`seed` is the story of 3pa-and-originator-failure.txt (PROTOCOL.md section 8) on models/seed.toml \
over an unordered network: o1's PUTs, p2's stuck requests, p3's reordering, the three \
committed(R1), the reboots of p1, p3 and o1, HA's notices, o2's DELs, the REDOs, their execution. \
Every step is an action of the stateright model, so the path also opens in the explorer (the \
command and path are printed). With --finish the replay goes on past the seed's end (PERSISTENT \
notices, EOLs, recovery) until nothing is left to deliver, and checks every property there.\n\n\
Exit codes: 0 every property holds on the path; 1 a property is violated; 2 bad input."
    )]
    Scenario {
        /// The scenario to replay (only `seed`)
        #[arg(value_enum)]
        name: ScenarioName,
        /// Model file the scenario runs on (default: models/seed.toml)
        #[arg(long)]
        model: Option<PathBuf>,
        /// Protocol variant to apply on top of the model's (repeatable); see `dtm0 variants`
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
        /// Go on past the seed's end until nothing is left to deliver
        #[arg(long)]
        finish: bool,
        /// Print the steps, the final state and the verdicts as JSON
        #[arg(long)]
        json: bool,
        /// Run the story on a real local cluster of processes (kill -9, restarts, UDP) instead of the model
        #[arg(long)]
        live: bool,
        /// With --live: show the driver's steps and the nodes' logs on stderr
        #[arg(long)]
        verbose: bool,
    },
    /// Run a live cluster (HA and every participant) as local processes
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Run one participant (or originator slot) of a live cluster
    #[command(
        long_about = "Run one participant of a live cluster as this process, on the address the \
cluster file gives it, with its durable log in DIR (replayed at start; a torn tail is cut). \
Runs until Ctrl-C or SIGTERM; kill -9 is a crash, and the next start is a restart (a new \
incarnation that recovers through REDO/EOL). Logs through RUST_LOG (default info)."
    )]
    Node {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Which process: p1, p2, ...
        #[arg(long)]
        id: String,
        /// Data directory (the durable log)
        #[arg(long)]
        data: Option<PathBuf>,
        /// Accept fault-layer commands (hold/drop/release messages, hold commits): for tests and drivers
        #[arg(long)]
        faults: bool,
    },
    /// Run the HA service of a live cluster
    #[command(
        long_about = "Run the HA service of a live cluster: it turns restarts (by incarnation \
number) and heartbeat timeouts into TRANSIENT/RECOVERING/ONLINE and broadcasts every change to \
every process. It keeps no storage (the spec's HA never fails)."
    )]
    Ha {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Accept fault-layer commands
        #[arg(long)]
        faults: bool,
    },
    /// One originator incarnation of a live cluster: put, del, get
    #[command(
        long_about = "One originator incarnation of a live cluster. `put` and `del` come up as \
the next incarnation of the originator slot (its counter lives in --data), issue one dtx to every \
participant, print its txid and version, and return when it is EXECUTED (or STABLE with --wait \
stable). `get` reads every ONLINE participant and prints the highest version (a tombstone reads as \
deleted).\n\nExit codes: 0 done; 2 bad input, or the cluster did not answer in time."
    )]
    Client {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long, global = true)]
        cluster: Option<PathBuf>,
        /// Originator slot to use (default: the first in the cluster file)
        #[arg(long, global = true)]
        slot: Option<String>,
        /// Where the slot's incarnation counter is kept
        #[arg(long, global = true, default_value = "dtm0-data/clients")]
        data: PathBuf,
        /// Wait until the dtx is EXECUTED (default) or STABLE
        #[arg(long, global = true, value_enum, default_value = "executed")]
        wait: WaitArg,
        /// Give up after this many seconds
        #[arg(long, global = true, default_value_t = 10)]
        timeout: u64,
        /// Print JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        op: ClientOp,
    },
    /// Dump a live node's catalogue, log (with I/V/P) and HA view
    Inspect {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Which process: p1, p2, ..., ha
        #[arg(long)]
        id: Option<String>,
        /// Every participant and HA
        #[arg(long)]
        all: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (`bench live`: the live prototype on loopback)
    #[command(subcommand)]
    Bench(BenchCmd),
    /// List the protocol variants a model or --variant can name
    #[command(
        long_about = "List the protocol variants a model file (`variants = [...]`) or \
`dtm0 check --variant NAME` can name, with what each one changes. The defaults are the \
correct protocol: the tombstone rule, no skipping in restore rounds, STABLE at the first P \
notice, and the own-redo fix when pruning is on."
    )]
    Variants,
    /// Measure or check the golden state counts (tests/golden-counts.toml)
    #[command(
        long_about = "Run the plain and the reduced search to the end on every exhaustive model \
of models/ and print their unique-state and terminal-state counts next to the golden file's \
(tests/golden-counts.toml; `cargo test` checks the same). A refactor must not move them. With \
--write, rewrite the file: only for a change meant to move the counts, whose commit says which \
moved and why.\n\nExit codes: 0 every count as in the file (or written); 1 a count moved; 2 bad input."
    )]
    Golden {
        /// Rewrite the golden file with the counts measured now
        #[arg(long)]
        write: bool,
        /// Models directory (default: models/ beside the golden file)
        #[arg(long)]
        models: Option<PathBuf>,
    },
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

/// mimalloc: the checker allocates and frees a state per transition; glibc
/// malloc was a fifth of the profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Cmd::Golden { write, models } => golden(write, models),
        Cmd::Check {
            model,
            strategy,
            threads,
            max_depth,
            timeout,
            symmetry,
            reduction,
            compare,
            variants,
            json,
            format,
            save_trace,
            network,
            random_order,
            seed,
            all,
            results,
        } => {
            if all {
                return check_all(threads, timeout, json, results);
            }
            let mut spec = load(model, &variants)?;
            if let Some(n) = network {
                spec.network = n.into();
            }
            let format = match (json, format) {
                (true, Some(f)) if f != FormatArg::Json => {
                    return Err("--json and --format: give one of them".into())
                }
                (true, _) => FormatArg::Json,
                (false, f) => f.unwrap_or(FormatArg::Text),
            };
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
                random_order: random_order
                    || spec.check.order == Some(dtm0::model::file::Order::Random),
                stop_at: Vec::new(),
                reduction: match reduction {
                    Some(ReductionArg::None) => check::Reduction::None,
                    _ => check::Reduction::Por,
                },
            };
            if opts.strategy == Strategy::Sim && opts.timeout.is_none() && opts.max_depth.is_none()
            {
                return Err("--strategy sim: give --timeout or --max-depth (random walks never end by themselves)".into());
            }
            let mut report = check::run(&spec, &opts)?;
            if compare {
                eprintln!("--compare: running again with --reduction none");
                check::compare(&spec, &opts, &mut report)?;
            }
            let m = dtm0::model::build(&spec);
            let paths: Vec<(&str, Vec<dtm0::model::Action>)> = report
                .properties
                .iter()
                .filter_map(|p| p.counterexample.as_ref().map(|c| (p.id, c.actions.clone())))
                .collect();
            if let Some(file) = &save_trace {
                if paths.is_empty() {
                    eprintln!(
                        "--save-trace: no counterexample to save; {} not written",
                        file.display()
                    );
                } else {
                    let refs: Vec<(&str, &[dtm0::model::Action])> =
                        paths.iter().map(|(id, a)| (*id, a.as_slice())).collect();
                    let t = dtm0::model::trace::TraceFile::new(&spec, &m, &refs)?;
                    let text = serde_json::to_string_pretty(&t).map_err(|e| e.to_string())?;
                    std::fs::write(file, text + "\n").map_err(|e| {
                        format!("--save-trace {}: cannot write: {e}", file.display())
                    })?;
                    eprintln!(
                        "saved {} counterexample(s) to {}; show with: dtm0 trace {}",
                        paths.len(),
                        file.display(),
                        file.display()
                    );
                }
            }
            match format {
                FormatArg::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                ),
                FormatArg::Text => print!("{}", check::text(&report)),
                FormatArg::Table => {
                    print!("{}", check::text_summary(&report));
                    for (id, actions) in &paths {
                        let states = dtm0::model::replay(&m, actions)
                            .ok_or("a counterexample does not replay")?;
                        println!("\ncounterexample for {id} ({} steps):", actions.len());
                        print!(
                            "{}",
                            dtm0::model::table::text(&dtm0::model::table::blocks_of_path(
                                m.cfg(),
                                &states,
                                actions
                            ))
                        );
                    }
                }
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
            network,
        } => {
            let mut spec = load(model, &variants)?;
            if let Some(n) = network {
                spec.network = n.into();
            }
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
        Cmd::Scenario {
            name: ScenarioName::Seed,
            model,
            variants,
            finish,
            json,
            live,
            verbose,
        } => {
            if live {
                live_seed(model, &variants, json, verbose)
            } else {
                scenario_seed(model, &variants, finish, json)
            }
        }
        Cmd::Trace {
            file,
            property,
            json,
        } => show_trace(&file, property.as_deref(), json),
        Cmd::Cluster(ClusterCmd::Up {
            cluster,
            data,
            faults,
        }) => live_cmd::up(cluster, data, faults),
        Cmd::Node {
            cluster,
            id,
            data,
            faults,
        } => live_cmd::node(cluster, &id, data, faults),
        Cmd::Ha { cluster, faults } => live_cmd::node(cluster, "ha", None, faults),
        Cmd::Client {
            cluster,
            slot,
            data,
            wait,
            timeout,
            json,
            op,
        } => {
            let cmd = match op {
                ClientOp::Put { key, value } => live_cmd::ClientCmd::Put { key, value },
                ClientOp::Del { key } => live_cmd::ClientCmd::Del { key },
                ClientOp::Get { key } => live_cmd::ClientCmd::Get { key },
            };
            live_cmd::client(
                cluster,
                slot,
                data,
                cmd,
                match wait {
                    WaitArg::Executed => dtm0::live::client::Wait::Executed,
                    WaitArg::Stable => dtm0::live::client::Wait::Stable,
                    WaitArg::Done => dtm0::live::client::Wait::Done,
                },
                json,
                Duration::from_secs(timeout),
            )
        }
        Cmd::Inspect {
            cluster,
            id,
            all,
            json,
        } => live_cmd::inspect(cluster, id, all, json),
        Cmd::Bench(BenchCmd::Live {
            seconds,
            clients,
            batch,
            keys,
            samples,
            logs,
            commit_delay_ms,
            data,
            out,
        }) => {
            if clients == 0 || batch == 0 || keys == 0 {
                return Err("--clients, --batch and --keys must be at least 1".into());
            }
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let opts = dtm0::live::bench::BenchOpts {
                seconds,
                clients,
                batch,
                keys,
                latency_samples: samples,
                log_lengths: logs,
                commit_delay_ms,
                data,
            };
            let r = dtm0::live::bench::run(&exe, &opts)?;
            let j = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
            println!("{j}");
            if let Some(f) = out {
                std::fs::write(&f, j + "\n").map_err(|e| format!("--out {}: {e}", f.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Variants => {
            for (name, what) in dtm0::protocol::cluster::VARIANT_NAMES {
                println!("{name:<26} {what}");
            }
            println!("\nmutants (deliberately broken; the checker must catch each, see models/mutants.toml):");
            for (name, _, what) in dtm0::protocol::cluster::MUTANTS {
                println!("{name:<26} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn scenario_seed(
    model: Option<PathBuf>,
    variants: &[String],
    finish: bool,
    json: bool,
) -> Result<ExitCode, String> {
    use dtm0::model::scenario;
    let shown = model
        .as_ref()
        .map_or("models/seed.toml".to_string(), |p| p.display().to_string());
    let mut spec = load(model, variants)?;
    spec.network = dtm0::model::file::NetworkKind::Unordered;
    let m = dtm0::model::build(&spec);
    let r = scenario::replay(&m, scenario::SEED, finish)?;
    let verdicts = scenario::verdicts(&m, &r.states);
    let ok = verdicts.iter().all(|v| v.holds);
    let explore = format!(
        "dtm0 explore {shown} --network unordered{}",
        variants
            .iter()
            .map(|v| format!(" --variant {v}"))
            .collect::<String>()
    );
    let path = dtm0::model::explorer_path(&m, &r.states[0], &r.actions);
    let fin = scenario::final_kvs(&m, &r);
    if json {
        let out = serde_json::json!({
            "scenario": "seed",
            "model": spec.name,
            "network": "unordered",
            "variants": spec.cluster.variants.names(),
            "finish": finish,
            "settled": r.settled,
            "quiescent": dtm0::model::properties::quiescent(&m, r.states.last().unwrap()),
            "steps": r.blocks,
            "final": fin,
            "properties": verdicts,
            "explorer": {"command": explore, "path": path},
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", dtm0::model::table::text(&r.blocks));
        println!(
            "\nfinal state ({} steps{}):",
            r.actions.len(),
            if r.settled { ", settled" } else { "" }
        );
        print_final(&fin);
        println!("properties:");
        for v in &verdicts {
            println!("  {}", v.text());
        }
        println!("explorer: {explore}, then open #/steps/{path}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn show_trace(file: &Path, property: Option<&str>, json: bool) -> Result<ExitCode, String> {
    let t = dtm0::model::trace::TraceFile::read(file)?;
    let (spec, m) = dtm0::model::trace::model(&t)?;
    let paths: Vec<&dtm0::model::trace::TracePath> = t
        .paths
        .iter()
        .filter(|p| property.is_none_or(|want| p.property.eq_ignore_ascii_case(want)))
        .collect();
    if paths.is_empty() {
        let have: Vec<&str> = t.paths.iter().map(|p| p.property.as_str()).collect();
        return Err(format!(
            "--property {}: no such path in {} (it has: {})",
            property.unwrap_or(""),
            file.display(),
            have.join(", ")
        ));
    }
    let explore = format!(
        "dtm0 explore models/{}.toml --network {}{}",
        spec.name,
        serde_json::to_value(spec.network)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        t.variants
            .iter()
            .map(|v| format!(" --variant {v}"))
            .collect::<String>()
    );
    let mut out = Vec::new();
    for p in paths {
        let (actions, states) =
            dtm0::model::trace::replay(&m, p).map_err(|e| format!("{}: {e}", file.display()))?;
        let blocks = dtm0::model::table::blocks_of_path(m.cfg(), &states, &actions);
        let verdicts = dtm0::model::scenario::verdicts(&m, &states);
        let fin = dtm0::model::table::final_kvs(m.cfg(), states.last().unwrap());
        if json {
            out.push(serde_json::json!({
                "property": p.property,
                "steps": blocks,
                "final": fin,
                "properties": verdicts,
                "explorer": {"command": explore, "path": p.explorer_path},
            }));
        } else {
            println!(
                "counterexample for {} on model {} ({} steps):",
                p.property,
                spec.name,
                actions.len()
            );
            print!("{}", dtm0::model::table::text(&blocks));
            println!("properties on this path:");
            for v in &verdicts {
                println!("  {}", v.text());
            }
            println!(
                "explorer: {explore}, then open #/steps/{}\n",
                p.explorer_path
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"model": spec.name, "paths": out}))
                .map_err(|e| e.to_string())?
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn live_seed(
    model: Option<PathBuf>,
    variants: &[String],
    json: bool,
    verbose: bool,
) -> Result<ExitCode, String> {
    if verbose {
        live_cmd::init_logs("info");
    }
    let spec = load(model, variants)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let r = live_seed::run(&exe, &spec, verbose)?;
    let ok = r.properties.iter().all(|v| v.holds);
    if json {
        let out = serde_json::json!({
            "scenario": "seed",
            "live": true,
            "variants": spec.cluster.variants.names(),
            "quiescent": r.quiescent,
            "seconds": r.seconds,
            "driver": r.steps,
            "final": r.final_kvs,
            "properties": r.properties,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        println!("live seed on a local cluster ({:.2}s):", r.seconds);
        for s in &r.steps {
            println!("  {s}");
        }
        println!(
            "final state ({}):",
            if r.quiescent {
                "quiescent"
            } else {
                "NOT quiescent"
            }
        );
        print_final(&r.final_kvs);
        println!("properties (the model's, on the live final state):");
        for v in &r.properties {
            println!("  {}", v.text());
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_all(
    threads: Option<usize>,
    timeout: Option<u64>,
    json: bool,
    results: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let dir = default_model()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("models"));
    let results = results.unwrap_or_else(|| {
        dir.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(PathBuf::from("results"), |p| p.join("results"))
    });
    let results = results.as_path();
    let opts = dtm0::engine::suite::SuiteOpts {
        threads: threads.unwrap_or(2),
        timeout: timeout.map(Duration::from_secs),
        progress: false,
        // SAFETY: mi_collect only returns freed memory to the system.
        release_memory: || unsafe { libmimalloc_sys::mi_collect(true) },
    };
    let mut log = |e: &dtm0::engine::suite::Entry| {
        eprintln!(
            "{:<6} {:<14} {:<26} {:>10} unique {:>8.1}s {:<10} {}",
            e.kind,
            e.model,
            e.variant.as_deref().unwrap_or("-"),
            e.unique_states,
            e.seconds,
            if e.exhaustive {
                "exhaustive"
            } else {
                "bounded"
            },
            if e.met { "ok" } else { "NOT MET" }
        );
    };
    let entries = dtm0::engine::suite::run_all(&dir, &opts, &mut log)?;
    std::fs::create_dir_all(results).map_err(|e| format!("{}: {e}", results.display()))?;
    let live: Option<serde_json::Value> = std::fs::read_to_string(results.join("live-bench.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let write = |name: &str, text: String| {
        let p = results.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let j = serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?;
    write("results.json", j.clone() + "\n")?;
    write(
        "RESULTS.md",
        dtm0::engine::suite::markdown(&entries, live.as_ref()),
    )?;
    write("states.svg", dtm0::engine::suite::svg(&entries))?;
    let ok = entries.iter().all(|e| e.met);
    if json {
        println!("{j}");
    } else {
        let mutants = entries.iter().filter(|e| e.kind == "mutant").count();
        let killed = entries
            .iter()
            .filter(|e| e.kind == "mutant" && e.met)
            .count();
        println!(
            "{} runs, {} met their expectation; mutants caught {killed}/{mutants}; wrote {}/RESULTS.md, results.json, states.svg",
            entries.len(),
            entries.iter().filter(|e| e.met).count(),
            results.display()
        );
        for e in entries.iter().filter(|e| !e.met) {
            println!(
                "NOT MET: {} {} (expected {})",
                e.model,
                e.variant.as_deref().unwrap_or(""),
                e.expected
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Each participant's final catalogue, one line each.
fn print_final(fin: &std::collections::BTreeMap<String, dtm0::model::table::FinalKv>) {
    for (p, f) in fin {
        let kv = |m: &std::collections::BTreeMap<String, dtm0::protocol::types::Ts>| {
            m.iter()
                .map(|(k, v)| format!("{k}@{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  {p} ({}): live {{{}}}, tombstones {{{}}}",
            f.ha,
            kv(&f.live),
            kv(&f.tombstones)
        );
    }
}

fn golden(write: bool, models: Option<PathBuf>) -> Result<ExitCode, String> {
    let root = default_model()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dir = models.unwrap_or_else(|| root.join("models"));
    let file = dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("tests/golden-counts.toml");
    let old = dtm0::engine::golden::read(&file).unwrap_or_default();
    let mut new = dtm0::engine::golden::GoldenFile::default();
    let mut moved = false;
    for spec in dtm0::engine::golden::pinned_models(&dir)? {
        let c = dtm0::engine::golden::measure(&spec)?;
        let was = old.model.iter().find(|o| o.model == c.model);
        let same = was == Some(&c);
        moved |= !same;
        println!(
            "{:<16} plain {:>9} unique {:>6} terminal  reduced {:>9} unique {:>6} terminal  {}",
            c.model,
            c.plain_unique,
            c.plain_terminal,
            c.reduced_unique,
            c.reduced_terminal,
            match was {
                None => "new".to_string(),
                Some(_) if same => "as in the file".to_string(),
                Some(w) => format!(
                    "MOVED (file: plain {}/{}, reduced {}/{})",
                    w.plain_unique, w.plain_terminal, w.reduced_unique, w.reduced_terminal
                ),
            }
        );
        new.model.push(c);
    }
    moved |= new.model.len() != old.model.len();
    if write {
        dtm0::engine::golden::write(&file, &new)?;
        println!("wrote {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if moved {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
