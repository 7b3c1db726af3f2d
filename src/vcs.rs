//! Git through git2: repository discovery, init, staging and the first
//! commit, the user's identity, and the pristine renders `update` merges from.

use std::path::{Path, PathBuf};

use git2::{Repository, RepositoryInitOptions, Signature};

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
    let repo = discover(probe).ok()?;
    repo.workdir().map(Path::to_path_buf)
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

/// Builds, at `git_dir`, the `.git` directory of a new repository whose
/// first commit holds `files` (from memory: nothing is read from the work
/// tree, which does not hold them yet), with its index, and the pristine
/// render. `init` moves it into place in one rename, so no run leaves a
/// repository without its commit.
pub fn build_repository(
    git_dir: &Path,
    files: &Files,
    executable: &std::collections::BTreeSet<PathBuf>,
    message: &str,
    pristine: Option<(&Files, &str)>,
) -> Result<VcsOutcome> {
    let branch = default_branch();
    let mut opts = RepositoryInitOptions::new();
    opts.bare(true)
        .initial_head(&branch)
        .mkdir(true)
        .external_template(false);
    let repo = Repository::init_opts(git_dir, &opts).map_err(Error::git("create a repository"))?;
    let tree_id = write_tree_with_modes(&repo, files, executable)?;
    let tree = repo.find_tree(tree_id).map_err(Error::git("read a tree"))?;
    let (signature, fallback_identity) = signature(&repo)?;
    let commit = repo
        .commit(Some("HEAD"), &signature, &signature, message, &tree, &[])
        .map_err(Error::git("commit"))?;
    let mut index =
        git2::Index::open(&git_dir.join("index")).map_err(Error::git("open the index"))?;
    index
        .read_tree(&tree)
        .map_err(Error::git("fill the index"))?;
    index.write().map_err(Error::git("write the index"))?;
    repo.config()
        .and_then(|mut c| c.set_bool("core.bare", false))
        .map_err(Error::git("configure the repository"))?;
    if let Some((pristine, message)) = pristine {
        store_pristine_in(&repo, pristine, message)?;
    }
    Ok(VcsOutcome::Initialized {
        branch,
        commit: commit.to_string(),
        fallback_identity,
    })
}

/// The objects of a new project, hashed once and held in memory until
/// `create_repository` writes them as one pack: a few dozen loose objects,
/// each in its own directory, cost more than the rest of `new`.
pub struct MemoryObjects {
    repo: Repository,
    /// By project path: the pristine tree and the first commit's share
    /// their blobs, so each file is hashed once.
    blobs: std::collections::BTreeMap<PathBuf, git2::Oid>,
    made: Vec<git2::Oid>,
}

/// A file for `MemoryObjects::tree`: path, contents, executable.
pub type TreeFile<'a> = (&'a Path, &'a [u8], bool);

impl MemoryObjects {
    pub fn new() -> Result<MemoryObjects> {
        let odb = git2::Odb::new().map_err(Error::git("open an object database"))?;
        odb.add_new_mempack_backend(1)
            .map_err(Error::git("open an object database"))?;
        let repo = Repository::from_odb(odb).map_err(Error::git("open an object database"))?;
        Ok(MemoryObjects {
            repo,
            blobs: Default::default(),
            made: Vec::new(),
        })
    }

