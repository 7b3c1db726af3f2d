//! A new project's repository from memory: its objects hashed once and
//! written as one pack (`pack`), and an index that holds each file's status.

use std::path::{Path, PathBuf};

use git2::{Repository, RepositoryInitOptions, Signature};

use super::signing::{sign_with_git, signing_requested, unsigned_warning};
use super::{FALLBACK_EMAIL, FALLBACK_NAME, PRISTINE_REF, VcsOutcome, default_branch, signature};
use crate::error::{Error, Result};

/// The objects of a new project, hashed once and held in memory until
/// `create_repository` writes them as one pack: a few dozen loose objects,
/// each in its own directory, cost more than the rest of `new`.
pub struct MemoryObjects {
    repo: Repository,
    /// By project path, with the contents: the pristine tree and the first
    /// commit's share their blobs, so each file is hashed once.
    blobs: std::collections::BTreeMap<PathBuf, (git2::Oid, Vec<u8>)>,
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
        if let Some((id, held)) = self.blobs.get(path)
            && held == contents
        {
            return Ok(*id);
        }
        let id = self
            .repo
            .blob(contents)
            .map_err(Error::git("write a blob"))?;
        self.blobs
            .insert(path.to_path_buf(), (id, contents.to_vec()));
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
        let odb = self.repo.odb().map_err(Error::git("read the objects"))?;
        let mut ids = self.made.clone();
        // Equal files (and equal directories) are one object.
        ids.sort();
        ids.dedup();
        let read = ids
            .iter()
            .map(|id| odb.read(*id))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Error::git("read the objects"))?;
        let objects: Vec<super::pack::PackObject> = read
            .iter()
            .map(|object| super::pack::PackObject {
                kind: object.kind(),
                id: object.id(),
                data: object.data(),
            })
            .collect();
        let objects_dir = repo.path().join("objects");
        super::pack::build(&objects)
            .and_then(|pack| super::pack::write(&objects_dir, &pack))
            .map_err(|e| Error::io("write the pack into", &objects_dir, e))?;
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
        let id = objects
            .blobs
            .get(*path)
            .map(|(id, _)| *id)
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
