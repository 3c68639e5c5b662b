//! `dtm0 check --all`: every model of `models/` against its expected
//! verdict, and every mutant of `models/mutants.toml` on its model, which
//! must be caught. Writes `results/results.json`, `results/RESULTS.md` and
//! `results/states.svg` (unique states and seconds against model size).

use crate::engine::check::{self, Report, RunOpts};
use crate::model::file::{ModelSpec, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutantSpec {
    pub variant: String,
    pub model: String,
    /// The run passes when at least one of these is violated.
    pub catches: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MutantFile {
    mutant: Vec<MutantSpec>,
}

pub fn load_mutants(path: &Path) -> Result<Vec<MutantSpec>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let f: MutantFile = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.message().replace('\n', " ")))?;
    Ok(f.mutant)
}

/// The model files of a directory (cluster files and the mutant list
/// excepted), sorted by name.
pub fn model_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|f| f.to_string_lossy().into_owned());
            p.extension().is_some_and(|x| x == "toml")
                && name.is_some_and(|n| !n.starts_with("cluster") && n != "mutants.toml")
        })
        .collect();
    v.sort();
    Ok(v)
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// `model`, `mutant`, or a comparison run of a model: `plain` (no
    /// reduction) or `sleep` (reduced search on one thread).
    pub kind: &'static str,
    pub model: String,
    pub variant: Option<String>,
    pub participants: usize,
    pub network: String,
    pub strategy: String,
    pub reduction: &'static str,
    pub threads: usize,
    pub symmetry: bool,
    /// Reduced search: transitions skipped by sleep sets, states where the
    /// persistent set was smaller than the enabled set, table bytes per
    /// unique state.
    pub slept_transitions: Option<u64>,
    pub reduced_states: Option<u64>,
    pub bytes_per_state: Option<f64>,
    pub exhaustive: bool,
    pub bounded_by: Vec<String>,
    pub states: usize,
    pub unique_states: usize,
    pub depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    /// Peak resident memory of the process during the run (VmHWM, reset
    /// before each run), in MiB.
    pub peak_mib: Option<f64>,
    pub expected: String,
    pub violated: Vec<String>,
    /// Per violated property, the counterexample length.
    pub counterexamples: Vec<(String, usize)>,
    pub missing_witnesses: Vec<String>,
    pub met: bool,
}

/// Options shared by every run of the suite.
#[derive(Clone, Debug)]
pub struct SuiteOpts {
    pub threads: usize,
    /// Cap on any run (models that say less keep theirs).
    pub timeout: Option<Duration>,
    pub progress: bool,
    /// Called before each run, to give memory kept by the allocator back
    /// to the system so that each run's peak is its own.
    pub release_memory: fn(),
}

