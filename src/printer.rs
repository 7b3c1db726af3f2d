//! All user-facing output goes through here: cargo-style status lines on
//! stderr, colour only on a terminal and never with NO_COLOR, a spinner only
//! on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
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
            eprintln!("{} {message}", style(format!("{verb:>12}")).green().bold());
        }
    }

    pub fn detail(&self, verb: &str, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{} {message}", style(format!("{verb:>12}")).cyan().bold());
        }
    }

    /// Plain lines (next steps), indented under the status line.
    pub fn note(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{message}");
        }
    }

    pub fn warn(&self, message: &str) {
        eprintln!("{} {message}", style("warning:").yellow().bold());
    }

    pub fn error(&self, message: &str, hint: Option<&str>) {
        eprintln!("{} {message}", style("error:").red().bold());
        if let Some(hint) = hint {
            for (i, line) in hint.lines().enumerate() {
                let lead = if i == 0 { "help:" } else { "     " };
                eprintln!("  {} {line}", style(lead).cyan().bold());
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

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }
}
