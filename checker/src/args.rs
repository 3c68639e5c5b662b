//! The command line: clap's definitions of every subcommand and flag, and
//! the one mapping from the CLI's value enums to the library's (clap stays
//! out of the library).

use clap::{Args, Parser, Subcommand, ValueEnum};
use dtm0::engine::check::Reduction;
use dtm0::live::client::Wait;
use dtm0::model::file::{NetworkKind, Strategy};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "dtm0",
    version,
    about = "Model checker and explorer for DTM0, the distributed transaction manager of CORTX Motr",
    long_about = "Model checker and explorer for DTM0, the distributed transaction manager of CORTX Motr.\n\n\
Models are TOML files (see models/). `dtm0 check` explores a model's state space and reports every \
property (S1-S12, L1-L3, defined by `dtm0 properties` and in the README) with its reachability witness; `dtm0 explore` serves \
stateright's web explorer to browse states and counterexamples step by step.\n\n\
Exit codes: 0 every property holds and every witness was reached; 1 a property is violated or a \
witness was not reached; 2 bad input (model file, flag, address); 130 `check` interrupted by Ctrl-C."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReductionArg {
    /// Our reduced DFS: persistent sets over independent actions (different
    /// actors), plus sleep sets with --threads 1; same verdicts as `none`
    Por,
    /// stateright's own checker, no reduction (uses every --threads)
    None,
    /// The default: our reduced DFS with semantic stubborn sets (same-actor
    /// independence by message kind and receiver state): far fewer states;
    /// keeps every terminal and settled state, so S2, S3, S6, L1-L3 are
    /// judged exhaustively; S1, S4, S5, S7, S8, S9, S11, S12 by their step-local forms
    /// on every transition taken
    Stubborn,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum StrategyArg {
    /// Breadth-first (keeps whole states in its queue: memory-hungry)
    Bfs,
    /// Depth-first (small memory; finds deep bugs fast)
    Dfs,
    /// Random walks: a sample, never a proof
    Sim,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum NetworkArg {
    /// Per pair, messages arrive in send order (Motr's RPC)
    Ordered,
    /// Any order, each message delivered at most once
    Unordered,
    /// Any order, and a message may be delivered again
    Duplicating,
    /// Any order, and a message may be lost
    Lossy,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    /// Verdicts, then each counterexample as a list of steps
    Text,
    /// Verdicts, then each counterexample as the seed's events-and-states table
    Table,
    /// The whole report as JSON
    Json,
}

#[derive(Subcommand)]
pub(crate) enum ClusterCmd {
    /// Start HA and every participant of the cluster file as local processes
    #[command(
        long_about = "Start HA and every participant of the cluster file as local processes on \
the file's loopback addresses, print where each listens, and stop them all on Ctrl-C. Each \
participant keeps its durable log in DATA/<name>, HA its table in DATA/ha. A process that exits \
(kill -9, a crash) is restarted, HA too, after a delay that doubles from 100 ms to 10 s while it \
keeps exiting within 10 s of its start; after 8 such exits in a row the cluster is stopped with \
the reason (exit 1)."
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
        /// Run a cluster file whose variants include a mutant (a deliberately broken rule)
        #[arg(long)]
        allow_mutants: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum BenchCmd {
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
        /// Then keep p3 down this many seconds under load paced on STABLE, and time its recovery (0: skip)
        #[arg(long, default_value_t = 0.0, value_name = "SECS")]
        down_seconds: f64,
        /// How long to wait for the restarted p3 to be ONLINE before giving up on the recovery time (reported as null)
        #[arg(long, default_value_t = 600.0, value_name = "SECS")]
        recovery_timeout: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum WaitArg {
    /// One participant executed it
    Executed,
    /// One participant made it persistent
    Stable,
    /// Every participant made it persistent
    Done,
}

#[derive(Subcommand)]
pub(crate) enum ClientOp {
    /// Write KEY (k1, k2, ...) = VALUE (an unsigned integer)
    Put { key: String, value: u64 },
    /// Delete KEY (writes a tombstone)
    Del { key: String },
    /// Read KEY from the ONLINE participants
    Get { key: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScenarioName {
    /// 3pa-and-originator-failure: PUTs, reboots of p1, p3 and o1, DELs, REDOs
    Seed,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Check every property of a model and print the verdicts
    #[command(
        long_about = "Check every property of a model and print the verdicts.\n\n\
Prints progress lines on standard error during long runs, then one line per property: its \
verdict and whether its reachability witness was found. A run is EXHAUSTIVE when it explored \
every state within the model's crash budgets; otherwise it says BOUNDED and why (time or depth \
limit, simulation, interrupted); the verdict line never calls a bounded run a proof. Each \
distinct counterexample is printed once, with every property it violates and one line per \
property naming the clause that failed and the data (keys, replicas, records), its steps in \
protocol terms with what each changed (--full: the whole state), and the `dtm0 explore` command \
and path that open it. --property S2,S3 checks only those. Ctrl-C prints the report so far and \
exits 130.\n\n\
DFS runs use the semantic reduction by default (--reduction stubborn: stubborn sets over \
actions of one actor that commute, checked exactly on small models; README, \"Semantic \
reduction\"), with or without --symmetry; --reduction por reduces by actor only; --reduction \
none runs stateright's checker; --compare runs none too (without symmetry; and the exact oracle where the plain \
space is small) and prints the factors. --all runs every model of models/ and every mutant and \
rewrites results/."
    )]
    Check(CheckArgs),
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
        /// Show only the path violating this property (S1..S12, L1..L3)
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
`seed` is the story of 3pa-and-originator-failure.txt (the seed scenario) on models/seed.toml \
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
cluster file gives it, with its durable log in DIR (DIR/<name>.wal, replayed at start) and its \
incarnation record (DIR/<name>.inc). Runs until Ctrl-C or SIGTERM; kill -9 is a crash, and the \
next start is a restart (a new incarnation that recovers through REDO/EOL). Logs through \
RUST_LOG (default info).\n\n\
A torn LAST frame (a crash mid-write) is cut. A bad frame followed by valid frames is corruption: \
the node refuses to start (exit 2), naming the file, the byte offset and the frames after it, and \
changes nothing on disk; --repair cuts the log there, after saying what it drops, and may LOSE \
ACKNOWLEDGED WRITES. The node also refuses to start when its log is behind its incarnation record \
(truncated, deleted, restored from an old copy), when DIR holds no storage at all but HA has \
seen this participant before, or when its log is below the incarnation HA has seen (the whole DIR \
restored from an old copy): it would come back as a healthy replica without writes it \
acknowledged, and rejoining as an empty replica needs a resync that is not built. The node asks \
HA at every start; with no storage, if HA does not answer within 5 s, it refuses unless \
--first-boot.\n\n\
Its datagrams go through per-peer sessions \
(numbered, acknowledged, retransmitted, deduplicated, in order) and carry a MAC under the \
cluster key (the cluster file's `key`, see `dtm0 keygen`); what is malformed, unauthenticated, \
foreign or refused is dropped, counted (see `dtm0 inspect`) and summarized in the log at most \
once a second."
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
        /// Accept fault-layer commands (hold/drop/release messages, hold commits, wire loss/duplication/reordering): for tests and drivers
        #[arg(long)]
        faults: bool,
        /// Cut a corrupt log at its first bad frame, dropping every frame after it. Says what it
        /// drops before dropping it. Those frames may hold acknowledged (even STABLE) writes: they
        /// are lost on this replica
        #[arg(long)]
        repair: bool,
        /// With no storage in DIR, start empty even if HA does not answer whether it has seen
        /// this participant before (HA's answer, when it comes, is still obeyed)
        #[arg(long)]
        first_boot: bool,
        /// Run a cluster file whose variants include a mutant (a deliberately broken rule)
        #[arg(long)]
        allow_mutants: bool,
    },
    /// Run the HA service of a live cluster
    #[command(
        long_about = "Run the HA service of a live cluster: it turns restarts (by incarnation \
number) and heartbeat timeouts into TRANSIENT/RECOVERING/ONLINE and broadcasts every change to \
every process. With --data it keeps its table (incarnations, view number) in DIR/ha.state, \
written before each view leaves, so a restarted HA goes on from its last view and repeats it; \
a damaged table, or one of another cluster, is refused (exit 2). Without --data a restart starts \
from scratch, which the processes ignore: `dtm0 cluster up` always gives HA a data directory."
    )]
    Ha {
        /// Cluster file (default: models/cluster.toml)
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Data directory (HA's table, kept across restarts)
        #[arg(long)]
        data: Option<PathBuf>,
        /// Accept fault-layer commands
        #[arg(long)]
        faults: bool,
        /// Run a cluster file whose variants include a mutant (a deliberately broken rule)
        #[arg(long)]
        allow_mutants: bool,
    },
    /// One originator incarnation of a live cluster: put, del, get
    #[command(
        long_about = "One originator incarnation of a live cluster. `put` and `del` come up as \
the next incarnation of the originator slot (its counter lives in --data), issue one dtx to every \
participant, print its txid and version, and return when it is EXECUTED (or STABLE with --wait \
stable); a dtx some participant found superseded (a newer version of the key was there; see --clock-lag) prints SUPERSEDED instead. `get` reads every ONLINE participant and prints the highest version (a tombstone reads as \
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
        /// Run the client's clock this many milliseconds behind the real
        /// one (a client rebooted with a lagging clock): a write that loses
        /// to a newer version is reported SUPERSEDED
        #[arg(long, global = true, default_value_t = 0, value_name = "MS")]
        clock_lag: u64,
        #[command(subcommand)]
        op: ClientOp,
    },
    /// Dump a live node's catalogue, log (with I/V/P), HA view and counters
    #[command(
        long_about = "Dump a live node's catalogue, log (with I/V/P), HA view and counters \
(datagrams and messages in and out, session retransmissions and duplicates, drops by reason). \
The request carries a MAC under the cluster file's key: a node answers nobody without it."
    )]
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
    /// Attack a local live cluster with the seed's faults and judge it
    #[command(
        long_about = "Start a local live cluster (HA and the participants as processes on free \
loopback ports, in a fresh data directory), run puts, dels and gets on a few colliding keys from \
every originator slot (each write a `dtm0 client` process waiting for STABLE), and inject faults \
drawn from --seed (same seed, same schedule): kill (SIGKILL and restart of a participant, or of a \
running client), stop (SIGSTOP past HA's failure timeout, then SIGCONT), restart-ha, torn-tail (a \
partial frame appended to a killed participant's log), delay and reorder (through the fault \
layer), loss and dup (need the session layer's chaos command). Faults are sequential, bounded in \
count and end before the run does. Then heal, wait for quiescence, read every node's final state \
and judge: acknowledged writes durable on every replica, reads consistent with the writes before \
and during them, all ONLINE, and the model's properties (S1-S7, S12) on the final state. Prints \
ops by kind and outcome, faults by kind, recovery times and a verdict per property; a failing \
run's history (ops with times and results, the schedule, what each fault did) is saved to \
--history and its data directory kept.\n\n\
Exit codes: 0 every verdict holds; 1 a violation; 2 bad input (unknown fault kind or variant) \
or a cluster that would not start; 130 interrupted."
    )]
    Nemesis {
        /// Cluster file to take the shape from (participants, originator slots, variants, k, timing); its addresses are not used
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// Length of the faulty phase, seconds
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Seed of the fault schedule (and of the clients' op mix)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fault kinds, comma-separated: kill, stop, restart-ha, loss, dup, reorder, delay, torn-tail (default: kill,stop,reorder,delay,torn-tail)
        #[arg(long, value_name = "KINDS")]
        faults: Option<String>,
        /// Protocol variant to apply to the cluster (repeatable); see `dtm0 variants`
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
        /// Number of keys (k1..kN) every client writes
        #[arg(long, default_value_t = 3)]
        keys: u32,
        /// Where a failing run's history is written
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
        /// Print the fault schedule and exit
        #[arg(long)]
        schedule_only: bool,
    },
    /// Benchmarks (`bench live`: the live prototype on loopback)
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Define each property (S1-S12, L1-L3) and the clauses it checks
    #[command(
        long_about = "Define each property the checker judges (S1-S12 safety, L1-L3 liveness): \
what it says, the clauses it checks (a violation's explanation names the clause that failed and \
the data), where it is judged (on every state, at quiescence, at settled states, by a step-local \
form under the semantic reduction), and its witness (a reachable state showing it is not vacuous)."
    )]
    Properties {
        /// Only these properties (comma-separated ids)
        #[arg(value_delimiter = ',')]
        ids: Vec<String>,
    },
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
        long_about = "Run the plain, the reduced and the semantic (stubborn) search to the end on every exhaustive model \
of models/ and print their unique-state and terminal-state counts next to the golden file's \
(tests/golden-counts.toml; `cargo test` checks the same). A refactor must not move them. With \
--write, rewrite the file: only for a change meant to move the counts, whose commit says which \
moved and why.\n\nExit codes: 0 every count as in the file (or written); 1 a count moved; 2 bad input."
    )]
    Golden {
        /// Rewrite the golden file with the counts measured now
        #[arg(long)]
        write: bool,
        /// Measure the semantic column only and keep the file's plain and
        /// reduced columns (for a change to the semantic reduction alone;
        /// the plain searches take minutes)
        #[arg(long)]
        semantic_only: bool,
        /// Models directory (default: models/ beside the golden file)
        #[arg(long)]
        models: Option<PathBuf>,
    },
    /// Write a random cluster key for a live cluster's cluster file
    #[command(
        long_about = "Write a random 32-byte key, as 64 hex digits, to FILE, readable and writable \
by its owner only (mode 0600). Name it in the cluster file (`key = \"FILE\"`, relative to the \
cluster file): every datagram of the cluster then carries an HMAC-SHA256 tag under it, and a \
datagram without a valid tag (a process without the key) is dropped and counted. `dtm0 client`, \
`inspect` and the nodes read the key through the cluster file. An existing FILE is kept unless \
--force (every node must then be restarted with the new key).\n\nExit codes: 0 written; 2 the \
file exists, or cannot be written."
    )]
    Keygen {
        /// Where to write the key
        file: PathBuf,
        /// Replace an existing key file
        #[arg(long)]
        force: bool,
    },
}

