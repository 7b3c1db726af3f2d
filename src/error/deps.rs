//! Failures of `add` and `remove`: pyproject.toml, the package names, and
//! what nixpkgs has. Each leaves pyproject.toml as it was.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("`{}` cannot be edited: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },

    #[error("`{name}` is not a Python distribution name (PEP 508)")]
    BadName { name: String },

    #[error("nixpkgs has no {}: {at}", missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))]
    NotInNixpkgs {
        /// `python3Packages.foo` for each name refused.
        missing: Vec<String>,
        /// The distribution names, for the hint.
        names: Vec<String>,
        at: String,
    },

    #[error("`{name}` is not an extra's name (PEP 685: lower case, `-` between words)")]
    BadExtra { name: String, suggestion: String },

    #[error("uv could not lock the `pypi` group: {reason}")]
    Uv { reason: String },

    #[error(
        "`add --pypi` needs the Nix environment's Python, to keep every package it has out of the PyPI lock; NIXCUDA_PYTHON is not set"
    )]
    NoNixPython,

    #[error("other changes are staged in git ({}), and `--commit` would commit them too", paths.join(", "))]
    OtherChangesStaged { paths: Vec<String> },
}

impl DepsError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            DepsError::Malformed { .. } => {
                "fix the file (nothing was written), then run the command again".into()
            }
            DepsError::BadName { .. } => {
                "give the name as PyPI spells it: letters, digits, and `-`, `_` or `.` inside (`scikit-learn`)".into()
            }
            DepsError::NotInNixpkgs { names, .. } => format!(
                "nothing was added. If nixpkgs names it differently, map the name in pyproject.toml's [tool.nixcuda.nix-attributes] (`opencv-python = \"opencv4\"`) and add it again; if nixpkgs does not have it, `cargo nixcuda add --pypi {}` installs it from PyPI over the Nix environment",
                names.join(" ")
            ),
            DepsError::BadExtra { suggestion, .. } => {
                format!("spell it `{suggestion}`, as pyproject.toml's extras are written")
            }
            DepsError::Uv { .. } => {
                "nothing was written. Check the name on https://pypi.org; uv's own settings (an index, `UV_OFFLINE`) apply".into()
            }
            DepsError::NoNixPython => {
                "run it in the project's dev shell (`direnv allow`, or `nix develop`), which sets NIXCUDA_PYTHON and has uv".into()
            }
            DepsError::OtherChangesStaged { .. } => {
                "commit them first, or leave out `--commit` (the change is then staged beside them)".into()
            }
        })
    }
}
