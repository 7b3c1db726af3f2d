//! Crash-safe changes to an existing project (`update`, `init`), and the
//! lock that keeps two runs from changing one project at once.
//!
//! A change set is applied through a journal, a directory that cannot be
//! committed: `<git dir>/nixcuda/journal` when the project is in a git
//! repository, else `<root>/.nixcuda-journal` (see `place`):
//! 1. every new content is written to `new/` and synced;
//! 2. `journal.json` (what goes where, and the size and hash of each new
//!    content) is written and synced: from here on the project may be half
//!    changed, and the journal says how to undo it;
//! 3. each original is moved to `old/`, each new content into place;
//! 4. the directories are synced, then `journal.json` is removed: the change
//!    is complete, and what is left of the journal directory is garbage.
//!
//! A run killed at any point (SIGKILL, the OOM killer, power loss) leaves
//! either no `journal.json` (nothing was touched, or everything was) or one
//! that `recover` (in `recover.rs`) rolls back before any other command
//! reads the project. So a project is always the old or the new version,
//! and a file missing in the middle of an update is never read as a user
//! deletion.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fs::sync_files;
use crate::fs::write::{FileOp, Writer, create_dirs_listed, make_executable};

mod recover;

pub use recover::{has_pending, recover};

/// The journal of a project outside any git repository.
pub const JOURNAL_DIR: &str = ".nixcuda-journal";
pub(super) const JOURNAL_FILE: &str = "journal.json";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Journal {
    /// The command that wrote it, for the recovery message.
    pub command: String,
    /// The project root, relative to the work tree of the repository whose
    /// git directory holds the journal (empty beside the project): a
    /// journal is only ever applied to the project it was written for.
    #[serde(default)]
    pub project: PathBuf,
    pub entries: Vec<Entry>,
    /// The run holds the git index's lock and replaces the index last (see
    /// `IndexStep`); the index before it is `index.before` when it existed.
    #[serde(default)]
    pub index: Option<IndexState>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct IndexState {
    pub existed: bool,
}

/// Files beside `journal.json` for the index: the tag written into the
/// `index.lock` the run holds, the index before the run, and the SHA-1 of
/// the index it put in place.
pub(super) const INDEX_TAG: &str = "index.tag";
pub(super) const INDEX_BEFORE: &str = "index.before";
pub(super) const INDEX_WRITTEN: &str = "index.written";
/// `Journal::project`, written first.
pub(super) const PROJECT_FILE: &str = "project";

/// Writes the new index (libgit2, at the path given) while the run holds
/// the index's lock.
pub type BuildIndex<'a> = &'a mut dyn FnMut(&crate::vcs::IndexLock, &Path) -> Result<()>;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Entry {
    /// Relative to the project root.
    pub path: PathBuf,
    /// The staged content (`new/<n>`), for writes.
    pub new: Option<String>,
    /// The size and SHA-1 of the staged content: recovery removes only a
    /// file that is still exactly what the run wrote.
    #[serde(default)]
    pub written: Option<Written>,
    /// Where the original goes (`old/<n>`).
    pub old: String,
    /// Directories this change creates, outermost first.
    pub created_dirs: Vec<PathBuf>,
    /// The new content is a directory (the `.git` that `init` makes).
    #[serde(default)]
    pub is_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Written {
    pub size: u64,
    pub sha1: String,
}

impl Written {
    pub(super) fn of(contents: &[u8]) -> Written {
        Written {
            size: contents.len() as u64,
            sha1: sha1_smol::Sha1::from(contents).digest().to_string(),
        }
    }
}

/// Where a project's journal lives.
pub(super) struct Place {
    pub dir: PathBuf,
    /// The git directory that holds it.
    pub git_dir: Option<PathBuf>,
    /// `Journal::project` for this project.
    pub project: PathBuf,
    /// In the git directory (else beside the project, in `JOURNAL_DIR`).
    pub in_git: bool,
}

/// The journal of the project at `root`: in the git directory of the
/// repository that holds it (nothing there is ever committed or cloned),
/// else in the project itself, where only a project with no repository,
/// whose files the user has anyway, can have it.
pub(super) fn place(root: &Path) -> Place {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if let Some((git_dir, workdir)) = crate::vcs::git_and_work_dirs(root) {
        let project = canonical(root)
            .strip_prefix(canonical(&workdir))
            .map(Path::to_path_buf)
            .unwrap_or_default();
        return Place {
            dir: git_dir.join("nixcuda").join("journal"),
            git_dir: Some(git_dir),
            project,
            in_git: true,
        };
    }
    Place {
        dir: root.join(JOURNAL_DIR),
        git_dir: None,
        project: PathBuf::new(),
        in_git: false,
    }
}

/// Creates `dir`, readable and writable by its owner only (a journal
/// anyone else could write would not be applied).
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(dir)
}

/// Holds the project's lock; released on drop and when the process dies.
pub struct ProjectLock {
    _file: File,
}

/// Takes the project's exclusive lock, or fails at once naming the process
/// that holds it. The lock is a file in the git directory when there is
/// one (so neither the work tree nor `git status` ever shows it), else the
/// project directory itself.
pub fn lock(root: &Path) -> Result<ProjectLock> {
    let Some(git_dir) = crate::vcs::git_dir(root) else {
        let file = File::open(root).map_err(|e| Error::io("open", root, e))?;
        return try_lock(file, root, root, false);
    };
    let path = git_dir.join("nixcuda.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open the lock file", &path, e))?;
    try_lock(file, &path, root, true)
}