/// The flags of `dtm0 check`.
#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Model file (default: models/seed.toml)
    pub(crate) model: Option<PathBuf>,
    /// Search strategy (default: the model's [check] strategy, else dfs)
    #[arg(long, value_enum)]
    pub(crate) strategy: Option<StrategyArg>,
    /// Worker threads (default: the model's, else 2)
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Stop exploring below this depth (makes the run bounded)
    #[arg(long)]
    pub(crate) max_depth: Option<usize>,
    /// Stop after this many seconds (makes the run bounded if reached)
    #[arg(long)]
    pub(crate) timeout: Option<u64>,
    /// Explore up to renaming of interchangeable participants: with dfs and our reduction, those
    /// with equal crash budgets; with stateright's checker (--reduction none, --strategy sim),
    /// all of them, so it needs equal budgets
    #[arg(long)]
    pub(crate) symmetry: bool,
    /// Partial-order reduction for dfs runs: stubborn (default), por or none; see README, "Semantic reduction"
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) reduction: Option<ReductionArg>,
    /// Run again without reduction and print the reduction factor
    #[arg(long)]
    pub(crate) compare: bool,
    /// Protocol variant to apply on top of the model's (repeatable); see `dtm0 variants`
    #[arg(long = "variant", value_name = "NAME")]
    pub(crate) variants: Vec<String>,
    /// Print the report as JSON on standard output (same as --format json)
    #[arg(long)]
    pub(crate) json: bool,
    /// Output format: text, table (counterexamples as the seed's table), json
    #[arg(long, value_enum)]
    pub(crate) format: Option<FormatArg>,
    /// Save the counterexamples to FILE (JSON), to show later with `dtm0 trace FILE`
    #[arg(long, value_name = "FILE")]
    pub(crate) save_trace: Option<PathBuf>,
    /// Override the model's network
    #[arg(long, value_enum)]
    pub(crate) network: Option<NetworkArg>,
    /// Explore actions in a seeded random order (dfs): better at finding
    /// bugs in bounded runs; verdicts of exhaustive runs do not change
    #[arg(long)]
    pub(crate) random_order: bool,
    /// Seed of the random walks (sim) and of --random-order
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Run every model of models/ against its expected verdict, every mutant of
    /// models/mutants.toml (must be caught) and every variant of models/variants.toml on
    /// each model it lists (a report); write results/results.json, RESULTS.md, states.svg
    #[arg(long, conflicts_with_all = ["model", "strategy", "variants", "symmetry", "save_trace", "max_depth", "network", "format", "random_order"])]
    pub(crate) all: bool,
    /// With --all: where to write the results (default: results/ beside models/)
    #[arg(long)]
    pub(crate) results: Option<PathBuf>,
    /// Check and report only these properties (comma-separated ids, e.g. S2,S3); see `dtm0 properties`
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        conflicts_with = "all"
    )]
    pub(crate) property: Vec<String>,
    /// Print the reduction's internals (persistent and sleep sets, bytes per state)
    #[arg(long)]
    pub(crate) verbose: bool,
    /// Print the whole state after every step of a counterexample (default: what the step changed)
    #[arg(long)]
    pub(crate) full: bool,
}

