//! The enclosing repository's index: the checks before anything is
//! written, files staged into the index an `init` or `update` builds inside
//! its journal (`index::build_index`), or ahead of the rename that makes a
//! new project visible (`new` inside a repository).

use std::path::{Path, PathBuf};

use git2::Repository;

use super::{canonical, canonical_parent, discover};
use crate::error::{Error, GitError, Result};

/// Fails when git could not write the index of the repository holding
/// `dir` (a leftover `index.lock`, no permission), before anything is
/// written: staging afterwards must not be what fails.
pub fn check_index_writable(dir: &Path) -> Result<()> {
    let Some(repo) = super::open_readable(dir)? else {
        return Ok(());
    };
    if repo.is_bare() {
        return Ok(());
    }
    check_index_kind(&repo)?;
    let lock = repo.path().join("index.lock");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
    {
        Ok(_) => std::fs::remove_file(&lock).map_err(|e| Error::io("remove", &lock, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::IndexLocked { lock }),
        Err(e) => Err(Error::io("lock the git index at", &lock, e)),
    }
}

/// Fails on an index libgit2 would rewrite as another kind than git left
/// it: split (`core.splitIndex`, its `link` extension) or sparse
/// (`index.sparse`, its `sdir` extension).
fn check_index_kind(repo: &Repository) -> Result<()> {
    let workdir = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let config = super::identity::repository_config(repo).ok();
    let set = |key: &str| {
        config
            .as_ref()
            .and_then(|c| c.get_bool(key).ok())
            .unwrap_or(false)
    };
    // libgit2 refuses to read the extensions that make an index split
    // (`link`) or sparse (`sdir`); any other failure to read it is git's
    // to report when staging.
    let unreadable = match repo.index() {
        Ok(_) => String::new(),
        Err(e) => e.message().to_string(),
    };
    let kind = if set("core.splitIndex") || unreadable.contains("'link'") {
        Some("split")
    } else if set("index.sparse") || unreadable.contains("'sdir'") {
        Some("sparse")
    } else {
        None
    };
    match kind {
        Some(kind) => Err(GitError::UnsupportedIndex { workdir, kind }.into()),
        None => Ok(()),
    }
}

/// Fails when a file of `paths` (absolute, in the work tree of `workdir`)
/// would be staged through a filter driver (`.gitattributes` `filter=`
/// with a `clean` or `process` command: git-lfs, nbstripout): libgit2
/// would store the file unfiltered, not what `git add` stores.
pub fn check_filters(workdir: &Path, paths: &[PathBuf]) -> Result<()> {
    let Ok(repo) = discover(workdir) else {
        return Ok(());
    };
    let Some(root) = repo.workdir().map(canonical) else {
        return Ok(());
    };
    let config = super::identity::repository_config(&repo).ok();
    let driver = |name: &str| {
        ["clean", "process"].iter().any(|cmd| {
            config
                .as_ref()
                .and_then(|c| c.get_string(&format!("filter.{name}.{cmd}")).ok())
                .is_some_and(|v| !v.trim().is_empty())
        })
    };
    for path in paths {
        let abs = canonical_parent(path);
        let Ok(rel) = abs.strip_prefix(&root) else {
            continue;
        };
        let filter = repo
            .get_attr(rel, "filter", git2::AttrCheckFlags::FILE_THEN_INDEX)
            .ok()
            .flatten()
            .map(str::to_string);
        if let Some(filter) = filter.filter(|f| driver(f)) {
            return Err(GitError::FilteredPath {
                path: rel.to_path_buf(),
                filter,
            }
            .into());
        }
    }
    Ok(())
}

/// Stages written (`false`) and deleted (`true`) files, given as absolute
/// paths inside the work tree `root`, in `index` (not written).
pub(super) fn stage_into(
    index: &mut git2::Index,
    root: &Path,
    changes: &[(PathBuf, bool)],
) -> Result<()> {
    for (path, deleted) in changes {
        let abs = canonical_parent(path);
        let rel = abs.strip_prefix(root).unwrap_or(&abs);
        if *deleted {
            // Untracked files have no entry: nothing to remove.
            let _ = index.remove_path(rel);
        } else {
            index.add_path(rel).map_err(Error::git("stage a file"))?;
        }
    }
    Ok(())
}

/// Entries staged ahead of a move, with what the index held at their paths
/// before, to put back if the move fails.
pub struct StagedAhead {
    workdir: PathBuf,
    before: Vec<(PathBuf, Option<git2::IndexEntry>)>,
}

/// Stages `files` (path relative to `dest`, contents, executable) in the
/// repository whose work tree is `workdir` as if they were at `dest`
/// already, before the rename that puts them there: so a kill leaves the
/// project either staged or not there at all (a retry of `new` then
/// stages it again), never present but unstaged. Entries carry no file
/// status, so git checks each file once it is there.
pub fn stage_ahead(workdir: &Path, dest: &Path, files: &[super::TreeFile]) -> Result<StagedAhead> {
    let repo = Repository::open(workdir).map_err(Error::git("open the enclosing repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let root = canonical(repo.workdir().unwrap_or(workdir));
    let dest = canonical_parent(dest);
    let base = dest.strip_prefix(&root).map_err(|_| Error::Git {
        action: "stage the project",
        source: git2::Error::from_str("the project is outside the repository's work tree"),
    })?;
    let mut before = Vec::new();
    for (path, contents, executable) in files {
        let rel = base.join(path);
        before.push((rel.clone(), index.get_path(&rel, 0)));
        crate::test_hooks::kill_point();
        let id = repo.blob(contents).map_err(Error::git("write a blob"))?;
        let entry = super::objects::entry(&rel, id, contents.len(), *executable);
        index.add(&entry).map_err(Error::git("stage a file"))?;
    }
    crate::test_hooks::kill_point();
    index.write().map_err(Error::git("write the index"))?;
    Ok(StagedAhead {
        workdir: root,
        before,
    })
}

impl StagedAhead {
    /// Puts back what the index held at the staged paths (the move failed).
    pub fn undo(self) -> Result<()> {
        let repo =
            Repository::open(&self.workdir).map_err(Error::git("open the enclosing repository"))?;
        let mut index = repo.index().map_err(Error::git("open the index"))?;
        for (path, entry) in self.before {
            match entry {
                Some(entry) => index.add(&entry),
                None => index.remove_path(&path),
            }
            .map_err(Error::git("restore the index"))?;
        }
        index.write().map_err(Error::git("write the index"))
    }
}

/// `files` (absolute) of the work tree of the repository holding them,
/// staged as `git add` stages them; false when no repository holds them.
/// Callers run `check_index_writable` and `check_filters` first.
pub fn stage_files(files: &[PathBuf]) -> Result<bool> {
    let Some(first) = files.first() else {
        return Ok(false);
    };
    let Some(repo) = super::open_readable(first.parent().unwrap_or(first))? else {
        return Ok(false);
    };
    let Some(workdir) = repo.workdir().map(canonical) else {
        return Ok(false);
    };
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    for file in files {
        let path = canonical(file);
        let relative = path
            .strip_prefix(&workdir)
            .map_err(|_| Error::io("stage", file, std::io::ErrorKind::InvalidInput.into()))?;
        index
            .add_path(relative)
            .map_err(Error::git("stage a file"))?;
    }
    index.write().map_err(Error::git("write the index"))?;
    Ok(true)
}

/// The paths (relative to the work tree) whose staged content differs
/// from HEAD's, in the repository holding `dir`.
pub fn staged_paths(dir: &Path) -> Result<Vec<String>> {
    let Some(repo) = super::open_readable(dir)? else {
        return Ok(Vec::new());
    };
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let index = repo.index().map_err(Error::git("open the index"))?;
    let diff = repo
        .diff_tree_to_index(head.as_ref(), Some(&index), None)
        .map_err(Error::git("compare the index with HEAD"))?;
    Ok(diff
        .deltas()
        .filter_map(|d| d.new_file().path().or(d.old_file().path()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}
