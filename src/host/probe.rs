//! Everything the host commands read from the machine goes through `Host`:
//! files under a root directory (`/` normally; `CARGO_NIXCUDA_HOST_ROOT` in
//! tests, a fixture tree with `proc/`, `sys/`, `run/` and `etc/`), files in
//! the user's home (`HOME`), and commands found on `PATH` (stubs in tests).
//! Paths are given and reported as they are on a real machine (`/proc/...`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Testing hook: the directory that stands for `/` (for /proc, /sys, /run, /etc).
pub const HOST_ROOT_ENV: &str = "CARGO_NIXCUDA_HOST_ROOT";

#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
    home: Option<PathBuf>,
    user: Option<String>,
    direnv_active: bool,
}

/// What a command printed; `None` from `Host::run` means it could not start.
#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Host {
    pub fn from_env() -> Host {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Host {
            root: var(HOST_ROOT_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            home: var("HOME").map(PathBuf::from),
            user: var("USER")
                .or_else(|| var("LOGNAME"))
                .map(|u| u.to_string_lossy().into_owned()),
            direnv_active: var("DIRENV_DIR").is_some(),
        }
    }

    /// A host rooted at `root`, with no home and no user (unit tests).
    pub fn at(root: &Path) -> Host {
        Host {
            root: root.to_path_buf(),
            home: None,
            user: None,
            direnv_active: false,
        }
    }

    /// Where the machine path `abs` (e.g. `/proc/modules`) really is.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    pub fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok()
    }

    pub fn exists(&self, abs: &str) -> bool {
        self.path(abs).exists()
    }

    /// Names in the directory `abs`, sorted; empty when it does not exist.
    pub fn list(&self, abs: &str) -> Vec<String> {
        sorted_names(&self.path(abs))
    }

    /// A file in the user's home, by its path relative to it.
    pub fn read_home(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.home.as_ref()?.join(rel)).ok()
    }

    /// Names in a directory of the user's home, sorted.
    pub fn list_home(&self, rel: &str) -> Vec<String> {
        let Some(home) = &self.home else {
            return Vec::new();
        };
        sorted_names(&home.join(rel))
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether this process runs inside a direnv-loaded directory.
    pub fn direnv_active(&self) -> bool {
        self.direnv_active
    }

    /// Runs `program` (looked up on PATH) with `args`; `None` when it cannot
    /// be started (not installed).
    pub fn run(&self, program: &str, args: &[&str]) -> Option<Output> {
        let out = std::process::Command::new(program)
            .args(args.iter().map(OsString::from))
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        Some(Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Names in `dir`, sorted; empty when it cannot be read.
fn sorted_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_paths_resolve_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/nix")).unwrap();
        std::fs::write(dir.path().join("etc/nix/nix.conf"), "a = b\n").unwrap();
        let host = Host::at(dir.path());
        assert_eq!(host.read("/etc/nix/nix.conf").as_deref(), Some("a = b\n"));
        assert!(host.exists("/etc/nix"));
        assert_eq!(host.list("/etc"), ["nix"]);
        assert!(host.list("/nope").is_empty());
        assert!(host.read_home(".bashrc").is_none());
        assert!(host.run("cargo-nixcuda-no-such-program", &[]).is_none());
    }
}
