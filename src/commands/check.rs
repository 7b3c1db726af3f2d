//! `check`: is the project on the newest version of its scaffold? Like
//! `diff`, it answers with its exit status: 0 fresh, 1 outdated, 2 when it
//! cannot say (the project is newer than anything this tool knows, or it
//! cannot be read).

use super::{ExitStatus, report_error};
use crate::cli::CheckArgs;
use crate::error::Result;
use crate::printer::Printer;
use crate::scaffold::source::TemplateSource;
use crate::settings::CheckSettings;
use crate::update::CheckReport;

/// What the report says about the project's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Outdated,
    /// Recorded by a newer tool or template than the one at hand.
    Newer,
    /// An update's conflicts are not resolved yet.
    Conflicts,
}

impl State {
    fn of(report: &CheckReport) -> State {
        let version = |v: &str| semver::Version::parse(v).ok();
        match (version(&report.current), version(&report.newest)) {
            (Some(current), Some(newest)) if current > newest => State::Newer,
            _ if !report.unresolved.is_empty() => State::Conflicts,
            _ if !report.newer.is_empty() => State::Outdated,
            _ => State::Fresh,
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Outdated => "outdated",
            State::Newer => "newer",
            State::Conflicts => "conflicts",
        }
    }
}

pub fn run(args: &CheckArgs, printer: &Printer) -> Result<ExitStatus> {
    // Errors are this command's exit status 2, as `newer` is: scripts tell
    // "outdated" (1) from "cannot say" (2).
    match check(args, printer) {
        Ok(status) => Ok(status),
        Err(e) => {
            report_error(printer, &e);
            Ok(ExitStatus::Error)
        }
    }
}

fn check(args: &CheckArgs, printer: &Printer) -> Result<ExitStatus> {
    let (root, recovered) = crate::update::open_project_to_read(&args.path)?;
    if let Some(message) = recovered {
        printer.status("Recovered", &message);
    }
    let settings = CheckSettings::resolve(args, root)?;
    let mut report = crate::update::check(&settings.root, &settings.scaffolds.registry)?;
    let state = State::of(&report);
    report.up_to_date = state == State::Fresh;
    if settings.json {
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        value["status"] = state.name().into();
        printer.json(&value);
    } else {
        tell(&report, state, &settings.scaffolds.source, printer);
    }
    Ok(match state {
        State::Fresh => ExitStatus::Success,
        State::Outdated | State::Conflicts => ExitStatus::Failure,
        State::Newer => ExitStatus::Error,
    })
}

fn tell(report: &CheckReport, state: State, source: &TemplateSource, printer: &Printer) {
    let label = format!("{}@{}", report.scaffold, report.current);
    match state {
        State::Fresh => printer.status("Fresh", &format!("{label} is the newest version")),
        State::Conflicts => printer.status(
            "Conflicts",
            &format!(
                "{label}: the last update left {} file(s) unmerged: {}; resolve the `<<<<<<<` markers and `git add` them, or undo the update with `cargo nixcuda update --abort`",
                report.unresolved.len(),
                report
                    .unresolved
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        State::Outdated => printer.status(
            "Outdated",
            &format!(
                "{label}; newer: {} (run `cargo nixcuda update`; `--dry-run` shows the diff first)",
                report.newer.join(", ")
            ),
        ),
        State::Newer => {
            let upgrade = match source {
                TemplateSource::Embedded => format!(
                    "this cargo-nixcuda ({}) knows {} up to {}: the project was made by a newer one; upgrade it: {}",
                    env!("CARGO_PKG_VERSION"),
                    report.scaffold,
                    report.newest,
                    crate::error::HOW_TO_UPGRADE
                ),
                other => format!(
                    "the template at {} has {} up to {}: the project was made from a newer version; check its recorded source in `.nixcuda.yaml`, or run without `--offline` to fetch the template again",
                    other.display(),
                    report.scaffold,
                    report.newest
                ),
            };
            printer.warn(&format!(
                "{label} is newer than this tool knows\n  {upgrade}"
            ));
        }
    }
}
