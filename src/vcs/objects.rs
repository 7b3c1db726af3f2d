//! Objects and the one repository builder. Every object enters a
//! repository through libgit2's object database: made in an in-memory
//! backend, then stored as one pack that libgit2's pack writer writes
//! aside, indexes and moves into place (loose objects, each written to a
//! temporary file and renamed, where no pack is made), so a run killed or
//! out of disk space at any point leaves nothing `git fsck` rejects.

use std::path::Path;

use git2::{Repository, RepositoryInitOptions, Signature};

use super::signing::{sign_with_git, signing_requested, unsigned_warning};
use super::{Files, PRISTINE_REF, VcsOutcome, default_branch, identity, pristine_signature};
use crate::error::{Error, Result};

/// A file of a tree: path, contents, executable.
pub type TreeFile<'a> = (&'a Path, &'a [u8], bool);

/// Writes the blobs of `files` and the trees that hold them into `repo`;
/// returns the root tree and each file's blob, in the order of `files`.
/// The only place trees are made: the id `tree_id` computes in memory is
/// the id of the tree stored in a repository. `stored`: `repo` is on disk
/// (each object written is a step a test may kill the process at).
pub(super) fn write_tree(
    repo: &Repository,
    files: &[TreeFile],
    stored: bool,
) -> Result<(git2::Oid, Vec<git2::Oid>)> {
    let step = || {
        if stored {
            crate::test_hooks::kill_point();
        }
    };
    // An index of its own, not the repository's: it is case-sensitive
    // whatever `core.ignorecase` says, and leaves the user's index alone.
    let mut index = git2::Index::new().map_err(Error::git("make an index"))?;
    let mut blobs = Vec::with_capacity(files.len());
    for (path, contents, executable) in files {
        step();
        let id = repo.blob(contents).map_err(Error::git("write a blob"))?;
        index
            .add(&entry(path, id, contents.len(), *executable))
            .map_err(Error::git("add a file to a tree"))?;
        blobs.push(id);
    }
    step();
    let tree = index
        .write_tree_to(repo)
        .map_err(Error::git("write a tree"))?;
    Ok((tree, blobs))
}

/// An index entry with no file status (as `git read-tree` leaves it).
pub(super) fn entry(path: &Path, id: git2::Oid, len: usize, executable: bool) -> git2::IndexEntry {
    let time = git2::IndexTime::new(0, 0);
    git2::IndexEntry {
        ctime: time,
        mtime: time,
        dev: 0,
        ino: 0,
        mode: if executable { 0o100755 } else { 0o100644 },
        uid: 0,
        gid: 0,
        file_size: u32::try_from(len).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.to_string_lossy().into_owned().into_bytes(),
    }
}

/// The pristine render's files as tree files: contents only, every file
/// 100644.
pub(super) fn pristine_files(files: &Files) -> Vec<TreeFile<'_>> {
    files
        .iter()
        .map(|(p, c)| (p.as_path(), c.as_slice(), false))
        .collect()
}

/// A repository that keeps its objects in memory: trees whose ids are
/// wanted without storing anything.
pub(super) fn memory_repository() -> Result<Repository> {
    let odb = git2::Odb::new().map_err(Error::git("open an object database"))?;
    odb.add_new_mempack_backend(1)
        .map_err(Error::git("open an object database"))?;
    Repository::from_odb(odb).map_err(Error::git("open an object database"))
}

/// What a new repository's first commit holds.
pub struct FirstCommit<'a> {
    pub files: &'a [TreeFile<'a>],
    pub message: &'a str,
    /// The pristine render and its commit message.
    pub pristine: Option<(&'a Files, &'a str)>,
    /// Where the files already are, so the index holds each file's status
    /// and `git status` hashes nothing again; None when the files are
    /// moved in later (`init`): their entries are then re-checked by git.
    pub work_tree: Option<&'a Path>,
}

