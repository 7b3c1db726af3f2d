//! Repositories this tool must not write to, and git settings it cannot
//! honour: each stops the command before anything is written.

use std::path::PathBuf;

/// Why libgit2 could not open a repository git has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Owned by another user (git's `safe.directory` check).
    Owner,
    /// `extensions.objectFormat = sha256`.
    Sha256,
    /// `extensions.refStorage = reftable`.
    Reftable,
    /// Anything else libgit2 refuses (another extension, a damaged `.git`).
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git cannot open the repository at `{}`: {reason}", path.display())]
    Unreadable {
        path: PathBuf,
        kind: Unreadable,
        reason: String,
    },

    #[error("`{}` exists but is not a repository git can open", path.display())]
    BrokenGitDir { path: PathBuf },
}

impl GitError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            GitError::Unreadable { path, kind, .. } => {
                let what = match kind {
                    Unreadable::Owner => format!(
                        "the repository belongs to another user; run as its owner, or, if you trust it, `git config --global --add safe.directory {}`",
                        path.display()
                    ),
                    Unreadable::Sha256 => {
                        "it uses sha256 object names, which the git library in cargo-nixcuda (libgit2) cannot write; run the command in a sha1 repository, or with `--vcs none` and stage the files with `git add`".into()
                    }
                    Unreadable::Reftable => {
                        "it stores its references as reftable, which the git library in cargo-nixcuda (libgit2) cannot read; run `git refs migrate --ref-format=files` first, or use `--vcs none` and stage the files with `git add`".into()
                    }
                    Unreadable::Other => {
                        "check it with `git status`; `--vcs none` writes the files without touching git".into()
                    }
                };
                format!("{what}; nothing was written and the repository is untouched")
            }
            GitError::BrokenGitDir { .. } => {
                "`git status` there says what is wrong with it; cargo-nixcuda never replaces a `.git`: repair or move it yourself, then run the command again (nothing was written)".into()
            }
        })
    }
}
