//! The only code that writes project files. Both entry points are
//! all-or-nothing: on any error (IO, git, Ctrl-C) what they created is removed
//! and what existed before is untouched.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::RenderedFile;
use super::staging;
use crate::error::{Error, Result};

/// Set in tests to make the Nth file write fail, to prove that a failure in
/// the middle of a write leaves nothing behind.
const FAIL_AFTER_ENV: &str = crate::test_hooks::FAIL_AFTER_WRITES;

/// Catches SIGINT/SIGTERM/SIGHUP/SIGQUIT while files are written, so an interrupt becomes
/// an error that cleans up instead of a process killed halfway.
struct InterruptGuard {
    flag: Arc<AtomicBool>,
    ids: Vec<signal_hook::SigId>,
}

impl InterruptGuard {
    fn install() -> InterruptGuard {
        let flag = Arc::new(AtomicBool::new(false));
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        // A closed terminal (SIGHUP) and Ctrl-\ (SIGQUIT) clean up too.
        let ids = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
            .into_iter()
            .filter_map(|sig| signal_hook::flag::register(sig, Arc::clone(&flag)).ok())
            .collect();
        InterruptGuard { flag, ids }
    }

    fn check(&self) -> Result<()> {
        if self.flag.load(Ordering::SeqCst) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Everything a failed write must undo, newest first.
#[derive(Default)]
struct Undo {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    trees: Vec<PathBuf>,
    armed: bool,
}

impl Undo {
    fn arm() -> Undo {
        let mut undo = Undo::default();
        undo.armed = true;
        undo
    }
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for tree in self.trees.iter().rev() {
            let _ = fs::remove_dir_all(tree);
        }
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

pub(crate) struct Writer {
    interrupt: InterruptGuard,
    fail_after: Option<usize>,
    written: usize,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        Writer {
            interrupt: InterruptGuard::install(),
            fail_after: number(FAIL_AFTER_ENV),
            written: 0,
        }
    }

    /// Before each change to the filesystem: stop on Ctrl-C, and fail (or
    /// die) where a test asked for it.
    pub(crate) fn before_step(&mut self, action: &'static str, path: &Path) -> Result<()> {
        self.interrupt.check()?;
        if crate::test_hooks::kill_point() {
            self.interrupt.check()?;
        }
        if self.fail_after == Some(self.written) {
            return Err(Error::io(
                action,
                path,
                std::io::Error::other("failure injected by __CARGO_NIXCUDA_TEST_FAIL_AFTER_WRITES"),
            ));
        }
        Ok(())
    }

    /// A step that is not a write (a rename) done.
    pub(crate) fn count_step(&mut self) {
        self.written += 1;
    }

    /// Creates `path` (which must not exist) with `contents`, on disk
    /// before this returns.
    pub(crate) fn write_synced(&mut self, path: &Path, contents: &[u8]) -> Result<()> {
        self.create(path, contents, true, |_| {})
    }

    /// Creates `path` (which must not exist) with `contents`, not yet on
    /// disk: `sync_files` makes a batch of such files durable at once.
    pub(crate) fn write_unsynced(&mut self, path: &Path, contents: &[u8]) -> Result<()> {
        self.create(path, contents, false, |_| {})
    }

    /// Creates `path` (which must not exist) with `contents`.
    fn write_new(&mut self, path: &Path, contents: &[u8], undo: &mut Undo) -> Result<()> {
        self.create(path, contents, false, |p| undo.files.push(p.to_path_buf()))
    }

    /// `created` runs as soon as the file exists, so an undo list holds it
    /// even when the write then fails.
    fn create(
        &mut self,
        path: &Path,
        contents: &[u8],
        sync: bool,
        created: impl FnOnce(&Path),
    ) -> Result<()> {
        self.before_step("write", path)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        created(path);
        file.write_all(contents)
            .and_then(|()| if sync { file.sync_all() } else { Ok(()) })
            .map_err(|e| Error::io("write", path, e))?;
        self.written += 1;
        Ok(())
    }
}

/// Adds `x` wherever `r` is set (what `chmod +x` does under a usual umask).
pub(crate) fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|e| Error::io("inspect", path, e))?
        .permissions()
        .mode();
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(mode | ((mode & 0o444) >> 2)),
    )
    .map_err(|e| Error::io("make executable", path, e))
}

/// Creates `dirs` (relative to `root`, outermost first) where missing.
pub(crate) fn create_dirs_listed(root: &Path, dirs: &[PathBuf]) -> Result<()> {
    for dir in dirs {
        let path = root.join(dir);
        if fs::symlink_metadata(&path).is_err() {
            fs::create_dir(&path).map_err(|e| Error::io("create directory", &path, e))?;
        }
    }
    Ok(())
}

/// Creates the missing ancestors of `dir` (and `dir`), recording each.
fn create_dirs(dir: &Path, undo: &mut Undo) -> Result<()> {
    let mut missing = Vec::new();
    let mut probe = dir;
    while fs::symlink_metadata(probe).is_err() {
        missing.push(probe.to_path_buf());
        match probe.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => probe = parent,
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        fs::create_dir(&d).map_err(|e| Error::io("create directory", &d, e))?;
        undo.dirs.push(d);
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> Result<bool> {
    Ok(fs::read_dir(path)
        .map_err(|e| Error::io("read directory", path, e))?
        .next()
        .is_none())
}

/// Refuses a destination that exists and is a file, a link or a non-empty
/// directory.
pub fn check_new_destination(dest: &Path) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Err(_) => Ok(()),
        Ok(meta) if meta.is_dir() => {
            if is_empty_dir(dest)? {
                Ok(())
            } else {
                Err(Error::DestinationNotEmpty {
                    path: dest.to_path_buf(),
                })
            }
        }
        Ok(_) => Err(Error::DestinationNotDirectory {
            path: dest.to_path_buf(),
        }),
    }
}

