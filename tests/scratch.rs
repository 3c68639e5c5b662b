use dtm0::config::ModelSpec;
use stateright::{Checker, Model};
#[test]
#[ignore]
fn scratch() {
    let f = std::env::var("M").unwrap();
    let spec = ModelSpec::load(std::path::Path::new(&f)).unwrap();
    let spec = spec.with_variants(&std::env::var("V").map(|v| vec![v]).unwrap_or_default()).unwrap();
    let model = dtm0::model::build(&spec);
    let depth: usize = std::env::var("D").map(|d| d.parse().unwrap()).unwrap_or(0);
    let t = std::time::Instant::now();
    let mut ck = model.checker().threads(2);
    if depth > 0 { ck = ck.target_max_depth(depth); }
    if std::env::var("BFS").is_ok() { report(ck.spawn_bfs().join(), t) } else { report(ck.spawn_dfs().join(), t) };
}
fn report<C: Checker<dtm0::model::Dtm0Model>>(c: C, t: std::time::Instant) {
    println!("states {} unique {} depth {} in {:?}", c.state_count(), c.unique_state_count(), c.max_depth(), t.elapsed());
    for p in c.model().properties() {
        let d = c.discovery(p.name);
        println!("{:?} {} -> {}", p.expectation, p.name, if d.is_some() {"DISCOVERY"} else {"-"});
    }
    for (name, path) in c.discoveries() {
        if name.contains("witness") { continue; }
        println!("== {name}");
        let v = path.into_vec();
        for (_s, a) in &v { if let Some(a) = a { println!("  {}", c.model().format_action(a)); } }
        if std::env::var("SHOW").is_ok() { println!("{:#?}", v.last().unwrap().0); }
    }
}
