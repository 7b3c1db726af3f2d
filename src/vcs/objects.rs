//! A new project's repository from memory: its objects hashed once and
//! written as one pack (`pack`), and an index that holds each file's status.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{Repository, Signature};

use super::signing::{sign_with_git, signing_requested, unsigned_warning};
use super::{FALLBACK_EMAIL, FALLBACK_NAME, PRISTINE_REF, VcsOutcome, default_branch, signature};
use crate::error::{Error, Result};

/// The objects of a new project, hashed once and held in memory until
/// `create_repository` writes them as one pack: a few dozen loose objects,
/// each in its own directory, cost more than the rest of `new`.
pub struct MemoryObjects {
    repo: Repository,
    /// By project path, the newest blob: the pristine tree and the first
    /// commit share their blobs, so each file is hashed once.
    blobs: std::collections::BTreeMap<PathBuf, git2::Oid>,
    /// Every blob made, with its contents: blobs stay out of the object
    /// database (a tree needs only their ids) and go from here into the pack.
    contents: std::collections::HashMap<git2::Oid, Vec<u8>>,
    made: Vec<git2::Oid>,
    /// Objects being deflated on other threads, for the pack.
    deflating: Deflating,
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
            contents: Default::default(),
            made: Vec::new(),
            deflating: Deflating::default(),
        })
    }

    /// The tree of `files`; directories are implied by their paths.
    pub fn tree<'a>(&mut self, files: impl IntoIterator<Item = TreeFile<'a>>) -> Result<git2::Oid> {
        let files: Vec<TreeFile> = files.into_iter().collect();
        self.hash_blobs(&files)?;
        let entries: Vec<(PathBuf, git2::Oid, i32)> = files
            .iter()
            .map(|(path, _, executable)| {
                let mode = if *executable { 0o100755 } else { 0o100644 };
                (path.to_path_buf(), self.blobs[*path], mode)
            })
            .collect();
        self.tree_of(&entries)
    }

    /// The pristine tree of `files`: contents only, every file 100644.
    pub fn pristine_tree(&mut self, files: &super::Files) -> Result<git2::Oid> {
        self.tree(
            files
                .iter()
                .map(|(p, c)| (p.as_path(), c.as_slice(), false)),
        )
    }

    /// Hashes the blobs of `files` not held yet, on two threads when there
    /// is enough to share. Blobs stay out of the object database (a tree
    /// is made from their ids alone) and go from memory into the pack.
    fn hash_blobs(&mut self, files: &[TreeFile]) -> Result<()> {
        let missing: Vec<(&Path, &[u8])> = files
            .iter()
            .filter(|(path, contents, _)| {
                let held = self.blobs.get(*path).and_then(|id| self.contents.get(id));
                held.is_none_or(|held| held.as_slice() != *contents)
            })
            .map(|(path, contents, _)| (*path, *contents))
            .collect();
        let hash = |share: &[(&Path, &[u8])]| -> std::result::Result<Vec<git2::Oid>, git2::Error> {
            share
                .iter()
                .map(|(_, contents)| git2::Oid::hash_object(git2::ObjectType::Blob, contents))
                .collect()
        };
        let bytes: usize = missing.iter().map(|(_, c)| c.len()).sum();
        let ids = if bytes < PARALLEL_HASH_BYTES {
            hash(&missing)
        } else {
            let (first, second) = missing.split_at(split_by_bytes(&missing));
            std::thread::scope(|scope| {
                let other = scope.spawn(|| hash(second));
                let mut ids = hash(first)?;
                ids.extend(other.join().expect("a hashing thread panicked")?);
                Ok(ids)
            })
        }
        .map_err(Error::git("hash a blob"))?;
        for ((path, contents), id) in missing.into_iter().zip(ids) {
            self.blobs.insert(path.to_path_buf(), id);
            self.contents.entry(id).or_insert_with(|| contents.to_vec());
            self.made.push(id);
        }
        Ok(())
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
        let id = self
            .repo
            .odb()
            .and_then(|odb| odb.write(git2::ObjectType::Tree, &tree_bytes(here)))
            .map_err(Error::git("write a tree"))?;
        self.made.push(id);
        Ok(id)
    }

    fn commit(
        &mut self,
        tree: git2::Oid,
        signature: &Signature,
        message: &str,
    ) -> Result<git2::Oid> {
        self.commit_on(tree, signature, message, None)
    }

    /// A commit of `tree` whose parent, when there is one, is a commit of
    /// another repository (copied in to be named, not made: it is not packed).
    fn commit_on(
        &mut self,
        tree: git2::Oid,
        signature: &Signature,
        message: &str,
        parent: Option<(&Repository, git2::Oid)>,
    ) -> Result<git2::Oid> {
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(Error::git("read a tree"))?;
        let parent = match parent {
            Some((repo, id)) => {
                let copy = |from: &git2::Odb, to: &git2::Odb| {
                    to.write(git2::ObjectType::Commit, from.read(id)?.data())
                };
                let copied = repo
                    .odb()
                    .and_then(|from| copy(&from, &self.repo.odb()?))
                    .map_err(Error::git("read a commit"))?;
                Some(
                    self.repo
                        .find_commit(copied)
                        .map_err(Error::git("read a commit"))?,
                )
            }
            None => None,
        };
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let id = self
            .repo
            .commit(None, signature, signature, message, &tree, &parents)
            .map_err(Error::git("commit"))?;
        self.made.push(id);
        Ok(id)
    }

    /// Stores `tree` (made here) as the newest pristine render in `repo`,
    /// after the one there, unless that one has the same tree; every new
    /// object goes in as one pack.
    pub fn store_pristine(
        &mut self,
        repo: &Repository,
        tree: git2::Oid,
        message: &str,
    ) -> Result<()> {
        let parent = repo
            .find_reference(PRISTINE_REF)
            .ok()
            .and_then(|r| r.peel_to_commit().ok());
        if parent.as_ref().is_some_and(|p| p.tree_id() == tree) {
            return Ok(());
        }
        let signature = Signature::now(FALLBACK_NAME, FALLBACK_EMAIL)
            .map_err(Error::git("make a signature"))?;
        let parent = parent.map(|p| (repo, p.id()));
        let commit = self.commit_on(tree, &signature, message, parent)?;
        self.write_pack_into(repo)?;
        repo.reference(PRISTINE_REF, commit, true, message)
            .map_err(Error::git("record the pristine render"))?;
        Ok(())
    }

    /// The objects made so far and not yet `taken`, each once (equal files
    /// and equal directories are one object), with their contents.
    fn owned_objects(
        &self,
        taken: &BTreeSet<git2::Oid>,
    ) -> Result<Vec<(git2::ObjectType, git2::Oid, Vec<u8>)>> {
        let odb = self.repo.odb().map_err(Error::git("read the objects"))?;
        // Blobs come from the contents held; trees and commits from the
        // database.
        let ids: BTreeSet<git2::Oid> = self
            .made
            .iter()
            .filter(|id| !taken.contains(id))
            .copied()
            .collect();
        ids.into_iter()
            .map(|id| match self.contents.get(&id) {
                Some(data) => Ok((git2::ObjectType::Blob, id, data.to_vec())),
                None => {
                    let object = odb.read(id).map_err(Error::git("read the objects"))?;
                    Ok((object.kind(), id, object.data().to_vec()))
                }
            })
            .collect()
    }

    /// Starts deflating every object made so far and not deflating yet on
    /// other threads, so the pack is mostly ready once the work tree is
    /// written; objects made later are deflated when the pack is written.
    /// Deflating takes longer than writing the work tree: two threads share
    /// it, each given objects of about half the bytes.
    pub fn deflate_in_background(&mut self) -> Result<()> {
        let mut objects = self.owned_objects(&self.deflating.ids)?;
        self.deflating
            .ids
            .extend(objects.iter().map(|(_, id, _)| *id));
        objects.sort_by_key(|(_, _, data)| std::cmp::Reverse(data.len()));
        let bytes: usize = objects.iter().map(|(_, _, data)| data.len()).sum();
        let threads = if bytes < PARALLEL_HASH_BYTES {
            1
        } else {
            DEFLATING_THREADS
        };
        let mut shares: Vec<(usize, Vec<_>)> = (0..threads).map(|_| Default::default()).collect();
        for object in objects {
            let lightest = shares
                .iter_mut()
                .min_by_key(|(bytes, _)| *bytes)
                .expect("there are threads");
            lightest.0 += object.2.len();
            lightest.1.push(object);
        }
        self.deflating
            .workers
            .extend(shares.into_iter().map(|(_, share)| {
                std::thread::spawn(move || super::pack::deflate(&pack_objects(&share)))
            }));
        Ok(())
    }

    /// Everything made so far that `repo` lacks as one pack, written with
    /// its index into `repo`: what is deflating in the background, and the
    /// rest deflated now.
    fn write_pack_into(&mut self, repo: &Repository) -> Result<()> {
        let objects_dir = repo.path().join("objects");
        let io_error = |e| Error::io("write the pack into", &objects_dir, e);
        let Deflating { mut ids, workers } = std::mem::take(&mut self.deflating);
        let mut entries = Vec::new();
        for worker in workers {
            let deflated = worker
                .join()
                .map_err(|_| io_error(std::io::Error::other("a deflating thread panicked")))?;
            entries.extend(deflated.map_err(io_error)?);
        }
        let taken = &mut ids;
        // Objects the repository has (unchanged files of an earlier render)
        // are not packed again.
        let odb = repo.odb().map_err(Error::git("read the objects"))?;
        let present: Vec<git2::Oid> = (self.made.iter())
            .filter(|id| {
                !taken.contains(id) && odb.exists_ext(**id, git2::OdbLookupFlags::NO_REFRESH)
            })
            .copied()
            .collect();
        taken.extend(present);
        let rest = self.owned_objects(taken)?;
        entries.extend(super::pack::deflate(&pack_objects(&rest)).map_err(io_error)?);
        super::pack::assemble(entries)
            .and_then(|pack| super::pack::write(&objects_dir, &pack))
            .map_err(io_error)?;
        Ok(())
    }
}

