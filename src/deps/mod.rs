//! The project's Python packages (`add`, `remove`): pyproject.toml's lists,
//! which flake.nix and shell.nix read, edited in place; names checked
//! against the project's nixpkgs; the file written atomically and staged.

pub mod nixpkgs;
pub mod pypi;
pub mod pyproject;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{DepsError, Error, Result};
use crate::host::probe::Host;
use pyproject::{List, Pyproject, normalise, requirement_name};

pub const PYPROJECT: &str = "pyproject.toml";

/// The dependency group `add --pypi` writes to; uv installs it, Nix
/// never reads it.
pub const PYPI_GROUP: &str = "pypi";

pub struct AddOptions {
    pub start: PathBuf,
    /// Requirements as given: `transformers`, `einops>=0.8`.
    pub names: Vec<String>,
    pub pypi: bool,
    /// Into this extra instead of `[project] dependencies`.
    pub extra: Option<String>,
    pub commit: bool,
    /// Do not ask Nix (it may download nixpkgs), and uv only its cache.
    pub offline: bool,
    pub nix_timeout: Duration,
    /// The Nix environment's Python, for `--pypi` (NIXCUDA_PYTHON).
    pub python: Option<PathBuf>,
}

pub struct RemoveOptions {
    pub start: PathBuf,
    pub names: Vec<String>,
    pub commit: bool,
    /// For a package of the `pypi` group: its lock is made again.
    pub python: Option<PathBuf>,
    pub timeout: Duration,
}

/// How the names were checked against nixpkgs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Nix found each as `set.attribute` in `at`.
    Found { at: String, attributes: Vec<String> },
    /// Not asked or not answered; why.
    Unasked(String),
    /// Nothing to check (nothing new, or PyPI packages).
    Nothing,
}

/// Where the change went in git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing changed, so nothing was written.
    Unchanged,
    /// Written; the project is in no git repository.
    Written,
    Staged,
    Committed(String),
}

pub struct Outcome {
    /// The requirements changed, and the list of each.
    pub changed: Vec<(String, List)>,
    /// `add`: names already listed (where); `remove`: names in no list.
    pub skipped: Vec<(String, Option<List>)>,
    pub checked: Checked,
    pub recorded: Recorded,
    /// An interrupted change of an earlier run rolled back first.
    pub recovered: Option<String>,
}

/// The project's pyproject.toml, parsed; nothing is written when it
/// cannot be.
fn read(root: &Path) -> Result<(PathBuf, Pyproject)> {
    let path = root.join(PYPROJECT);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    let parsed = Pyproject::parse(&text).map_err(|reason| DepsError::Malformed {
        path: path.clone(),
        reason,
    })?;
    Ok((path, parsed))
}

/// Each requirement with its normalised distribution name.
fn names(given: &[String]) -> Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|g| {
            let requirement = g.trim();
            match requirement_name(requirement) {
                Some(name) if is_requirement(requirement, name) => {
                    Ok((requirement.to_string(), normalise(name)))
                }
                _ => Err(DepsError::BadName { name: g.clone() }.usage()),
            }
        })
        .collect()
}

/// A name alone, or followed by what PEP 508 allows after one: extras,
/// a version, a marker or a URL; one line, no comment.
fn is_requirement(requirement: &str, name: &str) -> bool {
    let rest = requirement.trim_start()[name.len()..].trim_start();
    !requirement.contains(['\n', '\r', '#'])
        && (rest.is_empty() || rest.starts_with(['[', '(', ';', '@', '<', '>', '=', '!', '~']))
}

impl DepsError {
    fn usage(self) -> Error {
        Error::from(self).usage()
    }
}

