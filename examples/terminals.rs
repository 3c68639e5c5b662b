//! Scratch: print the terminal states of a model (semantic reduced search).
use dtm0::engine::stubborn;
use dtm0::model::file::ModelSpec;
use dtm0::model::{build, visited_fp};
use stateright::Model;
use std::collections::HashSet;
use std::path::Path;

fn main() {
    let name = std::env::args().nth(1).unwrap();
    let show: usize = std::env::args()
        .nth(2)
        .map(|x| x.parse().unwrap())
        .unwrap_or(3);
    let path = if name.ends_with(".toml") {
        name.clone()
    } else {
        format!("models/{name}.toml")
    };
    let mut spec = ModelSpec::load(Path::new(&path)).unwrap();
    spec.check.exact_store = Some(std::env::var("EXACT_STORE").is_ok());
    let m = build(&spec);
    let mut seen = HashSet::new();
    let mut stack = m.init_states();
    let mut terms = Vec::new();
    while let Some(s) = stack.pop() {
        if !seen.insert(visited_fp(&s)) {
            continue;
        }
        let (acts, en) = stubborn::actions(&m, &s);
        let set = stubborn::stubborn_set(&m, &s, &acts, &en);
        let mut any = false;
        for &k in &set {
            if let Some(nx) = m
                .next_state(&s, acts[k as usize].clone())
                .filter(|x| m.within_boundary(x))
            {
                any = true;
                stack.push(nx);
            }
        }
        if !any {
            terms.push(s);
        }
    }
    println!("unique {} terminal {}", seen.len(), terms.len());
    for s in terms.iter().take(show) {
        println!("----\n{:#?}", s);
    }
}