// ---------------------------------------------------------------------
// The mapping from the CLI's value enums to the library's.

impl From<ReductionArg> for Reduction {
    fn from(r: ReductionArg) -> Reduction {
        match r {
            ReductionArg::Por => Reduction::Por,
            ReductionArg::None => Reduction::None,
            ReductionArg::Stubborn => Reduction::Stubborn,
        }
    }
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Strategy {
        match s {
            StrategyArg::Bfs => Strategy::Bfs,
            StrategyArg::Dfs => Strategy::Dfs,
            StrategyArg::Sim => Strategy::Sim,
        }
    }
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

impl From<WaitArg> for Wait {
    fn from(w: WaitArg) -> Wait {
        match w {
            WaitArg::Executed => Wait::Executed,
            WaitArg::Stable => Wait::Stable,
            WaitArg::Done => Wait::Done,
        }
    }
}

impl From<ClientOp> for crate::live_cmd::ClientCmd {
    fn from(op: ClientOp) -> crate::live_cmd::ClientCmd {
        use crate::live_cmd::ClientCmd;
        match op {
            ClientOp::Put { key, value } => ClientCmd::Put { key, value },
            ClientOp::Del { key } => ClientCmd::Del { key },
            ClientOp::Get { key } => ClientCmd::Get { key },
        }
    }
}
