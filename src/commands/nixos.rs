//! `nixos`: the NixOS module for this machine, printed or written; an
//! existing different file is shown as a diff and is its exit status 1.

use super::ExitStatus;
use crate::cli::NixosArgs;
use crate::error::Result;
use crate::host::nixos::{self, WriteOutcome};
use crate::host::probe::Host;
use crate::printer::Printer;
use crate::settings::NixosSettings;

pub fn run(args: &NixosArgs, printer: &Printer) -> Result<ExitStatus> {
    let settings = NixosSettings::resolve(args);
    let module = nixos::generate(&Host::from_env(), &settings.options)?;
    for warning in &module.warnings {
        printer.warn(warning);
    }
    let outcome = match &settings.output {
        Some(path) => Some(nixos::write_module(path, &module.text, settings.force)?),
        None => None,
    };
    if settings.json {
        let mut value = serde_json::to_value(&module).unwrap_or_default();
        value["output"] =
            serde_json::json!(settings.output.as_ref().map(|p| p.display().to_string()));
        value["written"] = serde_json::json!(matches!(outcome, Some(WriteOutcome::Written)));
        if let Some(WriteOutcome::Differs { diff }) = &outcome {
            value["diff"] = serde_json::json!(diff);
        }
        printer.json(&value);
    }
    let (Some(path), Some(outcome)) = (&settings.output, outcome) else {
        if !settings.json {
            crate::out!("{}", module.text);
        }
        return Ok(ExitStatus::Success);
    };
    match outcome {
        WriteOutcome::Written => {
            printer.status(
                "Wrote",
                &format!("the NixOS module for this machine to {}", path.display()),
            );
            printer.note(&format!(
                "Next steps:\n  add `imports = [ {} ];` to /etc/nixos/configuration.nix\n  sudo nixos-rebuild switch && reboot\n  cargo nixcuda doctor",
                path.display()
            ));
            Ok(ExitStatus::Success)
        }
        WriteOutcome::Unchanged => {
            printer.status(
                "Fresh",
                &format!("{} is already this module", path.display()),
            );
            Ok(ExitStatus::Success)
        }
        WriteOutcome::Differs { diff } => {
            if !settings.json {
                crate::out!("{diff}");
                printer.warn(&format!(
                    "`{}` already exists and differs from the generated module (diff above); nothing was written\n  review the diff, then pass `--force` to overwrite, or choose another `--output`",
                    path.display()
                ));
            }
            Ok(ExitStatus::Failure)
        }
    }
}
