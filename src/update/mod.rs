//! `update` and `check`: carry a generated project to a newer scaffold
//! version without losing a user edit. base = what the scaffold rendered
//! for the project (the pristine tree the record names, from the project's
//! own repository; else the recorded version rendered again with the
//! recorded answers), theirs = the target version rendered with the
//! (migrated, possibly changed) answers, ours = the working tree; each file
//! is merged three-way. Everything is computed in memory first; writing is
//! all-or-nothing (`generate::write::apply_changes`).

pub mod merge;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::generate::journal::{self, ProjectLock};
use crate::generate::write::{Change, Probe, check_changes, probe};
use crate::record::{ProjectRecord, RECORD_FILE};
use crate::scaffold::Scaffold;
use crate::scaffold::answers::{self, Asker, Resolution};
use crate::scaffold::registry::Registry;
use crate::scaffold::render::{self, RenderedFile};
use crate::vcs;

#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Where to start looking for `.nixcuda.yaml` (walks up).
    pub start: PathBuf,
    pub to: Option<String>,
    pub defines: BTreeMap<String, String>,
    pub allow_dirty: bool,
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

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Create,
    Update,
    /// Merged with the user's edits, cleanly.
    Merge,
    /// Written with conflict markers (or, for binary files, left as is).
    Conflict,
    /// Not written: something that is not a regular file (a directory, a
    /// fifo) is where the new version has a file. Counts as a conflict.
    Blocked {
        reason: String,
    },
    Delete,
    /// Moved by a declared rename (with the user's edits).
    Rename {
        from: PathBuf,
    },
    /// Not touched, with the reason (user deleted it, user changed a file
    /// the new version no longer has, ...).
    Kept {
        reason: String,
    },
}

#[derive(Debug)]
pub struct UpdatePlan {
    pub root: PathBuf,
    pub from: String,
    pub to: String,
    pub actions: Vec<(PathBuf, FileAction)>,
    pub changes: Vec<Change>,
    pub record: ProjectRecord,
    pub base: Base,
    /// The target's render, stored as the next pristine tree when the
    /// project is in a git repository.
    pub pristine: Option<vcs::Files>,
    pub warnings: Vec<String>,
}

impl UpdatePlan {
    pub fn conflicts(&self) -> Vec<&Path> {
        self.actions
            .iter()
            .filter(|(_, a)| matches!(a, FileAction::Conflict | FileAction::Blocked { .. }))
            .map(|(p, _)| p.as_path())
            .collect()
    }

    /// Changes other than the record itself.
    pub fn is_noop(&self) -> bool {
        self.changes
            .iter()
            .all(|c| c.path() == Path::new(RECORD_FILE))
    }
}

/// The project root: the nearest directory at or above `start` that has a
/// `.nixcuda.yaml` (or the journal of an interrupted change).
pub fn find_project(start: &Path) -> Result<PathBuf> {
    let start = crate::generate::absolute(start)?;
    let mut dir = start.as_path();
    loop {
        // An interrupted update may have moved the record aside; its
        // journal marks the project root as well.
        if dir.join(RECORD_FILE).is_file() || dir.join(journal::JOURNAL_DIR).is_dir() {
            return Ok(dir.to_path_buf());
        }
        dir = match dir.parent() {
            Some(parent) => parent,
            None => {
                return Err(Error::NotAProject {
                    start: start.clone(),
                });
            }
        };
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
            if root.join(journal::JOURNAL_DIR).exists() {
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
    Ok(record)
}

fn recorded_answers(record: &ProjectRecord) -> Map<String, Value> {
    record
        .answers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), serde_json::to_value(v).ok()?)))
        .collect()
}

/// Renders `scaffold` with `answers` exactly as `new` would have.
fn render_with(
    scaffold: &Scaffold,
    project_name: &str,
    provided: &BTreeMap<String, String>,
    recorded: &Map<String, Value>,
    asker: Option<&mut dyn Asker>,
) -> Result<(Resolution, vcs::Files, BTreeSet<PathBuf>)> {
    let resolution = answers::resolve_with_recorded(
        &scaffold.manifest,
        answers::builtins(scaffold, project_name),
        provided,
        recorded,
        asker,
    )?;
    let files = render::render(scaffold, &resolution.context)?;
    let executable = files
        .iter()
        .filter(|f| f.executable)
        .map(|f| f.path.clone())
        .collect();
    let files = files
        .into_iter()
        .filter(|f| f.path != Path::new(RECORD_FILE))
        .map(|RenderedFile { path, contents, .. }| (path, contents))
        .collect();
    Ok((resolution, files, executable))
}

