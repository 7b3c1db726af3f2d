//! `config`: the effective user configuration and where each setting
//! comes from.

use serde_json::json;

use super::ExitStatus;
use crate::config::Config;
use crate::error::Result;
use crate::printer::Printer;
use crate::scaffold::registry::DEFAULT_SCAFFOLD;
use crate::scaffold::source::cache_root;

const EXAMPLE: &str = "  defaults:\n    author: Ada Lovelace <ada@example.org>\n    frameworks: both\n  templates:\n    work: gh:acme/ml-template\n  default_scaffold: ml";

fn from_file(set: bool) -> &'static str {
    if set { "config file" } else { "built-in" }
}

pub fn run(json: bool, printer: &Printer) -> Result<ExitStatus> {
    let config = Config::load()?;
    let default_scaffold = config
        .file
        .default_scaffold
        .clone()
        .unwrap_or_else(|| DEFAULT_SCAFFOLD.to_string());
    if json {
        printer.json(&json!({
            "path": config.path,
            "path_from": config.path_from,
            "exists": config.exists,
            "default_scaffold": { "value": default_scaffold, "from": from_file(config.file.default_scaffold.is_some()) },
            "default_template": { "value": config.file.default_template, "from": from_file(config.file.default_template.is_some()) },
            "defaults": config.default_answers(),
            "templates": config.file.templates,
            "cache": cache_root(),
        }));
        return Ok(ExitStatus::Success);
    }
    let path = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none: HOME is not set)".into());
    let state = if config.exists {
        "read"
    } else {
        "does not exist; built-in defaults apply"
    };
    crate::outln!(
        "config file: {path} ({state}; chosen by {})",
        config.path_from
    );
    crate::outln!(
        "default_scaffold: {default_scaffold}  ({})",
        from_file(config.file.default_scaffold.is_some())
    );
    match &config.file.default_template {
        Some(t) => crate::outln!("default_template: {t}  (config file)"),
        None => crate::outln!("default_template: none, the embedded scaffolds  (built-in)"),
    }
    show_maps(&config);
    if let Some(cache) = cache_root() {
        crate::outln!("template cache: {}", cache.display());
    }
    if !config.exists {
        crate::outln!("\nExample {path}:\n{EXAMPLE}");
    }
    Ok(ExitStatus::Success)
}

fn show_maps(config: &Config) {
    let answers = config.default_answers();
    if answers.is_empty() {
        crate::outln!("defaults: none  (answers come from -d, the prompt or the scaffold)");
    } else {
        crate::outln!(
            "defaults (taken as -d KEY=VALUE where a scaffold has the question; -d wins):"
        );
        for (k, v) in answers {
            crate::outln!("  {k} = {v}  (config file)");
        }
    }
    if config.file.templates.is_empty() {
        crate::outln!("templates: none  (favorites for --template NAME)");
    } else {
        crate::outln!("templates (favorites for --template NAME):");
        for (k, v) in &config.file.templates {
            crate::outln!("  {k} = {v}  (config file)");
        }
    }
}
