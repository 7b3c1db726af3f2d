//! The command layer of `doctor` and `nixos`: arguments in, the report or
//! the module out. The only code under `host` that prints.

use console::style;

use super::doctor::{self, DoctorOptions, Report, Status};
use super::nixos::{self, NixosOptions, PrimeChoice, WriteOutcome};
use super::probe::Host;
use crate::cli::{DoctorArgs, NixosArgs, PrimeArg};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::scaffold::registry::Registry;

/// Same hook as the other commands: scaffolds from a directory (tests).
const SCAFFOLDS_DIR_ENV: &str = "CARGO_NIXCUDA_SCAFFOLDS_DIR";

/// Seconds the build-plan check waits for `nix build --dry-run` (default:
/// the host data's `build_plan.timeout_seconds`).
const BUILD_PLAN_TIMEOUT_ENV: &str = "CARGO_NIXCUDA_BUILD_PLAN_TIMEOUT";

pub fn doctor_command(args: &DoctorArgs, printer: &Printer) -> Result<()> {
    let registry = match std::env::var_os(SCAFFOLDS_DIR_ENV) {
        Some(dir) => Registry::from_dir(std::path::Path::new(&dir))?,
        None => Registry::embedded()?,
    };
    let host = Host::from_env();
    let build_plan_timeout = std::env::var(BUILD_PLAN_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .map(std::time::Duration::from_secs_f64);
    let opts = DoctorOptions {
        start: args.path.clone(),
        registry: &registry,
        build_plan_timeout,
    };
    // A project left half updated by a killed run is put back first, so
    // the checks read what the project really is.
    if crate::update::find_project(&args.path).is_ok() {
        match crate::update::open_project_to_read(&args.path) {
            Ok((_, Some(message))) => printer.status("Recovered", &message),
            Ok(_) => {}
            Err(crate::error::Error::ProjectBusy { .. }) => printer.warn(
                "another cargo-nixcuda is changing this project; the project checks may see it half done",
            ),
            Err(e) => return Err(e),
        }
    }
    let report = doctor::run(&host, &opts)?;
    if args.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON serializes")
        );
    } else {
        crate::out!("{}", render_report(&report));
        let s = &report.summary;
        printer.note(&format!(
            "{} ok, {} warning(s), {} failed, {} skipped",
            s.ok, s.warn, s.fail, s.skip
        ));
    }
    match report.failed() {
        0 => Ok(()),
        failed => Err(Error::DoctorFailed { failed }),
    }
}

/// The human report: `STATUS  ID  message`, with `help:` lines under the
/// non-ok ones.
pub fn render_report(report: &Report) -> String {
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for check in &report.checks {
        let label = format!("{:<4}", check.status.label());
        let label = match check.status {
            Status::Ok => style(label).green(),
            Status::Warn => style(label).yellow(),
            Status::Fail => style(label).red().bold(),
            Status::Skip => style(label).dim(),
        };
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
                    style(lead).cyan(),
                    pad = width + 8
                ));
            }
        }
    }
    out
}

pub fn nixos_command(args: &NixosArgs, printer: &Printer) -> Result<()> {
    let host = Host::from_env();
    let opts = NixosOptions {
        open: match (args.open, args.no_open) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        prime: match args.prime {
            None => PrimeChoice::Auto,
            Some(PrimeArg::Offload) => PrimeChoice::Offload,
            Some(PrimeArg::Sync) => PrimeChoice::Sync,
            Some(PrimeArg::None) => PrimeChoice::None,
        },
        container_toolkit: args.container_toolkit,
    };
    let module = nixos::generate(&host, &opts)?;
    for warning in &module.warnings {
        printer.warn(warning);
    }
    let outcome = match &args.output {
        Some(path) => Some(nixos::write_module(path, &module.text, args.force)?),
        None => None,
    };
    if args.json {
        let mut value = serde_json::to_value(&module).expect("JSON serializes");
        value["output"] = serde_json::json!(args.output.as_ref().map(|p| p.display().to_string()));
        value["written"] = serde_json::json!(matches!(outcome, Some(WriteOutcome::Written)));
        if let Some(WriteOutcome::Differs { diff }) = &outcome {
            value["diff"] = serde_json::json!(diff);
        }
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON serializes")
        );
    }
    let Some(path) = &args.output else {
        if !args.json {
            crate::out!("{}", module.text);
        }
        return Ok(());
    };
    match outcome.expect("written when --output is given") {
        WriteOutcome::Written => {
            printer.status(
                "Wrote",
                &format!("the NixOS module for this machine to {}", path.display()),
            );
            printer.note(&format!(
                "Next steps:\n  add `imports = [ {} ];` to /etc/nixos/configuration.nix\n  sudo nixos-rebuild switch && reboot\n  cargo nixcuda doctor",
                path.display()
            ));
            Ok(())
        }
        WriteOutcome::Unchanged => {
            printer.status(
                "Fresh",
                &format!("{} is already this module", path.display()),
            );
            Ok(())
        }
        WriteOutcome::Differs { diff } => {
            if !args.json {
                crate::out!("{diff}");
            }
            Err(Error::ModuleExists { path: path.clone() })
        }
    }
}
