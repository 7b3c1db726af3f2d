//! Team templates on the command line: `--template` for `new`/`init`/`list`,
//! `update`/`check` of projects made from one, `config`, and
//! `scaffold new|check`. Like `commands`, the only code here that prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, Prepared};
use crate::printer::Printer;
use crate::record::RECORD_FILE;
use crate::scaffold::Scaffold;
use crate::scaffold::registry::{DEFAULT_SCAFFOLD, Registry};
use crate::scaffold::render::RenderedFile;
use crate::scaffold::source::{TemplateSet, TemplateSource, TemplateSpec};
use crate::update::UpdatePlan;

/// What `new`/`init` use: the user's config and, with `--template` (or a
/// `default_template`), the team template's scaffolds. Fills in
/// `opts.scaffold` from the template (`@VERSION`) or `default_scaffold`.
pub fn setup_generate(
    template: Option<&str>,
    offline: bool,
    opts: &mut GenerateOptions,
) -> Result<(Config, Option<TemplateSet>)> {
    let config = Config::load()?;
    let chosen = template
        .map(str::to_string)
        .or_else(|| config.file.default_template.clone());
    let Some(text) = chosen.filter(|t| t != "embedded") else {
        if opts.scaffold.is_none() {
            opts.scaffold = config.file.default_scaffold.clone();
        }
        return Ok((config, None));
    };
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", Path::new("."), e))?;
    let spec = TemplateSpec::parse(&config.resolve_template(&text), &cwd)?;
    let set = TemplateSet::load(&spec.source, offline)?;
    let id = match opts.scaffold.take() {
        Some(s) => s,
        None => match &config.file.default_scaffold {
            Some(d) if !set.registry.versions(d).is_empty() => d.clone(),
            _ => set.default_id()?,
        },
    };
    opts.scaffold = Some(match (&spec.version, id.contains('@')) {
        (Some(v), false) => format!("{id}@{v}"),
        _ => id,
    });
    Ok((config, Some(set)))
}

/// Adds the config's default answers for the questions the chosen scaffold
/// has (a `-d` on the command line wins). Returns the keys taken.
pub fn apply_config_defaults(
    config: &Config,
    registry: &Registry,
    opts: &mut GenerateOptions,
) -> Vec<String> {
    let spec = opts.scaffold.as_deref().unwrap_or(DEFAULT_SCAFFOLD);
    let Ok(scaffold) = registry.resolve(spec) else {
        return Vec::new(); // `prepare` reports the unknown scaffold
    };
    let mut taken = Vec::new();
    for (key, text) in config.default_answers() {
        let Some(question) = scaffold.manifest.question(&key) else {
            continue;
        };
        if opts.defines.contains_key(&key)
            || crate::scaffold::answers::parse_answer(question, &text).is_err()
        {
            continue;
        }
        opts.defines.insert(key.clone(), text);
        taken.push(key);
    }
    taken
}

/// Records the template's source and commit in the prepared `.nixcuda.yaml`.
pub fn stamp_prepared(set: &TemplateSet, prepared: &mut Prepared) {
    prepared.record.scaffold.source = set.source.record_string();
    prepared.record.scaffold.commit = set
        .provenance_of(prepared.scaffold)
        .map(|p| p.commit.clone());
}

/// For `update` and `check`: the scaffolds of the team template a project
/// was made from (None for embedded scaffolds), with the recorded commit
/// pinned as the recorded version. When that commit cannot be read (a
/// deleted tag, a moved directory) the set is returned without it and the
/// reason too: `update` may not need it (the pristine tree is its base).
pub fn project_set(start: &Path, offline: bool) -> Result<(Option<TemplateSet>, Option<String>)> {
    let root = crate::update::find_project(start)?;
    let record = crate::update::read_record(&root)?;
    let source = TemplateSource::from_record(&record.scaffold.source).map_err(|message| {
        Error::BadRecord {
            path: root.join(RECORD_FILE),
            message: format!("scaffold source `{}`: {message}", record.scaffold.source),
        }
    })?;
    if source == TemplateSource::Embedded {
        return Ok((None, None));
    }
    let mut set = TemplateSet::load_with(&source, offline, true)?;
    let mut problem = None;
    if let Some(commit) = &record.scaffold.commit
        && let Err(e) = set.pin(
            &record.scaffold.id,
            &record.scaffold.version,
            commit,
            offline,
        )
    {
        problem = Some(format!(
            "the recorded template commit {commit} cannot be read ({e})"
        ));
    }
    Ok((Some(set), problem))
}

