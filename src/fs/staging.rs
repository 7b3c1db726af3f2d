//! The staging directory `new` builds a project in, beside its
//! destination (`.NAME.nixcuda-PID-N`): made, locked, synced before it is
//! renamed into place, and the clean-up of those killed runs left.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::sync::sync_files;
use crate::error::{Error, Result};

/// The file a running `new` holds locked inside its staging directory
/// (flock: it is released when the process dies, whatever PID namespace
/// or machine of a shared file system it ran in). It is removed just
/// before the directory becomes the project.
const STAGING_LOCK: &str = ".nixcuda-staging.lock";

/// A staging directory younger than this may still be in use (its lock
/// file not made yet, or just removed before the rename).
const STAGING_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Holds the lock of a staging directory; see `STAGING_LOCK`.
pub(super) struct StagingLock {
    _file: File,
    path: PathBuf,
}

impl StagingLock {
    pub(super) fn take(staging: &Path) -> Result<StagingLock> {
        let path = staging.join(STAGING_LOCK);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        // Where the file system has no locks, no clean-up can take the
        // lock either, so the directory is never removed as an orphan.
        let _ = file.try_lock();
        Ok(StagingLock { _file: file, path })
    }

    /// Takes the file out of the tree; the lock is held until drop.
    pub(super) fn remove_file(&self) -> Result<()> {
        fs::remove_file(&self.path).map_err(|e| Error::io("remove", &self.path, e))
    }
}

/// Removes the staging directories (`.NAME.nixcuda-PID-N`) in `parent`
/// that no process uses: what a SIGKILL or a power loss during `new`
/// leaves. Only a directory of this user, older than a minute, whose lock
/// file is there and free, is removed: a process id says nothing about a
/// process of another PID namespace (a container) or machine (NFS).
/// Returns them, to tell the user.
pub fn remove_orphaned_staging(parent: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let now = std::time::SystemTime::now();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if staging_pid(&name).is_none() {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STAGING_MIN_AGE);
        if !meta.is_dir() || meta.uid() != euid || !old {
            continue;
        }
        let lock = path.join(STAGING_LOCK);
        let free = fs::symlink_metadata(&lock).is_ok_and(|m| m.is_file())
            && OpenOptions::new()
                .read(true)
                .write(true)
                .open(&lock)
                .is_ok_and(|f| f.try_lock().is_ok());
        if free && fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

/// The process id in `.NAME.nixcuda-PID-N`.
fn staging_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".nixcuda-")?;
    let (pid, nanos) = tail.split_once('-')?;
    nanos.parse::<u32>().ok()?;
    pid.parse().ok()
}

pub(super) fn make_dir(parent: &Path, dest: &Path) -> Result<PathBuf> {
    let stem = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..100u32 {
        // A plain create_dir keeps the user's umask, so the final project
        // has the permissions `mkdir` would have given it.
        let candidate = parent.join(format!(
            ".{stem}.nixcuda-{}-{}",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create a staging directory in", parent, e)),
        }
    }
    Err(Error::io(
        "create a staging directory in",
        parent,
        std::io::Error::other("too many leftover staging directories"),
    ))
}

/// Puts the tree at `root` on disk, every file and directory, before the
/// rename that makes it the project. All side by side (`sync_files`): the
/// file system commits them together (one ext4 journal commit instead of
/// one for each directory), and each is durable when its sync returns,
/// whatever the order. Returns what was synced.
pub(super) fn sync_tree(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    let mut next = 0;
    while let Some(dir) = dirs.get(next).cloned() {
        next += 1;
        for entry in fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("read directory", &dir, e))?;
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("inspect", &entry.path(), e))?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.extend(dirs);
    sync_files(&files)?;
    Ok(files)
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tree_syncs_every_file_and_directory_of_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("t");
        for rel in ["a.txt", "src/b.py", "src/deep/c.nix", ".git/objects/ab/cd"] {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, rel).unwrap();
        }
        fs::create_dir_all(root.join("empty")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("link")).unwrap();
        let mut synced = sync_tree(&root).unwrap();
        synced.sort();
        let mut expected: Vec<PathBuf> = [
            "",
            "a.txt",
            "src",
            "src/b.py",
            "src/deep",
            "src/deep/c.nix",
            ".git",
            ".git/objects",
            ".git/objects/ab",
            ".git/objects/ab/cd",
            "empty",
        ]
        .iter()
        .map(|r| {
            if r.is_empty() {
                root.clone()
            } else {
                root.join(r)
            }
        })
        .collect();
        expected.sort();
        assert_eq!(synced, expected);
    }
}
