//! Git through git2: repository discovery, init, staging and the first
//! commit, the user's identity, and the pristine renders `update` merges from.

use std::path::{Path, PathBuf};

use git2::{Repository, Signature};

use crate::error::{Error, GitError, Result, Unreadable};

mod identity;
mod index;
mod objects;
mod refs;
mod signing;
mod stage;

pub use index::{IndexLock, build_index, is_own_lock};
pub use objects::{FirstCommit, TreeFile, build_repository};
pub use refs::{
    ConflictEntry, head_commit, head_reference, reference_target, set_reference, unmerged_paths,
};
use signing::{sign_with_git, signing_requested};
pub use stage::{check_filters, check_index_writable, stage_ahead, stage_files, staged_paths};

/// Who the user is for git, if configured (`user.name`, `user.email`).
#[derive(Debug, Clone, Default)]
pub struct GitUser {
    pub name: Option<String>,
    pub email: Option<String>,
}

impl GitUser {
    pub fn from_config() -> GitUser {
        let Some(config) = identity::user_config() else {
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
    /// A new repository whose first commit could not be signed as the
    /// user's config asks: its files are staged, nothing is committed.
    Unsigned {
        branch: String,
        /// git's reason.
        reason: String,
        /// The first commit's message, for the command that makes it.
        message: String,
    },
}

/// The work tree that contains `path` (or its nearest existing ancestor).
pub fn enclosing_work_tree(path: &Path) -> Option<PathBuf> {
    let repo = discover(nearest_existing(path)?).ok()?;
    repo.workdir().map(Path::to_path_buf)
}

/// The work tree of the repository that holds `path` (or its nearest
/// existing ancestor), for a command about to write there: None only when
/// git finds no repository. A repository libgit2 cannot open (sha256,
/// reftable, another user's) and a `.git` at `path` that is not the
/// repository found are errors, so that nothing ever builds a `.git`
/// where the user has one.
pub fn enclosing_repository(path: &Path) -> Result<Option<PathBuf>> {
    let Some(probe) = nearest_existing(path) else {
        return Ok(None);
    };
    let own = probe.join(".git");
    let has_own = std::fs::symlink_metadata(&own).is_ok();
    match discover(probe) {
        Ok(repo) => {
            let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
                let path = repo.path().to_path_buf();
                return Err(GitError::BareRepository { path }.into());
            };
            // libgit2 passes over a `.git` it cannot read and finds the
            // repository above; git stops at it.
            if has_own && !same_dir(&workdir, probe) {
                return Err(GitError::BrokenGitDir { path: own }.into());
            }
            Ok(Some(workdir))
        }
        Err(e) if e.code() == git2::ErrorCode::NotFound && !has_own => Ok(None),
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            Err(GitError::BrokenGitDir { path: own }.into())
        }
        Err(e) => Err(unreadable(probe, &e).into()),
    }
}

/// `path`, or its nearest ancestor that exists.
fn nearest_existing(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.exists())
}