/// Renames answers and paths as the target's migrations say, for projects
/// coming from `from`.
fn migrate(
    target: &Scaffold,
    from: &semver::Version,
    answers: &mut Map<String, Value>,
) -> BTreeMap<PathBuf, PathBuf> {
    let mut renames = BTreeMap::new();
    for m in target
        .manifest
        .migrations
        .iter()
        .filter(|m| *from < m.before)
    {
        for (old, new) in &m.rename_answers {
            if let Some(v) = answers.remove(old) {
                answers.insert(new.clone(), v);
            }
        }
        for set in &m.set_answers {
            let source = answers.get(&set.from).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if let Some(value) = source.and_then(|s| set.map.get(&s)) {
                answers.insert(set.key.clone(), value.clone());
            }
        }
        for (old, new) in &m.rename_paths {
            let (old, new) = (PathBuf::from(old), PathBuf::from(new));
            // A path an earlier migration moved here moves on with it.
            for target in renames.values_mut() {
                if *target == old {
                    *target = new.clone();
                }
            }
            renames.entry(old).or_insert(new);
        }
    }
    renames
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(None),
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::UnsafePath {
            path: path.display().to_string(),
            reason: "is a symbolic link; update does not write through links".into(),
        }),
        Ok(meta) if meta.is_dir() => Ok(None),
        Ok(_) => std::fs::read(path)
            .map(Some)
            .map_err(|e| Error::io("read", path, e)),
    }
}

/// The user's side of one scaffold path.
#[derive(Debug, PartialEq, Eq)]
enum Ours {
    File(Vec<u8>),
    Absent,
    /// Something that is not a regular file is there (or a file where the
    /// path needs a directory): never replaced, whatever is ignored or not.
    Blocked(String),
}

fn read_ours(root: &Path, rel: &Path) -> Result<Ours> {
    Ok(match probe(root, rel)? {
        Probe::Absent => Ours::Absent,
        Probe::File => {
            let path = root.join(rel);
            Ours::File(std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?)
        }
        Probe::Dir => Ours::Blocked(
            "is a directory in your tree; the scaffold's file is not written there (move the directory, then update again)".into(),
        ),
        Probe::Special => Ours::Blocked(
            "is not a regular file in your tree; the scaffold's file is not written there".into(),
        ),
        Probe::UnderFile(ancestor) => Ours::Blocked(format!(
            "`{}` is a file in your tree, where the scaffold has a directory",
            ancestor.display()
        )),
    })
}

