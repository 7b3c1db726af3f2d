//! All user-facing output goes through here: cargo-style status lines on
//! stderr, colour only on a terminal and never with NO_COLOR, a spinner only
//! on a terminal, and reports on stdout (`outln!`). No write here panics: a
//! closed pipe (`| head`) ends stdout quietly, and any other failure to
//! write stdout is reported once at the end (`stdout_error`).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `println!` for reports on stdout, through `out`.
#[macro_export]
macro_rules! outln {
    () => { $crate::printer::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::printer::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for reports on stdout, through `out`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::printer::out(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics (nothing to report a broken stderr to).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::printer::err(format_args!("{}\n", format_args!($($arg)*))) };
}

enum StdoutState {
    Open,
    /// The reader went away (`| head`): the rest is dropped, quietly.
    Closed,
    Failed(std::io::Error),
}

static STDOUT: Mutex<StdoutState> = Mutex::new(StdoutState::Open);

/// Writes to stdout without panicking.
pub fn out(args: std::fmt::Arguments) {
    let mut state = STDOUT.lock().unwrap_or_else(|e| e.into_inner());
    if !matches!(*state, StdoutState::Open) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        *state = if e.kind() == std::io::ErrorKind::BrokenPipe {
            StdoutState::Closed
        } else {
            StdoutState::Failed(e)
        };
    }
}

/// Raw bytes on stdout (completion scripts), like `out`.
pub fn out_bytes(bytes: &[u8]) {
    out(format_args!("{}", String::from_utf8_lossy(bytes)));
}

/// Writes to stderr, ignoring failures.
pub fn err(args: std::fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Why stdout could not be written (a full disk), other than a closed pipe.
pub fn stdout_error() -> Option<String> {
    match &*STDOUT.lock().unwrap_or_else(|e| e.into_inner()) {
        StdoutState::Failed(e) => Some(e.to_string()),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// How a word of a report is coloured (when colour is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Faint,
    Hint,
}

/// `text` coloured for stdout, where reports go.
pub fn paint(text: &str, tone: Tone) -> String {
    let styled = style(text);
    match tone {
        Tone::Good => styled.green(),
        Tone::Warn => styled.yellow(),
        Tone::Bad => styled.red().bold(),
        Tone::Faint => styled.dim(),
        Tone::Hint => styled.cyan(),
    }
    .to_string()
}

pub struct Printer {
    verbosity: Verbosity,
    interactive: bool,
}

impl Printer {
    pub fn new(verbosity: Verbosity) -> Printer {
        let interactive = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        console::set_colors_enabled_stderr(interactive && !no_color);
        console::set_colors_enabled(std::io::stdout().is_terminal() && !no_color);
        Printer {
            verbosity,
            interactive,
        }
    }

    /// `   Created ml@1.0.0 project ...` (verb right-aligned like cargo).
    pub fn status(&self, verb: &str, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            errln!("{} {message}", style(format!("{verb:>12}")).green().bold());
        }
    }

    pub fn detail(&self, verb: &str, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            errln!("{} {message}", style(format!("{verb:>12}")).cyan().bold());
        }
    }

    /// Plain lines (next steps), indented under the status line.
    pub fn note(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            errln!("{message}");
        }
    }

    pub fn warn(&self, message: &str) {
        errln!("{} {message}", style("warning:").yellow().bold());
    }

    pub fn error(&self, message: &str, hint: Option<&str>) {
        errln!("{} {message}", style("error:").red().bold());
        if let Some(hint) = hint {
            for (i, line) in hint.lines().enumerate() {
                let lead = if i == 0 { "help:" } else { "     " };
                errln!("  {} {line}", style(lead).cyan().bold());
            }
        }
    }

    /// A spinner while `message` runs; hidden when quiet or not a terminal.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.interactive || self.verbosity == Verbosity::Quiet {
            return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_string());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.green} {msg}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(80));
        bar
    }

    /// A machine-readable report on stdout, pretty-printed.
    pub fn json(&self, value: &impl serde::Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => outln!("{text}"),
            // Only maps with non-text keys fail, and no report has one.
            Err(e) => self.error(&format!("could not write the JSON report: {e}"), None),
        }
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }
}
