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

    #[error("git has no {missing}, and `user.useConfigOnly` forbids making one up")]
    NoIdentity { missing: &'static str },

    #[error("{variable} is `{value}`, which is not a date git reads")]
    BadDate { variable: String, value: String },

    #[error(
        "your git config asks for {format} repositories (`{setting}`), which the git library in cargo-nixcuda (libgit2) cannot make"
    )]
    ObjectFormat { format: String, setting: String },

    #[error("`{branch}` (init.defaultBranch in your git config) is not a branch name git accepts")]
    BadDefaultBranch { branch: String },

    #[error("`{}` is a bare repository: it has no work tree for the project's files", path.display())]
    BareRepository { path: PathBuf },

    #[error("the index of the repository at `{}` is a {kind} index, which the git library in cargo-nixcuda (libgit2) cannot write", workdir.display())]
    UnsupportedIndex {
        workdir: PathBuf,
        kind: &'static str,
    },

    #[error("`{}` would be staged through the `{filter}` filter (.gitattributes), which cargo-nixcuda cannot run", path.display())]
    FilteredPath { path: PathBuf, filter: String },
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
            GitError::NoIdentity { .. } => {
                "tell git who you are, as `git commit` asks: `git config --global user.name \"Your Name\"` and `git config --global user.email you@example.com` (or set GIT_AUTHOR_NAME/EMAIL and GIT_COMMITTER_NAME/EMAIL); nothing was written".into()
            }
            GitError::BadDate { .. } => {
                "use `@SECONDS +HHMM`, ISO 8601 (`2025-01-31T12:00:00+01:00`) or RFC 2822, or unset the variable; nothing was written".into()
            }
            GitError::ObjectFormat { setting, .. } => format!(
                "run with `--vcs none` and make the repository with `git init` yourself, or drop `{setting}` for this run; nothing was written"
            ),
            GitError::BadDefaultBranch { .. } => {
                "set another with `git config --global init.defaultBranch main`; nothing was written".into()
            }
            GitError::BareRepository { .. } => {
                "run the command outside it, or in a work tree of it (`git worktree add PATH`); nothing was written".into()
            }
            GitError::UnsupportedIndex { kind, .. } => format!(
                "turn it into a plain index first (`git update-index --no-split-index`, `git sparse-checkout disable` or `git config index.sparse false`), or use `--vcs none` and stage the files with `git add`; the {kind} index was not touched and nothing was written"
            ),
            GitError::FilteredPath { .. } => {
                "use `--vcs none` and stage the files with `git add`, which runs the filter; nothing was written".into()
            }
            GitError::BrokenGitDir { .. } => {
                "`git status` there says what is wrong with it; cargo-nixcuda never replaces a `.git`: repair or move it yourself, then run the command again (nothing was written)".into()
            }
        })
    }
}