/// Below this many bytes, hashing on a second thread costs more than it saves.
const PARALLEL_HASH_BYTES: usize = 64 << 10;

/// Where to cut `files` so that both parts hold about half the bytes.
fn split_by_bytes(files: &[(&Path, &[u8])]) -> usize {
    let total: usize = files.iter().map(|(_, c)| c.len()).sum();
    let mut sum = 0;
    files
        .iter()
        .position(|(_, c)| {
            sum += c.len();
            sum * 2 >= total
        })
        .map_or(files.len(), |i| i + 1)
}

/// A tree object's contents (git's `tree.c`): one `<mode> <name>NUL<id>`
/// entry per child, in git's order, where a directory sorts as if its name
/// ended with `/`.
fn tree_bytes(mut entries: Vec<(String, git2::Oid, i32)>) -> Vec<u8> {
    let key = |name: &str, mode: i32| {
        let mut key = name.as_bytes().to_vec();
        if mode == 0o040000 {
            key.push(b'/');
        }
        key
    };
    entries.sort_by_cached_key(|(name, _, mode)| key(name, *mode));
    let mut bytes = Vec::with_capacity(entries.len() * 48);
    for (name, id, mode) in entries {
        bytes.extend_from_slice(format!("{mode:o} {name}\0").as_bytes());
        bytes.extend_from_slice(id.as_bytes());
    }
    bytes
}