/// The repository that holds `dir`; None when git finds none, an error
/// when libgit2 cannot open the one git would (never "no repository").
fn open_readable(dir: &Path) -> Result<Option<Repository>> {
    match discover(dir) {
        Ok(repo) => Ok(Some(repo)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(unreadable(dir, &e).into()),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The repository at or above `dir` that libgit2 refused, and why.
fn unreadable(dir: &Path, error: &git2::Error) -> GitError {
    let message = error.message().to_string();
    let lower = message.to_ascii_lowercase();
    let kind = if error.code() == git2::ErrorCode::Owner {
        Unreadable::Owner
    } else if lower.contains("objectformat") {
        Unreadable::Sha256
    } else if lower.contains("refstorage") {
        Unreadable::Reftable
    } else {
        Unreadable::Other
    };
    // The nearest directory with a `.git`, which is what git would open.
    let path = dir
        .ancestors()
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
        .unwrap_or(dir)
        .to_path_buf();
    GitError::Unreadable {
        path,
        kind,
        reason: message,
    }
}

/// The repository that holds `dir`. Not `Repository::discover`: it opens
/// the git directory it found by path, which loses the work tree of a
/// `.git` file (`git init --separate-git-dir`, worktrees, submodules).
fn discover(dir: &Path) -> std::result::Result<Repository, git2::Error> {
    Repository::open_ext(
        dir,
        git2::RepositoryOpenFlags::empty(),
        &[] as &[&std::ffi::OsStr],
    )
}

const FALLBACK_NAME: &str = "cargo-nixcuda";
const FALLBACK_EMAIL: &str = "cargo-nixcuda@localhost";

/// The branch a new repository starts on: `init.defaultBranch`, else
/// main; refused where `git init -b` refuses it.
fn default_branch() -> Result<String> {
    let branch = identity::user_config()
        .and_then(|c| c.get_string("init.defaultBranch").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "main".to_string());
    let valid = git2::Reference::is_valid_name(&format!("refs/heads/{branch}"))
        && branch != "HEAD"
        && !branch.starts_with('-');
    if !valid {
        return Err(GitError::BadDefaultBranch { branch }.into());
    }
    Ok(branch)
}

/// Fails, before anything is written, where a new repository could not be
/// made as the user's git config asks: another object format than sha1
/// (`init.defaultObjectFormat`, `GIT_DEFAULT_HASH`), a branch name `git
/// init` refuses, or no identity under `user.useConfigOnly`.
pub fn check_new_repository() -> Result<()> {
    default_branch()?;
    let config = identity::user_config();
    let configured = config
        .as_ref()
        .and_then(|c| c.get_string("init.defaultObjectFormat").ok())
        .map(|f| (f, "init.defaultObjectFormat"));
    let from_env = std::env::var("GIT_DEFAULT_HASH")
        .ok()
        .map(|f| (f, "GIT_DEFAULT_HASH"));
    for (format, setting) in [from_env, configured].into_iter().flatten() {
        if !format.trim().eq_ignore_ascii_case("sha1") {
            return Err(GitError::ObjectFormat {
                format: format.trim().to_string(),
                setting: setting.to_string(),
            }
            .into());
        }
    }
    if let Some(config) = &config {
        identity::identity_in(config)?;
    }
    Ok(())
}

/// Who makes the pristine render's commits: the tool, not the user (they
/// are not the user's work, and must not need an identity).
fn pristine_signature() -> Result<Signature<'static>> {
    Signature::now(FALLBACK_NAME, FALLBACK_EMAIL).map_err(Error::git("make a signature"))
}

/// Files with uncommitted changes (untracked included) under `dir`, relative
/// to `dir`; None when `dir` is not in a git work tree.
pub fn dirty_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Some(repo) = open_readable(dir)? else {
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
    Ok(Some(under_dir(
        &workdir,
        dir,
        statuses.iter().map(|entry| entry.path_bytes().to_vec()),
    )))
}

/// The paths git names (relative to the work tree `workdir`) that lie
/// under `dir`, relative to `dir`: sorted, each once.
fn under_dir(workdir: &Path, dir: &Path, git_paths: impl Iterator<Item = Vec<u8>>) -> Vec<PathBuf> {
    let (workdir, dir) = (canonical(workdir), canonical(dir));
    let mut paths: Vec<PathBuf> = git_paths
        .filter_map(|bytes| {
            let rel = PathBuf::from(String::from_utf8_lossy(&bytes).into_owned());
            workdir
                .join(rel)
                .strip_prefix(&dir)
                .ok()
                .map(Path::to_path_buf)
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// `path` with its symbolic links resolved, or as it is when that fails.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// `path` with its parent resolved (the path itself may not exist yet).
fn canonical_parent(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => canonical(parent).join(name),
        _ => path.to_path_buf(),
    }
}

/// The git directory of the repository that holds `dir`.
pub fn git_dir(dir: &Path) -> Option<PathBuf> {
    discover(dir).ok().map(|repo| repo.path().to_path_buf())
}

/// The git directory and the work tree of the repository that holds the
/// existing directory `dir`, found once; None without one or when it is
/// bare.
pub fn git_and_work_dirs(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let repo = discover(dir).ok()?;
    let workdir = repo.workdir()?.to_path_buf();
    Some((repo.path().to_path_buf(), workdir))
}

/// Commits the index on top of HEAD.
pub fn commit_index(workdir: &Path, message: &str) -> Result<String> {
    let repo = Repository::open(workdir).map_err(Error::git("open the repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let tree_id = index.write_tree().map_err(Error::git("write a tree"))?;
    let tree = repo.find_tree(tree_id).map_err(Error::git("read a tree"))?;
    let who = identity::identity(&repo)?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    if signing_requested(&repo) {
        let parents: Vec<git2::Oid> = parent.iter().map(|p| p.id()).collect();
        let Some(id) = sign_with_git(repo.path(), tree_id, &parents, &who, message)? else {
            return Err(Error::SigningFailed {
                what: "update commit",
                reason: "git is not on PATH; the update is staged: commit it with `git commit -S` once git is installed".into(),
            });
        };
        let summary = message.lines().next().unwrap_or_default();
        repo.reference(&head_ref(&repo), id, true, &format!("commit: {summary}"))
            .map_err(Error::git("commit"))?;
        return Ok(id.to_string());
    }
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let id = repo
        .commit(
            Some("HEAD"),
            &who.author,
            &who.committer,
            message,
            &tree,
            &parents,
        )
        .map_err(Error::git("commit"))?;
    Ok(id.to_string())
}

/// The branch HEAD names (HEAD itself when detached).
fn head_ref(repo: &Repository) -> String {
    repo.find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string))
        .unwrap_or_else(|| "HEAD".to_string())
}

/// Where the pristine renders live: a chain of commits, one per `new`,
/// `init` or `update`, whose trees are exactly what the scaffold rendered
/// (the project record excluded). The record names the tree, not the
/// commit: tree ids survive `git commit --amend --reset-author` and
/// rebases; the ref keeps the objects from `git gc`.
pub const PRISTINE_REF: &str = "refs/nixcuda/pristine";

/// Rendered files by project-relative path.
pub type Files = std::collections::BTreeMap<PathBuf, Vec<u8>>;

/// The git tree id of `files` as a pristine tree, computed in memory
/// (nothing is written): the tree `store_pristine` stores has this id.
pub fn tree_id(files: &Files) -> Result<String> {
    let repo = objects::memory_repository()?;
    let (tree, _) = objects::write_tree(&repo, &objects::pristine_files(files), false)?;
    Ok(tree.to_string())
}

/// Stores `files` as the newest pristine render in the repository that
/// holds `dir`; returns the tree id (equal to `tree_id(files)`).
/// The repository is opened here, for this alone: its object database
/// gets a memory backend that no other write must go through.
pub fn store_pristine(dir: &Path, files: &Files, message: &str) -> Result<String> {
    let repo = discover(dir).map_err(Error::git("open the repository"))?;
    objects::store_pristine(&repo, files, message)
}

/// The files of the pristine tree `id`, when the repository that holds
/// `dir` has it (a fresh clone, a shallow one or `--vcs none` does not).
pub fn pristine_files(dir: &Path, id: &str) -> Result<Option<Files>> {
    let Ok(repo) = discover(dir) else {
        return Ok(None);
    };
    let Ok(oid) = git2::Oid::from_str(id) else {
        return Ok(None);
    };
    let Ok(tree) = repo.find_tree(oid) else {
        return Ok(None);
    };
    let mut files = Files::new();
    // A partial clone can hold the tree without its blobs: then the base
    // is not here either.
    let mut missing_blob = false;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        match repo.find_blob(entry.id()) {
            Ok(blob) => {
                files.insert(Path::new(parent).join(name), blob.content().to_vec());
                git2::TreeWalkResult::Ok
            }
            Err(_) => {
                missing_blob = true;
                git2::TreeWalkResult::Abort
            }
        }
    });
    if missing_blob {
        return Ok(None);
    }
    walked.map_err(Error::git("read the pristine tree"))?;
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_keeps_the_work_tree_of_a_separate_git_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("project");
        // The layout `git init --separate-git-dir` makes: a `.git` file.
        let status = std::process::Command::new("git")
            .args(["init", "-q", "--separate-git-dir"])
            .arg(tmp.path().join("gitdir"))
            .arg(&work)
            .status()
            .expect("git runs");
        assert!(status.success());
        std::fs::create_dir(work.join("sub")).unwrap();
        let repo = discover(&work.join("sub")).unwrap();
        let found = repo.workdir().unwrap().canonicalize().unwrap();
        assert_eq!(found, work.canonicalize().unwrap());
        assert_eq!(
            enclosing_work_tree(&work).map(|w| w.canonicalize().unwrap()),
            Some(work.canonicalize().unwrap())
        );
    }
}
