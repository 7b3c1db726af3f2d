//! cargo-nixcuda: scaffolds NixOS + CUDA machine-learning repositories.
//!
//! Calls go one way (ARCHITECTURE.md): `cli` (arguments) -> `settings`
//! (flags, user config, template source, environment) -> `commands` (one
//! file per subcommand; with `printer` and `prompt`, the only code that
//! talks to the user) -> the engine (`generate`, `update`, `host`,
//! `scaffold`) -> `generate::write` / `vcs` (the filesystem and git).

// Public only what the integration tests use (`record`, `scaffold`), and
// `host` and `update` until the fields only their tests read are gone; the
// rest is private, so the compiler reports what nothing uses.
mod cli;
mod commands;
mod config;
mod deps;
mod error;
mod fs;
mod generate;
pub mod host;
mod journal;
mod names;
mod printer;
mod prompt;
pub mod record;
pub mod scaffold;
mod settings;
mod shell;
mod test_hooks;
pub mod update;
mod vcs;
mod yaml;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::printer::Printer;

/// Runs the tool with `args` as cargo passes them (`cargo-nixcuda nixcuda new
/// ...`) or as typed directly (`cargo-nixcuda new ...`).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "nixcuda") {
        args.remove(1);
    }
    // `new`, `init` and `update` need the default scaffold's manifest once
    // their arguments and settings are read, which takes about as long as
    // parsing it.
    if args
        .iter()
        .any(|a| a == "new" || a == "init" || a == "update")
        && std::env::var_os(test_hooks::SCAFFOLDS_DIR).is_none()
    {
        scaffold::registry::prefetch_default();
    }
    let cli = match printer::parse_with_color::<cli::Cli>(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let printer = Printer::with_color(settings::verbosity(cli.quiet, cli.verbose), cli.color);
    let result = commands::dispatch(cli.command, &printer);
    if let Some(e) = printer::stdout_error() {
        printer.error(
            &format!("could not write to standard output: {e}"),
            Some("check where the output goes (a full disk, a closed file)"),
        );
        return ExitCode::FAILURE;
    }
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            commands::report_error(&printer, &e);
            commands::error_code(&e)
        }
    }
}
