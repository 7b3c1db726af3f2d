//! All user-facing output goes through here: cargo-style status lines on
//! stderr, colour chosen as cargo does (`--color`, then `CARGO_TERM_COLOR`,
//! then `NO_COLOR`, then whether the stream is a terminal), a spinner only
//! on a terminal, and reports on stdout (`outln!`). No write here panics: a
//! closed pipe (`| head`) ends stdout quietly, and any other failure to
//! write stdout is reported once at the end (`stdout_error`).

use std::ffi::OsString;
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

/// `--color WHEN`, with cargo's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The colour choice from its sources, strongest first: the flag,
/// `CARGO_TERM_COLOR` (as cargo reads it), `NO_COLOR` (set and not empty),
/// else auto. An invalid `CARGO_TERM_COLOR` is ignored with a warning.
pub fn color_choice(
    flag: Option<ColorChoice>,
    cargo_term_color: Option<&str>,
    no_color: bool,
) -> (ColorChoice, Option<String>) {
    if let Some(choice) = flag {
        return (choice, None);
    }
    let mut warning = None;
    if let Some(value) = cargo_term_color {
        match value {
            "auto" => return (ColorChoice::Auto, None),
            "always" => return (ColorChoice::Always, None),
            "never" => return (ColorChoice::Never, None),
            other => {
                warning = Some(format!(
                    "CARGO_TERM_COLOR is `{other}`, which is not auto, always or never; it is ignored (set one of those, or unset it)"
                ))
            }
        }
    }
    let choice = if no_color {
        ColorChoice::Never
    } else {
        ColorChoice::Auto
    };
    (choice, warning)
}

/// The `--color` value among `args` (the last one wins, as in clap), before
/// clap has parsed them: its own help and usage errors are coloured by the
/// same choice.
fn color_flag(args: &[OsString]) -> Option<ColorChoice> {
    let mut found = None;
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let value = match word.strip_prefix("--color") {
            Some("") => words.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => None,
        };
        if let Some(value) = value {
            found = <ColorChoice as clap::ValueEnum>::from_str(&value, false).ok();
        }
    }
    found
}

/// Parses `args` as `P`, with clap's own output (help, usage errors)
/// coloured as the printer's will be.
pub fn parse_with_color<P: clap::Parser>(args: Vec<OsString>) -> Result<P, clap::Error> {
    let cargo_term_color = std::env::var("CARGO_TERM_COLOR").ok();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (choice, _) = color_choice(color_flag(&args), cargo_term_color.as_deref(), no_color);
    let color = match choice {
        ColorChoice::Auto => clap::ColorChoice::Auto,
        ColorChoice::Always => clap::ColorChoice::Always,
        ColorChoice::Never => clap::ColorChoice::Never,
    };
    let matches = P::command().color(color).try_get_matches_from(args)?;
    P::from_arg_matches(&matches)
}

pub struct Printer {
    verbosity: Verbosity,
    interactive: bool,
}

impl Printer {
    /// Colour from `--color` when given, else from the environment.
    pub fn with_color(verbosity: Verbosity, flag: Option<ColorChoice>) -> Printer {
        let interactive = std::io::stderr().is_terminal();
        let cargo_term_color = std::env::var("CARGO_TERM_COLOR").ok();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let (choice, warning) = color_choice(flag, cargo_term_color.as_deref(), no_color);
        let on = |terminal: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal,
        };
        console::set_colors_enabled_stderr(on(interactive));
        console::set_colors_enabled(on(std::io::stdout().is_terminal()));
        let printer = Printer {
            verbosity,
            interactive,
        };
        if let Some(warning) = warning {
            printer.warn(&warning);
        }
        printer
    }

    /// Whether what goes to stdout is coloured: the choice made from
    /// `--color`, `CARGO_TERM_COLOR`, `NO_COLOR` and the terminal, for output
    /// the printer does not style itself (a diff).
    pub fn stdout_colored(&self) -> bool {
        console::colors_enabled()
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

#[cfg(test)]
mod tests {
    use super::{ColorChoice, color_choice, color_flag};

    #[test]
    fn color_flag_is_found_before_parsing() {
        let args = |v: &[&str]| {
            v.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert_eq!(
            color_flag(&args(&["x", "new", "--color", "never"])),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            color_flag(&args(&["x", "--color=always", "new"])),
            Some(ColorChoice::Always)
        );
        assert_eq!(
            color_flag(&args(&["x", "new", "--", "--color=always"])),
            None
        );
        assert_eq!(color_flag(&args(&["x", "new", "--colour"])), None);
    }

    #[test]
    fn flag_then_cargo_term_color_then_no_color() {
        use ColorChoice::*;
        let cases = [
            (Some(Never), Some("always"), false, Never),
            (Some(Always), None, true, Always),
            (None, Some("always"), true, Always),
            (None, Some("never"), false, Never),
            (None, Some("auto"), true, Auto),
            (None, None, true, Never),
            (None, None, false, Auto),
            (None, Some("sometimes"), true, Never),
        ];
        for (flag, env, no_color, want) in cases {
            assert_eq!(
                color_choice(flag, env, no_color).0,
                want,
                "{flag:?} {env:?} {no_color}"
            );
        }
        assert!(color_choice(None, Some("sometimes"), false).1.is_some());
        assert!(color_choice(None, Some("never"), false).1.is_none());
    }
}
