//! One function per subcommand: turn arguments into options, call the
//! operation, tell the user what happened and what to do next.

use std::io::IsTerminal;

use serde_json::{Value, json};

use crate::cli::{Command, GenerateArgs, ListArgs, VcsArg};
use crate::error::Result;
use crate::generate::{self, GenerateOptions, Mode, Vcs};
use crate::printer::Printer;
use crate::prompt::TerminalAsker;
use crate::scaffold::Scaffold;
use crate::scaffold::answers::Asker;
use crate::scaffold::manifest::QuestionKind;
use crate::scaffold::registry::{DEFAULT_SCAFFOLD, Registry};
use crate::vcs::VcsOutcome;

/// Tests point this at a directory of scaffolds to drive the engine with
/// scaffolds that are not embedded (broken ones, for error paths).
const SCAFFOLDS_DIR_ENV: &str = "CARGO_NIXCUDA_SCAFFOLDS_DIR";

pub fn dispatch(command: Command, printer: &Printer) -> Result<()> {
    match command {
        Command::New(args) => generate_project(args.path, args.generate, Mode::New, printer),
        Command::Init(args) => generate_project(args.path, args.generate, Mode::Init, printer),
        Command::List(args) => list(&args),
        Command::Update(args) => update(args, printer),
        Command::Check(args) => check(&args, printer),
        Command::Doctor(args) => crate::host::doctor_command(&args, printer),
        Command::Nixos(args) => crate::host::nixos_command(&args, printer),
        Command::Config(args) => crate::commands_team::config_cmd(args.json),
        Command::Scaffold(crate::cli::ScaffoldCommand::New { dir }) => {
            crate::commands_team::scaffold_new(&dir, printer)
        }
        Command::Scaffold(crate::cli::ScaffoldCommand::Check { dir, json }) => {
            crate::commands_team::scaffold_check(&dir, json, printer)
        }
        Command::Completions { shell } => crate::completions::write(shell),
        Command::Man { dir } => crate::completions::man(dir.as_deref()),
    }
}

/// Questions are asked only on a terminal (stdin and stderr) without --yes.
fn terminal_asker(yes: bool, printer: &Printer) -> Option<TerminalAsker> {
    (!yes && std::io::stdin().is_terminal() && printer.is_interactive()).then(TerminalAsker::new)
}

/// The team template's scaffolds when there is one, else the embedded set;
/// `embedded` holds the latter while it is borrowed.
fn chosen_registry<'a>(
    team: &'a Option<crate::scaffold::source::TemplateSet>,
    embedded: &'a mut Option<Registry>,
) -> Result<&'a Registry> {
    match team {
        Some(set) => Ok(&set.registry),
        None => Ok(embedded.insert(registry()?)),
    }
}

fn registry() -> Result<Registry> {
    match std::env::var_os(SCAFFOLDS_DIR_ENV) {
        Some(dir) => Registry::from_dir(std::path::Path::new(&dir)),
        None => Registry::embedded(),
    }
}

fn generate_project(
    path: std::path::PathBuf,
    args: GenerateArgs,
    mode: Mode,
    printer: &Printer,
) -> Result<()> {
    let mut opts = GenerateOptions {
        path: path.clone(),
        name: args.name,
        scaffold: args.scaffold,
        defines: args.defines.into_iter().collect(),
        vcs: match args.vcs {
            VcsArg::Git => Vcs::Git,
            VcsArg::None => Vcs::None,
        },
        mode,
    };
    // Team templates and the user's config (commands_team).
    let (config, team) =
        crate::commands_team::setup_generate(args.template.as_deref(), args.offline, &mut opts)?;
    for warning in team.iter().flat_map(|set| &set.warnings) {
        printer.warn(warning);
    }
    let mut embedded = None;
    let registry = chosen_registry(&team, &mut embedded)?;
    crate::commands_team::apply_config_defaults(&config, registry, &mut opts);
    let mut terminal = terminal_asker(args.yes, printer);
    let asker = terminal.as_mut().map(|a| a as &mut dyn Asker);
    let mut prepared = generate::prepare(&opts, registry, asker)?;
    if let Some(set) = &team {
        crate::commands_team::stamp_prepared(set, &mut prepared);
    }
    for file in &prepared.files {
        printer.detail("Rendered", &file.path.display().to_string());
    }
    printer.detail("Rendered", crate::record::RECORD_FILE);
    let spinner = printer.spinner("writing files and the first commit");
    let outcome = generate::write(prepared, &opts);
    spinner.finish_and_clear();
    let outcome = outcome?;

    let what = match mode {
        Mode::New => "Created",
        Mode::Init => "Initialized",
    };
    let mut summary = format!(
        "{} project '{}' ({} files",
        outcome.scaffold, outcome.project_name, outcome.written
    );
    if outcome.skipped_identical > 0 {
        summary.push_str(&format!(
            ", {} identical skipped",
            outcome.skipped_identical
        ));
    }
    summary.push(')');
    printer.status(what, &summary);
    match &outcome.vcs {
        VcsOutcome::Initialized {
            branch,
            commit,
            fallback_identity,
        } => {
            printer.status("Committed", &format!("{} on branch {branch}", &commit[..7.min(commit.len())]));
            if *fallback_identity {
                printer.warn(
                    "git has no user.name/user.email; the first commit is by `cargo-nixcuda <cargo-nixcuda@localhost>`.\n  Set yours and fix the commit with:\n    git config --global user.name \"Your Name\"\n    git config --global user.email you@example.com\n    git commit --amend --reset-author --no-edit",
                );
            }
        }
        VcsOutcome::Staged { workdir } => printer.status(
            "Staged",
            &format!(
                "the new files in the existing repository at {} (not committed; a flake only sees tracked files)",
                workdir.display()
            ),
        ),
        VcsOutcome::None => {}
    }
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
    let mut steps = String::from("Next steps:\n");
    if mode == Mode::New {
        steps.push_str(&format!("  cd {}\n", path.display()));
    }
    steps.push_str("  direnv allow      # or: nix develop  (CPU only: nix develop .#cpu)\n");
    steps.push_str(
        "  git add flake.lock && git commit -m 'Lock nixpkgs'   # after the first lock writes flake.lock\n",
    );
    steps.push_str("  read README.md for the NixOS host module and the binary caches");
    printer.note(&steps);
    Ok(())
}

