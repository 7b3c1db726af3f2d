//! The only module that uses git2: repository discovery, init, staging and
//! the first commit, and the user's identity.

use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Repository, RepositoryInitOptions, Signature};

use crate::error::{Error, Result};

/// Who the user is for git, if configured (`user.name`, `user.email`).
#[derive(Debug, Clone, Default)]
pub struct GitUser {
    pub name: Option<String>,
    pub email: Option<String>,
}

impl GitUser {
    pub fn from_config() -> GitUser {
        let Ok(config) = git2::Config::open_default() else {
            return GitUser::default();
        };
        let get = |key: &str| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
        GitUser {
            name: get("user.name"),
            email: get("user.email"),
        }
    }

    /// `Name <email>`, `Name`, or empty.
    pub fn display(&self) -> String {
        match (&self.name, &self.email) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.clone(),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VcsOutcome {
    None,
    /// A new repository with one commit.
    Initialized {
        branch: String,
        commit: String,
        fallback_identity: bool,
    },
    /// Files staged in the repository that already contains the project.
    Staged {
        workdir: PathBuf,
    },
}

/// The work tree that contains `path` (or its nearest existing ancestor).
pub fn enclosing_work_tree(path: &Path) -> Option<PathBuf> {
    let mut probe = path;
    while !probe.exists() {
        probe = probe.parent()?;
    }
    let repo = Repository::discover(probe).ok()?;
    repo.workdir().map(Path::to_path_buf)
}

const FALLBACK_NAME: &str = "cargo-nixcuda";
const FALLBACK_EMAIL: &str = "cargo-nixcuda@localhost";

/// `git init` in `dir` (branch from `init.defaultBranch`, else `main`), stage
/// `files` (relative to `dir`) and commit them.
pub fn init_and_commit(dir: &Path, files: &[PathBuf], message: &str) -> Result<VcsOutcome> {
    let branch = git2::Config::open_default()
        .ok()
        .and_then(|c| c.get_string("init.defaultBranch").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "main".to_string());
    let mut opts = RepositoryInitOptions::new();
    // No copy of git's template directory (sample hooks): nothing a new
    // project needs, and a dozen files to write.
    opts.initial_head(&branch)
        .mkdir(false)
        .external_template(false);
    let repo = Repository::init_opts(dir, &opts).map_err(Error::git("create a repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    for file in files {
        index.add_path(file).map_err(Error::git("stage a file"))?;
    }
    index.write().map_err(Error::git("write the index"))?;
    let tree_id = index.write_tree().map_err(Error::git("write a tree"))?;
    let tree = repo.find_tree(tree_id).map_err(Error::git("read a tree"))?;
    let (signature, fallback_identity) = match repo.signature() {
        Ok(sig) => (sig, false),
        Err(_) => (
            Signature::now(FALLBACK_NAME, FALLBACK_EMAIL)
                .map_err(Error::git("make a signature"))?,
            true,
        ),
    };
    let commit = repo
        .commit(Some("HEAD"), &signature, &signature, message, &tree, &[])
        .map_err(Error::git("commit"))?;
    Ok(VcsOutcome::Initialized {
        branch,
        commit: commit.to_string(),
        fallback_identity,
    })
}

/// Stages `files` (absolute paths inside `workdir`) in the repository there.
pub fn stage_in(workdir: &Path, files: &[PathBuf]) -> Result<VcsOutcome> {
    let repo = Repository::open(workdir).map_err(Error::git("open the enclosing repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let root = repo.workdir().unwrap_or(workdir).to_path_buf();
    let root = root.canonicalize().unwrap_or(root);
    let rel: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let f = f.canonicalize().unwrap_or_else(|_| f.clone());
            f.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(f)
        })
        .collect();
    index
        .add_all(rel.iter(), IndexAddOption::DEFAULT, None)
        .map_err(Error::git("stage the new files"))?;
    index.write().map_err(Error::git("write the index"))?;
    Ok(VcsOutcome::Staged { workdir: root })
}

/// Files with uncommitted changes (untracked included) under `dir`, relative
/// to `dir`; None when `dir` is not in a git work tree.
pub fn dirty_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Ok(repo) = Repository::discover(dir) else {
        return Ok(None);
    };
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Ok(None);
    };
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(Error::git("read the status"))?;
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut paths = Vec::new();
    for entry in statuses.iter() {
        let rel = PathBuf::from(String::from_utf8_lossy(entry.path_bytes()).into_owned());
        if let Ok(inside) = workdir.join(&rel).strip_prefix(&dir) {
            paths.push(inside.to_path_buf());
        }
    }
    paths.sort();
    Ok(Some(paths))
}

/// Stages written (`false`) and deleted (`true`) files, given as absolute
/// paths inside `workdir`.
pub fn stage_changes(workdir: &Path, changes: &[(PathBuf, bool)]) -> Result<()> {
    let repo = Repository::open(workdir).map_err(Error::git("open the repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let root = repo.workdir().unwrap_or(workdir).to_path_buf();
    let root = root.canonicalize().unwrap_or(root);
    for (path, deleted) in changes {
        let parent = path
            .parent()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
        let abs = match (parent, path.file_name()) {
            (Some(p), Some(name)) => p.join(name),
            _ => path.clone(),
        };
        let rel = abs.strip_prefix(&root).unwrap_or(&abs);
        if *deleted {
            // Untracked files have no entry: nothing to remove.
            let _ = index.remove_path(rel);
        } else {
            index.add_path(rel).map_err(Error::git("stage a file"))?;
        }
    }
    index.write().map_err(Error::git("write the index"))
}

/// Commits the index on top of HEAD.
pub fn commit_index(workdir: &Path, message: &str) -> Result<String> {
    let repo = Repository::open(workdir).map_err(Error::git("open the repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let tree_id = index.write_tree().map_err(Error::git("write a tree"))?;
    let tree = repo.find_tree(tree_id).map_err(Error::git("read a tree"))?;
    let signature = repo
        .signature()
        .or_else(|_| Signature::now(FALLBACK_NAME, FALLBACK_EMAIL))
        .map_err(Error::git("make a signature"))?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let id = repo
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .map_err(Error::git("commit"))?;
    Ok(id.to_string())
}
