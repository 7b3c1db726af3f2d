//! `cargo nixcuda lock`: flake.lock moves only to revisions whose CUDA
//! closure the configured caches serve. Nix locks into a candidate file
//! beside nothing of the project's (`--output-lock-file` in a temporary
//! directory, with the current lock as `--reference-lock-file`); the same
//! dry run as doctor's build-plan check is asked about that candidate; only
//! when nothing heavy would compile locally does the candidate replace
//! flake.lock, in one rename. Every Nix command runs with
//! `build_plan::SAFE_OPTIONS` (no import-from-derivation, no flake
//! `nixConfig`) and a time limit that kills its whole process group.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build_plan::{self, Plan};
use super::data::HostFacts;
use super::doctor::facts::{first_version, version_at_least};
use super::probe::{Bounded, Host};
use crate::error::{HostError, Result};

pub const LOCK_FILE: &str = "flake.lock";

pub struct LockOptions {
    /// The project's root (where flake.nix is).
    pub root: PathBuf,
    /// Try the newest revisions of the inputs' branches (`nix flake
    /// update`) instead of keeping the locked ones (`nix flake lock`).
    pub update: bool,
    /// For each Nix command.
    pub timeout: Duration,
}

/// What `lock` did; refusing a candidate is an outcome, not an error.
#[derive(Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// flake.lock was written: `created` when there was none.
    Written { created: bool, plan: Plan },
    /// The candidate is the current flake.lock, and it stays in the cache.
    Unchanged { plan: Plan },
    /// The candidate would compile `heavy` locally; flake.lock (if any)
    /// was left byte for byte as it was.
    Refused { heavy: Vec<String>, plan: Plan },
}

/// Locks the project of `opts` as the module comment says.
pub fn lock(host: &Host, opts: &LockOptions, facts: &HostFacts) -> Result<LockOutcome> {
    let root = &opts.root;
    if !root.join("flake.nix").is_file() {
        return Err(HostError::NoFlake { root: root.clone() }.into());
    }
    check_nix(host, facts)?;
    let current_path = root.join(LOCK_FILE);
    let current = match std::fs::read(&current_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(crate::error::Error::io("read", &current_path, e)),
    };
    let scratch = Scratch::create()?;
    let candidate_path = scratch.0.join(LOCK_FILE);
    let reference = current.is_some().then_some(current_path.as_path());
    run_lock(host, opts, reference, &candidate_path)?;
    // Nix writes the output lock file only when it differs from the
    // reference one: no file means the current lock is the candidate.
    let (candidate, asked_path) = match std::fs::read(&candidate_path) {
        Ok(bytes) => (bytes, candidate_path.clone()),
        Err(_) => match &current {
            Some(bytes) => (bytes.clone(), current_path.clone()),
            None => {
                return Err(HostError::NixFailed {
                    command: lock_command(opts.update),
                    error: "it wrote no lock file".into(),
                    evaluation: false,
                }
                .into());
            }
        },
    };
    let plan = dry_run(host, root, &asked_path, opts.timeout)?;
    let heavy = build_plan::heavy(&plan, facts);
    if !heavy.is_empty() {
        return Ok(LockOutcome::Refused { heavy, plan });
    }
    if current.as_deref() == Some(candidate.as_slice()) {
        return Ok(LockOutcome::Unchanged { plan });
    }
    crate::fs::write_atomic(&current_path, &candidate)?;
    Ok(LockOutcome::Written {
        created: current.is_none(),
        plan,
    })
}

/// `nix` is on PATH and new enough for `--output-lock-file` and
/// `--reference-lock-file` (Nix 2.15; the host data's minimum is newer).
fn check_nix(host: &Host, facts: &HostFacts) -> Result<()> {
    let Some(out) = host.run("nix", &["--version"]) else {
        return Err(HostError::NixMissing.into());
    };
    let version = first_version(&out.stdout).unwrap_or_default();
    if !version_at_least(&version, &facts.min_nix_version) {
        return Err(HostError::NixTooOld {
            version: format!("Nix {}", if version.is_empty() { "?" } else { &version }),
            minimum: facts.min_nix_version.clone(),
        }
        .into());
    }
    Ok(())
}

fn lock_command(update: bool) -> String {
    if update {
        "nix flake update".into()
    } else {
        "nix flake lock".into()
    }
}

/// Nix writes the candidate lock to `output`. `nix flake update` takes its
/// flake from the directory it runs in (its positional arguments are the
/// flake before Nix 2.19, input names since), so it runs in the project.
fn run_lock(
    host: &Host,
    opts: &LockOptions,
    reference: Option<&Path>,
    output: &Path,
) -> Result<()> {
    let output = output.to_string_lossy().into_owned();
    let reference = reference.map(|p| p.to_string_lossy().into_owned());
    let root = opts.root.to_string_lossy().into_owned();
    let mut args: Vec<&str> = vec!["flake", if opts.update { "update" } else { "lock" }];
    args.extend(build_plan::SAFE_OPTIONS);
    args.extend(["--output-lock-file", output.as_str()]);
    if let Some(reference) = &reference {
        args.extend(["--reference-lock-file", reference.as_str()]);
    }
    if !opts.update {
        args.push(root.as_str());
    }
    let command = lock_command(opts.update);
    match host.run_bounded_in(Some(&opts.root), "nix", &args, opts.timeout) {
        Bounded::Finished(out) if out.success => Ok(()),
        Bounded::Finished(out) => Err(HostError::NixFailed {
            command,
            error: build_plan::nix_error(&format!("{}\n{}", out.stdout, out.stderr)),
            evaluation: false,
        }
        .into()),
        Bounded::TimedOut => Err(HostError::NixTimedOut {
            command,
            seconds: opts.timeout.as_secs(),
        }
        .into()),
        Bounded::NotFound => Err(HostError::NixMissing.into()),
    }
}

/// What `nix develop` would build with the lock file `lock`.
fn dry_run(host: &Host, root: &Path, lock: &Path, timeout: Duration) -> Result<Plan> {
    let command = format!(
        "nix build --dry-run .#devShells.{}.default",
        build_plan::nix_system()
    );
    match build_plan::ask(host, root, Some(lock), timeout) {
        Bounded::Finished(out) => {
            let text = format!("{}\n{}", out.stderr, out.stdout);
            match build_plan::parse_dry_run(&text) {
                Some(plan) => Ok(plan),
                None if out.success => Ok(Plan::default()),
                None => Err(HostError::NixFailed {
                    command,
                    error: build_plan::nix_error(&text),
                    evaluation: true,
                }
                .into()),
            }
        }
        Bounded::TimedOut => Err(HostError::NixTimedOut {
            command,
            seconds: timeout.as_secs(),
        }
        .into()),
        Bounded::NotFound => Err(HostError::NixMissing.into()),
    }
}

/// A private directory of this run under the system's temporary directory,
/// removed with everything in it when dropped: where Nix writes the
/// candidate, outside the project, so that a kill leaves the project as it
/// was.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut last = None;
        for attempt in 0..16u32 {
            let dir = base.join(format!(
                "cargo-nixcuda-lock-{}-{nanos:x}-{attempt}",
                std::process::id()
            ));
            // Created new and private: another user cannot have placed it.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(crate::error::Error::io("create", &dir, e)),
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::other("no free name"));
        Err(crate::error::Error::io("create", &base, e))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
