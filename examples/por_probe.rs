use dtm0::config::ModelSpec;
use dtm0::model::build;
use dtm0::por::{Engine, Reduce};
use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(2).map_or(1, |t| t.parse().unwrap());
    let spec = ModelSpec::load(std::path::Path::new(&args[1])).unwrap();
    for (name, r) in [
        (
            "plain",
            Reduce {
                persistent: false,
                sleep: false,
                symmetry: false,
            },
        ),
        (
            "sleep",
            Reduce {
                persistent: false,
                sleep: true,
                symmetry: false,
            },
        ),
        (
            "por",
            Reduce {
                persistent: true,
                sleep: true,
                symmetry: false,
            },
        ),
        (
            "sym",
            Reduce {
                persistent: true,
                sleep: true,
                symmetry: true,
            },
        ),
    ] {
        let m = build(&spec);
        let (mut e, note) = Engine::new(&m, r, threads);
        e.collect_terminals = true;
        let t = Instant::now();
        let o = e.run();
        let s = t.elapsed().as_secs_f64();
        println!("{name:6} states {:>10} unique {:>9} terminals {:>7} reduced {:>8} slept {:>9} found {:?} {:.2}s {:.0}/s {:.1} B/state {:?}",
          o.states, o.unique, o.terminals.len(), o.reduced_states, o.slept,
          o.found.iter().map(|f| &f.0[..3]).collect::<Vec<_>>(), s, o.states as f64 / s, o.table_bytes as f64 / o.unique as f64, note);
    }
}
