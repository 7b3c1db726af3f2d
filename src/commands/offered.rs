//! What the completion scripts offer for options whose values are free
//! text to the parser: `-d KEY=VALUE` from the embedded scaffolds'
//! questions, their ids (and `ID@VERSION`), and the config's template
//! favorites as they are when the script is made. Only the scripts' copy of
//! the command tree gets them: parsing keeps its own checks.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, TypedValueParser};

use crate::scaffold::manifest::QuestionKind;
use crate::scaffold::registry::Registry;

/// Accepts any value and lists `values` (with their help) as the
/// possible ones, for the scripts.
#[derive(Clone)]
struct Offered(Vec<(String, String)>);

impl TypedValueParser for Offered {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|(value, help)| {
            PossibleValue::new(value.clone()).help(help.clone())
        })))
    }
}

/// `KEY=VALUE` for every choice and yes/no of the newest version of each
/// embedded scaffold, `KEY=` for text.
fn defines(registry: &Registry) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for id in registry.ids() {
        let Some(newest) = registry.versions(id).pop() else {
            continue;
        };
        for q in &newest.manifest.questions {
            let values: Vec<(String, String)> = match q.kind {
                QuestionKind::Bool => vec![
                    ("true".into(), q.prompt.clone()),
                    ("false".into(), q.prompt.clone()),
                ],
                QuestionKind::Choice | QuestionKind::Multichoice => q
                    .choices
                    .iter()
                    .map(|c| (c.value().to_string(), c.label().to_string()))
                    .collect(),
                QuestionKind::String => vec![(String::new(), q.prompt.clone())],
            };
            for (value, help) in values {
                let define = format!("{}={value}", q.key);
                if !out.iter().any(|(d, _)| *d == define) {
                    out.push((define, help));
                }
            }
        }
    }
    out
}

/// `ID` and `ID@VERSION` of every embedded scaffold.
fn scaffolds(registry: &Registry) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in registry.ids() {
        let versions = registry.versions(id);
        if let Some(newest) = versions.last() {
            out.push((id.to_string(), newest.manifest.description.clone()));
        }
        for s in versions.iter().rev() {
            out.push((format!("{id}@{}", s.manifest.version), String::new()));
        }
    }
    out
}

/// The config's favorites, with what each names.
fn favorites() -> Vec<(String, String)> {
    crate::config::Config::load()
        .map(|c| c.file.templates.into_iter().collect())
        .unwrap_or_default()
}

/// `cmd` with the offered values on `-d`, `--scaffold`, `--template` and
/// `list`'s ID, in every subcommand that has them.
pub fn offer(cmd: clap::Command) -> clap::Command {
    let Ok(registry) = Registry::embedded() else {
        return cmd;
    };
    let defines = Offered(defines(&registry));
    let scaffolds = Offered(scaffolds(&registry));
    let favorites = Offered(favorites());
    let mut cmd = cmd;
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |mut sub| {
            let has = |sub: &clap::Command, id: &str| sub.get_arguments().any(|a| a.get_id() == id);
            if has(&sub, "defines") {
                let parser = defines.clone();
                sub = sub.mut_arg("defines", |a| a.value_parser(parser));
            }
            if has(&sub, "scaffold") {
                let parser = scaffolds.clone();
                sub = sub.mut_arg("scaffold", |a| a.value_parser(parser));
            }
            if has(&sub, "id") && sub.get_name() == "list" {
                let parser = scaffolds.clone();
                sub = sub.mut_arg("id", |a| a.value_parser(parser));
            }
            if has(&sub, "template") && !favorites.0.is_empty() {
                let parser = favorites.clone();
                sub = sub.mut_arg("template", |a| a.value_parser(parser));
            }
            sub
        });
    }
    cmd
}
