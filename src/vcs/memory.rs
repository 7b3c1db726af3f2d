//! The objects of a new project or a pristine render, made in memory:
//! blobs hashed (on two threads when there are many) and kept out of any
//! object database, trees serialized here, commits made by libgit2 in a
//! memory-only database, and all of them deflated (in the background where
//! possible) into one pack (`pack`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{Repository, Signature};

use super::{FALLBACK_EMAIL, FALLBACK_NAME, PRISTINE_REF};
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
    contents: std::collections::HashMap<git2::Oid, Arc<[u8]>>,
    /// The pack goes into a new repository (see `for_new_repository`).
    new_repository: bool,
    made: Vec<git2::Oid>,
    /// Objects being deflated on other threads, for the pack.
    deflating: Deflating,
}

/// An object with its kind, id and contents, shared rather than copied.
type HeldObject = (git2::ObjectType, git2::Oid, Arc<[u8]>);

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
            new_repository: false,
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

    /// The blob that `tree` last made for `path`.
    pub(super) fn blob_id(&self, path: &Path) -> Option<git2::Oid> {
        self.blobs.get(path).copied()
    }

    /// The pristine tree of `files`: contents only, every file 100644.
    pub fn pristine_tree(&mut self, files: &super::Files) -> Result<git2::Oid> {
        self.tree(
            files
                .iter()
                .map(|(p, c)| (p.as_path(), c.as_slice(), false)),
        )
    }

    /// The pack goes into a new repository, which has none of these
    /// objects: the threads that hash blobs go on to deflate them for the
    /// pack, and nothing is looked up in the repository before packing.
    pub fn for_new_repository(&mut self) {
        self.new_repository = true;
    }

    /// Hashes the blobs of `files` not held yet, on two threads when there
    /// is enough to share. Blobs stay out of the object database (a tree
    /// is made from their ids alone) and go from memory into the pack.
    fn hash_blobs(&mut self, files: &[TreeFile]) -> Result<()> {
        let missing: Vec<(&Path, Arc<[u8]>)> = files
            .iter()
            .filter(|(path, contents, _)| {
                let held = self.blobs.get(*path).and_then(|id| self.contents.get(id));
                held.is_none_or(|held| **held != **contents)
            })
            .map(|(path, contents, _)| (*path, Arc::from(*contents)))
            .collect();
        let contents: Vec<Arc<[u8]>> = missing.iter().map(|(_, c)| c.clone()).collect();
        let bytes: usize = contents.iter().map(|c| c.len()).sum();
        let ids = if bytes < PARALLEL_HASH_BYTES {
            hash_all(&contents).map_err(Error::git("hash a blob"))?
        } else {
            self.hash_on_threads(contents)?
        };
        for ((path, contents), id) in missing.into_iter().zip(ids) {
            self.blobs.insert(path.to_path_buf(), id);
            self.contents.entry(id).or_insert(contents);
            self.made.push(id);
        }
        Ok(())
    }

    /// The ids of `contents`: this thread hashes about half the bytes while
    /// another hashes the rest. For a new repository, both halves go on to
    /// deflate on other threads once hashed.
    fn hash_on_threads(&mut self, contents: Vec<Arc<[u8]>>) -> Result<Vec<git2::Oid>> {
        let deflate = self.new_repository;
        let mut first = contents;
        let second = first.split_off(split_by_bytes(&first));
        let (sender, receiver) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let ids = hash_all(&second).map_err(std::io::Error::other)?;
            let _ = sender.send(ids.clone());
            match deflate {
                true => deflate_blobs(&ids, &second),
                false => Ok(Vec::new()),
            }
        });
        let mut ids = hash_all(&first).map_err(Error::git("hash a blob"))?;
        if deflate {
            let first_ids = ids.clone();
            (self.deflating.workers).push(std::thread::spawn(move || {
                deflate_blobs(&first_ids, &first)
            }));
        }
        match receiver.recv() {
            Ok(rest) => ids.extend(rest),
            // The thread failed before it hashed everything: its error.
            Err(_) => {
                let error = match other.join() {
                    Ok(Err(e)) => e.to_string(),
                    _ => "a hashing thread panicked".into(),
                };
                return Err(Error::git("hash a blob")(git2::Error::from_str(&error)));
            }
        }
        if deflate {
            self.deflating.workers.push(other);
            self.deflating.ids.extend(ids.iter().copied());
        }
        Ok(ids)
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

    pub(super) fn commit(
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
    fn owned_objects(&self, taken: &BTreeSet<git2::Oid>) -> Result<Vec<HeldObject>> {
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
                Some(data) => Ok((git2::ObjectType::Blob, id, data.clone())),
                None => {
                    let object = odb.read(id).map_err(Error::git("read the objects"))?;
                    Ok((object.kind(), id, Arc::from(object.data())))
                }
            })
            .collect()
    }

    /// Starts deflating every object made so far and not deflating yet on
    /// another thread, so the pack is ready once the work tree is written;
    /// objects made later are deflated when the pack is written. (A new
    /// repository's blobs are already deflating on the threads that hashed
    /// them: what is left here is small.)
    pub fn deflate_in_background(&mut self) -> Result<()> {
        let objects = self.owned_objects(&self.deflating.ids)?;
        self.deflating
            .ids
            .extend(objects.iter().map(|(_, id, _)| *id));
        self.deflating.workers.push(std::thread::spawn(move || {
            super::pack::deflate(&pack_objects(&objects))
        }));
        Ok(())
    }

    /// Everything made so far that `repo` lacks as one pack, written with
    /// its index into `repo`: what is deflating in the background, and the
    /// rest deflated now.
    pub(super) fn write_pack_into(&mut self, repo: &Repository) -> Result<()> {
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
        if !self.new_repository {
            let odb = repo.odb().map_err(Error::git("read the objects"))?;
            let present: Vec<git2::Oid> = (self.made.iter())
                .filter(|id| {
                    !taken.contains(id) && odb.exists_ext(**id, git2::OdbLookupFlags::NO_REFRESH)
                })
                .copied()
                .collect();
            taken.extend(present);
        }
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

/// Where to cut `contents` so that both parts hold about half the bytes.
fn split_by_bytes(contents: &[Arc<[u8]>]) -> usize {
    let total: usize = contents.iter().map(|c| c.len()).sum();
    let mut sum = 0;
    contents
        .iter()
        .position(|c| {
            sum += c.len();
            sum * 2 >= total
        })
        .map_or(contents.len(), |i| i + 1)
}

/// The pack entries of blobs `contents`, whose ids are `ids`.
fn deflate_blobs(
    ids: &[git2::Oid],
    contents: &[Arc<[u8]>],
) -> std::io::Result<Vec<super::pack::Entry>> {
    let objects: Vec<_> = (ids.iter().zip(contents))
        .map(|(id, data)| (git2::ObjectType::Blob, *id, data.clone()))
        .collect();
    super::pack::deflate(&pack_objects(&objects))
}

fn hash_all(contents: &[Arc<[u8]>]) -> std::result::Result<Vec<git2::Oid>, git2::Error> {
    contents
        .iter()
        .map(|data| git2::Oid::hash_object(git2::ObjectType::Blob, data))
        .collect()
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

fn pack_objects(objects: &[HeldObject]) -> Vec<super::pack::PackObject<'_>> {
    objects
        .iter()
        .map(|(kind, id, data)| super::pack::PackObject {
            kind: *kind,
            id: *id,
            data,
        })
        .collect()
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
        for (kind, id, _) in &objects_held {
            let in_database = objects.repo.odb().unwrap().exists(*id);
            assert_eq!(
                in_database,
                *kind != git2::ObjectType::Blob,
                "{kind:?} {id}"
            );
        }
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

    /// A new repository's pack holds each object once, also when files
    /// with equal contents were hashed and deflated by different threads.
    #[test]
    fn a_new_repository_packs_equal_files_once() {
        let big = vec![b'y'; PARALLEL_HASH_BYTES];
        let files: Vec<(PathBuf, bool)> = ["a", "b", "c/d", "e"]
            .iter()
            .map(|p| (PathBuf::from(p), false))
            .collect();
        let mut objects = MemoryObjects::new().unwrap();
        objects.for_new_repository();
        let tree = objects
            .tree(files.iter().map(|(p, x)| (p.as_path(), big.as_slice(), *x)))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        objects.write_pack_into(&repo).unwrap();
        let pack_dir = dir.path().join("objects/pack");
        let index = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .unwrap();
        let listed = std::process::Command::new("git")
            .arg("verify-pack")
            .arg("-v")
            .arg(&index)
            .output()
            .unwrap();
        assert!(listed.status.success(), "{listed:?}");
        let text = String::from_utf8_lossy(&listed.stdout);
        // One blob and two trees (the root and `c`).
        assert!(text.contains("non delta: 3 objects"), "{text}");
        assert!(repo.find_tree(tree).is_ok());
    }
}
