//! `scaffold new DIR` (a team template from the embedded scaffold) and
//! `scaffold check DIR` (its lint; problems are exit status 1).

use std::path::Path;

use super::ExitStatus;
use crate::error::Result;
use crate::printer::Printer;
use crate::scaffold::registry::DEFAULT_SCAFFOLD;

pub fn new(dir: &Path, printer: &Printer) -> Result<ExitStatus> {
    let dest = crate::generate::absolute(dir)?;
    let registry = crate::scaffold::registry::Registry::embedded()?;
    let base = registry.resolve(DEFAULT_SCAFFOLD)?;
    let started = crate::scaffold::starter::create(&dest, base)?;
    printer.status(
        "Created",
        &format!(
            "team template `{}` in {} ({} files, from {})",
            started.id,
            dest.display(),
            started.files,
            base.label()
        ),
    );
    printer.note(&format!(
        "Next steps:\n  cargo nixcuda scaffold check {0}\n  cargo nixcuda new /tmp/demo --template {0} --yes\n  git -C {0} init && git -C {0} add -A && git -C {0} commit -m 'Team template' && git -C {0} tag v0.1.0",
        dir.display()
    ));
    Ok(ExitStatus::Success)
}

pub fn check(dir: &Path, json: bool, printer: &Printer) -> Result<ExitStatus> {
    let report = crate::scaffold::lint::check_dir(dir)?;
    let failed = !report.problems.is_empty();
    if json {
        printer.json(&report);
        return Ok(ExitStatus::failure_if(failed));
    }
    for problem in &report.problems {
        let mut text = problem.text.clone();
        if let Some(answers) = &problem.answers {
            text.push_str(&format!("\n  reproduce with: {answers}"));
        }
        printer.error(&text, None);
    }
    for note in &report.notes {
        printer.note(note);
    }
    if failed {
        printer.note(&format!(
            "the scaffold check found {} problem(s): fix them (each names a file and, where it can, a line), then run `cargo nixcuda scaffold check` again",
            report.problems.len()
        ));
    } else {
        printer.status(
            "Checked",
            &format!(
                "{}: {} answer combination(s), {} rendered file(s), no problems",
                report.scaffolds.join(", "),
                report.combinations,
                report.rendered_files
            ),
        );
    }
    Ok(ExitStatus::failure_if(failed))
}