fn update(args: crate::cli::UpdateArgs, printer: &Printer) -> Result<()> {
    use crate::update::{self, Base, FileAction, Recorded, UpdateOptions};
    let (_, lock, recovered) = update::open_project(&args.path)?;
    if let Some(message) = recovered {
        printer.status("Recovered", &message);
    }
    let (team, base_note) = crate::commands_team::project_set(&args.path, args.offline)?;
    let mut embedded = None;
    let registry = chosen_registry(&team, &mut embedded)?;
    let opts = UpdateOptions {
        start: args.path,
        to: args.to,
        defines: args.defines.into_iter().collect(),
        allow_dirty: args.allow_dirty,
        base_note,
    };
    let mut terminal = terminal_asker(args.yes, printer);
    let asker = terminal.as_mut().map(|a| a as &mut dyn Asker);
    let mut plan = update::plan(&opts, registry, asker)?;
    if let Some(set) = &team {
        crate::commands_team::stamp_plan(set, &mut plan)?;
    }
    for warning in &plan.warnings {
        printer.warn(warning);
    }
    match &plan.base {
        Base::Pristine { tree } => printer.status(
            "Base",
            &format!(
                "the pristine tree of {} ({}) from this repository",
                plan.from,
                &tree[..10.min(tree.len())]
            ),
        ),
        Base::Rerendered { reason } => {
            printer.status("Base", &format!("{} rendered again ({reason})", plan.from))
        }
    }
    if plan.is_noop() && plan.from == plan.to {
        printer.status(
            "Fresh",
            &format!("{} is the newest version; nothing to update", plan.from),
        );
        return Ok(());
    }
    for (path, action) in &plan.actions {
        let path = path.display();
        match action {
            FileAction::Create => printer.status("Adding", &path.to_string()),
            FileAction::Update => printer.status("Updating", &path.to_string()),
            FileAction::Merge => printer.status("Merging", &format!("{path} (your edits kept)")),
            FileAction::Conflict => printer.warn(&format!(
                "{path}: conflicting edits, marked with <<<<<<< / >>>>>>>"
            )),
            FileAction::Delete => printer.status("Removing", &path.to_string()),
            FileAction::Rename { from } => {
                printer.status("Renaming", &format!("{} -> {path}", from.display()))
            }
            FileAction::Kept { reason } => printer.status("Keeping", &format!("{path}: {reason}")),
            FileAction::Blocked { reason } => printer.warn(&format!("{path}: {reason}")),
        }
    }
    if args.dry_run {
        crate::out!("{}", update::diff(&plan)?);
        printer.status(
            "Dry run",
            &format!("{} -> {}: nothing was written", plan.from, plan.to),
        );
        return Ok(());
    }
    let recorded = update::apply(&plan, args.commit, &lock)?;
    let conflicts: Vec<std::path::PathBuf> =
        plan.conflicts().iter().map(|p| p.to_path_buf()).collect();
    printer.status("Updated", &format!("{} -> {}", plan.from, plan.to));
    match recorded {
        Recorded::Committed(id) => printer.status("Committed", &id[..7.min(id.len())]),
        Recorded::Staged if conflicts.is_empty() => printer
            .note("The changes are staged: review them with `git diff --cached`, then commit."),
        Recorded::Staged => {}
        Recorded::NotInGit => {
            printer.warn("not a git repository: review the changes before you go on")
        }
    }
    if !conflicts.is_empty() {
        return Err(crate::error::Error::UpdateConflicts { paths: conflicts });
    }
    Ok(())
}