/// Makes the repository whose git directory is `git_dir` (which must not
/// exist) with `first` as its first commit on the default branch, its
/// index, and the pristine render's ref. The one way a `.git` is made:
/// `new` makes it in its staging directory, `init` in its journal, and
/// each moves it into place in one rename.
pub fn build_repository(git_dir: &Path, first: FirstCommit) -> Result<(VcsOutcome, Vec<String>)> {
    let branch = default_branch()?;
    let mut opts = RepositoryInitOptions::new();
    // Made bare, then told it has a work tree: a work tree named at init
    // would be written into the config as an absolute `core.worktree`,
    // which the rename into place would make wrong.
    opts.bare(true)
        .no_reinit(true)
        .initial_head(&branch)
        .mkdir(true)
        .external_template(false);
    crate::test_hooks::kill_point();
    Repository::init_opts(git_dir, &opts).map_err(Error::git("create a repository"))?;
    configure_work_tree(git_dir)?;
    // Opened again, with its work tree: the user's config (identity,
    // signing) may depend on it (`includeIf "gitdir:..."`), and a
    // repository with a work tree keeps reflogs.
    let repo = Repository::open(git_dir).map_err(Error::git("open the new repository"))?;
    let who = identity::identity(&repo)?;
    let (made, blobs) = make_objects(&repo, &first, &who)?;
    // Opened again, without the memory backend: what is written from here
    // on (a commit signed by git, the references) goes to disk.
    drop(repo);
    let repo = Repository::open(git_dir).map_err(Error::git("open the new repository"))?;
    let mut warnings = Vec::new();
    let commit = match made.commit {
        Some(id) => Ok(id),
        None => match sign_with_git(git_dir, made.tree, &[], &who, first.message) {
            Ok(Some(id)) => Ok(id),
            Ok(None) => {
                warnings.push(unsigned_warning("the first commit"));
                let who = (&who.author, &who.committer);
                Ok(commit_tree(
                    &repo,
                    None,
                    who,
                    first.message,
                    made.tree,
                    &[],
                )?)
            }
            // The user's work is not thrown away for want of a signature:
            // the repository is made with the files staged, for the user
            // to commit once signing works.
            Err(Error::SigningFailed { reason, .. }) => Err(reason),
            Err(e) => return Err(e),
        },
    };
    // The references last, each to objects already stored.
    let summary = first.message.lines().next().unwrap_or_default();
    if let Ok(commit) = commit {
        crate::test_hooks::kill_point();
        repo.reference(
            &format!("refs/heads/{branch}"),
            commit,
            false,
            &format!("commit (initial): {summary}"),
        )
        .map_err(Error::git("commit"))?;
    }
    if let (Some(id), Some((_, message))) = (made.pristine, first.pristine) {
        crate::test_hooks::kill_point();
        repo.reference(PRISTINE_REF, id, false, message)
            .map_err(Error::git("record the pristine render"))?;
    }
    write_index(git_dir, first.files, &blobs, first.work_tree)?;
    let outcome = match commit {
        Ok(commit) => VcsOutcome::Initialized {
            branch,
            commit: commit.to_string(),
            fallback_identity: who.fallback,
        },
        Err(reason) => VcsOutcome::Unsigned {
            branch,
            reason,
            message: first.message.to_string(),
        },
    };
    Ok((outcome, warnings))
}

/// What `make_objects` stored: the first commit's tree, the commit itself
/// unless git is to sign it, and the pristine render's commit.
struct Made {
    tree: git2::Oid,
    commit: Option<git2::Oid>,
    pristine: Option<git2::Oid>,
}

/// The objects of a new repository's first commit and pristine render,
/// made in memory and stored as one pack by libgit2's pack writer (which
/// writes it aside, indexes it and moves both into place): a few dozen
/// loose objects, each in its own directory, cost more than the rest of
/// `new`. Returns them and the blob of each file.
fn make_objects(
    repo: &Repository,
    first: &FirstCommit,
    who: &identity::Identity,
) -> Result<(Made, Vec<git2::Oid>)> {
    let odb = repo.odb().map_err(Error::git("open the object database"))?;
    // Above the repository's own backends, so every write lands here.
    odb.add_new_mempack_backend(1000)
        .map_err(Error::git("open the object database"))?;
    let (tree, blobs) = write_tree(repo, first.files, true)?;
    let commit = match signing_requested(repo) {
        false => Some(commit_tree(
            repo,
            None,
            (&who.author, &who.committer),
            first.message,
            tree,
            &[],
        )?),
        true => None,
    };
    let pristine = match first.pristine {
        Some((files, message)) => {
            let (pristine, _) = write_tree(repo, &pristine_files(files), true)?;
            let who = pristine_signature()?;
            Some(commit_tree(
                repo,
                None,
                (&who, &who),
                message,
                pristine,
                &[],
            )?)
        }
        None => None,
    };
    // Every object made (the first commit's tree is in no commit when git
    // is to sign it).
    let roots: Vec<git2::Oid> = commit.iter().chain(&pristine).copied().collect();
    write_pack(repo, &odb, tree, &roots)?;
    let made = Made {
        tree,
        commit,
        pristine,
    };
    Ok((made, blobs))
}

/// Stores `tree` and the commits `commits` (with everything they hold)
/// as one pack, made by libgit2's pack builder and written by its pack
/// writer, which writes it aside, indexes it and moves both into place: a
/// run killed at any point leaves no pack git cannot read.
fn write_pack(
    repo: &Repository,
    odb: &git2::Odb,
    tree: git2::Oid,
    commits: &[git2::Oid],
) -> Result<()> {
    let pack = (|| {
        let mut builder = repo.packbuilder()?;
        builder.set_threads(1);
        builder.insert_tree(tree)?;
        for id in commits {
            builder.insert_commit(*id)?;
        }
        let mut pack = git2::Buf::new();
        builder.write_buf(&mut pack)?;
        Ok(pack)
    })()
    .map_err(Error::git("pack the objects"))?;
    crate::test_hooks::kill_point();
    let mut writer = odb.packwriter().map_err(Error::git("write the pack"))?;
    std::io::Write::write_all(&mut writer, &pack)
        .map_err(|e| Error::io("write the pack into", repo.path(), e))?;
    writer.commit().map_err(Error::git("write the pack"))?;
    Ok(())
}