fn reset_peak(o: &SuiteOpts) {
    (o.release_memory)();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn opts_for(spec: &ModelSpec, o: &SuiteOpts) -> RunOpts {
    let timeout = match (spec.check.timeout_secs.map(Duration::from_secs), o.timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    RunOpts {
        strategy: spec.check.strategy.unwrap_or_default(),
        threads: o.threads,
        max_depth: spec.check.max_depth,
        timeout,
        symmetry: spec.check.symmetry.unwrap_or(false),
        progress: o.progress,
        seed: 1,
        random_order: spec.check.order == Some(crate::model::file::Order::Random),
        stop_at: Vec::new(),
        reduction: crate::engine::check::Reduction::Por,
    }
}

fn entry(
    kind: &'static str,
    spec: &ModelSpec,
    variant: Option<String>,
    r: &Report,
    expected: String,
    met: bool,
) -> Entry {
    Entry {
        kind,
        model: spec.name.clone(),
        variant,
        participants: spec.cluster.n,
        network: r.network.clone(),
        strategy: r.strategy.clone(),
        reduction: match r.reduction {
            check::Reduction::Por => "por",
            check::Reduction::None => "none",
        },
        threads: r.threads,
        symmetry: r.symmetry,
        slept_transitions: r.slept_transitions,
        reduced_states: r.reduced_states,
        bytes_per_state: r.bytes_per_state,
        exhaustive: r.exhaustive,
        bounded_by: r.bounded_by.clone(),
        states: r.states,
        unique_states: r.unique_states,
        depth: r.max_depth,
        seconds: r.seconds,
        states_per_second: r.states_per_second,
        peak_mib: peak_mib(),
        expected,
        violated: r.violated.iter().map(|s| s.to_string()).collect(),
        counterexamples: r
            .properties
            .iter()
            .filter_map(|p| {
                p.counterexample
                    .as_ref()
                    .map(|c| (p.id.to_string(), c.steps.len()))
            })
            .collect(),
        missing_witnesses: r.missing_witnesses.iter().map(|s| s.to_string()).collect(),
        met,
    }
}

/// Runs every model and mutant; `log` gets one line per finished run.
pub fn run_all(
    dir: &Path,
    o: &SuiteOpts,
    log: &mut dyn FnMut(&Entry),
) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for path in model_files(dir)? {
        let spec = ModelSpec::load(&path)?;
        reset_peak(o);
        let r = check::run(&spec, &opts_for(&spec, o))?;
        let (expected, met) = match spec.expect.verdict {
            Verdict::Hold => ("hold".to_string(), r.ok),
            Verdict::Violate => {
                let want = &spec.expect.properties;
                (
                    format!("violate {}", want.join("/")),
                    r.violated.iter().any(|v| want.iter().any(|w| w == v)),
                )
            }
        };
        let e = entry("model", &spec, None, &r, expected.clone(), met);
        log(&e);
        let compare = e.exhaustive && e.reduction == "por" && e.seconds < 60.0;
        out.push(e);
        if compare {
            // The same model without reduction (stateright's checker), and
            // with sleep sets (our search on one thread), for the factors.
            for (kind, reduction, threads) in [
                ("plain", check::Reduction::None, o.threads),
                ("sleep", check::Reduction::Por, 1),
            ] {
                reset_peak(o);
                let mut ro = opts_for(&spec, o);
                ro.reduction = reduction;
                ro.threads = threads;
                let p = check::run(&spec, &ro)?;
                let ok = p.exhaustive && p.violated == r.violated && p.ok == r.ok;
                let e = entry(kind, &spec, None, &p, expected.clone(), ok);
                log(&e);
                out.push(e);
            }
        }
    }
    for m in load_mutants(&dir.join("mutants.toml"))? {
        let path = dir.join(format!("{}.toml", m.model));
        let spec = ModelSpec::load(&path)?.with_variants(std::slice::from_ref(&m.variant))?;
        reset_peak(o);
        let mut ro = opts_for(&spec, o);
        ro.stop_at = crate::model::properties::PROPS
            .iter()
            .filter(|p| m.catches.iter().any(|c| c == p.id))
            .map(|p| p.id)
            .collect();
        let r = check::run(&spec, &ro)?;
        let caught = r
            .properties
            .iter()
            .any(|p| m.catches.iter().any(|c| c == p.id) && p.counterexample.is_some());
        let e = entry(
            "mutant",
            &spec,
            Some(m.variant.clone()),
            &r,
            format!("caught by {}", m.catches.join("/")),
            caught,
        );
        log(&e);
        out.push(e);
    }
    Ok(out)
}

pub fn markdown(entries: &[Entry], live: Option<&serde_json::Value>) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Recorded figures\n\nGenerated by `cargo run --release -- check --all` (models and mutants) on the \
project machine (2 cores, 24 GiB); the live figures come from `results/live-bench.json` \
(`dtm0 bench live`). Do not edit by hand: rerun.\n"
    );
    let met = entries.iter().filter(|e| e.met).count();
    let mutants: Vec<&Entry> = entries.iter().filter(|e| e.kind == "mutant").collect();
    let killed = mutants.iter().filter(|e| e.met).count();
    let _ = writeln!(
        o,
        "{met} of {} runs met their expectation; mutants caught: {killed} of {} ({:.0}%).\n",
        entries.len(),
        mutants.len(),
        100.0 * killed as f64 / mutants.len().max(1) as f64
    );
    let _ = writeln!(o, "## Models\n\n| model | n | network | run | states | unique | depth | s | states/s | peak MiB | expected | verdict | met |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for e in entries.iter().filter(|e| e.kind == "model") {
        let _ = writeln!(o, "{}", row(e));
    }
    let _ = writeln!(
        o,
        "\n## Plain vs reduced\n\nEach model whose reduced run is exhaustive in under a minute, run three ways: \
`none` (stateright's checker, {t} threads), `por` ({t} threads: persistent sets), `por` on 1 thread (persistent \
and sleep sets). All three must give the same verdict (column `same`). Unique states are equal by design (except with \
symmetry, where a state's representative may depend on the order of exploration): stored \
sleep sets lose no state, and persistent sets never shrink on these models (README, \"Partial-order reduction\"). \
Factors are plain over reduced.\n\n\
| model | unique | transitions none / por / por+sleep | transition factor (sleep) | s none / por / por+sleep | time factor (por) | bytes/state (por) | same |\n|---|---|---|---|---|---|---|---|",
        t = entries
            .iter()
            .find(|e| e.kind == "plain")
            .map_or(0, |e| e.threads)
    );
    for p in entries.iter().filter(|e| e.kind == "plain") {
        let find = |kind: &str| {
            entries
                .iter()
                .find(|e| e.kind == kind && e.model == p.model)
        };
        let (Some(r), Some(sl)) = (find("model"), find("sleep")) else {
            continue;
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} / {} / {} | {:.2} | {:.1} / {:.1} / {:.1} | {:.2} | {:.1} | {} |",
            p.model,
            r.unique_states,
            p.states,
            r.states,
            sl.states,
            p.states as f64 / sl.states.max(1) as f64,
            p.seconds,
            r.seconds,
            sl.seconds,
            p.seconds / r.seconds.max(1e-9),
            r.bytes_per_state.unwrap_or(0.0),
            // With symmetry the representative of a state may depend on
            // the order of exploration, so unique counts may differ.
            if p.met
                && sl.met
                && (r.symmetry
                    || (p.unique_states == r.unique_states && sl.unique_states == r.unique_states))
            {
                "yes"
            } else {
                "**NO**"
            }
        );
    }
    let _ = writeln!(o, "\n## Mutants\n\n| mutant | model | run | states | unique | s | expected | violated (counterexample steps) | caught |\n|---|---|---|---|---|---|---|---|---|");
    for e in &mutants {
        let cx: Vec<String> = e
            .counterexamples
            .iter()
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |",
            e.variant.as_deref().unwrap_or(""),
            e.model,
            run_kind(e),
            e.states,
            e.unique_states,
            e.seconds,
            e.expected,
            cx.join(", "),
            if e.met { "yes" } else { "**NO**" }
        );
    }
    let _ = writeln!(o, "\n![unique states and seconds per model](states.svg)\n");
    let _ = writeln!(
        o,
        "A run is *exhaustive* when it explored every state within the model's crash budgets; \
*bounded* runs say what bounded them and prove nothing beyond what they explored. Mutant runs \
stop at the first violations (a counterexample is the point), so they are bounded by design. \
Model runs use the reduced search (`reduction: por`, persistent sets, on the suite's threads; with symmetry \
where the model asks for it); `plain` and `sleep` entries in results.json are the comparison runs. \
Peak MiB is the process's peak resident memory (VmHWM), reset before each run after the allocator \
has returned what it kept to the system; it includes the program's own floor (about 10-50 MiB)."
    );
    if let Some(v) = live {
        let _ = writeln!(o, "\n## Live prototype (`dtm0 bench live`)\n");
        let g = |k: &str| v[k].clone();
        let t = &v["time_to_stable_unloaded"];
        let _ = writeln!(
            o,
            "| figure | measured | target |\n|---|---|---|\n| throughput, dtx DONE per second ({} clients x {} dtxs) | {:.0} | >= 20,000 |\n| dtxs per fsync | {:.0} | |\n| UDP datagrams dropped during the run | {} | |\n| time-to-STABLE unloaded p50 / p99 / max (us) | {} / {} / {} | p99 <= 5,000 |",
            g("clients"),
            g("batch"),
            g("dtx_per_second").as_f64().unwrap_or(0.0),
            g("dtx_per_commit").as_f64().unwrap_or(0.0),
            g("udp_rcvbuf_drops"),
            t["p50_us"],
            t["p99_us"],
            t["max_us"]
        );
        for r in v["restart"].as_array().into_iter().flatten() {
            let _ = writeln!(
                o,
                "| node restart, log of {} records ({} bytes) | {:.1} ms | 100k <= 2,000 ms |",
                r["log_records"],
                r["log_bytes"],
                r["restart_seconds"].as_f64().unwrap_or(0.0) * 1000.0
            );
        }
    }
    o
}

