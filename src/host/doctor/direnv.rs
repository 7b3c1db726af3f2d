//! The shell: `direnv` and `nix-direnv`.

use super::Check;
use super::facts::Facts;

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
