//! cargo-nixcuda: scaffolds NixOS + CUDA machine-learning repositories.
//!
//! Calls go one way: `cli` (arguments) -> `commands` (one function per
//! subcommand; the only code that prints or prompts) -> `generate` (the
//! operation) -> `scaffold` (manifests, answers, rendering) and
//! `generate::write` / `vcs` (the filesystem and git).

pub mod cli;
pub mod commands;
pub mod commands_team;
pub mod completions;
pub mod config;
pub mod error;
pub mod generate;
pub mod host;
pub mod names;
pub mod printer;
pub mod prompt;
pub mod record;
pub mod scaffold;
pub mod update;
pub mod vcs;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::printer::{Printer, Verbosity};

/// Runs the tool with `args` as cargo passes them (`cargo-nixcuda nixcuda new
/// ...`) or as typed directly (`cargo-nixcuda new ...`).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "nixcuda") {
        args.remove(1);
    }
    let cli = match printer::parse_with_color::<cli::Cli>(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let printer = Printer::with_color(verbosity, cli.color);
    let result = commands::dispatch(cli.command, &printer);
    if let Some(e) = printer::stdout_error() {
        printer.error(
            &format!("could not write to standard output: {e}"),
            Some("check where the output goes (a full disk, a closed file)"),
        );
        return ExitCode::FAILURE;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(&format!("\n  caused by: {text}"));
                }
                source = cause.source();
            }
            printer.error(&message, e.hint().as_deref());
            // Like a shell's status for a process ended by SIGINT.
            if matches!(e, error::Error::Cancelled { .. }) {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
