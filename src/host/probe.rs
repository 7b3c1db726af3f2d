//! Everything the host commands read from the machine goes through `Host`:
//! files under a root directory (`/` normally; `__CARGO_NIXCUDA_TEST_HOST_ROOT` in
//! tests, a fixture tree with `proc/`, `sys/`, `run/` and `etc/`), files in
//! the user's home (`HOME`), and commands found on `PATH` (stubs in tests).
//! Paths are given and reported as they are on a real machine (`/proc/...`).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Testing hook: the directory that stands for `/` (for /proc, /sys, /run, /etc).
pub const HOST_ROOT_ENV: &str = crate::test_hooks::HOST_ROOT;

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

/// How a time-bounded command ended.
#[derive(Debug, Clone)]
pub enum Bounded {
    Finished(Output),
    /// Killed after the limit.
    TimedOut,
    /// Could not be started (not installed).
    NotFound,
}

impl Host {
    /// Like `run`, but kills the command once `limit` has passed: for
    /// commands that may evaluate nixpkgs or download flake inputs. The
    /// command leads a process group of its own and the whole group is
    /// killed: `nix` starts builders and helpers that would otherwise run
    /// on, holding the output pipes open so that the wait never ends.
    pub fn run_bounded(&self, program: &str, args: &[&str], limit: Duration) -> Bounded {
        self.run_bounded_in(None, program, args, limit)
    }

    /// `run_bounded` in the directory `dir` (for commands that take their
    /// subject from the directory they run in, as `nix flake update` does
    /// in every Nix version).
    pub fn run_bounded_in(
        &self,
        dir: Option<&Path>,
        program: &str,
        args: &[&str],
        limit: Duration,
    ) -> Bounded {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(program);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let child = command
            .args(args.iter().map(OsString::from))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let Ok(mut child) = child else {
            return Bounded::NotFound;
        };
        // Both pipes are drained while waiting: a full pipe would block the
        // child and turn a fast command into a timeout.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    kill_group(child.id());
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let (stdout, stderr) = (
            stdout.join().unwrap_or_default(),
            stderr.join().unwrap_or_default(),
        );
        match status {
            Some(status) => Bounded::Finished(Output {
                success: status.success(),
                stdout,
                stderr,
            }),
            None => Bounded::TimedOut,
        }
    }
}

/// Sends SIGKILL to the process group `leader` leads.
fn kill_group(leader: u32) {
    let Ok(group) = libc::pid_t::try_from(leader) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers; a negative pid names the group.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
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

    #[test]
    fn bounded_commands_are_stopped_at_the_limit() {
        let host = Host::at(Path::new("/"));
        let second = Duration::from_secs(1);
        match host.run_bounded("sh", &["-c", "echo out; echo err >&2; exit 3"], second * 10) {
            Bounded::Finished(out) => {
                assert!(!out.success);
                assert_eq!(
                    (out.stdout.as_str(), out.stderr.as_str()),
                    ("out\n", "err\n")
                );
            }
            other => panic!("{other:?}"),
        }
        let started = Instant::now();
        assert!(matches!(
            host.run_bounded(
                "sh",
                &["-c", "while :; do :; done"],
                Duration::from_millis(300)
            ),
            Bounded::TimedOut
        ));
        assert!(started.elapsed() < second * 5);
        // A grandchild that keeps the output pipe open is stopped too.
        let started = Instant::now();
        assert!(matches!(
            host.run_bounded(
                "sh",
                &["-c", "sleep 60 & sleep 60"],
                Duration::from_millis(300)
            ),
            Bounded::TimedOut
        ));
        assert!(started.elapsed() < second * 5, "{:?}", started.elapsed());
        assert!(matches!(
            host.run_bounded("cargo-nixcuda-no-such-program", &[], second),
            Bounded::NotFound
        ));
    }
}
