//! Interactive questions with dialoguer: defaults pre-filled, help shown,
//! choices as select lists, invalid input asked again.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
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

impl Asker for TerminalAsker {
    fn ask(&mut self, q: &Question, default: Option<&Value>) -> Result<Value> {
        let failed = |e: dialoguer::Error| Error::Prompt {
            key: q.key.clone(),
            message: e.to_string(),
        };
        if let Some(help) = &q.help {
            crate::errln!("  {}", console::style(help).dim());
        }
        let value = match q.kind {
            QuestionKind::String => {
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
                Value::String(input.interact_text().map_err(failed)?)
            }
            QuestionKind::Bool => {
                let mut confirm = Confirm::with_theme(&self.theme).with_prompt(&q.prompt);
                if let Some(Value::Bool(d)) = default {
                    confirm = confirm.default(*d);
                }
                Value::Bool(confirm.interact().map_err(failed)?)
            }
            QuestionKind::Choice => {
                let labels: Vec<&str> = q.choices.iter().map(|c| c.label()).collect();
                let selected = default
                    .and_then(Value::as_str)
                    .and_then(|d| q.choices.iter().position(|c| c.value() == d))
                    .unwrap_or(0);
                let index = Select::with_theme(&self.theme)
                    .with_prompt(&q.prompt)
                    .items(&labels)
                    .default(selected)
                    .interact()
                    .map_err(failed)?;
                let choice = &q.choices[index];
                if let Some(w) = choice.warning() {
                    crate::errln!("  {} {w}", console::style("warning:").yellow().bold());
                }
                Value::String(choice.value().to_string())
            }
            QuestionKind::Multichoice => {
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
                    .interact()
                    .map_err(failed)?;
                Value::Array(
                    picked
                        .into_iter()
                        .map(|i| Value::String(q.choices[i].value().to_string()))
                        .collect(),
                )
            }
        };
        if let Some(w) = q.warning_for(&value) {
            crate::errln!("  {} {w}", console::style("warning:").yellow().bold());
        }
        Ok(value)
    }
}
