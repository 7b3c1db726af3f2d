//! The `.git` directory of a new repository, written as `git init` leaves
//! it, and the references of its first commit.
//!
//! libgit2's init rewrote `config` through a lock file four times and read
//! the user's config files a dozen times; its reference writer locks,
//! renames and re-reads the configuration for each ref. A repository that
//! is being built in a directory no one else can see yet needs none of
//! that: each file is written once, in its final form.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use git2::{Oid, Signature};

/// Directories `git init` makes (its template's hooks and info excepted:
/// nothing a new project needs).
const DIRECTORIES: [&str; 6] = [
    "objects",
    "objects/info",
    "objects/pack",
    "refs",
    "refs/heads",
    "refs/tags",
];

/// Makes `git_dir` (which must not exist) a repository whose HEAD names
/// `branch`, with the core settings `git init` probes the file system for.
pub fn create(git_dir: &Path, branch: &str) -> io::Result<()> {
    fs::create_dir(git_dir)?;
    for dir in DIRECTORIES {
        fs::create_dir(git_dir.join(dir))?;
    }
    let head = git_dir.join("HEAD");
    write_new(&head, format!("ref: refs/heads/{branch}\n").as_bytes())?;
    let probed = Probed::of(git_dir, &head);
    write_new(&git_dir.join("config"), probed.config().as_bytes())
}

/// What the file system under the repository supports, tested as git does.
struct Probed {
    filemode: bool,
    symlinks: bool,
    ignorecase: bool,
}

impl Probed {
    fn of(git_dir: &Path, head: &Path) -> Probed {
        Probed {
            filemode: executable_bit_sticks(head),
            symlinks: symlinks_work(git_dir),
            // HEAD exists; a case-insensitive file system finds it by
            // another spelling.
            ignorecase: fs::symlink_metadata(git_dir.join("hEaD")).is_ok(),
        }
    }

    /// `.git/config` as `git init` writes it.
    fn config(&self) -> String {
        let mut config = format!(
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = {}\n\tbare = false\n\tlogallrefupdates = true\n",
            self.filemode
        );
        if !self.symlinks {
            config.push_str("\tsymlinks = false\n");
        }
        if self.ignorecase {
            config.push_str("\tignorecase = true\n");
        }
        config
    }
}

/// Whether flipping the owner's execute bit of `file` shows in its mode
/// (not on FAT and some network file systems); the mode is restored.
fn executable_bit_sticks(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(before) = fs::symlink_metadata(file).map(|m| m.permissions().mode()) else {
        return false;
    };
    let flipped = before ^ 0o100;
    if fs::set_permissions(file, fs::Permissions::from_mode(flipped)).is_err() {
        return false;
    }
    let sticks = fs::symlink_metadata(file).is_ok_and(|m| m.permissions().mode() == flipped);
    let _ = fs::set_permissions(file, fs::Permissions::from_mode(before));
    sticks
}