/// Computes the whole update in memory; writes nothing.
pub fn plan(
    opts: &UpdateOptions,
    registry: &Registry,
    asker: Option<&mut dyn Asker>,
) -> Result<UpdatePlan> {
    let root = find_project(&opts.start)?;
    let record = read_record(&root)?;
    let id = &record.scaffold.id;
    let from = format!("{id}@{}", record.scaffold.version);
    let from_version =
        semver::Version::parse(&record.scaffold.version).map_err(|e| Error::BadRecord {
            path: root.join(RECORD_FILE),
            message: format!("scaffold version: {e}"),
        })?;
    let target = match &opts.to {
        Some(v) => registry.resolve(&format!("{id}@{v}"))?,
        None => registry.resolve(id)?,
    };
    if target.manifest.version < from_version {
        return Err(Error::Downgrade {
            current: from,
            target: target.label(),
        });
    }
    if !opts.allow_dirty
        && let Some(dirty) = vcs::dirty_files(&root)?
        && !dirty.is_empty()
    {
        return Err(Error::DirtyTree { paths: dirty });
    }

    let recorded = recorded_answers(&record);
    let (base, base_source) = merge_base(&root, &record, &from, registry, &recorded, opts)?;
    let mut migrated = recorded.clone();
    let renames = migrate(target, &from_version, &mut migrated);
    let (resolution, theirs, their_exec) = render_with(
        target,
        &record.project_name,
        &opts.defines,
        &migrated,
        asker,
    )?;

    let their_label = target.label();
    let mut actions = Vec::new();
    let mut changes = Vec::new();
    let mut handled: BTreeSet<PathBuf> = BTreeSet::new();
    let renamed_to = |p: &Path| renames.get(p).cloned().unwrap_or_else(|| p.to_path_buf());

    for (old_path, base_bytes) in &base {
        let new_path = renamed_to(old_path);
        // Two old paths renamed onto one: the second is kept where it is.
        let first_claim = handled.insert(new_path.clone());
        let ours = read_ours(&root, old_path)?;
        let theirs_bytes = theirs.get(&new_path);
        let moved = new_path != *old_path;
        match (ours, theirs_bytes) {
            (Ours::Absent, Some(_)) => actions.push((
                old_path.clone(),
                FileAction::Kept {
                    reason: "you deleted it; it stays deleted".into(),
                },
            )),
            (Ours::Absent | Ours::Blocked(_), None) => {}
            (Ours::Blocked(reason), Some(_)) => {
                actions.push((old_path.clone(), FileAction::Blocked { reason }))
            }
            (Ours::File(ours), None) => {
                if ours == *base_bytes {
                    changes.push(Change::Delete {
                        path: old_path.clone(),
                    });
                    actions.push((old_path.clone(), FileAction::Delete));
                } else {
                    actions.push((old_path.clone(), FileAction::Kept {
                        reason: format!("you changed it and {their_label} no longer has it; it is left for you to remove"),
                    }));
                }
            }
            (Ours::File(ours), Some(theirs_bytes)) => {
                let path_label = new_path.to_string_lossy();
                let merged =
                    merge::merge3(base_bytes, &ours, theirs_bytes, &path_label, &their_label)?;
                let action = if !merged.clean {
                    FileAction::Conflict
                } else if moved {
                    FileAction::Rename {
                        from: old_path.clone(),
                    }
                } else if ours == *base_bytes {
                    FileAction::Update
                } else {
                    FileAction::Merge
                };
                if moved {
                    if !first_claim || read_ours(&root, &new_path)? != Ours::Absent {
                        actions.push((
                            old_path.clone(),
                            FileAction::Kept {
                                reason: format!(
                                    "it should move to {}, but that path is taken; it stays here",
                                    new_path.display()
                                ),
                            },
                        ));
                        continue;
                    }
                    changes.push(Change::Delete {
                        path: old_path.clone(),
                    });
                    changes.push(Change::Write {
                        path: new_path.clone(),
                        contents: merged.content,
                        executable: their_exec.contains(&new_path),
                    });
                    actions.push((new_path, action));
                } else if merged.content != ours {
                    changes.push(Change::Write {
                        path: new_path.clone(),
                        contents: merged.content,
                        executable: their_exec.contains(&new_path),
                    });
                    actions.push((new_path, action));
                } else if action == FileAction::Conflict {
                    actions.push((new_path, action));
                }
            }
        }
    }
    for (path, theirs_bytes) in &theirs {
        if handled.contains(path) {
            continue;
        }
        match read_ours(&root, path)? {
            Ours::Absent => {
                changes.push(Change::Write {
                    path: path.clone(),
                    contents: theirs_bytes.clone(),
                    executable: their_exec.contains(path),
                });
                actions.push((path.clone(), FileAction::Create));
            }
            Ours::Blocked(reason) => actions.push((path.clone(), FileAction::Blocked { reason })),
            Ours::File(ours) if ours == *theirs_bytes => {}
            Ours::File(ours) => {
                // Added upstream and by the user: merge over an empty base.
                let merged = merge::merge3(
                    b"",
                    &ours,
                    theirs_bytes,
                    &path.to_string_lossy(),
                    &their_label,
                )?;
                let action = if merged.clean {
                    FileAction::Merge
                } else {
                    FileAction::Conflict
                };
                if merged.content != ours {
                    changes.push(Change::Write {
                        path: path.clone(),
                        contents: merged.content,
                        executable: their_exec.contains(path),
                    });
                }
                actions.push((path.clone(), action));
            }
        }
    }

    let mut new_record =
        ProjectRecord::new(target, &root, &record.project_name, &resolution.answers);
    let pristine = vcs::enclosing_work_tree(&root).map(|_| theirs.clone());
    if let Some(files) = &pristine {
        new_record.pristine = Some(vcs::tree_id(files)?);
    }
    let record_text = new_record.to_yaml().into_bytes();
    if read_optional(&root.join(RECORD_FILE))?.as_deref() != Some(record_text.as_slice()) {
        changes.push(Change::Write {
            path: PathBuf::from(RECORD_FILE),
            contents: record_text,
            executable: false,
        });
    }
    actions.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(UpdatePlan {
        root,
        from,
        to: target.label(),
        actions,
        changes,
        record: new_record,
        base: base_source,
        pristine,
        warnings: resolution.warnings,
    })
}

