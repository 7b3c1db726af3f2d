//! `completions SHELL`: the completion script on stdout.

use super::ExitStatus;
use crate::error::Result;

pub fn run(shell: clap_complete::Shell) -> Result<ExitStatus> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics when a write fails.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cargo-nixcuda", &mut script);
    crate::printer::out_bytes(&script);
    Ok(ExitStatus::Success)
}
