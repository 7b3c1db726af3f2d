//! Packages nixpkgs does not have, from PyPI through uv: the `pypi` group of
//! pyproject.toml, locked into `pylock.pypi.toml` (PEP 751), which the dev
//! shell installs into `.venv`, a virtual environment over the Nix one.
//!
//! The lock is `uv pip compile`'s, not `uv lock`'s: uv.lock always resolves
//! the whole project, the packages Nix provides among them (torch from PyPI,
//! with its `nvidia-*` wheels), where `uv pip compile --excludes` leaves
//! every distribution the Nix environment has out of the resolution. So the
//! virtual environment never holds a copy of one: Nix's CUDA builds stay the
//! ones imported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{DepsError, Error, Result};
use crate::host::probe::{Bounded, Host};

/// The lock of the `pypi` group, beside pyproject.toml.
pub const LOCK: &str = "pylock.pypi.toml";

/// Distributions that never come from PyPI into this environment, even
/// when the Nix Python at hand lacks them: PyPI's would replace or shadow
/// the CUDA builds (torch's wheels bring their own CUDA as `nvidia-*`).
const NEVER_FROM_PYPI: &[&str] = &[
    "torch",
    "triton",
    "numpy",
    "tensorflow",
    "jax",
    "jaxlib",
    "cupy-cuda12x",
    "nvidia-cublas-cu12",
    "nvidia-cuda-cupti-cu12",
    "nvidia-cuda-nvrtc-cu12",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cudnn-cu12",
    "nvidia-cufft-cu12",
    "nvidia-cufile-cu12",
    "nvidia-curand-cu12",
    "nvidia-cusolver-cu12",
    "nvidia-cusparse-cu12",
    "nvidia-cusparselt-cu12",
    "nvidia-nccl-cu12",
    "nvidia-nvjitlink-cu12",
    "nvidia-nvtx-cu12",
];

/// How `add --pypi` reaches uv and the Nix environment.
pub struct PypiTools {
    /// The Nix environment's Python (the shell exports it as
    /// NIXCUDA_PYTHON); None outside the shell.
    pub python: Option<PathBuf>,
    pub offline: bool,
    pub timeout: Duration,
}

/// Every distribution installed in `python`'s environment (PEP 503
/// normalised).
fn installed(host: &Host, python: &Path, timeout: Duration) -> Result<Vec<String>> {
    let script = "import importlib.metadata as m\nfor d in m.distributions():\n    n = d.metadata['Name']\n    if n: print(n)\n";
    let program = python.to_string_lossy();
    match host.run_bounded(&program, &["-c", script], timeout) {
        Bounded::Finished(out) if out.success => Ok(out
            .stdout
            .lines()
            .map(|l| super::pyproject::normalise(l.trim()))
            .filter(|l| !l.is_empty())
            .collect()),
        _ => Err(DepsError::Uv {
            reason: format!("`{program}` did not list its packages"),
        }
        .into()),
    }
}

/// The lock of `requirements` (the `pypi` group) with everything in
/// `nix_names` and in the Nix Python's environment left out: the bytes of
/// `pylock.pypi.toml`.
pub fn lock(
    root: &Path,
    requirements: &[String],
    nix_names: &[String],
    tools: &PypiTools,
    host: &Host,
) -> Result<Vec<u8>> {
    let Some(python) = &tools.python else {
        return Err(DepsError::NoNixPython.into());
    };
    let mut excludes: Vec<String> = nix_names.to_vec();
    excludes.extend(installed(host, python, tools.timeout)?);
    excludes.extend(NEVER_FROM_PYPI.iter().map(|n| n.to_string()));
    excludes.sort();
    excludes.dedup();
    // Each requirement of the group is kept out of the exclusions: a
    // package asked for by name comes from PyPI.
    let asked: Vec<String> = requirements
        .iter()
        .filter_map(|r| super::pyproject::requirement_name(r))
        .map(super::pyproject::normalise)
        .collect();
    excludes.retain(|e| !asked.contains(e));

    let scratch = Scratch::new(root)?;
    let reqs = scratch.file("requirements.txt", &(requirements.join("\n") + "\n"))?;
    let excl = scratch.file("excludes.txt", &(excludes.join("\n") + "\n"))?;
    let out = scratch.path("pylock.toml");
    let python = python.to_string_lossy();
    let mut args: Vec<&str> = vec![
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        "--format",
        "pylock.toml",
        "--python",
        &python,
    ];
    let (reqs, excl, out_arg) = (
        reqs.to_string_lossy(),
        excl.to_string_lossy(),
        out.to_string_lossy(),
    );
    args.extend(["--excludes", &excl, "-o", &out_arg, &reqs]);
    if tools.offline {
        args.push("--offline");
    }
    let finished = match host.run_bounded("uv", &args, tools.timeout) {
        Bounded::Finished(out) => out,
        Bounded::NotFound => {
            return Err(DepsError::Uv {
                reason: "no `uv` on PATH".into(),
            }
            .into());
        }
        Bounded::TimedOut => {
            return Err(DepsError::Uv {
                reason: format!(
                    "`uv pip compile` did not finish within {} s",
                    tools.timeout.as_secs()
                ),
            }
            .into());
        }
    };
    if !finished.success {
        let reason = finished
            .stderr
            .trim()
            .lines()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n  ");
        return Err(DepsError::Uv { reason }.into());
    }
    std::fs::read(&out).map_err(|e| Error::io("read", &out, e))
}

/// A directory beside pyproject.toml for uv's input and output, removed
/// when dropped; the git directory's ignore rules do not matter, it never
/// outlives the command.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(root: &Path) -> Result<Scratch> {
        let dir = root.join(format!(".nixcuda-pypi-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| Error::io("create", &dir, e))?;
        Ok(Scratch { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn file(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.path(name);
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
