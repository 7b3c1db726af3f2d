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
                "Next steps:\n{}  sudo nixos-rebuild switch && reboot\n  cargo nixcuda doctor",
                import_steps(path)
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

/// How `configuration.nix` imports the module written to `path`: a Nix path
/// (it needs a `/`), relative to `/etc/nixos` where the module is there,
/// after copying it there where it is not.
fn import_steps(path: &std::path::Path) -> String {
    let etc = std::path::Path::new("/etc/nixos");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "nvidia-host.nix".into());
    let add = |nix_path: &str| {
        format!("  add `imports = [ {nix_path} ];` to /etc/nixos/configuration.nix\n")
    };
    match path.strip_prefix(etc) {
        Ok(rel) => add(&format!("./{}", rel.display())),
        Err(_) => format!(
            "  sudo tee /etc/nixos/{name} < {} > /dev/null\n{}",
            path.display(),
            add(&format!("./{name}"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::import_steps;

    #[test]
    fn the_import_is_a_nix_path_next_to_configuration_nix() {
        assert_eq!(
            import_steps(Path::new("/etc/nixos/nvidia-host.nix")),
            "  add `imports = [ ./nvidia-host.nix ];` to /etc/nixos/configuration.nix\n"
        );
        assert_eq!(
            import_steps(Path::new("nvidia-host.nix")),
            "  sudo tee /etc/nixos/nvidia-host.nix < nvidia-host.nix > /dev/null\n  add `imports = [ ./nvidia-host.nix ];` to /etc/nixos/configuration.nix\n"
        );
    }
}
