//! The git index as one step of a journaled change: git's own lock
//! (`index.lock`) is held from before the first file moves until the new
//! index is in place, so no `git add` or `git commit` runs in between, and
//! the new index (staged files and conflict stages together) is written
//! once, by libgit2, then moved in as git does it: its bytes in the lock
//! file, the lock file renamed over the index.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use git2::{Index, Repository};

use super::{ConflictEntry, discover};
use crate::error::{Error, Result};

/// `index.lock`, held; removed on drop unless `commit` moved it in.
pub struct IndexLock {
    file: Option<File>,
    lock: PathBuf,
    index: PathBuf,
}

impl IndexLock {
    /// Takes `index.lock` in the repository holding `dir`, writing `tag`
    /// into it (so a lock a killed run left can be told from another
    /// program's). None when `dir` is in no repository with a work tree.
    pub fn take(dir: &Path, tag: &str) -> Result<Option<IndexLock>> {
        let Ok(repo) = discover(dir) else {
            return Ok(None);
        };
        if repo.is_bare() {
            return Ok(None);
        }
        Self::take_in(repo.path(), tag).map(Some)
    }

    /// `take`, in the git directory `git_dir`.
    pub fn take_in(git_dir: &Path, tag: &str) -> Result<IndexLock> {
        let lock = git_dir.join("index.lock");
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::IndexLocked { lock });
            }
            Err(e) => return Err(Error::io("lock the git index at", &lock, e)),
        };
        let mut held = IndexLock {
            file: None,
            lock: lock.clone(),
            index: git_dir.join("index"),
        };
        // Held from here on: a failed write removes the lock again.
        file.write_all(tag.as_bytes())
            .map_err(|e| Error::io("write", &lock, e))?;
        held.file = Some(file);
        Ok(held)
    }

    pub fn index_path(&self) -> &Path {
        &self.index
    }

    /// Puts the index file `new` in place (`fill`, then `install`), or
    /// removes the index when `new` is None.
    pub fn commit(mut self, new: Option<&Path>) -> Result<()> {
        let Some(new) = new else {
            match fs::remove_file(&self.index) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("remove", &self.index, e));
                }
                _ => {}
            }
            self.file = None;
            return fs::remove_file(&self.lock).map_err(|e| Error::io("remove", &self.lock, e));
        };
        let bytes = fs::read(new).map_err(|e| Error::io("read", new, e))?;
        self.fill(&bytes)?;
        let file = self.file.as_ref().expect("a held lock has its file");
        file.sync_all()
            .map_err(|e| Error::io("write", &self.lock, e))?;
        self.install()
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock
    }

    /// Writes `bytes` (an index file's) into the lock file, not synced.
    pub fn fill(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("a held lock has its file");
        file.set_len(0)
            .and_then(|()| std::io::Seek::rewind(file))
            .and_then(|()| file.write_all(bytes))
            .map_err(|e| Error::io("write", &self.lock, e))
    }

    /// Renames the filled lock file over the index, as git does.
    pub fn install(mut self) -> Result<()> {
        self.file = None;
        fs::rename(&self.lock, &self.index).map_err(|e| Error::io("write", &self.index, e))?;
        // Renamed: nothing for drop to remove.
        self.lock = PathBuf::new();
        Ok(())
    }
}

impl Drop for IndexLock {
    fn drop(&mut self) {
        if !self.lock.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.lock);
        }
    }
}

/// Whether `lock` (an `index.lock`) is the one a run that wrote `tag` took.
pub fn is_own_lock(lock: &Path, tag: &str) -> bool {
    let mut head = vec![0; tag.len()];
    !tag.is_empty()
        && File::open(lock)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
        && head == tag.as_bytes()
}

/// Writes, at `out`, the index of the repository whose work tree is
/// `workdir` with `clean` (absolute paths; true for a deletion) staged and
/// `conflicts` recorded as unmerged, through libgit2, in one write. The
/// repository's own index is read, not changed.
pub fn build_index(
    workdir: &Path,
    lock: &IndexLock,
    out: &Path,
    clean: &[(PathBuf, bool)],
    conflicts: &[ConflictEntry],
) -> Result<()> {
    let repo = Repository::open(workdir).map_err(Error::git("open the repository"))?;
    if lock.index.exists() {
        fs::copy(&lock.index, out).map_err(|e| Error::io("copy the index to", out, e))?;
    }
    let mut index =
        Index::open_ext(out, repo.object_format()).map_err(Error::git("open the index"))?;
    // Backed by the repository, so paths are read from its work tree.
    repo.set_index(&mut index)
        .map_err(Error::git("open the index"))?;
    let root = super::canonical(repo.workdir().unwrap_or(workdir));
    super::stage::stage_into(&mut index, &root, clean)?;
    super::refs::record_conflicts(&repo, &mut index, &root, conflicts)?;
    index.write().map_err(Error::git("write the index"))
}
