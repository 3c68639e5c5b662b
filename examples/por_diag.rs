//! Scratch diagnostic: where the closure's sets exceed the oracle's.
use dtm0::engine::oracle::{oracle_set, singletons, Graph};
use dtm0::engine::stubborn;
use dtm0::model::file::ModelSpec;
use dtm0::model::{build, visited_fp};
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn main() {
    let name = std::env::args().nth(1).unwrap_or("put-crash".into());
    let filter = std::env::args().nth(3).unwrap_or_default();
    let shown: usize = std::env::args()
        .nth(2)
        .map(|x| x.parse().unwrap())
        .unwrap_or(3);
    let m = build(&ModelSpec::load(Path::new(&format!("models/{name}.toml"))).unwrap());
    let g = Graph::build(&m, 3_000_000).unwrap();
    let ok = singletons(&g);
    let mut seen = HashSet::new();
    let mut stack = m.init_states();
    let mut worse = 0;
    let mut n = 0;
    let mut hist: HashMap<String, usize> = HashMap::new();
    let mut printed = 0;
    while let Some(s) = stack.pop() {
        if !seen.insert(visited_fp(&s)) {
            continue;
        }
        n += 1;
        let (acts, en) = stubborn::actions(&m, &s);
        let set = stubborn::stubborn_set(&m, &s, &acts, &en);
        let i = g.index_of(&s).unwrap();
        let (o, _) = oracle_set(&g, &ok, i);
        if set.len() > o.len() {
            worse += 1;
            let oa: Vec<String> = o.iter().map(|&a| m.format_action(g.action(a))).collect();
            *hist
                .entry(format!("{} vs {}: {}", set.len(), o.len(), oa.join(" | ")))
                .or_default() += 1;
            if printed < shown
                && (oa.join(" | ").contains(&filter) && !filter.starts_with('=')
                    || oa.join(" | ") == filter[1..])
            {
                printed += 1;
                println!("==== state {i}: ours {} oracle {}", set.len(), o.len());
                println!("{}", dtm0::model::render::state(m.cfg(), &s));
                for (k, a) in acts.iter().enumerate() {
                    if en[k] {
                        println!(
                            "  #{k} {}{}",
                            m.format_action(a),
                            if set.contains(&(k as u8)) {
                                "  [ours]"
                            } else {
                                ""
                            }
                        );
                    }
                }
                println!("  oracle: {oa:?}");
                // explain the closure from the oracle's first action
                let start = acts.iter().position(|a| a == g.action(o[0])).unwrap();
                for (j, why) in stubborn::explain(&m, &s, &acts, &en, start) {
                    println!("    + #{j} {}  <- {why}", m.format_action(&acts[j]));
                }
            }
        }
        for &k in &set {
            if let Some(nx) = m
                .next_state(&s, acts[k as usize].clone())
                .filter(|x| m.within_boundary(x))
            {
                stack.push(nx);
            }
        }
    }
    println!("states {n}, ours bigger than oracle at {worse}");
    let mut v: Vec<_> = hist.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (k, c) in v.iter().take(25) {
        println!("{c:6}  {k}");
    }
}