/// Objects being deflated on other threads, and which they are.
#[derive(Default)]
struct Deflating {
    ids: BTreeSet<git2::Oid>,
    workers: Vec<std::thread::JoinHandle<std::io::Result<Vec<super::pack::Entry>>>>,
}

const DEFLATING_THREADS: usize = 2;

fn pack_objects(
    objects: &[(git2::ObjectType, git2::Oid, Vec<u8>)],
) -> Vec<super::pack::PackObject<'_>> {
    objects
        .iter()
        .map(|(kind, id, data)| super::pack::PackObject {
            kind: *kind,
            id: *id,
            data,
        })
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The trees made here are those libgit2 makes of the same files, with
    /// names that sort differently as files and as directories, executable
    /// files, and enough bytes to hash on two threads.
    #[test]
    fn trees_are_the_trees_libgit2_makes() {
        let big = vec![b'x'; PARALLEL_HASH_BYTES];
        let files: Vec<(PathBuf, Vec<u8>, bool)> = [
            ("a-b", &b"2"[..], true),
            ("a.b", b"3", false),
            ("a/b", b"4", false),
            ("a/c/d.nix", b"5", false),
            ("ab", &big, false),
            ("a0", &big[1..], false),
            ("z/a", b"", false),
            ("z/b", b"2", false),
        ]
        .into_iter()
        .map(|(p, c, x)| (PathBuf::from(p), c.to_vec(), x))
        .collect();
        let mut objects = MemoryObjects::new().unwrap();
        let ours = objects
            .tree(
                files
                    .iter()
                    .map(|(p, c, x)| (p.as_path(), c.as_slice(), *x)),
            )
            .unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let mut index = repo.index().unwrap();
        for (path, contents, executable) in &files {
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: if *executable { 0o100755 } else { 0o100644 },
                uid: 0,
                gid: 0,
                file_size: contents.len() as u32,
                id: repo.blob(contents).unwrap(),
                flags: 0,
                flags_extended: 0,
                path: path.to_str().unwrap().as_bytes().to_vec(),
            };
            index.add(&entry).unwrap();
        }
        assert_eq!(ours, index.write_tree().unwrap());
        // The blobs are held, not in the object database, and packed.
        let objects_held = objects.owned_objects(&BTreeSet::new()).unwrap();
        let blobs = objects_held
            .iter()
            .filter(|(kind, _, _)| *kind == git2::ObjectType::Blob)
            .count();
        assert_eq!(blobs, 7, "files with equal contents are one blob");
        // A second tree with one file changed (a pristine render and the
        // user's file, as `init` makes): the pack needs both versions.
        let mut changed = files.clone();
        changed[0].1 = b"changed".to_vec();
        objects
            .tree(
                changed
                    .iter()
                    .map(|(p, c, x)| (p.as_path(), c.as_slice(), *x)),
            )
            .unwrap();
        let blobs = (objects.owned_objects(&BTreeSet::new()).unwrap().iter())
            .filter(|(kind, _, _)| *kind == git2::ObjectType::Blob)
            .count();
        assert_eq!(blobs, 8);
    }
}
