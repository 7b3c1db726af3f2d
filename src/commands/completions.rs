//! `completions SHELL` and the hidden `man`: the completion script, or the
//! man pages, from the command-line definition.

use std::path::Path;

use super::ExitStatus;
use crate::error::Result;

pub fn run(shell: clap_complete::Shell) -> Result<ExitStatus> {
    super::shells::write(shell)?;
    Ok(ExitStatus::Success)
}

pub fn man(dir: Option<&Path>) -> Result<ExitStatus> {
    super::shells::man(dir)?;
    Ok(ExitStatus::Success)
}
