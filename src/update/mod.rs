//! `update` and `check`: carry a generated project to a newer scaffold
//! version without losing a user edit. base = what the scaffold rendered
//! for the project (the pristine tree the record names, from the project's
//! own repository; else the recorded version rendered again with the
//! recorded answers), theirs = the target version rendered with the
//! (migrated, possibly changed) answers, ours = the working tree; each file
//! is merged three-way. Everything is computed in memory first; writing is
//! all-or-nothing (`generate::journal`). `plan` gathers the sides,
//! `decide` says what happens to each file, `apply` writes it and records
//! conflicts in the index as `git merge` does, `abort` undoes the last run.

pub mod abort;
mod apply;
mod check;
pub mod decide;
pub mod diff;
pub mod merge;
pub mod pager;
mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use abort::abort;
pub use apply::{Recorded, apply};
pub use check::{CheckReport, check};
pub use decide::{Change, Decision, FileAction};
pub use plan::plan;

use crate::error::{Error, Result};
use crate::fs::write::FileOp;
use crate::journal::{self, ProjectLock};
use crate::record::{ProjectRecord, RECORD_FILE};
use crate::vcs;

/// One update, as `settings` resolved it: the project found once, its
/// record read once, the target version chosen once.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The project root (`open_project` found and locked it).
    pub root: PathBuf,
    /// Its `.nixcuda.yaml`, as `read_record` checked it, and the text it
    /// was read from.
    pub record: ProjectRecord,
    pub record_text: String,
    /// The exact target, `id@version`.
    pub target: String,
    pub defines: BTreeMap<String, String>,
    pub allow_dirty: bool,
    /// Nothing will be written: a dirty tree is reported, not refused.
    pub dry_run: bool,
    /// Why the recorded version may not be renderable (a team template's
    /// recorded commit that could not be read), for the error when the
    /// pristine tree is missing too.
    pub base_note: Option<String>,
}

/// Where the merge base came from; `update` says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// The pristine tree recorded in `.nixcuda.yaml`, from the repository.
    Pristine { tree: String },
    /// The recorded version rendered again, and why the pristine tree was
    /// not used.
    Rerendered { reason: String },
}

/// The whole update, decided: one decision per file, and the new record.
#[derive(Debug)]
pub struct UpdatePlan {
    pub root: PathBuf,
    pub from: String,
    pub to: String,
    pub decisions: Vec<Decision>,
    /// The new `.nixcuda.yaml`, when it differs from the one on disk.
    record_write: Option<Vec<u8>>,
    pub record: ProjectRecord,
    pub base: Base,
    /// The target's render, stored as the next pristine tree when the
    /// project is in a git repository.
    pub pristine: Option<vcs::Files>,
    pub warnings: Vec<String>,
    /// What the user must do by hand, from the migrations that apply
    /// (`update` prints them; so does `--dry-run`).
    pub notes: Vec<String>,
    /// Uncommitted files a dry run went past (the real run refuses them
    /// without `--allow-dirty`).
    pub dirty: Vec<PathBuf>,
}

impl UpdatePlan {
    /// `ml@1.0.0 -> ml@1.3.0`, or `ml@1.3.0 (answers changed)` when the
    /// version stays and only answers change.
    pub fn label(&self) -> String {
        if self.from == self.to {
            format!("{} (answers changed)", self.to)
        } else {
            format!("{} -> {}", self.from, self.to)
        }
    }

    /// Files with conflicts: marked, or not written because something
    /// stands in the way.
    pub fn conflicts(&self) -> Vec<&Path> {
        self.decisions
            .iter()
            .filter(|d| d.is_conflict())
            .map(|d| d.path.as_path())
            .collect()
    }

    /// What `update` prints, file by file.
    pub fn actions(&self) -> impl Iterator<Item = (&Path, &FileAction)> {
        self.decisions.iter().map(|d| (d.path.as_path(), &d.action))
    }

    /// Changes other than the record itself.
    pub fn is_noop(&self) -> bool {
        self.decisions.iter().all(|d| d.change == Change::Keep)
    }

