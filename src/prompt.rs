//! Interactive questions with dialoguer: defaults pre-filled, help shown,
//! choices as select lists, invalid input asked again. Every answer commits on
//! Enter, and Ctrl-C leaves the terminal as it was (cursor shown) and ends
//! the run as interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, MultiSelect, Select};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::scaffold::answers::{Asker, check_answer};
use crate::scaffold::manifest::{Question, QuestionKind};

pub struct TerminalAsker {
    theme: ColorfulTheme,
}

impl TerminalAsker {
    pub fn new() -> TerminalAsker {
        TerminalAsker {
            theme: ColorfulTheme::default(),
        }
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
    fn ask(&mut self, q: &Question, default: Option<&Value>) -> Result<Value> {
        let ctrl_c = CtrlC::catch();
        let failed = |e: dialoguer::Error| {
            let dialoguer::Error::IO(io) = &e;
            if ctrl_c.hit() || io.kind() == std::io::ErrorKind::Interrupted {
                let term = console::Term::stderr();
                let _ = term.show_cursor();
                let _ = term.write_line("");
                return Error::Cancelled { key: q.key.clone() };
            }
            Error::Prompt {
                key: q.key.clone(),
                message: e.to_string(),
            }
        };
        if let Some(help) = &q.help {
            crate::errln!("  {}", console::style(help).dim());
        }
        let value = match q.kind {
            QuestionKind::String => Value::String(self.text(q, default).map_err(failed)?),
            QuestionKind::Bool => Value::Bool(self.yes_no(q, default).map_err(failed)?),
            QuestionKind::Choice => self.choice(q, default).map_err(failed)?,
            QuestionKind::Multichoice => self.choices(q, default).map_err(failed)?,
        };
        if ctrl_c.hit() {
            return Err(Error::Cancelled { key: q.key.clone() });
        }
        if let Some(w) = q.warning_for(&value) {
            crate::errln!("  {} {w}", console::style("warning:").yellow().bold());
        }
        Ok(value)
    }
}

type Asked<T> = std::result::Result<T, dialoguer::Error>;

impl TerminalAsker {
    fn text(&self, q: &Question, default: Option<&Value>) -> Asked<String> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(&q.prompt)
            .allow_empty(true);
        if let Some(Value::String(d)) = default {
            input = input.default(d.clone());
        }
        let question = q.clone();
        input = input.validate_with(move |text: &String| {
            check_answer(&question, &Value::String(text.clone()))
        });
        input.interact_text()
    }

    /// A line of text, not a single key: `no` + Enter answers this question
    /// only (dialoguer's Confirm takes the first key and leaves the rest to
    /// the next question).
    fn yes_no(&self, q: &Question, default: Option<&Value>) -> Asked<bool> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(format!("{} (y/n)", q.prompt))
            .allow_empty(default.is_some());
        if let Some(Value::Bool(d)) = default {
            input = input.default(if *d { "yes" } else { "no" }.to_string());
        }
        let answer = input
            .validate_with(|text: &String| match parse_yes_no(text) {
                Some(_) => Ok(()),
                None => Err("please answer y or n"),
            })
            .interact_text()?;
        Ok(parse_yes_no(&answer).unwrap_or(false))
    }

    fn choice(&self, q: &Question, default: Option<&Value>) -> Asked<Value> {
        let labels: Vec<&str> = q.choices.iter().map(|c| c.label()).collect();
        let selected = default
            .and_then(Value::as_str)
            .and_then(|d| q.choices.iter().position(|c| c.value() == d))
            .unwrap_or(0);
        let index = Select::with_theme(&self.theme)
            .with_prompt(&q.prompt)
            .items(&labels)
            .default(selected)
            .interact()?;
        let choice = &q.choices[index];
        if let Some(w) = choice.warning() {
            crate::errln!("  {} {w}", console::style("warning:").yellow().bold());
        }
        Ok(Value::String(choice.value().to_string()))
    }

    fn choices(&self, q: &Question, default: Option<&Value>) -> Asked<Value> {
        let labels: Vec<&str> = q.choices.iter().map(|c| c.label()).collect();
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
            .with_prompt(&q.prompt)
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
    use super::parse_yes_no;

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