/// `add`: each name not listed yet goes into `[project] dependencies` (the
/// `pypi` group with `--pypi`), once nixpkgs is known to have it or could
/// not be asked; a name nixpkgs lacks refuses the whole change.
pub fn add(opts: &AddOptions, host: &Host) -> Result<Outcome> {
    let new = names(&opts.names)?;
    if let Some(extra) = &opts.extra {
        // PEP 685: an extra's name is normalised as a distribution's.
        if requirement_name(extra) != Some(extra.as_str()) || normalise(extra) != *extra {
            return Err(DepsError::BadExtra {
                name: extra.clone(),
                suggestion: normalise(extra),
            }
            .usage());
        }
    }
    let (root, lock, recovered) = crate::update::open_project(&opts.start)?;
    let (path, mut pyproject) = read(&root)?;
    let mut skipped = Vec::new();
    let mut to_add: Vec<(String, String)> = Vec::new();
    for (requirement, name) in new {
        if let Some(list) = pyproject.find(&name) {
            skipped.push((name, Some(list)));
        } else if !to_add.iter().any(|(_, n)| *n == name) {
            to_add.push((requirement, name));
        }
    }
    let checked = if to_add.is_empty() || opts.pypi {
        Checked::Nothing
    } else {
        check_in_nixpkgs(&root, &pyproject, &to_add, opts, host)?
    };
    let list = match (&opts.pypi, &opts.extra) {
        (true, _) => List::Group(PYPI_GROUP.into()),
        (false, Some(extra)) => List::Extra(extra.clone()),
        (false, None) => List::Dependencies,
    };
    for (requirement, _) in &to_add {
        pyproject.push(&list, requirement);
    }
    let changed: Vec<(String, List)> = to_add.into_iter().map(|(r, _)| (r, list.clone())).collect();
    let mut files = vec![(path, pyproject.to_string().into_bytes())];
    if opts.pypi && !changed.is_empty() {
        let tools = pypi::PypiTools {
            python: opts.python.clone(),
            offline: opts.offline,
            timeout: opts.nix_timeout,
        };
        files.push(locked_pypi(&root, &pyproject, &tools, host)?);
    }
    let message = format!("Add {}", listing(&changed));
    let recorded = record(
        &root,
        &lock,
        &files,
        !changed.is_empty(),
        opts.commit,
        &message,
    )?;
    Ok(Outcome {
        changed,
        skipped,
        checked,
        recorded,
        recovered,
    })
}

/// `remove`: each name leaves the list that holds it.
pub fn remove(opts: &RemoveOptions, host: &Host) -> Result<Outcome> {
    let given = names(&opts.names)?;
    let (root, lock, recovered) = crate::update::open_project(&opts.start)?;
    let (path, mut pyproject) = read(&root)?;
    let mut changed = Vec::new();
    let mut skipped = Vec::new();
    for (_, name) in given {
        match pyproject.remove(&name) {
            Some(list) => changed.push((name, list)),
            None if changed.iter().any(|(n, _)| *n == name) => {}
            None => skipped.push((name, None)),
        }
    }
    let mut files = vec![(path, pyproject.to_string().into_bytes())];
    let group = List::Group(PYPI_GROUP.into());
    if changed.iter().any(|(_, list)| *list == group) {
        let tools = pypi::PypiTools {
            python: opts.python.clone(),
            offline: false,
            timeout: opts.timeout,
        };
        files.push(locked_pypi(&root, &pyproject, &tools, host)?);
    }
    let message = format!("Remove {}", listing(&changed));
    let recorded = record(
        &root,
        &lock,
        &files,
        !changed.is_empty(),
        opts.commit,
        &message,
    )?;
    Ok(Outcome {
        changed,
        skipped,
        checked: Checked::Nothing,
        recorded,
        recovered,
    })
}

/// `pylock.pypi.toml` for the `pypi` group as `pyproject` lists it.
fn locked_pypi(
    root: &Path,
    pyproject: &Pyproject,
    tools: &pypi::PypiTools,
    host: &Host,
) -> Result<(PathBuf, Vec<u8>)> {
    let group = List::Group(PYPI_GROUP.into());
    let bytes = pypi::lock(
        root,
        &pyproject.requirements(&group),
        &pyproject.names_except(&group),
        tools,
        host,
    )?;
    Ok((root.join(pypi::LOCK), bytes))
}