/// Writes `files` into a hidden sibling of `dest`, runs `finish` there (git),
/// then renames it into place. `dest` must not exist or be an empty directory.
pub fn create_tree<T>(
    dest: &Path,
    files: &[RenderedFile],
    finish: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    check_new_destination(dest)?;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Dropped last, so after the work inside the parent is undone.
    let mut created_parent = Undo::arm();
    create_dirs(parent, &mut created_parent)?;
    // Resolved once, by working inside it: from here on every path is
    // relative to the parent directory itself, so a parent renamed or
    // swapped for a link while we write cannot redirect the project.
    let _cwd = CwdGuard::enter(parent)?;
    let name = Path::new(dest.file_name().unwrap_or(dest.as_os_str()));
    let mut undo = Undo::arm();
    let mut writer = Writer::new();
    let staging = staging::make_dir(Path::new("."), dest)?;
    undo.trees.push(staging.clone());
    let staging_lock = staging::StagingLock::take(&staging)?;
    // Each directory is made once, not once for every file in it.
    let mut made = std::collections::BTreeSet::new();
    for file in files {
        let target = staging.join(&file.path);
        if let Some(dir) = target.parent()
            && !made.contains(dir)
        {
            fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            made.extend(dir.ancestors().map(Path::to_path_buf));
        }
        writer.write_new(&target, &file.contents, &mut undo)?;
        if file.executable {
            make_executable(&target)?;
        }
    }
    let result = finish(&staging)?;
    writer.interrupt.check()?;
    // Checked again: something may have appeared while we were writing.
    check_new_destination(name)?;
    staging_lock.remove_file()?;
    // On disk before it has its name: a power cut after the rename must
    // not leave a project of empty files.
    staging::sync_tree(&staging)?;
    fs::rename(&staging, name).map_err(|e| Error::io("move the project into", dest, e))?;
    undo.disarm();
    created_parent.disarm();
    let _ = staging::sync_dir(Path::new("."));
    Ok(result)
}

/// Makes `dir` the working directory until dropped (then back to the one
/// before, as far as it still exists).
struct CwdGuard {
    before: Option<PathBuf>,
}

impl CwdGuard {
    fn enter(dir: &Path) -> Result<CwdGuard> {
        let before = std::env::current_dir().ok();
        std::env::set_current_dir(dir).map_err(|e| Error::io("enter", dir, e))?;
        Ok(CwdGuard { before })
    }
}

impl Drop for CwdGuard {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            let _ = std::env::set_current_dir(before);
        }
    }
}

/// What is at a project path, walked component by component from the root.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    Absent,
    File,
    Dir,
    /// A FIFO, socket or device.
    Special,
    /// The named ancestor (relative to the root) is not a directory.
    UnderFile(PathBuf),
}

/// What is at `root/rel`. A symbolic link anywhere on the way is an error:
/// nothing here ever reads or writes through one.
pub fn probe(root: &Path, rel: &Path) -> Result<Probe> {
    let mut path = root.to_path_buf();
    let components: Vec<_> = rel.components().collect();
    for (i, component) in components.iter().enumerate() {
        path.push(component);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Ok(Probe::Absent);
        };
        if meta.file_type().is_symlink() {
            return Err(Error::UnsafePath {
                path: path.display().to_string(),
                reason: "is a symbolic link; cargo-nixcuda does not write through links".into(),
            });
        }
        if i + 1 < components.len() && !meta.is_dir() {
            return Ok(Probe::UnderFile(
                path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
            ));
        }
        if i + 1 == components.len() {
            return Ok(if meta.is_dir() {
                Probe::Dir
            } else if meta.is_file() {
                Probe::File
            } else {
                Probe::Special
            });
        }
    }
    Ok(Probe::Absent)
}

/// One file operation the journal applies to an existing project: new
/// contents, or a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    Write {
        path: PathBuf,
        contents: Vec<u8>,
        /// For a file that does not exist yet; an existing file keeps the
        /// user's mode.
        executable: bool,
    },
    Delete {
        path: PathBuf,
    },
}

impl FileOp {
    pub fn path(&self) -> &Path {
        match self {
            FileOp::Write { path, .. } | FileOp::Delete { path } => path,
        }
    }
}

/// Refuses changes that would write outside `root`, through a link, or over
/// something that is not a regular file, before anything is written.
pub fn check_changes(root: &Path, changes: &[FileOp]) -> Result<()> {
    for change in changes {
        let rel = change.path().to_string_lossy();
        super::check_output_path(&rel).map_err(|reason| Error::UnsafePath {
            path: rel.to_string(),
            reason,
        })?;
        // Only regular files are ever moved aside: a directory there (an
        // ignored data directory, say) would be lost with the journal.
        if matches!(probe(root, change.path())?, Probe::Dir | Probe::Special) {
            return Err(Error::UnsafePath {
                path: root.join(change.path()).display().to_string(),
                reason: "is not a regular file; update replaces only files".into(),
            });
        }
    }
    Ok(())
}
