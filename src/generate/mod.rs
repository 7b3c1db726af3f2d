//! `new` and `init`: name -> answers -> render -> write -> git.

pub mod init_plan;
pub mod next_steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::RenderedFile;
use crate::fs::{staging, write};
use crate::journal;
use crate::names;
use crate::record::{ProjectRecord, RECORD_FILE};
use crate::scaffold::Scaffold;
use crate::scaffold::answers::{self, Asker};
use crate::scaffold::registry::{DEFAULT_SCAFFOLD, Registry};
use crate::scaffold::render;
use crate::vcs::{self, VcsOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vcs {
    Git,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new directory; refuses an existing non-empty one.
    New,
    /// An existing directory; never changes an existing file.
    Init,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub path: PathBuf,
    pub name: Option<String>,
    pub scaffold: Option<String>,
    pub defines: BTreeMap<String, String>,
    pub vcs: Vcs,
    pub mode: Mode,
    /// `init --overwrite PATH`: conflicting files (relative to the project)
    /// that take the scaffold's version.
    pub overwrite: Vec<PathBuf>,
}

#[derive(Debug)]
pub struct Outcome {
    pub scaffold: String,
    pub project_name: String,
    /// Files written (for `init`: not counting identical ones skipped).
    pub written: usize,
    pub skipped_identical: usize,
    pub vcs: VcsOutcome,
    pub warnings: Vec<String>,
    /// `init`: what it did with files the directory had (verb, what).
    pub existing: Vec<(&'static str, String)>,
    /// What to do next, from the scaffold's `next_steps` or its files.
    pub next_steps: String,
}

/// Everything decided before anything is written: the project in memory.
pub struct Prepared<'a> {
    pub scaffold: &'a Scaffold,
    pub project_name: String,
    pub dest: PathBuf,
    /// What the scaffold rendered; `.nixcuda.yaml` is written from `record`.
    pub files: Vec<RenderedFile>,
    pub record: ProjectRecord,
    pub warnings: Vec<String>,
    pub next_steps: String,
}

/// The project name: `--name`, else the last component of the path.
pub fn project_name(opts: &GenerateOptions) -> Result<String> {
    let from_path = opts.name.is_none();
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => absolute(&opts.path)?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    names::validate(&name)
        .map(|()| name.clone())
        .map_err(|rejection| Error::InvalidName {
            name,
            rule: rejection.rule,
            suggestion: rejection.suggestion,
            from_path,
        })
}

pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))
}

/// Validates, asks and renders; writes nothing.
pub fn prepare<'a>(
    opts: &GenerateOptions,
    registry: &'a Registry,
    asker: Option<&mut dyn Asker>,
) -> Result<Prepared<'a>> {
    let dest = absolute(&opts.path)?;
    let project_name = project_name(opts)?;
    if opts.mode == Mode::New {
        write::check_new_destination(&dest)?;
    } else if dest.exists() && !dest.is_dir() {
        return Err(Error::DestinationNotDirectory { path: dest });
    } else if dest.join(RECORD_FILE).exists() && !journal::has_pending(&dest, true) {
        // Like `cargo init` in a package: checked before any question (a
        // record with a journal beside it is an interrupted run's, which
        // `init` rolls back).
        return Err(Error::AlreadyProject { path: dest });
    }
    let scaffold = registry.resolve(opts.scaffold.as_deref().unwrap_or(DEFAULT_SCAFFOLD))?;
    check_tool_version(scaffold)?;
    let reserved = &scaffold.manifest.reserved_names;
    if reserved.contains(&project_name) || reserved.contains(&names::snake_case(&project_name)) {
        return Err(Error::InvalidName {
            rule: format!(
                "`{project_name}` is a package the {} scaffold depends on; the project would shadow it",
                scaffold.manifest.id
            ),
            suggestion: Some(format!("{project_name}-project")),
            name: project_name,
            from_path: opts.name.is_none(),
        });
    }
    let builtins = answers::builtins(scaffold, &project_name);
    let resolution = answers::resolve(&scaffold.manifest, builtins, &opts.defines, asker)?;
    let record = scaffold.project_record(&dest, &project_name, &resolution.answers);
    record.check_size()?;
    let mut files = render::render(scaffold, &resolution.context)?;
    files.retain(|f| f.path != Path::new(RECORD_FILE));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let users = |rel: &Path| opts.mode == Mode::Init && dest.join(rel).exists();
    let next_steps = next_steps::render(scaffold, &resolution.context, &opts.path, &files, &users)?;
    init_plan::check_overwrites(&opts.overwrite, &files)?;
    Ok(Prepared {
        scaffold,
        project_name,
        dest,
        files,
        record,
        warnings: resolution.warnings,
        next_steps,
    })
}

