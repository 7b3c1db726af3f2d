//! The shell: `direnv` and `nix-direnv`.

use super::facts::Facts;
use super::report::Check;

pub fn direnv(facts: &Facts) -> Check {
    let Some(direnv) = &facts.direnv else {
        return Check::warn(
            "direnv",
            "direnv is not installed: the project's shell does not load by itself when you cd into it",
            "on NixOS `programs.direnv.enable = true;` (it hooks bash, zsh and fish and brings nix-direnv); elsewhere install direnv and nix-direnv, then add `eval \"$(direnv hook bash)\"` to ~/.bashrc",
        );
    };
    let version = &direnv.version;
    let hooked = direnv.active || direnv.shell_rc.iter().any(|t| t.contains("direnv hook"));
    if hooked {
        Check::ok("direnv", format!("direnv {version}, hooked into the shell"))
    } else {
        Check::warn(
            "direnv",
            format!("direnv {version} is installed but not hooked into your shell"),
            "add `eval \"$(direnv hook bash)\"` to ~/.bashrc (zsh: `direnv hook zsh` in ~/.zshrc; fish: `direnv hook fish | source`), or on NixOS `programs.direnv.enable = true;`",
        )
    }
}

pub fn nix_direnv(facts: &Facts) -> Check {
    let Some(direnv) = &facts.direnv else {
        return Check::skip("nix-direnv", "no direnv");
    };
    let mentions = |text: &String| text.contains("nix-direnv") || text.contains("nix_direnv");
    if direnv.direnvrc.iter().any(mentions) {
        return Check::ok("nix-direnv", "nix-direnv is installed for direnv");
    }
    if facts
        .project
        .as_ref()
        .is_some_and(|p| p.envrc.contains("nix_direnv_version"))
    {
        return Check::ok(
            "nix-direnv",
            "the project's .envrc fetches nix-direnv itself",
        );
    }
    Check::warn(
        "nix-direnv",
        "nix-direnv is not installed: plain direnv re-evaluates the flake on every cd and lets the shell be garbage-collected",
        "on NixOS `programs.direnv.nix-direnv.enable = true;`; with home-manager `programs.direnv.nix-direnv.enable = true;`; or the `source_url` line of https://github.com/nix-community/nix-direnv in the .envrc",
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status::{Ok, Skip, Warn};
    use super::super::testing::{in_project, machine, run_cases};
    use super::*;

    fn shell(change: impl FnOnce(&mut super::super::facts::Direnv)) -> Facts {
        let mut facts = machine();
        change(facts.direnv.as_mut().unwrap());
        facts
    }

    #[test]
    fn direnv_must_be_hooked() {
        run_cases(
            direnv,
            vec![
                ("hooked", machine(), Ok, "direnv 2.37.1, hooked"),
                (
                    "missing",
                    Facts {
                        direnv: None,
                        ..machine()
                    },
                    Warn,
                    "not installed",
                ),
                (
                    "unhooked",
                    shell(|d| d.shell_rc = vec!["alias ll='ls -l'".into()]),
                    Warn,
                    "not hooked",
                ),
                (
                    "loaded now",
                    shell(|d| {
                        d.shell_rc.clear();
                        d.active = true;
                    }),
                    Ok,
                    "hooked",
                ),
            ],
        );
    }

    #[test]
    fn nix_direnv_comes_from_a_direnvrc_or_the_project() {
        let without = || shell(|d| d.direnvrc.clear());
        let fetching = {
            let mut facts =
                in_project(|p| p.envrc = "nix_direnv_version 3.0.6\nuse flake\n".into());
            facts.direnv.as_mut().unwrap().direnvrc.clear();
            facts
        };
        run_cases(
            nix_direnv,
            vec![
                ("installed", machine(), Ok, "installed for direnv"),
                (
                    "lib file",
                    shell(|d| d.direnvrc = vec!["# nix_direnv_manual_reload".into()]),
                    Ok,
                    "installed",
                ),
                ("project", fetching, Ok, "fetches nix-direnv itself"),
                ("missing", without(), Warn, "not installed"),
                (
                    "no direnv",
                    Facts {
                        direnv: None,
                        ..machine()
                    },
                    Skip,
                    "no direnv",
                ),
            ],
        );
    }
}
