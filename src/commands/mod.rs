//! One file per subcommand: each turns its settings into an operation of
//! the engine and reports the result. What a command found (an outdated
//! project, failed checks, conflicts) is its exit status, not an error.

mod check;
mod completions;
mod config;
mod deps;
mod doctor;
mod generate;
mod list;
mod lock;
mod nixos;
mod offered;
mod scaffold;
mod shells;
mod update;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{Command, ScaffoldCommand};
use crate::error::{Error, Result};
use crate::generate::Mode;
use crate::printer::Printer;
use crate::prompt::TerminalAsker;

/// How a command that ran ends (uv's `ExitStatus`); docs/reference.md's table of exit
/// codes lists what each command means by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, nothing to act on.
    Success,
    /// 1: the command's report names something to act on (outdated,
    /// failed checks, conflicts, problems, a file that differs).
    Failure,
    /// 2: the command could not answer (`check` on a project newer than
    /// this tool, or one it cannot read).
    Error,
}

impl ExitStatus {
    /// Failure when `bad`, else Success.
    pub fn failure_if(bad: bool) -> ExitStatus {
        if bad {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
        })
    }
}

/// The exit code of a command that failed with `error`: 2 for a usage
/// error, as clap's own, else 1.
pub fn error_code(error: &Error) -> ExitCode {
    ExitCode::from(match error {
        // Like a shell's status for a process ended by SIGINT.
        Error::Cancelled { .. } => 130,
        e if e.is_usage() => 2,
        _ => 1,
    })
}

pub fn dispatch(command: Command, printer: &Printer) -> Result<ExitStatus> {
    match command {
        Command::New(args) => {
            generate::run(args.path, args.generate, Mode::New, Vec::new(), printer)
        }
        Command::Init(args) => generate::run(
            args.path,
            args.generate,
            Mode::Init,
            args.overwrite,
            printer,
        ),
        Command::List(args) => list::run(&args, printer),
        Command::Update(args) => update::run(args, printer),
        Command::Check(args) => check::run(&args, printer),
        Command::Add(args) => deps::add(&args, printer),
        Command::Remove(args) => deps::remove(&args, printer),
        Command::Doctor(args) => doctor::run(&args, printer),
        Command::Nixos(args) => nixos::run(&args, printer),
        Command::Lock(args) => lock::run(&args, printer),
        Command::Config(args) => config::run(args.json, printer),
        Command::Scaffold(ScaffoldCommand::New { dir }) => scaffold::new(&dir, printer),
        Command::Scaffold(ScaffoldCommand::Check { dir, json }) => {
            scaffold::check(&dir, json, printer)
        }
        Command::Completions { shell } => completions::run(shell),
        Command::Man { dir } => completions::man(dir.as_deref()),
    }
}

/// Prints `error` with its causes and its hint.
pub fn report_error(printer: &Printer, error: &Error) {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(&format!("\n  caused by: {text}"));
        }
        source = cause.source();
    }
    printer.error(&message, error.hint().as_deref());
}

/// Questions are asked only on a terminal (stdin and stderr), when asking
/// is allowed (no `--yes`).
fn terminal_asker(ask: bool, printer: &Printer) -> Option<TerminalAsker> {
    (ask && std::io::stdin().is_terminal() && printer.is_interactive()).then(TerminalAsker::new)
}

/// The first characters of a git id, as git shows it.
fn short(id: &str, len: usize) -> &str {
    &id[..len.min(id.len())]
}