fn symlinks_work(git_dir: &Path) -> bool {
    let probe = git_dir.join("symlink-probe");
    let works = std::os::unix::fs::symlink("testing", &probe).is_ok()
        && fs::symlink_metadata(&probe).is_ok_and(|m| m.file_type().is_symlink());
    let _ = fs::remove_file(&probe);
    works
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

/// The first commit's references: `branch` (with its reflog and HEAD's, as
/// `git commit` leaves them) and, when given, the pristine render's ref,
/// which like every ref outside `refs/heads` has no reflog.
pub fn write_first_refs(
    git_dir: &Path,
    branch: &str,
    commit: Oid,
    signature: &Signature,
    summary: &str,
    pristine: Option<(&str, Oid)>,
) -> io::Result<()> {
    let branch_ref = format!("refs/heads/{branch}");
    write_ref(git_dir, &branch_ref, commit)?;
    let entry = reflog_entry(commit, signature, &format!("commit (initial): {summary}"));
    for log in [format!("logs/{branch_ref}"), "logs/HEAD".to_string()] {
        let path = git_dir.join(log);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        write_new(&path, entry.as_bytes())?;
    }
    if let Some((name, id)) = pristine {
        write_ref(git_dir, name, id)?;
    }
    Ok(())
}

fn write_ref(git_dir: &Path, name: &str, id: Oid) -> io::Result<()> {
    let path = git_dir.join(name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    write_new(&path, format!("{id}\n").as_bytes())
}

/// One reflog line: old and new id, who and when, and the message.
fn reflog_entry(new: Oid, who: &Signature, message: &str) -> String {
    let when = who.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{} {new} {} <{}> {} {sign}{:02}{:02}\t{}\n",
        Oid::ZERO_SHA1,
        String::from_utf8_lossy(who.name_bytes()),
        String::from_utf8_lossy(who.email_bytes()),
        when.seconds(),
        offset.abs() / 60,
        offset.abs() % 60,
        message.replace('\n', " ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_opens_the_skeleton_and_reads_its_references() {
        let dir = tempfile::tempdir().unwrap();
        let git_dir = dir.path().join(".git");
        create(&git_dir, "trunk").unwrap();
        let repo = git2::Repository::open(dir.path()).unwrap();
        assert!(!repo.is_bare());
        assert_eq!(repo.workdir().unwrap(), dir.path().canonicalize().unwrap());
        let config = repo.config().unwrap().snapshot().unwrap();
        assert_eq!(config.get_i32("core.repositoryformatversion").unwrap(), 0);
        assert!(config.get_bool("core.logallrefupdates").unwrap());
        // This file system keeps modes and links, and tells cases apart.
        assert!(config.get_bool("core.filemode").unwrap());
        assert!(config.get_bool("core.symlinks").unwrap_or(true));
        assert!(!config.get_bool("core.ignorecase").unwrap_or(false));
        assert!(!git_dir.join("symlink-probe").exists());

        let blob = repo.blob(b"x\n").unwrap();
        let mut tree = repo.treebuilder(None).unwrap();
        tree.insert("x", blob, 0o100644).unwrap();
        let tree = repo.find_tree(tree.write().unwrap()).unwrap();
        let who = Signature::new(
            "A U Thor",
            "a@example.org",
            &git2::Time::new(1_700_000_000, -150),
        )
        .unwrap();
        let commit = repo
            .commit(None, &who, &who, "first\n\nbody", &tree, &[])
            .unwrap();
        write_first_refs(
            &git_dir,
            "trunk",
            commit,
            &who,
            "first",
            Some(("refs/x/y", commit)),
        )
        .unwrap();
        assert_eq!(repo.head().unwrap().target(), Some(commit));
        assert_eq!(repo.refname_to_id("refs/x/y").unwrap(), commit);
        let reflog = repo.reflog("HEAD").unwrap();
        let entry = reflog.get(0).unwrap();
        assert_eq!(entry.id_new(), commit);
        assert!(entry.id_old().is_zero());
        assert_eq!(entry.message().unwrap(), Some("commit (initial): first"));
        assert_eq!(entry.committer().when().offset_minutes(), -150);
        assert_eq!(repo.reflog("refs/heads/trunk").unwrap().len(), 1);
        assert_eq!(
            fs::read_to_string(git_dir.join("logs/HEAD")).unwrap(),
            format!(
                "{} {commit} A U Thor <a@example.org> 1700000000 -0230\tcommit (initial): first\n",
                Oid::ZERO_SHA1
            )
        );
    }

    #[test]
    fn config_names_what_the_file_system_lacks() {
        let all = Probed {
            filemode: true,
            symlinks: true,
            ignorecase: false,
        };
        assert!(!all.config().contains("symlinks"));
        let fat = Probed {
            filemode: false,
            symlinks: false,
            ignorecase: true,
        };
        let text = fat.config();
        assert!(text.contains("\tfilemode = false\n"), "{text}");
        assert!(text.contains("\tsymlinks = false\n"), "{text}");
        assert!(text.contains("\tignorecase = true\n"), "{text}");
    }
}
