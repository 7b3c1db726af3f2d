//! `list`: the scaffolds of a source (the embedded set, `--template`, or the
//! config's `default_template`), their versions and their questions.

use serde_json::{Value, json};

use super::{ExitStatus, short};
use crate::cli::ListArgs;
use crate::error::Result;
use crate::printer::Printer;
use crate::scaffold::Scaffold;
use crate::scaffold::manifest::{Question, QuestionKind};
use crate::scaffold::source::TemplateSource;
use crate::settings::ListSettings;

pub fn run(args: &ListArgs, printer: &Printer) -> Result<ExitStatus> {
    let settings = ListSettings::resolve(args)?;
    for warning in &settings.scaffolds.warnings {
        printer.warn(warning);
    }
    let registry = &settings.scaffolds.registry;
    let ids: Vec<String> = match &settings.id {
        Some(id) => vec![id.split('@').next().unwrap_or(id).to_string()],
        None => registry.ids().iter().map(|s| s.to_string()).collect(),
    };
    if settings.json {
        let out: Vec<Value> = ids.iter().map(|id| scaffold_json(&settings, id)).collect();
        printer.json(&out);
        return Ok(ExitStatus::Success);
    }
    let team = settings.scaffolds.source != TemplateSource::Embedded;
    if team {
        crate::outln!("template {}", settings.scaffolds.source.display());
    }
    for id in &ids {
        let versions = registry.versions(id);
        let Some(newest) = versions.last() else {
            continue;
        };
        // A team template's only scaffold goes without saying.
        let marked = !team || registry.ids().len() > 1;
        let default = if marked && settings.default_id.as_deref() == Some(id.as_str()) {
            " (default scaffold)"
        } else {
            ""
        };
        crate::outln!("{id}{default}: {}", newest.manifest.description);
        let list: Vec<String> = versions
            .iter()
            .rev()
            .enumerate()
            .map(|(i, s)| version_text(s, i == 0))
            .collect();
        crate::outln!("  versions: {}", list.join(", "));
        // Team templates mostly hold one scaffold: show it whole.
        if settings.id.is_none() && !team {
            let keys: Vec<&str> = newest
                .manifest
                .questions
                .iter()
                .map(|q| q.key.as_str())
                .collect();
            crate::outln!(
                "  questions: {}  (details: cargo nixcuda list {id})",
                keys.join(", ")
            );
            continue;
        }
        let shown = shown_version(&settings, id)?;
        crate::outln!(
            "  questions of {} (answer with -d KEY=VALUE):",
            shown.label()
        );
        let defaults = recommended_defaults(shown);
        for (q, default) in shown.manifest.questions.iter().zip(&defaults) {
            question_text(q, default.as_ref(), &shown.manifest.questions);
        }
    }
    Ok(ExitStatus::Success)
}

/// The version whose questions are shown: `list ID@VERSION`, the
/// template's `@VERSION`, else the newest.
fn shown_version<'a>(settings: &'a ListSettings, id: &str) -> Result<&'a Scaffold> {
    let spec = match (&settings.id, &settings.version) {
        (Some(named), _) if named.contains('@') => named.clone(),
        (_, Some(version)) => format!("{id}@{version}"),
        _ => id.to_string(),
    };
    settings.scaffolds.registry.resolve(&spec)
}

/// `1.1.0 (tag v1.1.0, 3f9c2a1b0e) (newest, default)`.
fn version_text(s: &Scaffold, newest: bool) -> String {
    let mut text = s.manifest.version.to_string();
    if let Some(commit) = &s.source.commit {
        match &s.source.tag {
            Some(tag) => text.push_str(&format!(" (tag {tag}, {})", short(commit, 10))),
            None => text.push_str(&format!(" (commit {})", short(commit, 10))),
        }
    }
    if newest {
        text.push_str(" (newest, default)");
    }
    text
}

/// The defaults of the recommended setup, with `<name>` for the project's
/// name (the user's git identity is their own).
fn recommended_defaults(s: &Scaffold) -> Vec<Option<Value>> {
    let builtins = crate::scaffold::answers::builtins(s, "<name>");
    crate::scaffold::answers::recommended_defaults(&s.manifest, builtins)
}

/// What a templated default follows, in words: `your git identity`,
/// `frameworks`.
fn follows(raw: &str, questions: &[Question]) -> Vec<String> {
    let words = regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("a valid regex");
    let mut out: Vec<String> = Vec::new();
    for word in words.find_iter(raw).map(|m| m.as_str()) {
        let named = match word {
            "project_name" => "the project name".to_string(),
            "git_user" | "git_user_name" | "git_user_email" => "your git identity".to_string(),
            key if questions.iter().any(|q| q.key == key) => format!("the answer to {key}"),
            _ => continue,
        };
        if !out.contains(&named) {
            out.push(named);
        }
    }
    out
}

fn question_text(q: &Question, default: Option<&Value>, questions: &[Question]) {
    crate::outln!("    {} ({}): {}", q.key, kind_name(q), q.prompt);
    if let Some(help) = &q.help {
        crate::outln!("        {help}");
    }
    if let Some(d) = &q.default {
        let text = match default {
            Some(Value::String(s)) if s.is_empty() => "empty".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "none that renders".to_string(),
        };
        let from = match d {
            serde_yaml::Value::String(raw) if raw.contains("{{") => follows(raw, questions),
            _ => Vec::new(),
        };
        match from.is_empty() {
            true => crate::outln!("        default: {text}"),
            false => crate::outln!("        default: {text}  (from {})", from.join(" and ")),
        }
    } else if q.kind != QuestionKind::Bool {
        crate::outln!("        required (no default)");
    }
    for c in &q.choices {
        let label = if c.label() != c.value() {
            format!(": {}", c.label())
        } else {
            String::new()
        };
        crate::outln!("        - {}{label}", c.value());
    }
}

fn kind_name(q: &Question) -> String {
    format!("{:?}", q.kind).to_lowercase()
}

fn scaffold_json(settings: &ListSettings, id: &str) -> Value {
    let versions = settings.scaffolds.registry.versions(id);
    json!({
        "id": id,
        "default": settings.default_id.as_deref() == Some(id),
        "source": settings.scaffolds.source.record_string(),
        "newest": versions.last().map(|s| s.manifest.version.to_string()),
        "versions": versions.iter().rev().map(|s| version_json(s)).collect::<Vec<_>>(),
    })
}

fn version_json(s: &Scaffold) -> Value {
    let defaults = recommended_defaults(s);
    let questions: Vec<Value> = s
        .manifest
        .questions
        .iter()
        .zip(defaults)
        .map(|(q, recommended)| {
            json!({
                "key": q.key,
                "type": kind_name(q),
                "prompt": q.prompt,
                "help": q.help,
                "default": q.default.as_ref().map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
                "recommended": recommended,
                "choices": q.choices.iter().map(|c| json!({
                    "value": c.value(), "label": c.label(), "warn": c.warning()
                })).collect::<Vec<_>>(),
                "when": q.when,
                "warn": q.warn,
            })
        })
        .collect();
    json!({
        "version": s.manifest.version.to_string(),
        "description": s.manifest.description,
        "tag": s.source.tag,
        "commit": s.source.commit,
        "questions": questions,
    })
}