/// Creates `dir` when missing; true when it did.
fn fs_create_dir(dir: &Path) -> Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    Ok(true)
}

/// `init`: the scaffold's missing files (and a new repository's `.git`)
/// go in through the journal, so a killed run leaves the directory as it
/// was or complete; every scaffold path ends up tracked.
fn init_into(
    prepared: &Prepared,
    opts: &GenerateOptions,
    enclosing: Option<&Path>,
    message: &str,
    pristine: Option<(&vcs::Files, &str)>,
    report: &mut InitReport,
) -> Result<(VcsOutcome, usize, usize)> {
    let dest = &prepared.dest;
    let lock = journal::lock(dest)?;
    report.warnings.extend(journal::recover(dest, &lock)?);
    let policy = init_plan::InitPolicy::new(&prepared.scaffold.manifest.init, &opts.overwrite);
    let plan = init_plan::plan_init(dest, &prepared.files, &policy)?;
    if !plan.conflicts.is_empty() {
        return Err(Error::Conflicts {
            dest: dest.clone(),
            paths: plan.conflicts,
        });
    }
    report.existing = existing_report(&plan);
    let merged: BTreeMap<&Path, &Vec<u8>> =
        plan.merged.iter().map(|(p, c)| (p.as_path(), c)).collect();
    let changes: Vec<write::FileOp> = prepared
        .files
        .iter()
        .filter_map(|f| {
            let contents = if plan.create.contains(&f.path) || plan.overwritten.contains(&f.path) {
                &f.contents
            } else {
                merged.get(f.path.as_path())?
            };
            Some(write::FileOp::Write {
                path: f.path.clone(),
                contents: contents.clone(),
                executable: f.executable,
            })
        })
        .collect();
    write::check_changes(dest, &changes)?;
    let command = format!("cargo nixcuda init ({})", prepared.scaffold.label());
    let counts = (changes.len(), plan.identical.len());
    match (opts.vcs, enclosing) {
        (Vcs::Git, None) => {
            // What the files hold afterwards: kept and merged ones are the
            // user's, so the commit matches the work tree.
            let tracked: Vec<vcs::TreeFile> = prepared
                .files
                .iter()
                .map(|f| {
                    let contents = plan.contents.get(&f.path).unwrap_or(&f.contents);
                    (f.path.as_path(), contents.as_slice(), f.executable)
                })
                .collect();
            let mut outcome = None;
            let mut build = |git_dir: &Path| {
                // Never over a `.git` of any kind, even one made meanwhile.
                let existing = dest.join(".git");
                if std::fs::symlink_metadata(&existing).is_ok() {
                    return Err(crate::error::GitError::BrokenGitDir { path: existing }.into());
                }
                let first = vcs::FirstCommit {
                    files: &tracked,
                    message,
                    pristine,
                    work_tree: None,
                };
                let (built, signing) = vcs::build_repository(git_dir, first)?;
                outcome = Some(built);
                report.warnings.extend(signing);
                Ok(())
            };
            let new_dir = journal::NewDir {
                path: PathBuf::from(".git"),
                build: &mut build,
            };
            journal::apply_with_dir(dest, &changes, Some(new_dir), &command, &lock)?;
            Ok((
                outcome.expect("the repository was built"),
                counts.0,
                counts.1,
            ))
        }
        (Vcs::Git, Some(workdir)) => {
            vcs::check_index_writable(workdir)?;
            let outcome = init_staged(prepared, workdir, &changes, &command, &lock)?;
            if let Some((files, message)) = pristine {
                vcs::store_pristine(workdir, files, message)?;
            }
            Ok((outcome, counts.0, counts.1))
        }
        (Vcs::None, _) => {
            journal::apply(dest, &changes, &command, &lock)?;
            Ok((VcsOutcome::None, counts.0, counts.1))
        }
    }
}