fn listing(changed: &[(String, List)]) -> String {
    let names: Vec<&str> = changed.iter().map(|(r, _)| r.as_str()).collect();
    names.join(", ")
}

/// Asks the project's nixpkgs for each name's attribute; Err when one is
/// missing.
fn check_in_nixpkgs(
    root: &Path,
    pyproject: &Pyproject,
    to_add: &[(String, String)],
    opts: &AddOptions,
    host: &Host,
) -> Result<Checked> {
    if opts.offline {
        return Ok(Checked::Unasked("--offline".into()));
    }
    let nixpkgs = match nixpkgs::project_nixpkgs(root) {
        Ok(n) => n,
        Err(why) => return Ok(Checked::Unasked(why)),
    };
    let set = nixpkgs::package_set(root);
    let attributes: Vec<String> = to_add
        .iter()
        .map(|(_, name)| pyproject.nix_attribute(name))
        .collect();
    match nixpkgs::ask(host, &nixpkgs, &set, &attributes, opts.nix_timeout) {
        nixpkgs::Answer::NotChecked(why) => Ok(Checked::Unasked(why)),
        nixpkgs::Answer::Found(found) => {
            let missing: Vec<usize> = (0..found.len()).filter(|i| !found[*i]).collect();
            if missing.is_empty() {
                let attributes = attributes.iter().map(|a| format!("{set}.{a}")).collect();
                return Ok(Checked::Found {
                    at: nixpkgs.described,
                    attributes,
                });
            }
            Err(DepsError::NotInNixpkgs {
                missing: missing
                    .iter()
                    .map(|i| format!("{set}.{}", attributes[*i]))
                    .collect(),
                names: missing.iter().map(|i| to_add[*i].1.clone()).collect(),
                at: nixpkgs.described,
            }
            .into())
        }
    }
}

/// Writes `files` when `changed` (one replaced atomically, several through
/// the journal), stages them, and commits them with `commit`. The checks
/// that could refuse run before the first write.
fn record(
    root: &Path,
    lock: &crate::journal::ProjectLock,
    files: &[(PathBuf, Vec<u8>)],
    changed: bool,
    commit: bool,
    message: &str,
) -> Result<Recorded> {
    if !changed {
        return Ok(Recorded::Unchanged);
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let in_git = crate::vcs::git_and_work_dirs(root);
    if let Some((_, workdir)) = &in_git {
        crate::vcs::check_index_writable(root)?;
        crate::vcs::check_filters(workdir, &paths)?;
        if commit {
            refuse_other_staged_changes(root, &paths, workdir)?;
        }
    }
    if let [(path, bytes)] = files {
        crate::fs::write_atomic(path, bytes)?;
    } else {
        // pyproject.toml and its PyPI lock change together or not at all.
        let ops: Vec<crate::fs::write::FileOp> = files
            .iter()
            .map(|(path, bytes)| crate::fs::write::FileOp::Write {
                path: path.strip_prefix(root).unwrap_or(path).to_path_buf(),
                contents: bytes.clone(),
                executable: false,
            })
            .collect();
        crate::journal::apply(root, &ops, &format!("cargo nixcuda ({message})"), lock)?;
    }
    let Some((_, workdir)) = in_git else {
        return Ok(Recorded::Written);
    };
    crate::vcs::stage_files(&paths)?;
    if !commit {
        return Ok(Recorded::Staged);
    }
    Ok(Recorded::Committed(crate::vcs::commit_index(
        &workdir, message,
    )?))
}

/// `--commit` commits the index: only when it holds nothing else.
fn refuse_other_staged_changes(root: &Path, paths: &[PathBuf], workdir: &Path) -> Result<()> {
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let ours: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let parent = p.parent()?.canonicalize().ok()?;
            let relative = parent.join(p.file_name()?);
            let relative = relative.strip_prefix(&workdir).ok()?;
            Some(relative.to_string_lossy().into_owned())
        })
        .collect();
    let others: Vec<String> = crate::vcs::staged_paths(root)?
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(DepsError::OtherChangesStaged { paths: others }.into())
    }
}