fn try_lock(mut file: File, path: &Path, root: &Path, named: bool) -> Result<ProjectLock> {
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = if named {
                fs::read_to_string(path).unwrap_or_default()
            } else {
                String::new()
            };
            return Err(Error::ProjectBusy {
                root: root.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
    }
    if named {
        let _ = file.set_len(0);
        let _ = writeln!(file, "cargo-nixcuda, process {}", std::process::id());
    }
    Ok(ProjectLock { _file: file })
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", dir, e))
}

/// A directory to move into the project with the files: `path` (relative
/// to the root, which must not exist) is built by `build` in the journal.
pub struct NewDir<'a> {
    pub path: PathBuf,
    pub build: &'a mut dyn FnMut(&Path) -> Result<()>,
}

/// Applies `changes` under `root` through the journal (see the module
/// comment); `command` names the run for a later recovery message.
pub fn apply(root: &Path, changes: &[FileOp], command: &str, lock: &ProjectLock) -> Result<()> {
    apply_with_dir(root, changes, None, command, lock)
}

/// `apply`, with a directory built and moved in along with the files.
pub fn apply_with_dir(
    root: &Path,
    changes: &[FileOp],
    new_dir: Option<NewDir>,
    command: &str,
    lock: &ProjectLock,
) -> Result<()> {
    run(root, changes, new_dir, None, command, lock)
}

/// `apply` in a git work tree, with the index in the same atomic unit:
/// git's index lock is taken before anything moves and held until `build`
/// has written the new index and it is in place; a kill anywhere is rolled
/// back, index included.
pub fn apply_staged(
    root: &Path,
    changes: &[FileOp],
    build: BuildIndex,
    command: &str,
    lock: &ProjectLock,
) -> Result<()> {
    run(root, changes, None, Some(build), command, lock)
}