/// The base of the three-way merge: the pristine tree when the repository
/// has it, else the recorded version rendered again.
fn merge_base(
    root: &Path,
    record: &ProjectRecord,
    from: &str,
    registry: &Registry,
    recorded: &Map<String, Value>,
    opts: &UpdateOptions,
) -> Result<(vcs::Files, Base)> {
    let reason = match &record.pristine {
        Some(tree) => match vcs::pristine_files(root, tree)? {
            Some(files) => return Ok((files, Base::Pristine { tree: tree.clone() })),
            None => format!("the pristine tree {tree} is not in this repository"),
        },
        None => format!("`{RECORD_FILE}` names no pristine tree"),
    };
    let scaffold = registry.resolve(from).map_err(|e| Error::NoMergeBase {
        scaffold: from.to_string(),
        reason: match &opts.base_note {
            Some(note) => format!("{reason}, and {note}"),
            None => format!("{reason}, and {from} cannot be rendered again ({e})"),
        },
        team_template: record.scaffold.source != "embedded",
    })?;
    let (_, files, _) = render_with(
        scaffold,
        &record.project_name,
        &BTreeMap::new(),
        recorded,
        None,
    )?;
    Ok((files, Base::Rerendered { reason }))
}

/// A unified diff of what `apply` would change (for `--dry-run`).
pub fn diff(plan: &UpdatePlan) -> Result<String> {
    let mut out = String::new();
    for change in &plan.changes {
        let path = change.path();
        let old = read_optional(&plan.root.join(path))?.unwrap_or_default();
        let new: &[u8] = match change {
            Change::Write { contents, .. } => contents,
            Change::Delete { .. } => b"",
        };
        let mut patch = git2::Patch::from_buffers(&old, Some(path), new, Some(path), None)
            .map_err(Error::git("diff a file"))?;
        let buf = patch.to_buf().map_err(Error::git("format a diff"))?;
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Committed (`--commit`).
    Committed(String),
    /// Staged in the index, except conflicted files.
    Staged,
    /// Not a git repository.
    NotInGit,
}

/// Writes the plan (all or nothing, even when killed), then stages or
/// commits it.
pub fn apply(plan: &UpdatePlan, commit: bool, lock: &ProjectLock) -> Result<Recorded> {
    check_changes(&plan.root, &plan.changes)?;
    vcs::check_index_writable(&plan.root)?;
    // The pristine objects first: the record written next names them.
    if let Some(files) = &plan.pristine {
        vcs::store_pristine(
            &plan.root,
            files,
            &format!("Pristine render of {}", plan.to),
        )?;
    }
    journal::apply(
        &plan.root,
        &plan.changes,
        &format!("cargo nixcuda update ({} -> {})", plan.from, plan.to),
        lock,
    )?;
    let Some(workdir) = vcs::enclosing_work_tree(&plan.root) else {
        return Ok(Recorded::NotInGit);
    };
    let conflicts: Vec<&Path> = plan.conflicts();
    let clean: Vec<(PathBuf, bool)> = plan
        .changes
        .iter()
        .filter(|c| !conflicts.contains(&c.path()))
        .map(|c| (plan.root.join(c.path()), matches!(c, Change::Delete { .. })))
        .collect();
    vcs::stage_changes(&workdir, &clean)?;
    if commit && conflicts.is_empty() {
        let message = format!(
            "Update to {} with cargo-nixcuda (from {})",
            plan.to, plan.from
        );
        return vcs::commit_index(&workdir, &message).map(Recorded::Committed);
    }
    Ok(Recorded::Staged)
}

/// `check`: the project's scaffold version against the newest.
#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    pub scaffold: String,
    pub current: String,
    pub newest: String,
    pub up_to_date: bool,
    pub newer: Vec<String>,
}

pub fn check(start: &Path, registry: &Registry) -> Result<CheckReport> {
    let root = find_project(start)?;
    let record = read_record(&root)?;
    let versions = registry.versions(&record.scaffold.id);
    let newest = registry.resolve(&record.scaffold.id)?;
    let current =
        semver::Version::parse(&record.scaffold.version).map_err(|e| Error::BadRecord {
            path: root.join(RECORD_FILE),
            message: format!("scaffold version: {e}"),
        })?;
    Ok(CheckReport {
        scaffold: record.scaffold.id.clone(),
        current: current.to_string(),
        newest: newest.manifest.version.to_string(),
        up_to_date: newest.manifest.version <= current,
        newer: versions
            .iter()
            .filter(|s| s.manifest.version > current)
            .map(|s| s.manifest.version.to_string())
            .collect(),
    })
}
