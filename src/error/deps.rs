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
            DepsError::OtherChangesStaged { .. } => {
                "commit them first, or leave out `--commit` (the change is then staged beside them)".into()
            }
        })
    }
}
