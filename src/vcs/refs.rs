//! What `update` leaves in git besides files: conflicts as unmerged index
//! entries, and the references `update --abort` reads and restores.

use std::path::{Path, PathBuf};

use git2::Repository;

use super::{canonical_parent, discover};
use crate::error::{Error, Result};

/// One conflicted file for the index, as `git merge` leaves it: stage 1 the
/// base (absent when both sides added the file), 2 ours, 3 theirs.
pub struct ConflictEntry<'a> {
    /// Absolute, inside the work tree.
    pub path: PathBuf,
    pub base: Option<&'a [u8]>,
    pub ours: (&'a [u8], bool),
    pub theirs: (&'a [u8], bool),
}

/// Records `conflicts` as unmerged paths, so `git status` shows them (`UU`,
/// `AA`), `git mergetool` and editors find the three sides, and
/// `git commit -a` refuses until they are resolved with `git add`.
pub(super) fn record_conflicts(
    repo: &Repository,
    index: &mut git2::Index,
    root: &Path,
    conflicts: &[ConflictEntry],
) -> Result<()> {
    for conflict in conflicts {
        let abs = canonical_parent(&conflict.path);
        let rel = abs.strip_prefix(root).unwrap_or(&abs);
        let _ = index.remove(rel, 0);
        let _ = index.conflict_remove(rel);
        let sides = [
            (1, conflict.base.map(|b| (b, conflict.ours.1))),
            (2, Some(conflict.ours)),
            (3, Some(conflict.theirs)),
        ];
        for (stage, side) in sides {
            let Some((contents, executable)) = side else {
                continue;
            };
            let id = repo.blob(contents).map_err(Error::git("write a blob"))?;
            index
                .add(&unmerged_entry(rel, id, contents.len(), executable, stage))
                .map_err(Error::git("record a conflict in the index"))?;
        }
    }
    Ok(())
}

fn unmerged_entry(
    rel: &Path,
    id: git2::Oid,
    len: usize,
    executable: bool,
    stage: u16,
) -> git2::IndexEntry {
    let mut entry = super::objects::entry(rel, id, len, executable);
    // The stage lives in bits 12-13 of the flags (libgit2's
    // GIT_INDEX_ENTRY_STAGESHIFT); git2 fills in the name length.
    entry.flags = stage << 12;
    entry
}

/// The commit HEAD points at in the repository holding `dir` (None when
/// it is unborn or there is no repository).
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

/// The paths under `dir` (relative to it) that the index holds as
/// unmerged: the conflicts an update or a merge left and nobody resolved.
pub fn unmerged_paths(dir: &Path) -> Vec<PathBuf> {
    let Ok(repo) = discover(dir) else {
        return Vec::new();
    };
    let (Some(workdir), Ok(index)) = (repo.workdir(), repo.index()) else {
        return Vec::new();
    };
    let conflicted = index
        .conflicts()
        .into_iter()
        .flatten()
        .filter_map(|c| c.ok())
        .filter_map(|c| c.our.or(c.their).or(c.ancestor))
        .map(|entry| entry.path);
    super::under_dir(workdir, dir, conflicted)
}

/// What the reference `name` points at.
pub fn reference_target(dir: &Path, name: &str) -> Option<String> {
    let repo = discover(dir).ok()?;
    let target = repo.find_reference(name).ok()?.target()?;
    Some(target.to_string())
}

/// Points the reference `name` at `target`, or deletes it (None).
pub fn set_reference(dir: &Path, name: &str, target: Option<&str>, message: &str) -> Result<()> {
    let repo = discover(dir).map_err(Error::git("open the repository"))?;
    match target {
        Some(id) => {
            let oid = git2::Oid::from_str(id).map_err(Error::git("read an object id"))?;
            repo.reference(name, oid, true, message)
                .map_err(Error::git("move a reference"))?;
        }
        None => {
            if let Ok(mut reference) = repo.find_reference(name) {
                reference
                    .delete()
                    .map_err(Error::git("delete a reference"))?;
            }
        }
    }
    Ok(())
}

/// The reference HEAD names (`refs/heads/main`), or `HEAD` when detached.
pub fn head_reference(dir: &Path) -> Option<String> {
    let repo = discover(dir).ok()?;
    if repo.head_detached().ok()? {
        return Some("HEAD".into());
    }
    let head = repo.find_reference("HEAD").ok()?;
    head.symbolic_target().ok().flatten().map(str::to_string)
}
