//! `doctor`: the host checks, one line each; failed checks are its exit
//! status 1, not an error.

use super::ExitStatus;
use crate::cli::DoctorArgs;
use crate::error::{Error, Result};
use crate::host::doctor::{self, DoctorOptions, Report, Status};
use crate::host::probe::Host;
use crate::printer::{Printer, Tone, paint};
use crate::settings::DoctorSettings;

pub fn run(args: &DoctorArgs, printer: &Printer) -> Result<ExitStatus> {
    let settings = DoctorSettings::resolve(args)?;
    // A project left half updated by a killed run is put back first, so
    // the checks read what the project really is.
    if crate::update::find_project(&settings.start).is_ok() {
        match crate::update::open_project_to_read(&settings.start) {
            Ok((_, Some(message))) => printer.status("Recovered", &message),
            Ok(_) => {}
            Err(Error::ProjectBusy { .. }) => printer.warn(
                "another cargo-nixcuda is changing this project; the project checks may see it half done",
            ),
            Err(e) => return Err(e),
        }
    }
    let opts = DoctorOptions {
        start: settings.start.clone(),
        registry: &settings.registry,
        build_plan_timeout: settings.build_plan_timeout,
    };
    let report = doctor::run(&Host::from_env(), &opts)?;
    if settings.json {
        printer.json(&report);
        return Ok(ExitStatus::failure_if(report.failed() > 0));
    }
    crate::out!("{}", render_report(&report));
    let s = &report.summary;
    printer.note(&format!(
        "{} ok, {} warning(s), {} failed, {} skipped",
        s.ok, s.warn, s.fail, s.skip
    ));
    if report.failed() > 0 {
        printer.note(&format!(
            "{} doctor check(s) failed: fix the `fail` lines above (each has a hint), then run `cargo nixcuda doctor` again",
            report.failed()
        ));
    }
    Ok(ExitStatus::failure_if(report.failed() > 0))
}

/// The human report: `STATUS  ID  message`, with `help:` lines under the
/// non-ok ones.
fn render_report(report: &Report) -> String {
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for check in &report.checks {
        let tone = match check.status {
            Status::Ok => Tone::Good,
            Status::Warn => Tone::Warn,
            Status::Fail => Tone::Bad,
            Status::Skip => Tone::Faint,
        };
        let label = paint(&format!("{:<4}", check.status.label()), tone);
        out.push_str(&format!(
            "{label}  {:<width$}  {}\n",
            check.id, check.message
        ));
        if let Some(hint) = &check.hint {
            for (i, line) in hint.lines().enumerate() {
                let lead = if i == 0 { "help:" } else { "     " };
                out.push_str(&format!(
                    "{:pad$}{} {line}\n",
                    "",
                    paint(lead, Tone::Hint),
                    pad = width + 8
                ));
            }
        }
    }
    out
}
