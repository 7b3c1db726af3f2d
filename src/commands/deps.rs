//! `add` and `remove`: the Python packages of pyproject.toml. A name listed
//! already is a no-op for `add`; a name in no list makes `remove` exit 1.

use super::{ExitStatus, short};
use crate::cli::{AddArgs, RemoveArgs};
use crate::deps::{self, Checked, Outcome, Recorded};
use crate::error::Result;
use crate::host::probe::Host;
use crate::printer::Printer;

pub fn add(args: &AddArgs, printer: &Printer) -> Result<ExitStatus> {
    let opts = crate::settings::add_options(args);
    let outcome = deps::add(&opts, &Host::from_env())?;
    if let Some(message) = &outcome.recovered {
        printer.status("Recovered", message);
    }
    for (name, list) in &outcome.skipped {
        if let Some(list) = list {
            printer.note(&format!("`{name}` is in {list} already: nothing to add"));
        }
    }
    match &outcome.checked {
        Checked::Found { at, attributes } => {
            printer.status("Checked", &format!("{} in {at}", attributes.join(", ")));
        }
        Checked::Unasked(why) => printer.warn(&format!(
            "not checked against nixpkgs ({why}): the shell fails to load if nixpkgs lacks a package, naming it"
        )),
        Checked::Nothing => {}
    }
    for (requirement, list) in &outcome.changed {
        printer.status("Added", &format!("{requirement} to {list}"));
    }
    recorded(&outcome, printer);
    Ok(ExitStatus::Success)
}

pub fn remove(args: &RemoveArgs, printer: &Printer) -> Result<ExitStatus> {
    let outcome = deps::remove(&crate::settings::remove_options(args), &Host::from_env())?;
    if let Some(message) = &outcome.recovered {
        printer.status("Recovered", message);
    }
    for (name, list) in &outcome.changed {
        printer.status("Removed", &format!("{name} from {list}"));
    }
    for (name, _) in &outcome.skipped {
        printer.warn(&format!(
            "`{name}` is in no list of pyproject.toml: nothing to remove"
        ));
    }
    recorded(&outcome, printer);
    Ok(ExitStatus::failure_if(!outcome.skipped.is_empty()))
}

fn recorded(outcome: &Outcome, printer: &Printer) {
    match &outcome.recorded {
        Recorded::Unchanged => printer.note("pyproject.toml is unchanged"),
        Recorded::Written => {}
        Recorded::Staged => printer.status(
            "Staged",
            "pyproject.toml (`git commit` it; the shell reloads with the new list)",
        ),
        Recorded::Committed(id) => printer.status("Committed", short(id, 10)),
    }
}