    /// The tree of `files`; directories are implied by their paths.
    pub fn tree<'a>(&mut self, files: impl IntoIterator<Item = TreeFile<'a>>) -> Result<git2::Oid> {
        let mut entries = Vec::new();
        for (path, contents, executable) in files {
            let id = self.blob(path, contents)?;
            let mode = if executable { 0o100755 } else { 0o100644 };
            entries.push((path.to_path_buf(), id, mode));
        }
        self.tree_of(&entries)
    }

    fn blob(&mut self, path: &Path, contents: &[u8]) -> Result<git2::Oid> {
        if let Some(id) = self.blobs.get(path)
            && self
                .repo
                .find_blob(*id)
                .is_ok_and(|b| b.content() == contents)
        {
            return Ok(*id);
        }
        let id = self
            .repo
            .blob(contents)
            .map_err(Error::git("write a blob"))?;
        self.blobs.insert(path.to_path_buf(), id);
        self.made.push(id);
        Ok(id)
    }

    /// `entries` are (path, object, mode) below this tree.
    fn tree_of(&mut self, entries: &[(PathBuf, git2::Oid, i32)]) -> Result<git2::Oid> {
        let mut dirs: std::collections::BTreeMap<String, Vec<(PathBuf, git2::Oid, i32)>> =
            Default::default();
        let mut here = Vec::new();
        for (path, id, mode) in entries {
            let mut parts = path.components();
            let first = parts
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let rest = parts.as_path();
            if rest.as_os_str().is_empty() {
                here.push((first, *id, *mode));
            } else {
                dirs.entry(first)
                    .or_default()
                    .push((rest.to_path_buf(), *id, *mode));
            }
        }
        // Children first: a directory's tree needs the ids of what it holds.
        for (name, children) in &dirs {
            let sub = self.tree_of(children)?;
            here.push((name.clone(), sub, 0o040000));
        }
        let mut builder = self
            .repo
            .treebuilder(None)
            .map_err(Error::git("build a tree"))?;
        for (name, id, mode) in &here {
            builder
                .insert(name, *id, *mode)
                .map_err(Error::git("build a tree"))?;
        }
        let id = builder.write().map_err(Error::git("write a tree"))?;
        drop(builder);
        self.made.push(id);
        Ok(id)
    }

    fn commit(
        &mut self,
        tree: git2::Oid,
        signature: &Signature,
        message: &str,
    ) -> Result<git2::Oid> {
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(Error::git("read a tree"))?;
        let id = self
            .repo
            .commit(None, signature, signature, message, &tree, &[])
            .map_err(Error::git("commit"))?;
        self.made.push(id);
        Ok(id)
    }

    /// Everything made so far as one pack, written with its index into `repo`.
    fn write_pack_into(&self, repo: &Repository) -> Result<()> {
        let mut builder = self
            .repo
            .packbuilder()
            .map_err(Error::git("pack the objects"))?;
        // One thread: a handful of objects, and threads cost more.
        builder.set_threads(1);
        for id in &self.made {
            builder
                .insert_object(*id, None)
                .map_err(Error::git("pack the objects"))?;
        }
        let mut pack = git2::Buf::new();
        builder
            .write_buf(&mut pack)
            .map_err(Error::git("pack the objects"))?;
        let odb = repo.odb().map_err(Error::git("open the object database"))?;
        let mut writer = odb.packwriter().map_err(Error::git("write the pack"))?;
        std::io::Write::write_all(&mut writer, &pack).map_err(|e| Error::Git {
            action: "write the pack",
            source: git2::Error::from_str(&e.to_string()),
        })?;
        writer.commit().map_err(Error::git("write the pack"))?;
        Ok(())
    }
}

