//! Does the project's nixpkgs have these Python packages? Nix is asked
//! (`nix eval`), at the revision flake.lock pins, else at the branch
//! flake.nix follows.

use std::path::Path;
use std::time::Duration;

use crate::host::build_plan::SAFE_OPTIONS;
use crate::host::probe::{Bounded, Host};

/// The nixpkgs a project evaluates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nixpkgs {
    /// A flake reference Nix can fetch: `github:owner/repo/REV`.
    pub flake_ref: String,
    /// For the report: `github:nixos-cuda/nixpkgs/0123abc (flake.lock)`.
    pub described: String,
}

/// What Nix said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Whether each attribute exists, in the order asked.
    Found(Vec<bool>),
    /// Nix could not be asked or did not answer; why.
    NotChecked(String),
}

/// The project's nixpkgs: flake.lock's `nixpkgs` node when it is a GitHub
/// revision, else flake.nix's `inputs.nixpkgs.url` (its newest revision).
/// Err says why neither can be used.
pub fn project_nixpkgs(root: &Path) -> Result<Nixpkgs, String> {
    if let Ok(text) = std::fs::read_to_string(root.join("flake.lock")) {
        return locked(&text);
    }
    let flake = std::fs::read_to_string(root.join("flake.nix"))
        .map_err(|_| "the project has no flake.nix".to_string())?;
    let url = regex::Regex::new(r#"nixpkgs\.url\s*=\s*"([^"$\\]+)""#)
        .expect("a valid pattern")
        .captures(&flake)
        .map(|c| c[1].to_string())
        .ok_or("flake.nix has no `inputs.nixpkgs.url`")?;
    Ok(Nixpkgs {
        described: format!("{url} (no flake.lock yet: the branch's newest revision)"),
        flake_ref: url,
    })
}

fn locked(lock: &str) -> Result<Nixpkgs, String> {
    let lock: serde_json::Value =
        serde_json::from_str(lock).map_err(|e| format!("flake.lock is not JSON: {e}"))?;
    let nodes = &lock["nodes"];
    let root = lock["root"].as_str().unwrap_or("root");
    let locked = nodes[root]["inputs"]["nixpkgs"]
        .as_str()
        .map(|node| &nodes[node]["locked"])
        .ok_or("flake.lock has no `nixpkgs` input")?;
    let field = |key: &str| locked[key].as_str().filter(|v| is_plain(v));
    match (field("type"), field("owner"), field("repo"), field("rev")) {
        (Some("github"), Some(owner), Some(repo), Some(rev)) => Ok(Nixpkgs {
            flake_ref: format!("github:{owner}/{repo}/{rev}"),
            described: format!(
                "github:{owner}/{repo}/{} (flake.lock)",
                &rev[..rev.len().min(12)]
            ),
        }),
        _ => Err("flake.lock pins nixpkgs as another kind of input than a GitHub revision".into()),
    }
}

/// A value that goes into a flake reference as it is.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The Python package set the project's main environment uses
/// (`pkgs.python313.withPackages` in flake.nix: `python313Packages`).
pub fn package_set(root: &Path) -> String {
    let flake = std::fs::read_to_string(root.join("flake.nix")).unwrap_or_default();
    let python = regex::Regex::new(r"pkgs\.(python[0-9]*)\.withPackages")
        .expect("a valid pattern")
        .captures(&flake)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| "python3".into());
    format!("{python}Packages")
}

/// The system whose packages are asked about.
fn nix_system() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// Asks Nix whether `nixpkgs`'s `set` has each of `attributes`, for at most
/// `timeout`. Only the attribute names are looked at: nothing is built or
/// evaluated beyond them. As in doctor, nothing the project chose may run:
/// no import-from-derivation, no `nixConfig`.
pub fn ask(
    host: &Host,
    nixpkgs: &Nixpkgs,
    set: &str,
    attributes: &[String],
    timeout: Duration,
) -> Answer {
    let installable = format!(
        "{}#legacyPackages.{}.{set}",
        nixpkgs.flake_ref,
        nix_system()
    );
    let names: Vec<String> = attributes.iter().map(|a| nix_string(a)).collect();
    let apply = format!("ps: map (n: ps ? ${{n}}) [ {} ]", names.join(" "));
    let mut args = vec!["eval", "--json", "--no-write-lock-file"];
    args.extend(SAFE_OPTIONS);
    args.extend([installable.as_str(), "--apply", apply.as_str()]);
    let out = match host.run_bounded("nix", &args, timeout) {
        Bounded::Finished(out) => out,
        Bounded::NotFound => return Answer::NotChecked("no `nix` on PATH".into()),
        Bounded::TimedOut => {
            return Answer::NotChecked(format!(
                "`nix eval` did not answer within {} s",
                timeout.as_secs()
            ));
        }
    };
    match serde_json::from_str::<Vec<bool>>(out.stdout.trim()) {
        Ok(found) if out.success && found.len() == attributes.len() => Answer::Found(found),
        _ => {
            let error = out
                .stderr
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with("error:"))
                .or_else(|| out.stderr.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("no answer")
                .trim()
                .to_string();
            Answer::NotChecked(format!("`nix eval` failed: {error}"))
        }
    }
}

/// A Nix string literal: no interpolation, whatever the text.
fn nix_string(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_pins_a_github_revision() {
        let lock = r#"{"nodes":{"nixpkgs":{"locked":{"type":"github","owner":"nixos-cuda","repo":"nixpkgs","rev":"0123456789abcdef0123","narHash":"sha256-x"}},"root":{"inputs":{"nixpkgs":"nixpkgs"}}},"root":"root","version":7}"#;
        let n = locked(lock).unwrap();
        assert_eq!(
            n.flake_ref,
            "github:nixos-cuda/nixpkgs/0123456789abcdef0123"
        );
        assert_eq!(
            n.described,
            "github:nixos-cuda/nixpkgs/0123456789ab (flake.lock)"
        );
        let other = lock.replace("\"github\"", "\"path\"");
        assert!(locked(&other).is_err());
        let hostile = lock.replace("nixos-cuda", "a b");
        assert!(locked(&hostile).is_err());
    }

    #[test]
    fn strings_cannot_interpolate() {
        assert_eq!(nix_string("a${b}\"\\"), r#""a\${b}\"\\""#);
    }
}