fn check(args: &crate::cli::CheckArgs, printer: &Printer) -> Result<()> {
    let (_, recovered) = crate::update::open_project_to_read(&args.path)?;
    if let Some(message) = recovered {
        printer.status("Recovered", &message);
    }
    let (team, _) = crate::commands_team::project_set(&args.path, args.offline)?;
    let mut embedded = None;
    let registry = chosen_registry(&team, &mut embedded)?;
    let report = crate::update::check(&args.path, registry)?;
    if args.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON serializes")
        );
    } else if report.up_to_date {
        printer.status(
            "Fresh",
            &format!(
                "{}@{} is the newest version",
                report.scaffold, report.current
            ),
        );
    } else {
        printer.status(
            "Outdated",
            &format!(
                "{}@{}; newer: {} (run `cargo nixcuda update`)",
                report.scaffold,
                report.current,
                report.newer.join(", ")
            ),
        );
    }
    if report.up_to_date {
        Ok(())
    } else {
        Err(crate::error::Error::Outdated {
            current: report.current,
            newest: report.newest,
        })
    }
}

fn scaffold_json(s: &Scaffold) -> Value {
    let m = &s.manifest;
    let questions: Vec<Value> = m
        .questions
        .iter()
        .map(|q| {
            json!({
                "key": q.key,
                "type": format!("{:?}", q.kind).to_lowercase(),
                "prompt": q.prompt,
                "help": q.help,
                "default": q.default.as_ref().map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
                "choices": q.choices.iter().map(|c| json!({
                    "value": c.value(), "label": c.label(), "warn": c.warning()
                })).collect::<Vec<_>>(),
                "when": q.when,
                "warn": q.warn,
            })
        })
        .collect();
    json!({ "version": m.version.to_string(), "description": m.description, "questions": questions })
}

fn list(args: &ListArgs) -> Result<()> {
    if let Some(template) = &args.template {
        return crate::commands_team::list_template(
            template,
            args.id.as_deref(),
            args.json,
            args.offline,
        );
    }
    let registry = registry()?;
    let ids: Vec<String> = match &args.id {
        Some(id) => {
            registry.resolve(id)?;
            vec![id.split('@').next().unwrap_or(id).to_string()]
        }
        None => registry.ids().iter().map(|s| s.to_string()).collect(),
    };
    if args.json {
        let out: Vec<Value> = ids
            .iter()
            .map(|id| {
                let versions = registry.versions(id);
                let newest = versions.last().expect("resolved ids have versions");
                json!({
                    "id": id,
                    "default": id == DEFAULT_SCAFFOLD,
                    "newest": newest.manifest.version.to_string(),
                    "versions": versions.iter().rev().map(|s| scaffold_json(s)).collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serializes")
        );
        return Ok(());
    }
    for id in &ids {
        let versions = registry.versions(id);
        let newest = versions.last().expect("resolved ids have versions");
        let default = if id == DEFAULT_SCAFFOLD {
            " (default scaffold)"
        } else {
            ""
        };
        crate::outln!("{id}{default}: {}", newest.manifest.description);
        let list: Vec<String> = versions
            .iter()
            .rev()
            .enumerate()
            .map(|(i, s)| {
                let v = s.manifest.version.to_string();
                if i == 0 {
                    format!("{v} (newest, default)")
                } else {
                    v
                }
            })
            .collect();
        crate::outln!("  versions: {}", list.join(", "));
        if args.id.is_none() {
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
        let shown = registry.resolve(args.id.as_deref().unwrap_or(id))?;
        crate::outln!(
            "  questions of {} (answer with -d KEY=VALUE):",
            shown.label()
        );
        for q in &shown.manifest.questions {
            let kind = format!("{:?}", q.kind).to_lowercase();
            crate::outln!("    {} ({kind}): {}", q.key, q.prompt);
            if let Some(help) = &q.help {
                crate::outln!("        {help}");
            }
            if let Some(d) = &q.default {
                let text = match d {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                };
                crate::outln!("        default: {text}");
            } else if q.kind != QuestionKind::Bool {
                crate::outln!("        required (no default)");
            }
            for c in &q.choices {
                crate::outln!(
                    "        - {}{}",
                    c.value(),
                    if c.label() != c.value() {
                        format!(": {}", c.label())
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    Ok(())
}
