//! A new project's repository from memory: its objects (`memory`) written
//! as one pack, and an index that holds each file's status.

use std::path::Path;

use git2::{Repository, Signature};

use super::memory::{MemoryObjects, TreeFile};
use super::signing::{sign_with_git, signing_requested, unsigned_warning};
use super::{FALLBACK_EMAIL, FALLBACK_NAME, PRISTINE_REF, VcsOutcome, default_branch, signature};
use crate::error::{Error, Result};

/// What a new repository's first commit is made of: `tree` (holding
/// `files`) and `pristine` (the pristine render's tree and message), both
/// already in `objects`.
pub struct InitialCommit<'a> {
    pub objects: &'a mut MemoryObjects,
    pub tree: git2::Oid,
    pub files: &'a [TreeFile<'a>],
    pub message: &'a str,
    pub pristine: Option<(git2::Oid, &'a str)>,
}

/// Makes `dir`, whose files are already written, a repository whose first
/// commit is `first`. Nothing is read back from disk but each file's
/// status for the index, so `git status` has nothing to re-hash.
pub fn create_repository(dir: &Path, first: InitialCommit) -> Result<(VcsOutcome, Vec<String>)> {
    let branch = default_branch();
    if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        return Err(Error::git("create a repository")(git2::Error::from_str(
            &format!(
                "init.defaultBranch in your git config, `{branch}`, is not a valid branch name"
            ),
        )));
    }
    let git_dir = dir.join(".git");
    super::skeleton::create(&git_dir, &branch)
        .map_err(|e| Error::io("create a repository in", &git_dir, e))?;
    // Opened, not assumed: the user's config (identity, signing) may
    // depend on where the repository is (`includeIf "gitdir:..."`).
    let repo = Repository::open(dir).map_err(Error::git("open the new repository"))?;
    let InitialCommit {
        objects,
        tree,
        files,
        message,
        pristine,
    } = first;
    let first = commit_first(&repo, dir, objects, tree, &branch, message, pristine)?;
    write_index(&repo, dir, objects, files)?;
    Ok((
        VcsOutcome::Initialized {
            branch,
            commit: first.commit.to_string(),
            fallback_identity: first.fallback_identity,
        },
        first.warnings,
    ))
}

/// What `commit_first` made.
pub(super) struct FirstCommit {
    pub commit: git2::Oid,
    pub fallback_identity: bool,
    pub warnings: Vec<String>,
}

/// Commits `tree` (in `objects`) as the first commit of `repo` on `branch`
/// and records the pristine render; every object goes in as one pack.
/// `dir` is where git runs to sign.
pub(super) fn commit_first(
    repo: &Repository,
    dir: &Path,
    objects: &mut MemoryObjects,
    tree: git2::Oid,
    branch: &str,
    message: &str,
    pristine: Option<(git2::Oid, &str)>,
) -> Result<FirstCommit> {
    let (signature, fallback_identity) = signature(repo)?;
    let mut warnings = Vec::new();
    let unsigned = match signing_requested(repo) {
        false => Some(objects.commit(tree, &signature, message)?),
        true => None,
    };
    let pristine_commit = match pristine {
        Some((tree, message)) => {
            let fallback = Signature::now(FALLBACK_NAME, FALLBACK_EMAIL)
                .map_err(Error::git("make a signature"))?;
            Some(objects.commit(tree, &fallback, message)?)
        }
        None => None,
    };
    objects.write_pack_into(repo)?;
    let commit = match unsigned {
        Some(id) => id,
        None => match sign_with_git(dir, tree, &[], &signature, message)? {
            Some(id) => id,
            None => {
                let tree = repo.find_tree(tree).map_err(Error::git("read a tree"))?;
                let id = repo
                    .commit(None, &signature, &signature, message, &tree, &[])
                    .map_err(Error::git("commit"))?;
                warnings.push(unsigned_warning("the first commit"));
                id
            }
        },
    };
    let summary = message.lines().next().unwrap_or_default();
    super::skeleton::write_first_refs(
        repo.path(),
        branch,
        commit,
        &signature,
        summary,
        pristine_commit.map(|id| (PRISTINE_REF, id)),
    )
    .map_err(|e| Error::io("write the references in", repo.path(), e))?;
    Ok(FirstCommit {
        commit,
        fallback_identity,
        warnings,
    })
}

/// The index of a fresh checkout of `files`, with each file's status so
/// that git trusts it instead of hashing the file again.
fn write_index(
    repo: &Repository,
    dir: &Path,
    objects: &MemoryObjects,
    files: &[TreeFile],
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    for (path, contents, executable) in files {
        let abs = dir.join(path);
        let meta = std::fs::symlink_metadata(&abs).map_err(|e| Error::io("read", &abs, e))?;
        let time = |secs: i64, nanos: i64| git2::IndexTime::new(secs as i32, nanos as u32);
        let id = objects.blob_id(path).ok_or_else(|| Error::Git {
            action: "fill the index",
            source: git2::Error::from_str("a file has no blob"),
        })?;
        let entry = git2::IndexEntry {
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            dev: meta.dev() as u32,
            ino: meta.ino() as u32,
            mode: if *executable { 0o100755 } else { 0o100644 },
            uid: meta.uid(),
            gid: meta.gid(),
            file_size: contents.len() as u32,
            id,
            flags: 0,
            flags_extended: 0,
            path: path.to_string_lossy().into_owned().into_bytes(),
        };
        index.add(&entry).map_err(Error::git("fill the index"))?;
    }
    index.write().map_err(Error::git("write the index"))
}