fn run_kind(e: &Entry) -> String {
    let how = match (e.reduction, e.symmetry) {
        ("por", true) => ", por + symmetry",
        ("por", false) => ", por",
        (_, true) => ", symmetry",
        _ => "",
    };
    if e.exhaustive {
        format!("exhaustive{how}")
    } else {
        format!("bounded ({}){how}", e.bounded_by.join("; "))
    }
}

fn row(e: &Entry) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {} |",
        e.model,
        e.participants,
        e.network,
        run_kind(e),
        e.states,
        e.unique_states,
        e.depth,
        e.seconds,
        e.states_per_second,
        e.peak_mib.map_or("?".into(), |m| format!("{m:.0}")),
        e.expected,
        if e.violated.is_empty() {
            "all hold".to_string()
        } else {
            format!("violated {}", e.violated.join(", "))
        },
        if e.met { "yes" } else { "**NO**" }
    )
}

/// Unique states (left axis) and seconds (right axis), both logarithmic,
/// for each correct model, ordered by size.
pub fn svg(entries: &[Entry]) -> String {
    let mut ms: Vec<&Entry> = entries.iter().filter(|e| e.kind == "model").collect();
    ms.sort_by_key(|e| e.unique_states);
    let (w, h, left, right, top, bottom) = (760.0, 420.0, 80.0, 80.0, 30.0, 120.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let n = ms.len().max(1) as f64;
    let x = |i: usize| left + pw * (i as f64 + 0.5) / n;
    let ly = |v: f64, lo: f64, hi: f64| {
        top + ph * (1.0 - (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()))
    };
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">Unique states (bars, left); seconds (right): reduced search red, plain blue</text>\n",
        w / 2.0
    );
    let (slo, shi) = (10.0, 1e9);
    let (tlo, thi) = (0.01, 1e4);
    for k in 1..=9 {
        let v = 10f64.powi(k);
        let y = ly(v, slo, shi);
        let _ = writeln!(o, "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">1e{k}</text>", w - right, left - 6.0, y + 4.0);
    }
    for k in -2..=4 {
        let v = 10f64.powi(k);
        let y = ly(v, tlo, thi);
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{:.1}\" fill=\"#c33\">{v}s</text>",
            w - right + 6.0,
            y + 4.0
        );
    }
    let bw = (pw / n * 0.5).min(40.0);
    for (i, e) in ms.iter().enumerate() {
        let y = ly(e.unique_states as f64, slo, shi);
        let _ = writeln!(
            o,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} unique states</title></rect>",
            x(i) - bw / 2.0,
            top + ph - y,
            if e.exhaustive { "#4a7" } else { "#bbb" },
            e.model,
            e.unique_states
        );
        let ty = ly(e.seconds, tlo, thi);
        let _ = writeln!(o, "<circle cx=\"{:.1}\" cy=\"{ty:.1}\" r=\"4\" fill=\"#c33\"><title>{}: {:.2}s reduced</title></circle>", x(i), e.model, e.seconds);
        if let Some(p) = entries
            .iter()
            .find(|p| p.kind == "plain" && p.model == e.model)
        {
            let py = ly(p.seconds, tlo, thi);
            let _ = writeln!(o, "<circle cx=\"{:.1}\" cy=\"{py:.1}\" r=\"4\" fill=\"#36c\"><title>{}: {:.2}s plain, {} transitions vs {} reduced</title></circle>", x(i) + 8.0, e.model, p.seconds, p.states, e.states);
        }
        let _ = writeln!(
            o,
            "<text transform=\"translate({:.1},{:.1}) rotate(45)\">{} ({}p{})</text>",
            x(i) - 4.0,
            top + ph + 12.0,
            e.model,
            e.participants,
            if e.exhaustive { "" } else { ", bounded" }
        );
    }
    let _ = writeln!(o, "<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"black\"/>", top + ph, w - right, top + ph, top + ph);
    let _ = writeln!(
        o,
        "<text x=\"{left}\" y=\"{}\">green: exhaustive, grey: bounded</text>",
        h - 8.0
    );
    o.push_str("</svg>\n");
    o
}