/// `core.bare = false` and what `git init` sets for a repository with a
/// work tree. `core.ignorecase` is written either way, as the file system
/// answered libgit2's probe: a global `core.ignorecase = true` must not
/// make git fold names this file system tells apart.
fn configure_work_tree(git_dir: &Path) -> Result<()> {
    let path = git_dir.join("config");
    let set = || -> std::result::Result<(), git2::Error> {
        let mut config = git2::Config::open(&path)?;
        let ignorecase = config.get_bool("core.ignorecase").unwrap_or(false);
        config.set_bool("core.bare", false)?;
        config.set_bool("core.logallrefupdates", true)?;
        config.set_bool("core.ignorecase", ignorecase)
    };
    set().map_err(Error::git("configure the repository"))
}

/// A commit of `tree` on `parents`, moving `update_ref` when given (git's
/// reflog message included).
fn commit_tree(
    repo: &Repository,
    update_ref: Option<&str>,
    (author, committer): (&Signature, &Signature),
    message: &str,
    tree: git2::Oid,
    parents: &[&git2::Commit],
) -> Result<git2::Oid> {
    let tree = repo.find_tree(tree).map_err(Error::git("read a tree"))?;
    crate::test_hooks::kill_point();
    repo.commit(update_ref, author, committer, message, &tree, parents)
        .map_err(Error::git("commit"))
}

/// The index of a fresh checkout of `files`: with each file's status when
/// the files are in `work_tree` already, so git trusts it instead of
/// hashing the file again.
fn write_index(
    git_dir: &Path,
    files: &[TreeFile],
    blobs: &[git2::Oid],
    work_tree: Option<&Path>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Opened by path: case-sensitive, so every file of the tree has its
    // entry (see `configure_work_tree`).
    let mut index =
        git2::Index::open(&git_dir.join("index")).map_err(Error::git("open the index"))?;
    for ((path, contents, executable), id) in files.iter().zip(blobs) {
        let mut entry = entry(path, *id, contents.len(), *executable);
        if let Some(root) = work_tree {
            let abs = root.join(path);
            let meta = std::fs::symlink_metadata(&abs).map_err(|e| Error::io("read", &abs, e))?;
            let time = |secs: i64, nanos: i64| git2::IndexTime::new(secs as i32, nanos as u32);
            entry.ctime = time(meta.ctime(), meta.ctime_nsec());
            entry.mtime = time(meta.mtime(), meta.mtime_nsec());
            entry.dev = meta.dev() as u32;
            entry.ino = meta.ino() as u32;
            entry.uid = meta.uid();
            entry.gid = meta.gid();
        }
        index.add(&entry).map_err(Error::git("fill the index"))?;
    }
    crate::test_hooks::kill_point();
    index.write().map_err(Error::git("write the index"))
}

/// Stores `files` as the newest pristine render in `repo`, after the one
/// there unless that one has the same tree; returns the tree id.
pub(super) fn store_pristine(repo: &Repository, files: &Files, message: &str) -> Result<String> {
    let odb = repo.odb().map_err(Error::git("open the object database"))?;
    // New objects are made in memory (objects the repository has are
    // not made again) and stored as one pack: loose objects, each in its
    // own directory, cost more than the rest of `update`.
    odb.add_new_mempack_backend(1000)
        .map_err(Error::git("open the object database"))?;
    let (tree, _) = write_tree(repo, &pristine_files(files), true)?;
    let parent = repo
        .find_reference(PRISTINE_REF)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree) {
        return Ok(tree.to_string());
    }
    let who = pristine_signature()?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let commit = commit_tree(repo, None, (&who, &who), message, tree, &parents)?;
    write_pack(repo, &odb, tree, &[commit])?;
    crate::test_hooks::kill_point();
    repo.reference(PRISTINE_REF, commit, true, message)
        .map_err(Error::git("record the pristine render"))?;
    Ok(tree.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The tree computed in memory is the tree git itself makes of the
    /// same files (`git add` + `git write-tree`), with names that sort
    /// differently as files and as directories, and executable files.
    #[test]
    fn trees_are_the_trees_git_makes() {
        let files: Vec<(PathBuf, Vec<u8>, bool)> = [
            ("a-b", &b"2"[..], true),
            ("a.b", b"3", false),
            ("a/b", b"4", false),
            ("a/c/d.nix", b"5", false),
            ("ab", b"6", false),
            ("z/a", b"", false),
            ("z/b", b"2", false),
        ]
        .into_iter()
        .map(|(p, c, x)| (PathBuf::from(p), c.to_vec(), x))
        .collect();
        let tree_files: Vec<TreeFile> = files
            .iter()
            .map(|(p, c, x)| (p.as_path(), c.as_slice(), *x))
            .collect();
        let (ours, _) = write_tree(&memory_repository().unwrap(), &tree_files, false).unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(tmp.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .expect("git runs");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        git(&["init", "-q"]);
        for (path, contents, executable) in &files {
            let abs = tmp.path().join(path);
            std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
            std::fs::write(&abs, contents).unwrap();
            if *executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        git(&["add", "-A"]);
        assert_eq!(ours.to_string(), git(&["write-tree"]).trim());
    }
}