fn run(
    root: &Path,
    changes: &[FileOp],
    new_dir: Option<NewDir>,
    build: Option<BuildIndex>,
    command: &str,
    lock: &ProjectLock,
) -> Result<()> {
    let place = place(root);
    let dir = &place.dir;
    if fs::symlink_metadata(dir).is_ok() {
        return Err(Error::Interrupted);
    }
    if let Some(parent) = dir.parent().filter(|p| !p.exists()) {
        create_private_dir(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    let mut writer = Writer::new();
    create_private_dir(dir).map_err(|e| Error::io("create directory", dir, e))?;
    // Whose leftovers these are, before `journal.json` says it (a kill
    // before it may leave the index lock to release).
    let owner = dir.join(PROJECT_FILE);
    fs::write(&owner, place.project.as_os_str().as_encoded_bytes())
        .map_err(|e| Error::io("write", &owner, e))?;
    let index = match build {
        Some(build) => match take_index_lock(root, dir, &mut writer) {
            Ok(Some(held)) => Some((held, build)),
            Ok(None) => None,
            Err(e) => {
                let _ = fs::remove_dir_all(dir);
                return Err(e);
            }
        },
        None => None,
    };
    let result = stage_and_swap(root, &place, changes, new_dir, index, command, &mut writer);
    if result.is_err() {
        // A failure we saw (not a kill): undo now, as a later run would.
        let _ = recover(root, lock);
        let _ = fs::remove_dir_all(dir);
    }
    result
}

/// Takes the index lock, its tag recorded first, so that recovery knows
/// a lock left by a killed run for its own.
fn take_index_lock(
    root: &Path,
    dir: &Path,
    writer: &mut Writer,
) -> Result<Option<crate::vcs::IndexLock>> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tag = format!("cargo-nixcuda {} {nanos}\n", std::process::id());
    // Not synced: after a power cut the lock itself may be gone too.
    writer.write_unsynced(&dir.join(INDEX_TAG), tag.as_bytes())?;
    crate::vcs::IndexLock::take(root, &tag)
}

fn stage_and_swap(
    root: &Path,
    place: &Place,
    changes: &[FileOp],
    extra: Option<NewDir>,
    index: Option<(crate::vcs::IndexLock, BuildIndex)>,
    command: &str,
    writer: &mut Writer,
) -> Result<()> {
    let dir = place.dir.as_path();
    let new_dir = dir.join("new");
    let old_dir = dir.join("old");
    for d in [&new_dir, &old_dir] {
        create_private_dir(d).map_err(|e| Error::io("create directory", d, e))?;
    }
    // 1. New contents (and the index as it is), synced.
    let index_state = match &index {
        Some((held, _)) => Some(save_index(held.index_path(), dir)?),
        None => None,
    };
    let saved_index: Vec<PathBuf> = match &index_state {
        Some(IndexState { existed: true }) => vec![dir.join(INDEX_BEFORE)],
        _ => Vec::new(),
    };
    let mut entries = stage_new(root, &new_dir, changes, &saved_index, writer)?;
    if let Some(extra) = extra {
        writer.before_step("write", &extra.path)?;
        (extra.build)(&new_dir.join("dir"))?;
        entries.push(Entry {
            path: extra.path.clone(),
            new: Some("dir".into()),
            written: None,
            old: "dir".into(),
            created_dirs: missing_parents(root, &extra.path),
            is_dir: true,
        });
    }
    sync_dir(&new_dir)?;
    // 2. The journal: the point after which a kill needs a rollback.
    let journal = Journal {
        command: command.to_string(),
        project: place.project.clone(),
        entries,
        index: index_state,
    };
    let text = serde_json::to_vec_pretty(&journal).expect("a journal serializes");
    let tmp = dir.join("journal.json.tmp");
    writer.write_synced(&tmp, &text)?;
    let journal_path = dir.join(JOURNAL_FILE);
    fs::rename(&tmp, &journal_path).map_err(|e| Error::io("write", &journal_path, e))?;
    // Directories are synced side by side (`sync_files`): one file system
    // commit for all, each durable when its sync returns.
    sync_files(&[dir.to_path_buf(), dir.parent().unwrap_or(dir).to_path_buf()])?;
    // 3. Swap.
    let touched = swap(root, &old_dir, &new_dir, &journal.entries, writer)?;
    // 4. Durable (the moved files' directories, and the new index with
    // its hash, side by side), the index in place, then done.
    let mut to_sync: Vec<PathBuf> = touched.into_iter().filter(|p| p.is_dir()).collect();
    to_sync.push(old_dir.clone());
    let index = match index {
        Some((held, build)) => Some(fill_index(held, build, dir, writer, &mut to_sync)?),
        None => None,
    };
    sync_files(&to_sync)?;
    if let Some(held) = index {
        writer.before_step("stage", held.index_path())?;
        let git_dir = held.index_path().parent().map(Path::to_path_buf);
        held.install()?;
        if let Some(git_dir) = git_dir {
            sync_dir(&git_dir)?;
        }
    }
    let complete_with_git_dir = journal.entries.iter().any(|e| e.is_dir);
    if !complete_with_git_dir {
        // Everything is in place; a kill here is still rolled back. (Not
        // with a new `.git`: its rename was the last step that may fail.)
        writer.before_step("finish", &journal_path)?;
    }
    fs::remove_file(&journal_path).map_err(|e| Error::io("remove", &journal_path, e))?;
    sync_dir(dir)?;
    // Directories emptied by deletions go too, as git would leave them.
    for entry in journal.entries.iter().filter(|e| e.new.is_none()) {
        let mut d = root.join(&entry.path);
        while d.pop() && d != root && fs::remove_dir(&d).is_ok() {}
    }
    fs::remove_dir_all(dir).map_err(|e| Error::io("remove", dir, e))
}

/// Copies the index as it is before the run into the journal (synced with
/// the new contents, by `stage_new`).
fn save_index(index: &Path, dir: &Path) -> Result<IndexState> {
    if !index.exists() {
        return Ok(IndexState { existed: false });
    }
    let before = dir.join(INDEX_BEFORE);
    fs::copy(index, &before).map_err(|e| Error::io("copy the index to", &before, e))?;
    Ok(IndexState { existed: true })
}

/// Builds the new index while the lock is held, and writes it into the
/// lock file and its hash into the journal (so recovery knows it for the
/// run's), both to be synced with `to_sync` before the lock is renamed.
fn fill_index(
    mut held: crate::vcs::IndexLock,
    build: BuildIndex,
    dir: &Path,
    writer: &mut Writer,
    to_sync: &mut Vec<PathBuf>,
) -> Result<crate::vcs::IndexLock> {
    writer.before_step("stage", held.index_path())?;
    let new = dir.join("index.new");
    build(&held, &new)?;
    let bytes = fs::read(&new).map_err(|e| Error::io("read", &new, e))?;
    let written = dir.join(INDEX_WRITTEN);
    writer.write_unsynced(&written, Written::of(&bytes).sha1.as_bytes())?;
    held.fill(&bytes)?;
    to_sync.push(written);
    to_sync.push(held.lock_path().to_path_buf());
    Ok(held)
}

/// Writes the new contents of `changes` under `new_dir`, one file per
/// change, syncs them all (with `also_sync`), and returns the journal entries that say where
/// each goes.
fn stage_new(
    root: &Path,
    new_dir: &Path,
    changes: &[FileOp],
    also_sync: &[PathBuf],
    writer: &mut Writer,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut staged_files = also_sync.to_vec();
    for (i, change) in changes.iter().enumerate() {
        let mut written = None;
        let new = match change {
            FileOp::Write {
                path,
                contents,
                executable,
            } => {
                let name = i.to_string();
                let staged = new_dir.join(&name);
                writer.write_unsynced(&staged, contents)?;
                // The user's mode stays on a file that is there; a new
                // one gets the template's executable bit.
                match fs::symlink_metadata(root.join(path)) {
                    Ok(meta) if meta.is_file() => fs::set_permissions(&staged, meta.permissions())
                        .map_err(|e| Error::io("set the mode of", &staged, e))?,
                    _ if *executable => make_executable(&staged)?,
                    _ => {}
                }
                staged_files.push(staged);
                written = Some(Written::of(contents));
                Some(name)
            }
            FileOp::Delete { .. } => None,
        };
        entries.push(Entry {
            path: change.path().to_path_buf(),
            new,
            written,
            old: i.to_string(),
            created_dirs: missing_parents(root, change.path()),
            is_dir: false,
        });
    }
    sync_files(&staged_files)?;
    Ok(entries)
}

/// Moves each entry's old file aside into `old_dir` and its new one into
/// place; returns the directories whose entries changed, to sync.
fn swap(
    root: &Path,
    old_dir: &Path,
    new_dir: &Path,
    entries: &[Entry],
    writer: &mut Writer,
) -> Result<BTreeSet<PathBuf>> {
    let mut touched = BTreeSet::new();
    for entry in entries {
        let target = root.join(&entry.path);
        writer.before_step("update", &entry.path)?;
        if fs::symlink_metadata(&target).is_ok() {
            fs::rename(&target, old_dir.join(&entry.old))
                .map_err(|e| Error::io("move aside", &target, e))?;
        }
        if let Some(new) = &entry.new {
            create_dirs_listed(root, &entry.created_dirs)?;
            writer.before_step("update", &entry.path)?;
            fs::rename(new_dir.join(new), &target).map_err(|e| Error::io("write", &target, e))?;
        }
        writer.count_step();
        if let Some(parent) = target.parent() {
            touched.insert(parent.to_path_buf());
        }
    }
    Ok(touched)
}

/// The directories between `root` and `rel` that do not exist yet.
fn missing_parents(root: &Path, rel: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut probe = rel.parent();
    while let Some(dir) = probe.filter(|d| !d.as_os_str().is_empty()) {
        if fs::symlink_metadata(root.join(dir)).is_ok() {
            break;
        }
        missing.push(dir.to_path_buf());
        probe = dir.parent();
    }
    missing.reverse();
    missing
}
