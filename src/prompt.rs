//! Interactive questions with dialoguer: defaults pre-filled, help shown,
//! choices as select lists, invalid input asked again. Every answer commits on
//! Enter, and Ctrl-C leaves the terminal as it was (cursor shown) and ends
//! the run as interrupted.
//!
//! Everything drawn fits the terminal's width: dialoguer counts the rows it
//! redraws by newlines, so a line wider than the terminal would leave its
//! first rows behind at every redraw. Prompts and labels are cut to the
//! width, messages are broken into lines here, and a text answer's rows are
//! cleared here, where their width is known.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use console::{Term, measure_text_width};
use dialoguer::theme::{ColorfulTheme, Theme};
use dialoguer::{Input, MultiSelect, Select};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::scaffold::answers::{Asker, check_answer};
use crate::scaffold::manifest::{Question, QuestionKind};

/// With this many questions open, "Use the recommended setup?" comes first:
/// one answer in place of several.
const GATE_FROM: usize = 3;

/// Columns kept free for typing after a text prompt and its default.
const TYPING_ROOM: usize = 16;

pub struct TerminalAsker {
    theme: ColorfulTheme,
    /// Whether `new`/`init` offer the recommended setup first.
    offer_recommended: bool,
    /// The answer to that question, once asked.
    recommended: bool,
}

impl TerminalAsker {
    pub fn new() -> TerminalAsker {
        TerminalAsker {
            theme: ColorfulTheme::default(),
            offer_recommended: false,
            recommended: false,
        }
    }

    /// Asks "Use the recommended setup?" before the questions when several
    /// are open; yes takes every default, no asks each question.
    pub fn offering_recommended(mut self) -> TerminalAsker {
        self.offer_recommended = true;
        self
    }
}
impl Default for TerminalAsker {
    fn default() -> Self {
        Self::new()
    }
}

/// Catches SIGINT while a question is on screen. dialoguer reads keys in raw
/// mode, sees Ctrl-C as a byte and raises SIGINT itself; caught, that becomes
/// an error here, so the cursor a select list hid is shown again before exit.
struct CtrlC {
    flag: Arc<AtomicBool>,
    id: Option<signal_hook::SigId>,
}