/// `init` in an existing repository: every scaffold path is staged in the
/// same atomic unit as the files, so a kill leaves neither written files
/// unstaged nor staged files unwritten.
fn init_staged(
    prepared: &Prepared,
    workdir: &Path,
    changes: &[write::FileOp],
    command: &str,
    lock: &journal::ProjectLock,
) -> Result<VcsOutcome> {
    let every_path: Vec<(PathBuf, bool)> = prepared
        .files
        .iter()
        .map(|f| (prepared.dest.join(&f.path), false))
        .collect();
    let mut build =
        |held: &vcs::IndexLock, out: &Path| vcs::build_index(workdir, held, out, &every_path, &[]);
    journal::apply_staged(&prepared.dest, changes, &mut build, command, lock)?;
    let root = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    Ok(VcsOutcome::Staged { workdir: root })
}

/// What `init` tells about the files the directory already had, and the
/// warnings of a recovered run.
#[derive(Default)]
struct InitReport {
    warnings: Vec<String>,
    existing: Vec<(&'static str, String)>,
}

fn existing_report(plan: &init_plan::InitPlan) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    for path in &plan.kept {
        lines.push((
            "Kept",
            format!(
                "your {} (the scaffold's version is not written; `--overwrite {0}` takes it)",
                path.display()
            ),
        ));
    }
    for path in &plan.complete {
        lines.push((
            "Kept",
            format!(
                "your {}: it has every line of the scaffold's",
                path.display()
            ),
        ));
    }
    for (path, _) in &plan.merged {
        lines.push((
            "Merged",
            format!("the scaffold's missing lines into your {}", path.display()),
        ));
    }
    for path in &plan.overwritten {
        lines.push((
            "Overwrote",
            format!(
                "{} with the scaffold's version (--overwrite)",
                path.display()
            ),
        ));
    }
    lines
}

