//! Gathers the three sides of every file (renders, reads the work tree)
//! and asks `decide` about each; writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::decide::{self, Decision, Ours, Sides, Theirs};
use super::{Base, UpdateOptions, UpdatePlan};
use crate::error::{Error, Result};
use crate::fs::RenderedFile;
use crate::fs::write::{Probe, probe};
use crate::record::{ProjectRecord, RECORD_FILE};
use crate::scaffold::Scaffold;
use crate::scaffold::answers::{self, Asker, Resolution};
use crate::scaffold::registry::Registry;
use crate::scaffold::render;
use crate::vcs;

/// A render: its files, and which of them are executable.
struct Render {
    files: vcs::Files,
    executable: BTreeSet<PathBuf>,
}

/// Computes the whole update in memory; writes nothing.
pub fn plan(
    opts: &UpdateOptions,
    registry: &Registry,
    asker: Option<&mut dyn Asker>,
) -> Result<UpdatePlan> {
    let root = opts.root.clone();
    let record = &opts.record;
    let id = &record.scaffold.id;
    let from = format!("{id}@{}", record.scaffold.version);
    let from_version = recorded_version(&root, record)?;
    let target = registry.resolve(&opts.target)?;
    if target.manifest.version < from_version {
        return Err(Error::Downgrade {
            current: from,
            target: target.label(),
        });
    }
    // A dry run writes nothing, so it runs on a dirty tree too; it says
    // what the real run would refuse.
    let dirty = if opts.allow_dirty {
        Vec::new()
    } else {
        vcs::dirty_files(&root)?.unwrap_or_default()
    };
    if !opts.dry_run && !dirty.is_empty() {
        return Err(Error::DirtyTree { paths: dirty });
    }

    let recorded = recorded_answers(record);
    let (base, base_source) = merge_base(&root, record, &from, registry, &recorded, opts)?;
    let mut migrated = recorded.clone();
    let migration = migrate(target, &from_version, &mut migrated);
    let (resolution, theirs) = render_with(
        target,
        &record.project_name,
        &opts.defines,
        &migrated,
        asker,
    )?;
    let decisions = decide_all(&root, &base, &theirs, &migration.renames, &target.label())?;

    let mut new_record = target.project_record(&root, &record.project_name, &resolution.answers);
    new_record.check_size()?;
    let pristine = vcs::enclosing_work_tree(&root).map(|_| theirs.files);
    if let Some(files) = &pristine {
        new_record.pristine = Some(vcs::tree_id(files)?);
    }
    let mut plan = UpdatePlan {
        root,
        from,
        to: target.label(),
        decisions,
        record_write: None,
        record: new_record.clone(),
        base: base_source,
        pristine,
        warnings: resolution.warnings,
        notes: migration.notes,
        dirty,
    };
    plan.set_record(new_record, &opts.record_text);
    Ok(plan)
}

fn recorded_version(root: &Path, record: &ProjectRecord) -> Result<semver::Version> {
    semver::Version::parse(&record.scaffold.version).map_err(|e| Error::BadRecord {
        path: root.join(RECORD_FILE),
        message: format!("scaffold version: {e}"),
    })
}

/// One decision per path of either render: the old render's paths first
/// (following their renames), then the paths only the new one has.
fn decide_all(
    root: &Path,
    base: &Render,
    theirs: &Render,
    renames: &BTreeMap<PathBuf, PathBuf>,
    their_label: &str,
) -> Result<Vec<Decision>> {
    let their_side = |path: &Path| {
        theirs.files.get(path).map(|contents| Theirs {
            contents,
            executable: theirs.executable.contains(path),
        })
    };
    let mut decisions = Vec::new();
    let mut claimed: BTreeSet<PathBuf> = BTreeSet::new();
    for (path, base_bytes) in &base.files {
        let new_path = renames.get(path).unwrap_or(path);
        // Two old paths renamed onto one: the second is kept where it is.
        let first_claim = claimed.insert(new_path.clone());
        let new_path_free =
            new_path == path || (first_claim && read_ours(root, new_path)? == Ours::Absent);
        let ours = read_ours(root, path)?;
        decisions.extend(decide::decide(&Sides {
            path,
            new_path,
            base: Some(base_bytes),
            ours: &ours,
            theirs: their_side(new_path),
            new_path_free,
            their_label,
        })?);
    }
    for path in theirs.files.keys().filter(|p| !claimed.contains(*p)) {
        let ours = read_ours(root, path)?;
        decisions.extend(decide::decide(&Sides {
            path,
            new_path: path,
            base: None,
            ours: &ours,
            theirs: their_side(path),
            new_path_free: true,
            their_label,
        })?);
    }
    decisions.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(decisions)
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
) -> Result<(Resolution, Render)> {
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
    Ok((resolution, Render { files, executable }))
}

/// What the target's migrations do to a project coming from an older
/// version.
struct Migration {
    renames: BTreeMap<PathBuf, PathBuf>,
    /// What the user must do by hand, in order.
    notes: Vec<String>,
}

/// Renames answers and paths as the target's migrations say, for projects
/// coming from `from`.
fn migrate(
    target: &Scaffold,
    from: &semver::Version,
    answers: &mut Map<String, Value>,
) -> Migration {
    let mut renames = BTreeMap::new();
    let mut notes = Vec::new();
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
        notes.extend(m.note.iter().map(|n| n.trim().to_string()));
    }
    Migration { renames, notes }
}

/// The user's side of one scaffold path.
fn read_ours(root: &Path, rel: &Path) -> Result<Ours> {
    Ok(match probe(root, rel)? {
        Probe::Absent => Ours::Absent,
        Probe::File => {
            use std::os::unix::fs::PermissionsExt;
            let path = root.join(rel);
            let read = |path: &Path| {
                let mode = std::fs::metadata(path)?.permissions().mode();
                Ok::<_, std::io::Error>((std::fs::read(path)?, mode & 0o111 != 0))
            };
            let (contents, executable) = read(&path).map_err(|e| Error::io("read", &path, e))?;
            Ours::File {
                contents,
                executable,
            }
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

/// The base of the three-way merge: the pristine tree when the repository
/// has it, else the recorded version rendered again.
fn merge_base(
    root: &Path,
    record: &ProjectRecord,
    from: &str,
    registry: &Registry,
    recorded: &Map<String, Value>,
    opts: &UpdateOptions,
) -> Result<(Render, Base)> {
    let reason = match &record.pristine {
        Some(tree) => match vcs::pristine_files(root, tree)? {
            Some(files) => {
                let render = Render {
                    files,
                    executable: BTreeSet::new(),
                };
                return Ok((render, Base::Pristine { tree: tree.clone() }));
            }
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
    let (_, files) = render_with(
        scaffold,
        &record.project_name,
        &BTreeMap::new(),
        recorded,
        None,
    )?;
    Ok((files, Base::Rerendered { reason }))
}
