//! Scratch: what the semantic reduction's chosen sets hold, over the first
//! N states of a reduced DFS (`set_stats MODEL N`).
use dtm0::engine::stubborn;
use dtm0::model::file::ModelSpec;
use dtm0::model::{build, visited_fp, Action};
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn label(a: &Action) -> String {
    match a {
        ActorModelAction::Deliver { dst, msg, .. } => {
            let k = stubborn::msg_kind(msg);
            format!("{}@{}", k.trailing_zeros(), usize::from(*dst))
        }
        ActorModelAction::Crash(i) => format!("crash{}", usize::from(*i)),
        ActorModelAction::Recover(i) => format!("restart{}", usize::from(*i)),
        ActorModelAction::Timeout(i, _) => format!("commit{}", usize::from(*i)),
        _ => "other".into(),
    }
}

fn main() {
    let name = std::env::args().nth(1).unwrap();
    let limit: usize = std::env::args()
        .nth(2)
        .map(|x| x.parse().unwrap())
        .unwrap_or(100_000);
    let m = build(&ModelSpec::load(Path::new(&format!("models/{name}.toml"))).unwrap());
    let mut seen = HashSet::new();
    let mut stack = m.init_states();
    let mut sizes: HashMap<(usize, usize), usize> = HashMap::new();
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut n = 0;
    let mut shown = 0;
    while let Some(s) = stack.pop() {
        if !seen.insert(visited_fp(&s)) {
            continue;
        }
        n += 1;
        if n > limit {
            break;
        }
        let (acts, en) = stubborn::actions(&m, &s);
        let set = stubborn::stubborn_set(&m, &s, &acts, &en);
        let e = en.iter().filter(|&&x| x).count();
        *sizes.entry((set.len(), e)).or_default() += 1;
        if set.len() > 1 {
            let mut l: Vec<String> = set.iter().map(|&k| label(&acts[k as usize])).collect();
            l.sort();
            let key = l.join(" ");
            let want = std::env::args().nth(3).unwrap_or_default();
            if key == want && shown < 3 {
                shown += 1;
                println!("==== {key}");
                println!("{}", dtm0::model::render::state(m.cfg(), &s));
                for (k, a) in acts.iter().enumerate() {
                    if en[k] {
                        let mark = if set.contains(&(k as u8)) {
                            "  [chosen]"
                        } else {
                            ""
                        };
                        println!("  #{k} {}{mark}", m.format_action(a));
                    }
                }
                for &st in &set {
                    println!("  closure from #{st}:");
                    for (j, why) in stubborn::explain(&m, &s, &acts, &en, st as usize) {
                        println!("    + #{j} {}  <- {why}", m.format_action(&acts[j]));
                    }
                }
            }
            *kinds.entry(key).or_default() += 1;
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
    let mut v: Vec<_> = sizes.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!("(chosen, enabled): states");
    for (k, c) in v.iter().take(15) {
        println!("{k:?}: {c}");
    }
    let mut v: Vec<_> = kinds.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!("chosen sets of 2 or more, by kinds (msg bit@actor):");
    for (k, c) in v.iter().take(30) {
        println!("{c:8}  {k}");
    }
}
