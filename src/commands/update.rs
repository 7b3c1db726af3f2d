//! `update`: plan the move to the target version, show it, apply it (or
//! print its diff); conflicts are the outcome it reports, exit status 1.

use std::path::PathBuf;

use super::{ExitStatus, short, terminal_asker};
use crate::cli::UpdateArgs;
use crate::error::Result;
use crate::printer::Printer;
use crate::scaffold::answers::Asker;
use crate::settings::UpdateSettings;
use crate::update::{self, Base, FileAction, Recorded, UpdatePlan};

pub fn run(args: UpdateArgs, printer: &Printer) -> Result<ExitStatus> {
    let (root, lock, recovered) = update::open_project(&args.path)?;
    if let Some(message) = recovered {
        printer.status("Recovered", &message);
    }
    if args.abort {
        let undone = update::abort(&root, &lock)?;
        printer.status(
            "Aborted",
            &format!("{undone}: the project is as it was before it"),
        );
        return Ok(ExitStatus::Success);
    }
    let settings = UpdateSettings::resolve(args, &root)?;
    for warning in &settings.scaffolds.warnings {
        printer.warn(warning);
    }
    let mut terminal = terminal_asker(settings.ask, printer);
    let asker = terminal.as_mut().map(|a| a as &mut dyn Asker);
    let plan =
        update::plan(&settings.options, &settings.scaffolds.registry, asker).map_err(|e| {
            settings
                .answers_file
                .attribute(e, &settings.options.defines)
        })?;
    for warning in &plan.warnings {
        printer.warn(warning);
    }
    report_base(&plan, printer);
    if plan.is_noop() && plan.from == plan.to {
        printer.status(
            "Fresh",
            &format!("{} is the newest version; nothing to update", plan.from),
        );
        return Ok(ExitStatus::Success);
    }
    for note in &plan.notes {
        printer.warn(note);
    }
    report_actions(&plan, printer);
    if settings.dry_run {
        return dry_run(&plan, printer);
    }
    let recorded = update::apply(&plan, settings.commit, &lock)?;
    let conflicts: Vec<PathBuf> = plan.conflicts().iter().map(|p| p.to_path_buf()).collect();
    printer.status("Updated", &plan.label());
    match recorded {
        Recorded::Committed(id) => printer.status("Committed", short(&id, 7)),
        Recorded::Staged if conflicts.is_empty() => printer
            .note("The changes are staged: review them with `git diff --cached`, then commit."),
        Recorded::Staged => {}
        Recorded::NotInGit => {
            printer.warn("not a git repository: review the changes before you go on")
        }
    }
    if !conflicts.is_empty() {
        printer.warn(&format!(
            "{} file(s) have conflicts: resolve the `<<<<<<<` markers (or, for a path that was not written, what stands in its way) in:\n{}\nthen `git add` them (they are unmerged, as after `git merge`: `git mergetool` works); the other changes are staged. `cargo nixcuda update --abort` undoes the update",
            conflicts.len(),
            indented(&conflicts)
        ));
    }
    Ok(ExitStatus::failure_if(!conflicts.is_empty()))
}

/// `update --dry-run`: the diff (paged on a terminal), and the exit status
/// the real run would have.
fn dry_run(plan: &UpdatePlan, printer: &Printer) -> Result<ExitStatus> {
    update::pager::show(&update::diff::diff(plan, printer.stdout_colored())?);
    if !plan.dirty.is_empty() {
        printer.warn(&format!(
            "{} uncommitted file(s): the real run needs them committed, or `--allow-dirty`",
            plan.dirty.len()
        ));
    }
    printer.status("Dry run", &format!("{}: nothing was written", plan.label()));
    let conflicts = plan.conflicts();
    if !conflicts.is_empty() {
        printer.warn(&format!(
            "{} file(s) would have conflicts: the update would leave `<<<<<<<` markers (or, for a path it cannot write, what stands in its way) in:\n{}\nresolve them after it and `git add` them (`git mergetool` works; `cargo nixcuda update --abort` undoes it), or change these files first",
            conflicts.len(),
            indented(&conflicts)
        ));
    }
    Ok(ExitStatus::failure_if(!conflicts.is_empty()))
}

/// One path per line, indented under the sentence that names them.
fn indented<P: AsRef<std::path::Path>>(paths: &[P]) -> String {
    let lines: Vec<String> = paths
        .iter()
        .map(|p| format!("  {}", p.as_ref().display()))
        .collect();
    lines.join("\n")
}

fn report_base(plan: &UpdatePlan, printer: &Printer) {
    match &plan.base {
        Base::Pristine { tree } => printer.status(
            "Base",
            &format!(
                "the pristine tree of {} ({}) from this repository",
                plan.from,
                short(tree, 10)
            ),
        ),
        Base::Rerendered { reason } => {
            printer.status("Base", &format!("{} rendered again ({reason})", plan.from))
        }
    }
}

fn report_actions(plan: &UpdatePlan, printer: &Printer) {
    for (path, action) in plan.actions() {
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
}
