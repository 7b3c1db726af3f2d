//! `update --abort`'s failures, with their hints.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AbortError {
    #[error("there is no update to abort in {}", root.display())]
    NothingToAbort { root: PathBuf, in_git: bool },

    #[error("HEAD moved since the update ({update}): it is part of the history now")]
    HeadMoved { update: String },

    #[error("the saved state of the last update, `{}`, cannot be read: {message}", path.display())]
    BadState { path: PathBuf, message: String },
}

impl AbortError {
    pub fn hint(&self) -> String {
        match self {
            AbortError::NothingToAbort { in_git: false, .. } => {
                "`update --abort` needs git: without a repository nothing is saved; restore the files from your backup".into()
            }
            AbortError::NothingToAbort { .. } => {
                "`update --abort` undoes the last `cargo nixcuda update` until the next one, or until it was aborted; there is none to undo here".into()
            }
            AbortError::HeadMoved { .. } => {
                "undo it with git instead: `git revert <COMMIT>`, or `git reset --hard <COMMIT>` to drop it".into()
            }
            AbortError::BadState { path, .. } => format!(
                "remove `{}` (the update can then not be aborted, but git can undo it: `git checkout -- . && git reset`)",
                path.display()
            ),
        }
    }
}
