//! `dtm0 variants`: the protocol variants and the mutants.

use std::process::ExitCode;

pub(crate) fn run() -> Result<ExitCode, String> {
    for (name, what) in dtm0::protocol::cluster::VARIANT_NAMES {
        println!("{name:<26} {what}");
    }
    println!(
        "\nmutants (deliberately broken; the checker must catch each, see models/mutants.toml):"
    );
    for (name, _, what) in dtm0::protocol::cluster::MUTANTS {
        println!("{name:<26} {what}");
    }
    Ok(ExitCode::SUCCESS)
}
