//! `new` and `init`: ask, render, write, commit; then say what was made
//! and what to do next.

use std::path::PathBuf;

use super::{ExitStatus, short, terminal_asker};
use crate::cli::GenerateArgs;
use crate::error::Result;
use crate::generate::{self, Mode, Outcome};
use crate::printer::Printer;
use crate::scaffold::answers::Asker;
use crate::settings::GenerateSettings;
use crate::vcs::VcsOutcome;

pub fn run(
    path: PathBuf,
    args: GenerateArgs,
    mode: Mode,
    overwrite: Vec<PathBuf>,
    printer: &Printer,
) -> Result<ExitStatus> {
    let settings = GenerateSettings::resolve(path, args, mode, overwrite)?;
    for warning in &settings.scaffolds.warnings {
        printer.warn(warning);
    }
    let opts = &settings.options;
    let mut terminal = terminal_asker(settings.ask, printer).map(|t| t.offering_recommended());
    let asker = terminal.as_mut().map(|a| a as &mut dyn Asker);
    let prepared = generate::prepare(opts, &settings.scaffolds.registry, asker)
        .map_err(|e| settings.answers_file.attribute(e, &opts.defines))
        .map_err(|e| e.for_template(settings.template.as_deref()))?;
    for file in &prepared.files {
        printer.detail("Rendered", &file.path.display().to_string());
    }
    printer.detail("Rendered", crate::record::RECORD_FILE);
    let spinner = printer.spinner("writing files and the first commit");
    let outcome = generate::write(prepared, opts);
    spinner.finish_and_clear();
    let outcome = outcome?;
    report(&outcome, mode, printer);
    printer.note(&format!("Next steps:\n{}", outcome.next_steps));
    if let VcsOutcome::Unsigned {
        reason, message, ..
    } = &outcome.vcs
    {
        printer.warn(&unsigned_first_commit(&opts.path, reason, message));
    }
    // A project without its first commit is one thing left to do.
    Ok(ExitStatus::failure_if(matches!(
        outcome.vcs,
        VcsOutcome::Unsigned { .. }
    )))
}

/// What to do when git could not sign the first commit: the project is
/// there, its files staged.
fn unsigned_first_commit(path: &std::path::Path, reason: &str, message: &str) -> String {
    let dir = crate::shell::quote(&path.display().to_string());
    let subject = crate::shell::quote(message.lines().next().unwrap_or("Initial commit"));
    format!(
        "commit.gpgsign is set, but git could not sign the first commit:\n  {}\n  The project is written and its files are staged; nothing is committed yet. Once `git commit -S` works here (gpg.program, gpg.format, user.signingKey), make the commit:\n    cd {dir} && git commit -S -m {subject}\n  or commit it unsigned: cd {dir} && git -c commit.gpgsign=false commit -m {subject}",
        reason.trim().replace('\n', "\n  ")
    )
}

fn report(outcome: &Outcome, mode: Mode, printer: &Printer) {
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
            printer.status("Committed", &format!("{} on branch {branch}", short(commit, 7)));
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
        VcsOutcome::Unsigned { branch, .. } => printer.status(
            "Staged",
            &format!("the files on branch {branch}, not committed: see the warning below"),
        ),
        VcsOutcome::None => {}
    }
    for (verb, what) in &outcome.existing {
        printer.status(verb, what);
    }
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
}