    /// Makes `record` the one the update writes when it differs from
    /// `on_disk`, the text the project's record was read from.
    pub fn set_record(&mut self, record: ProjectRecord, on_disk: &str) {
        let text = record.to_yaml().into_bytes();
        self.record_write = (on_disk.as_bytes() != text.as_slice()).then_some(text);
        self.record = record;
    }

    /// The file operations the journal applies: each decision's (a rename
    /// removes its old path), then the record.
    pub fn ops(&self) -> Vec<FileOp> {
        let mut ops = Vec::new();
        for d in &self.decisions {
            match &d.change {
                Change::Keep => continue,
                Change::Delete => ops.push(FileOp::Delete {
                    path: d.path.clone(),
                }),
                Change::Write {
                    contents,
                    executable,
                } => {
                    if let Some(from) = &d.from {
                        ops.push(FileOp::Delete { path: from.clone() });
                    }
                    ops.push(FileOp::Write {
                        path: d.path.clone(),
                        contents: contents.clone(),
                        executable: *executable,
                    });
                }
            }
        }
        if let Some(text) = &self.record_write {
            ops.push(FileOp::Write {
                path: PathBuf::from(RECORD_FILE),
                contents: text.clone(),
                executable: false,
            });
        }
        ops
    }
}

/// The project root: the nearest directory at or above `start` that has a
/// `.nixcuda.yaml`, or else the nearest one whose own journal holds an
/// interrupted change (which may have moved the record aside). A journal
/// only marks the project it was written for: `journal::has_pending`
/// reads none in a parent directory that merely contains one.
pub fn find_project(start: &Path) -> Result<PathBuf> {
    let start = crate::generate::absolute(start)?;
    if let Some(root) = start.ancestors().find(|d| d.join(RECORD_FILE).is_file()) {
        return Ok(root.to_path_buf());
    }
    match start
        .ancestors()
        .find(|d| journal::has_pending(d, *d == start.as_path()))
    {
        Some(root) => Ok(root.to_path_buf()),
        None => Err(Error::NotAProject { start }),
    }
}

/// The project at or above `start`, locked against other runs, with any
/// interrupted change rolled back first (and what was done, to tell).
pub fn open_project(start: &Path) -> Result<(PathBuf, ProjectLock, Option<String>)> {
    let root = find_project(start)?;
    let lock = journal::lock(&root)?;
    let recovered = journal::recover(&root, &lock)?;
    Ok((root, lock, recovered))
}

/// `open_project` for commands that only read (`check`, `doctor`): on a
/// read-only checkout, where no lock can be taken and no journal can be
/// left, the project is read as it is.
pub fn open_project_to_read(start: &Path) -> Result<(PathBuf, Option<String>)> {
    match open_project(start) {
        Ok((root, _lock, recovered)) => Ok((root, recovered)),
        Err(Error::Io { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            let root = find_project(start)?;
            if journal::has_pending(&root, true) {
                return Err(Error::Io {
                    action: "roll back the interrupted update in",
                    path: root,
                    source,
                });
            }
            Ok((root, None))
        }
        Err(e) => Err(e),
    }
}

/// Reads and checks `.nixcuda.yaml`. It comes with the project, so also
/// with a project cloned from someone else: it is held to what `new`
/// writes before any of it is used.
pub fn read_record(root: &Path) -> Result<ProjectRecord> {
    read_record_and_text(root).map(|(record, _)| record)
}

/// `read_record`, with the text it was read from.
pub fn read_record_and_text(root: &Path) -> Result<(ProjectRecord, String)> {
    let path = root.join(RECORD_FILE);
    let bad = |message: String| Error::BadRecord {
        path: path.clone(),
        message,
    };
    let text = crate::record::read_limited(&path)?;
    let record = ProjectRecord::from_yaml(&text).map_err(|e| bad(e.to_string()))?;
    if let Err(rejection) = crate::names::validate(&record.project_name) {
        return Err(bad(format!(
            "project_name `{}`: {}",
            crate::error::shorten(&record.project_name),
            rejection.rule
        )));
    }
    Ok((record, text))
}
