//! `dtm0 explore`: stateright's web explorer on a model.

use crate::args::NetworkArg;
use stateright::Model;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) fn run(
    model: Option<PathBuf>,
    addr: &str,
    variants: &[String],
    network: Option<NetworkArg>,
) -> Result<ExitCode, String> {
    let mut spec = crate::load(model, variants)?;
    if let Some(n) = network {
        spec.network = n.into();
    }
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("--addr {addr}: cannot listen: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    drop(listener);
    println!("explorer for model {} at http://{bound}/", spec.name);
    println!("(a counterexample path P opens at http://{bound}/#/steps/P; Ctrl-C stops)");
    // The explorer's wrapper: the protocol's notation, the violations on
    // each state, and no crash beyond the budgets offered.
    dtm0::model::explorer::Explorer::new(dtm0::model::build(&spec))
        .checker()
        .serve(bound);
    Ok(ExitCode::SUCCESS)
}