fn check_tool_version(scaffold: &Scaffold) -> Result<()> {
    let current = semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("valid version");
    match &scaffold.manifest.min_tool_version {
        Some(required) if *required > current => Err(Error::ToolTooOld {
            scaffold: scaffold.label(),
            required: required.to_string(),
            current: current.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The rendered files by path, as the pristine tree holds them.
pub fn pristine_of(files: &[RenderedFile]) -> vcs::Files {
    files
        .iter()
        .filter(|f| f.path != Path::new(RECORD_FILE))
        .map(|f| (f.path.clone(), f.contents.clone()))
        .collect()
}

/// `new` into a directory that does not exist yet: the tree is built aside
/// and moved into place whole, with its repository or, inside another
/// repository, staged there just before the move (a flake only sees
/// tracked files): a kill leaves the project staged or absent, never
/// present but unstaged.
fn create_new(
    prepared: &mut Prepared,
    opts: &GenerateOptions,
    enclosing: Option<PathBuf>,
    message: &str,
    pristine: Option<(&vcs::Files, &str)>,
) -> Result<VcsOutcome> {
    let tracked: Vec<vcs::TreeFile> = prepared
        .files
        .iter()
        .map(|f| (f.path.as_path(), f.contents.as_slice(), f.executable))
        .collect();
    let dest = prepared.dest.clone();
    let mut staged = None;
    let created = write::create_tree(&dest, &prepared.files, |staging| {
        match (opts.vcs, &enclosing) {
            (Vcs::None, _) => Ok((VcsOutcome::None, Vec::new())),
            (Vcs::Git, Some(workdir)) => {
                staged = Some(vcs::stage_ahead(workdir, &dest, &tracked)?);
                if let Some((files, message)) = pristine {
                    vcs::store_pristine(workdir, files, message)?;
                }
                let workdir = workdir.canonicalize().unwrap_or_else(|_| workdir.clone());
                Ok((VcsOutcome::Staged { workdir }, Vec::new()))
            }
            (Vcs::Git, None) => {
                let first = vcs::FirstCommit {
                    files: &tracked,
                    message,
                    pristine,
                    work_tree: Some(staging),
                };
                vcs::build_repository(&staging.join(".git"), first)
            }
        }
    });
    let (vcs, signing) = match created {
        Ok(created) => created,
        Err(e) => {
            // The move failed after the staging: the index as it was.
            if let Some(staged) = staged {
                staged.undo()?;
            }
            return Err(e);
        }
    };
    prepared.warnings.extend(signing);
    Ok(vcs)
}

/// Removes what interrupted `new` runs beside the destination left, and
/// says so.
fn remove_orphans(prepared: &mut Prepared) {
    if let Some(parent) = prepared.dest.parent() {
        for orphan in staging::remove_orphaned_staging(parent) {
            prepared.warnings.push(format!(
                "removed {}, left by an interrupted `cargo nixcuda new` that no process holds",
                orphan.display()
            ));
        }
    }
}

/// Before anything is written: a repository libgit2 can write to, an
/// index that is not locked (a run killed here rolled back first: the lock
/// it held is not another git's), no file a filter driver would clean.
fn check_repository(prepared: &mut Prepared, kind: Vcs, enclosing: Option<&Path>) -> Result<()> {
    match (kind, enclosing) {
        (Vcs::Git, None) => vcs::check_new_repository()?,
        (Vcs::Git, Some(workdir)) => {
            // A run killed here is rolled back first: the index lock it
            // held is not another git's.
            if journal::has_pending(&prepared.dest, true) {
                let lock = journal::lock(&prepared.dest)?;
                let recovered = journal::recover(&prepared.dest, &lock)?;
                prepared.warnings.extend(recovered);
            }
            vcs::check_index_writable(workdir)?;
            let paths: Vec<PathBuf> = (prepared.files.iter())
                .map(|f| prepared.dest.join(&f.path))
                .collect();
            vcs::check_filters(workdir, &paths)?;
        }
        (Vcs::None, _) => {}
    }
    Ok(())
}

/// Writes a prepared project and records it in git.
pub fn write(mut prepared: Prepared, opts: &GenerateOptions) -> Result<Outcome> {
    let message = format!(
        "Initial commit from cargo-nixcuda {}",
        prepared.scaffold.label()
    );
    // Before anything is written: a repository here that libgit2 cannot
    // open stops the command, never taken for "no repository".
    let enclosing = match opts.vcs {
        Vcs::Git => vcs::enclosing_repository(&prepared.dest)?,
        Vcs::None => None,
    };
    check_repository(&mut prepared, opts.vcs, enclosing.as_deref())?;
    // The repository, the project's own or the enclosing one, keeps the
    // pristine render for `update`.
    let pristine = (opts.vcs == Vcs::Git).then(|| pristine_of(&prepared.files));
    // The record names the pristine tree, computed before it is stored.
    if let Some(files) = &pristine {
        prepared.record.pristine = Some(vcs::tree_id(files)?);
    }
    let pristine_message = format!("Pristine render of {}", prepared.scaffold.label());
    let pristine = pristine
        .as_ref()
        .map(|files| (files, pristine_message.as_str()));
    prepared.files.push(RenderedFile {
        path: PathBuf::from(RECORD_FILE),
        contents: prepared.record.to_yaml().into_bytes(),
        executable: false,
    });
    prepared.files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut init_report = InitReport::default();
    let (vcs, written, skipped) = match opts.mode {
        Mode::New => {
            remove_orphans(&mut prepared);
            if prepared.dest.is_dir() {
                // An existing empty directory (`new .`, a mount point) is
                // filled in place: renaming over it would replace the
                // directory the user's shell is in, and its mode.
                let mut report = InitReport::default();
                let (vcs, written, _) = init_into(
                    &prepared,
                    opts,
                    enclosing.as_deref(),
                    &message,
                    pristine,
                    &mut report,
                )?;
                prepared.warnings.extend(report.warnings);
                (vcs, written, 0)
            } else {
                let vcs = create_new(&mut prepared, opts, enclosing, &message, pristine)?;
                (vcs, prepared.files.len(), 0)
            }
        }
        Mode::Init => {
            let dest = prepared.dest.clone();
            let created_dest = fs_create_dir(&dest)?;
            let result = init_into(
                &prepared,
                opts,
                enclosing.as_deref(),
                &message,
                pristine,
                &mut init_report,
            );
            if result.is_err() && created_dest {
                let _ = std::fs::remove_dir(&dest);
            }
            prepared
                .warnings
                .extend(std::mem::take(&mut init_report.warnings));
            result?
        }
    };
    Ok(Outcome {
        scaffold: prepared.scaffold.label(),
        project_name: prepared.project_name,
        written,
        skipped_identical: skipped,
        vcs,
        warnings: prepared.warnings,
        existing: init_report.existing,
        next_steps: prepared.next_steps,
    })
}