impl CtrlC {
    fn catch() -> CtrlC {
        let flag = Arc::new(AtomicBool::new(false));
        let id = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag)).ok();
        CtrlC { flag, id }
    }

    fn hit(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The error of a question that failed: cancelled after Ctrl-C (with
    /// the cursor a select list hid shown again), else the prompt's error.
    fn failed(&self, key: &str, e: dialoguer::Error) -> Error {
        let dialoguer::Error::IO(io) = &e;
        if self.hit() || io.kind() == std::io::ErrorKind::Interrupted {
            let term = Term::stderr();
            let _ = term.show_cursor();
            let _ = term.write_line("");
            return Error::Cancelled {
                key: key.to_string(),
            };
        }
        Error::Prompt {
            key: key.to_string(),
            message: e.to_string(),
        }
    }

    /// Cancelled when Ctrl-C came while the question was answered.
    fn check(&self, key: &str) -> Result<()> {
        match self.hit() {
            true => Err(Error::Cancelled {
                key: key.to_string(),
            }),
            false => Ok(()),
        }
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// `y`, `yes`, `true` or `n`, `no`, `false`, in any case.
pub fn parse_yes_no(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" => Some(true),
        "n" | "no" | "false" => Some(false),
        _ => None,
    }
}

impl Asker for TerminalAsker {
    fn open(&mut self, questions: &[&Question]) -> Result<()> {
        if !self.offer_recommended || questions.len() < GATE_FROM {
            return Ok(());
        }
        let ctrl_c = CtrlC::catch();
        self.help("Enter takes the defaults `cargo nixcuda list` shows; n asks each question.");
        let answer = self
            .line(
                "Use the recommended setup? (y/n)",
                Some("yes"),
                false,
                yes_no_check,
            )
            .map_err(|e| ctrl_c.failed("recommended", e))?;
        ctrl_c.check("recommended")?;
        self.recommended = parse_yes_no(&answer).unwrap_or(false);
        Ok(())
    }

    fn ask(&mut self, q: &Question, default: Option<&Value>) -> Result<Value> {
        if self.recommended
            && let Some(d) = default
            && check_answer(q, d).is_ok()
        {
            return Ok(d.clone());
        }
        let ctrl_c = CtrlC::catch();
        if let Some(help) = &q.help {
            self.help(help);
        }
        let value = match q.kind {
            QuestionKind::String => self.text(q, default).map(Value::String),
            QuestionKind::Bool => self.yes_no(q, default).map(Value::Bool),
            QuestionKind::Choice => self.choice(q, default),
            QuestionKind::Multichoice => self.choices(q, default),
        }
        .map_err(|e| ctrl_c.failed(&q.key, e))?;
        ctrl_c.check(&q.key)?;
        if let Some(w) = q.warning_for(&value) {
            self.warning(w);
        }
        Ok(value)
    }
}

type Asked<T> = std::result::Result<T, dialoguer::Error>;

fn yes_no_check(text: &str) -> std::result::Result<(), String> {
    match parse_yes_no(text) {
        Some(_) => Ok(()),
        None => Err("please answer y or n".to_string()),
    }
}

/// The terminal's width in columns.
fn columns(term: &Term) -> usize {
    usize::from(term.size().1).max(20)
}

/// `text` cut to `max` columns, ending in `…` when cut.
pub fn fit(text: &str, max: usize) -> String {
    if measure_text_width(text) <= max {
        return text.to_string();
    }
    console::truncate_str(text, max, "…").into_owned()
}

/// `text` broken at spaces into lines of at most `max` columns (a longer
/// word is cut), each line after the first starting with `indent`.
pub fn wrap(text: &str, max: usize, indent: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && measure_text_width(&line) + 1 + measure_text_width(word) > max {
            lines.push(std::mem::take(&mut line));
        }
        if line.is_empty() {
            let lead = if lines.is_empty() { "" } else { indent };
            line = fit(&format!("{lead}{word}"), max);
        } else {
            line.push(' ');
            line.push_str(word);
        }
    }
    lines.push(line);
    lines
}

/// Rows a line of `width` columns takes on a terminal `columns` wide (the
/// cursor stays on the last column of a full row).
fn rows(width: usize, columns: usize) -> usize {
    width.div_ceil(columns).max(1)
}

impl TerminalAsker {
    fn help(&self, text: &str) {
        let cols = columns(&Term::stderr());
        for line in wrap(text, cols - 3, "") {
            crate::errln!("  {}", console::style(line).dim());
        }
    }

    fn warning(&self, text: &str) {
        let cols = columns(&Term::stderr());
        let lines = wrap(&format!("warning: {text}"), cols - 3, "");
        for (n, line) in lines.iter().enumerate() {
            match (n, line.strip_prefix("warning:")) {
                (0, Some(rest)) => {
                    crate::errln!("  {}{rest}", console::style("warning:").yellow().bold())
                }
                _ => crate::errln!("  {line}"),
            }
        }
    }

    /// One line of text: Enter alone takes `default`, `-` answers empty when
    /// `dash_is_empty`, and `check` refuses an answer with a message, after
    /// which the question is asked again. The prompt, the default shown
    /// and the message fit the terminal; the rows the answer took are
    /// cleared here.
    fn line(
        &self,
        prompt: &str,
        default: Option<&str>,
        dash_is_empty: bool,
        check: impl Fn(&str) -> std::result::Result<(), String>,
    ) -> Asked<String> {
        let term = Term::stderr();
        let cols = columns(&term);
        let label = self.text_label(prompt, default, dash_is_empty, cols);
        let mut drawn = String::new();
        let _ = self.theme.format_input_prompt(&mut drawn, &label, None);
        let prompt_width = measure_text_width(&drawn);
        let mut message_rows = 0;
        loop {
            let typed = Input::<String>::with_theme(&self.theme)
                .with_prompt(&label)
                .allow_empty(true)
                .report(false)
                .interact_text_on(&term)?;
            // dialoguer cleared the row the cursor was on; the rows above
            // it (a long answer) and the last refusal are cleared here.
            let answer_rows = rows(prompt_width + measure_text_width(&typed), cols);
            term.clear_last_lines(answer_rows - 1 + message_rows)?;
            let answer = match (typed.trim(), default) {
                ("", Some(d)) if typed.is_empty() => d.to_string(),
                ("-", _) if dash_is_empty => String::new(),
                _ => typed,
            };
            match check(&answer) {
                Ok(()) => {
                    let mut done = String::new();
                    let _ = self
                        .theme
                        .format_input_prompt_selection(&mut done, prompt, &answer);
                    term.write_line(&fit(&done, cols - 1))?;
                    return Ok(answer);
                }
                Err(message) => {
                    let mut shown = String::new();
                    let _ = self.theme.format_error(&mut shown, &message);
                    let lines = wrap(&shown, cols - 1, "  ");
                    for line in &lines {
                        term.write_line(line)?;
                    }
                    message_rows = lines.len();
                }
            }
        }
    }

    /// `PROMPT (DEFAULT)`, the default cut so that some columns stay free
    /// for typing, and saying how to answer empty where `-` does.
    fn text_label(
        &self,
        prompt: &str,
        default: Option<&str>,
        dash_is_empty: bool,
        cols: usize,
    ) -> String {
        // `? ` before, ` › ` after, and room to type.
        let room = cols.saturating_sub(5 + TYPING_ROOM);
        let prompt = fit(prompt, room);
        let none = if dash_is_empty { ", - for none" } else { "" };
        let Some(default) = default.filter(|d| !d.is_empty()) else {
            return prompt;
        };
        let left = room.saturating_sub(measure_text_width(&prompt) + 3 + none.len());
        if left < 8 {
            return prompt;
        }
        let hint = format!("({}{none})", fit(default, left));
        format!("{prompt} {}", console::style(hint).for_stderr().dim())
    }

    fn text(&self, q: &Question, default: Option<&Value>) -> Asked<String> {
        let default = default.and_then(Value::as_str);
        let dash_is_empty = check_answer(q, &Value::String(String::new())).is_ok();
        self.line(&q.prompt, default, dash_is_empty, |text| {
            check_answer(q, &Value::String(text.to_string()))
        })
    }

    /// A line of text, not a single key: `no` + Enter answers this question
    /// only (dialoguer's Confirm takes the first key and leaves the rest to
    /// the next question).
    fn yes_no(&self, q: &Question, default: Option<&Value>) -> Asked<bool> {
        let default = match default {
            Some(Value::Bool(true)) => Some("yes"),
            Some(Value::Bool(false)) => Some("no"),
            _ => None,
        };
        let prompt = format!("{} (y/n)", q.prompt);
        let answer = self.line(&prompt, default, false, yes_no_check)?;
        Ok(parse_yes_no(&answer).unwrap_or(false))
    }

    /// The prompt and labels of a list, each cut to the terminal's width.
    fn list(&self, q: &Question) -> (String, Vec<String>) {
        let cols = columns(&Term::stderr());
        let prompt = fit(&q.prompt, cols - 6);
        let labels = q.choices.iter().map(|c| fit(c.label(), cols - 5)).collect();
        (prompt, labels)
    }

    fn choice(&self, q: &Question, default: Option<&Value>) -> Asked<Value> {
        let (prompt, labels) = self.list(q);
        let selected = default
            .and_then(Value::as_str)
            .and_then(|d| q.choices.iter().position(|c| c.value() == d))
            .unwrap_or(0);
        let index = Select::with_theme(&self.theme)
            .with_prompt(&prompt)
            .items(&labels)
            .default(selected)
            .interact()?;
        let choice = &q.choices[index];
        if let Some(w) = choice.warning() {
            self.warning(w);
        }
        Ok(Value::String(choice.value().to_string()))
    }

    fn choices(&self, q: &Question, default: Option<&Value>) -> Asked<Value> {
        let (prompt, labels) = self.list(q);
        let defaults: Vec<bool> = q
            .choices
            .iter()
            .map(|c| {
                default
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().any(|v| v.as_str() == Some(c.value())))
            })
            .collect();
        let picked = MultiSelect::with_theme(&self.theme)
            .with_prompt(&prompt)
            .items(&labels)
            .defaults(&defaults)
            .interact()?;
        Ok(Value::Array(
            picked
                .into_iter()
                .map(|i| Value::String(q.choices[i].value().to_string()))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{fit, parse_yes_no, rows, wrap};

    #[test]
    fn lines_fit_the_width() {
        assert_eq!(fit("PyTorch", 10), "PyTorch");
        assert_eq!(fit("PyTorch and TensorFlow", 10), "PyTorch a…");
        let lines = wrap("compute capabilities are MAJOR.MINOR versions", 20, "  ");
        assert_eq!(
            lines,
            ["compute capabilities", "  are MAJOR.MINOR", "  versions"]
        );
        assert!(
            wrap("a-very-long-word-indeed", 10, "")
                .iter()
                .all(|l| l.chars().count() <= 10)
        );
        assert_eq!((rows(0, 80), rows(80, 80), rows(81, 80)), (1, 1, 2));
    }

    #[test]
    fn yes_no_words() {
        for yes in ["y", "Y", "yes", " YES ", "true"] {
            assert_eq!(parse_yes_no(yes), Some(true), "{yes}");
        }
        for no in ["n", "No", "false"] {
            assert_eq!(parse_yes_no(no), Some(false), "{no}");
        }
        for bad in ["", "yep", "nope", "1"] {
            assert_eq!(parse_yes_no(bad), None, "{bad}");
        }
    }
}