/// Makes the plan's new record name the template source and the target's
/// commit (the update engine writes embedded records).
pub fn stamp_plan(set: &TemplateSet, plan: &mut UpdatePlan) -> Result<()> {
    let target = set.registry.resolve(&plan.to)?;
    let mut record = plan.record.clone();
    record.scaffold.source = set.source.record_string();
    record.scaffold.commit = set.provenance_of(target).map(|p| p.commit.clone());
    plan.set_record(record)
}

// ------------------------------------------------------------------ list

pub fn list_template(template: &str, id: Option<&str>, json: bool, offline: bool) -> Result<()> {
    let config = Config::load()?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", Path::new("."), e))?;
    let spec = TemplateSpec::parse(&config.resolve_template(template), &cwd)?;
    let set = TemplateSet::load(&spec.source, offline)?;
    let ids: Vec<String> = match id {
        Some(id) => {
            set.registry.resolve(id)?;
            vec![id.split('@').next().unwrap_or(id).to_string()]
        }
        None => set.registry.ids().iter().map(|s| s.to_string()).collect(),
    };
    let version_json = |s: &Scaffold| {
        let p = set.provenance_of(s);
        json!({
            "version": s.manifest.version.to_string(),
            "description": s.manifest.description,
            "tag": p.and_then(|p| p.tag.clone()),
            "commit": p.map(|p| p.commit.clone()),
            "questions": s.manifest.questions.iter().map(|q| json!({
                "key": q.key,
                "type": format!("{:?}", q.kind).to_lowercase(),
                "prompt": q.prompt,
                "choices": q.choices.iter().map(|c| c.value().to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    };
    if json {
        let out: Vec<Value> = ids
            .iter()
            .map(|id| {
                let versions = set.registry.versions(id);
                json!({
                    "id": id,
                    "source": set.source.record_string(),
                    "newest": versions.last().map(|s| s.manifest.version.to_string()),
                    "versions": versions.iter().rev().map(|s| version_json(s)).collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serializes")
        );
        return Ok(());
    }
    crate::outln!("template {}", set.source.display());
    for id in &ids {
        let versions = set.registry.versions(id);
        let Some(newest) = versions.last() else {
            continue;
        };
        crate::outln!("{id}: {}", newest.manifest.description);
        let list: Vec<String> = versions
            .iter()
            .rev()
            .enumerate()
            .map(|(i, s)| {
                let mut text = s.manifest.version.to_string();
                if let Some(p) = set.provenance_of(s) {
                    let short = &p.commit[..p.commit.len().min(10)];
                    match &p.tag {
                        Some(tag) => text.push_str(&format!(" (tag {tag}, {short})")),
                        None => text.push_str(&format!(" (commit {short})")),
                    }
                }
                if i == 0 {
                    text.push_str(" newest, default");
                }
                text
            })
            .collect();
        crate::outln!("  versions: {}", list.join(", "));
        let shown = match spec.version.as_ref().map(|v| format!("{id}@{v}")) {
            Some(s) => set.registry.resolve(&s)?,
            None => newest,
        };
        crate::outln!(
            "  questions of {} (answer with -d KEY=VALUE):",
            shown.label()
        );
        for q in &shown.manifest.questions {
            let kind = format!("{:?}", q.kind).to_lowercase();
            let choices: Vec<&str> = q.choices.iter().map(|c| c.value()).collect();
            if choices.is_empty() {
                crate::outln!("    {} ({kind}): {}", q.key, q.prompt);
            } else {
                crate::outln!(
                    "    {} ({kind}): {} [{}]",
                    q.key,
                    q.prompt,
                    choices.join(", ")
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- config

pub fn config_cmd(json: bool) -> Result<()> {
    let config = Config::load()?;
    let path = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none: HOME is not set)".into());
    let from_file = |set: bool| if set { "config file" } else { "built-in" };
    let default_scaffold = config
        .file
        .default_scaffold
        .clone()
        .unwrap_or_else(|| DEFAULT_SCAFFOLD.to_string());
    if json {
        let out = json!({
            "path": config.path,
            "path_from": config.path_from,
            "exists": config.exists,
            "default_scaffold": { "value": default_scaffold, "from": from_file(config.file.default_scaffold.is_some()) },
            "default_template": { "value": config.file.default_template, "from": from_file(config.file.default_template.is_some()) },
            "defaults": config.default_answers(),
            "templates": config.file.templates,
            "cache": crate::scaffold::source::cache_root(),
        });
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serializes")
        );
        return Ok(());
    }
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
    if let Some(cache) = crate::scaffold::source::cache_root() {
        crate::outln!("template cache: {}", cache.display());
    }
    if !config.exists {
        crate::outln!(
            "\nExample {path}:\n  defaults:\n    author: Ada Lovelace <ada@example.org>\n    frameworks: both\n  templates:\n    work: gh:acme/ml-template\n  default_scaffold: ml"
        );
    }
    Ok(())
}

// -------------------------------------------------------------- scaffold

const AUTHOR_README: &str = "\
# Team template

A cargo-nixcuda team template: `scaffold.yaml` (the questions) and
`template/` (the files; `.hbs` files are rendered with handlebars).
It started as a copy of the embedded `ml` scaffold.

- Check it: `cargo nixcuda scaffold check .`
- Try it: `cargo nixcuda new /tmp/demo --template . --yes`
- Publish it: commit, push, and tag versions `v1.0.0`, `v1.1.0`, ...;
  users run `cargo nixcuda new demo --template URL` (newest tag) or
  `--template URL@1.0.0`, and `cargo nixcuda update` moves their projects
  to a newer tag.

The format is described in cargo-nixcuda's `scaffolds/README.md`
(section \"Team templates\"). Nothing in a template runs code.
";

/// `scaffold new DIR`: a team template copied from the embedded `ml`.
pub fn scaffold_new(dir: &Path, printer: &Printer) -> Result<()> {
    let dest = crate::generate::absolute(dir)?;
    let registry = Registry::embedded()?;
    let base = registry.resolve(DEFAULT_SCAFFOLD)?;
    let id = template_id(&dest);
    let manifest_path = format!(
        "{}/{}/scaffold.yaml",
        base.manifest.id, base.manifest.version
    );
    let manifest_text =
        crate::scaffold::registry::embedded_data(&manifest_path).ok_or_else(|| {
            Error::Manifest {
                file: format!("scaffolds/{manifest_path}"),
                line: None,
                message: "missing".into(),
            }
        })?;
    let mut replaced_id = false;
    let mut replaced_version = false;
    let manifest_text: String = manifest_text
        .lines()
        .map(|line| {
            if !replaced_id && line.starts_with("id:") {
                replaced_id = true;
                format!("id: {id}")
            } else if !replaced_version && line.starts_with("version:") {
                replaced_version = true;
                "version: 0.1.0".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    // The copy must load as a team template would.
    crate::scaffold::Manifest::parse("scaffold.yaml", &manifest_text)?;
    let mut files = vec![
        RenderedFile {
            path: PathBuf::from("scaffold.yaml"),
            contents: manifest_text.into_bytes(),
            executable: false,
        },
        RenderedFile {
            path: PathBuf::from("README.md"),
            contents: AUTHOR_README.as_bytes().to_vec(),
            executable: false,
        },
    ];
    for f in &base.files {
        files.push(RenderedFile {
            path: Path::new("template").join(&f.path),
            contents: f.contents.to_vec(),
            executable: f.executable,
        });
    }
    let count = files.len();
    crate::generate::write::create_tree(&dest, &files, |_| Ok(()))?;
    printer.status(
        "Created",
        &format!(
            "team template `{id}` in {} ({count} files, from {})",
            dest.display(),
            base.label()
        ),
    );
    printer.note(&format!(
        "Next steps:\n  cargo nixcuda scaffold check {0}\n  cargo nixcuda new /tmp/demo --template {0} --yes\n  git -C {0} init && git -C {0} add -A && git -C {0} commit -m 'Team template' && git -C {0} tag v0.1.0",
        dir.display()
    ));
    Ok(())
}

/// A scaffold id from a directory name (`ML Team` -> `ml-team`).
fn template_id(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-').to_string();
    if id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id
    } else {
        "team".to_string()
    }
}

/// `scaffold check DIR`.
pub fn scaffold_check(dir: &Path, json: bool, printer: &Printer) -> Result<()> {
    let report = crate::scaffold::lint::check_dir(dir)?;
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON serializes")
        );
    } else {
        for problem in &report.problems {
            let mut text = problem.text.clone();
            if let Some(answers) = &problem.answers {
                text.push_str(&format!("\n  (with {answers})"));
            }
            printer.error(&text, None);
        }
        for note in &report.notes {
            printer.note(note);
        }
    }
    if !report.problems.is_empty() {
        return Err(Error::LintFailed {
            problems: report.problems.len(),
        });
    }
    printer.status(
        "Checked",
        &format!(
            "{}: {} answer combination(s), {} rendered file(s), no problems",
            report.scaffolds.join(", "),
            report.combinations,
            report.rendered_files
        ),
    );
    Ok(())
}

/// `-d` answers plus what the config adds, for messages.
pub fn describe_config_answers(taken: &[String], defines: &BTreeMap<String, String>) -> String {
    taken
        .iter()
        .map(|k| format!("{k}={}", defines.get(k).map(String::as_str).unwrap_or("")))
        .collect::<Vec<_>>()
        .join(", ")
}