/// Makes `dir`, whose files are already written, a repository whose first
/// commit holds `files`, with `pristine` (a tree already in `objects`) as
/// the pristine render. Nothing is read back from disk but each file's
/// status for the index, so `git status` has nothing to re-hash.
pub fn create_repository<'a>(
    dir: &Path,
    objects: &mut MemoryObjects,
    files: &[TreeFile<'a>],
    message: &str,
    pristine: Option<(git2::Oid, &str)>,
) -> Result<(VcsOutcome, Vec<String>)> {
    let branch = default_branch();
    let mut opts = RepositoryInitOptions::new();
    // No copy of git's template directory (sample hooks): nothing a new
    // project needs, and a dozen files to write.
    opts.initial_head(&branch)
        .mkdir(false)
        .external_template(false);
    let repo = Repository::init_opts(dir, &opts).map_err(Error::git("create a repository"))?;
    let tree = objects.tree(files.iter().copied())?;
    let (signature, fallback_identity) = signature(&repo)?;
    let signing = signing_requested(&repo);
    let mut warnings = Vec::new();
    let unsigned = match signing {
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
    objects.write_pack_into(&repo)?;
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
    repo.reference(
        &format!("refs/heads/{branch}"),
        commit,
        true,
        &format!("commit (initial): {summary}"),
    )
    .map_err(Error::git("commit"))?;
    if let Some((id, (_, message))) = pristine_commit.zip(pristine) {
        repo.reference(PRISTINE_REF, id, true, message)
            .map_err(Error::git("record the pristine render"))?;
    }
    write_index(&repo, dir, objects, files)?;
    Ok((
        VcsOutcome::Initialized {
            branch,
            commit: commit.to_string(),
            fallback_identity,
        },
        warnings,
    ))
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
        let id = objects
            .blobs
            .get(*path)
            .copied()
            .ok_or_else(|| Error::Git {
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

/// True when the user's git configuration asks for signed commits.
fn signing_requested(repo: &Repository) -> bool {
    repo.config()
        .and_then(|c| c.get_bool("commit.gpgsign"))
        .unwrap_or(false)
}

fn unsigned_warning(what: &str) -> String {
    format!(
        "commit.gpgsign is set, but git is not on PATH to sign with: {what} is not signed.\n  Once git is installed, sign it with: git commit --amend --no-edit -S"
    )
}

/// A signed commit of `tree` made by `git commit-tree -S`, which honours the
/// user's gpg.format, gpg.program and user.signingKey as `git commit` does.
/// None when there is no git to run.
fn sign_with_git(
    dir: &Path,
    tree: git2::Oid,
    parents: &[git2::Oid],
    signature: &Signature,
    message: &str,
) -> Result<Option<git2::Oid>> {
    let what = if parents.is_empty() {
        "first commit"
    } else {
        "commit"
    };
    let name = signature.name().unwrap_or(FALLBACK_NAME);
    let email = signature.email().unwrap_or(FALLBACK_EMAIL);
    let mut command = std::process::Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["commit-tree", "-S", "-m", message])
        .arg(tree.to_string());
    for parent in parents {
        command.arg("-p").arg(parent.to_string());
    }
    let output = command
        .env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", email)
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::SigningFailed {
                what,
                reason: format!("git could not be started: {e}"),
            });
        }
    };
    let reason = || {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let text = stderr.trim();
        if text.is_empty() {
            format!("git commit-tree -S exited with {}", output.status)
        } else {
            text.to_string()
        }
    };
    if !output.status.success() {
        return Err(Error::SigningFailed {
            what,
            reason: reason(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    git2::Oid::from_str(stdout.trim())
        .map(Some)
        .map_err(|_| Error::SigningFailed {
            what,
            reason: reason(),
        })
}

fn default_branch() -> String {
    git2::Config::open_default()
        .ok()
        .and_then(|c| c.get_string("init.defaultBranch").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "main".to_string())
}

/// The user's identity, else the fallback (true when it is the fallback).
fn signature(repo: &Repository) -> Result<(Signature<'static>, bool)> {
    match repo.signature() {
        Ok(sig) => Ok((sig, false)),
        Err(_) => Ok((
            Signature::now(FALLBACK_NAME, FALLBACK_EMAIL)
                .map_err(Error::git("make a signature"))?,
            true,
        )),
    }
}

/// Stages `files` (absolute paths inside `workdir`) in the repository there.
pub fn stage_in(workdir: &Path, files: &[PathBuf]) -> Result<VcsOutcome> {
    let repo = Repository::open(workdir).map_err(Error::git("open the enclosing repository"))?;
    let mut index = repo.index().map_err(Error::git("open the index"))?;
    let root = repo.workdir().unwrap_or(workdir).to_path_buf();
    let root = root.canonicalize().unwrap_or(root);
    // Path by path, never a pathspec: an empty list must stage nothing,
    // and nothing but these paths (an untracked `.env` stays untracked).
    for file in files {
        let abs = file.canonicalize().unwrap_or_else(|_| file.clone());
        let rel = abs.strip_prefix(&root).unwrap_or(&abs);
        index.add_path(rel).map_err(Error::git("stage a file"))?;
    }
    index.write().map_err(Error::git("write the index"))?;
    Ok(VcsOutcome::Staged { workdir: root })
}

/// Files with uncommitted changes (untracked included) under `dir`, relative
/// to `dir`; None when `dir` is not in a git work tree.
pub fn dirty_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Ok(repo) = discover(dir) else {
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

/// The git directory of the repository that holds `dir`.
pub fn git_dir(dir: &Path) -> Option<PathBuf> {
    discover(dir).ok().map(|repo| repo.path().to_path_buf())
}

/// Fails when git could not write the index of the repository holding
/// `dir` (a leftover `index.lock`, no permission), before anything is
/// written: staging afterwards must not be what fails.
pub fn check_index_writable(dir: &Path) -> Result<()> {
    let Ok(repo) = discover(dir) else {
        return Ok(());
    };
    if repo.is_bare() {
        return Ok(());
    }
    let lock = repo.path().join("index.lock");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
    {
        Ok(_) => std::fs::remove_file(&lock).map_err(|e| Error::io("remove", &lock, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::IndexLocked { lock }),
        Err(e) => Err(Error::io("lock the git index at", &lock, e)),
    }
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
    if signing_requested(&repo) {
        let parents: Vec<git2::Oid> = parent.iter().map(|p| p.id()).collect();
        let dir = repo.workdir().unwrap_or(workdir).to_path_buf();
        let Some(id) = sign_with_git(&dir, tree_id, &parents, &signature, message)? else {
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
            &signature,
            &signature,
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

/// The git tree id of `files`, computed in memory (nothing is written).
pub fn tree_id(files: &Files) -> Result<String> {
    let odb = git2::Odb::new().map_err(Error::git("open an object database"))?;
    odb.add_new_mempack_backend(1)
        .map_err(Error::git("open an object database"))?;
    let repo = Repository::from_odb(odb).map_err(Error::git("open an object database"))?;
    write_tree(&repo, files).map(|id| id.to_string())
}

/// Pristine trees hold contents only: every file is 100644 there.
fn write_tree(repo: &Repository, files: &Files) -> Result<git2::Oid> {
    write_tree_with_modes(repo, files, &std::collections::BTreeSet::new())
}

fn write_tree_with_modes(
    repo: &Repository,
    files: &Files,
    executable: &std::collections::BTreeSet<PathBuf>,
) -> Result<git2::Oid> {
    // Children first: a directory's tree needs the ids of what it holds.
    let mut dirs: std::collections::BTreeMap<String, Files> = Default::default();
    let mut builder = repo.treebuilder(None).map_err(Error::git("build a tree"))?;
    for (path, contents) in files {
        let mut parts = path.components();
        let first = parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let rest = parts.as_path();
        if rest.as_os_str().is_empty() {
            let blob = repo.blob(contents).map_err(Error::git("write a blob"))?;
            let mode = if executable.contains(path) {
                0o100755
            } else {
                0o100644
            };
            builder
                .insert(&first, blob, mode)
                .map_err(Error::git("build a tree"))?;
        } else {
            dirs.entry(first)
                .or_default()
                .insert(rest.to_path_buf(), contents.clone());
        }
    }
    for (name, children) in &dirs {
        let prefix = Path::new(name);
        let inner = executable
            .iter()
            .filter_map(|p| p.strip_prefix(prefix).ok().map(Path::to_path_buf))
            .collect();
        let sub = write_tree_with_modes(repo, children, &inner)?;
        builder
            .insert(name, sub, 0o040000)
            .map_err(Error::git("build a tree"))?;
    }
    builder.write().map_err(Error::git("write a tree"))
}

/// Stores `files` as the newest pristine render in the repository that
/// holds `dir`; returns the tree id (equal to `tree_id(files)`).
pub fn store_pristine(dir: &Path, files: &Files, message: &str) -> Result<String> {
    let repo = discover(dir).map_err(Error::git("open the repository"))?;
    store_pristine_in(&repo, files, message)
}

fn store_pristine_in(repo: &Repository, files: &Files, message: &str) -> Result<String> {
    let tree_id = write_tree(repo, files)?;
    let tree = repo.find_tree(tree_id).map_err(Error::git("read a tree"))?;
    let signature =
        Signature::now(FALLBACK_NAME, FALLBACK_EMAIL).map_err(Error::git("make a signature"))?;
    let parent = repo
        .find_reference(PRISTINE_REF)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
        return Ok(tree_id.to_string());
    }
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(
        Some(PRISTINE_REF),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .map_err(Error::git("record the pristine render"))?;
    Ok(tree_id.to_string())
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
