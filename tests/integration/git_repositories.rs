//! Repositories made by real `git` that libgit2 cannot open or that need
//! git's conventions: `init` and `new` refuse them before writing anything,
//! and the user's history survives byte for byte.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Env, git_may_fail, stderr_of};

/// Every entry under `root`, `.git` included: files with their bytes,
/// links with their targets, directories by name.
pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(
                    format!("{rel} ->"),
                    target.to_string_lossy().into_owned().into_bytes(),
                );
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A directory with a user's repository made by `git init INIT_ARGS`: one
/// commit, a branch and a stash.
fn users_repository(env: &Env, name: &str, init_args: &[&str]) -> std::path::PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["init", "-q"];
    args.extend_from_slice(init_args);
    let out = git_may_fail(&dir, &args);
    assert!(out.status.success(), "git {args:?}: {}", stderr_of(&out));
    std::fs::write(dir.join("work.txt"), "my work\n").unwrap();
    for step in [
        &["add", "work.txt"][..],
        &["commit", "-q", "-m", "my history"],
        &["branch", "feature"],
    ] {
        let out = git_may_fail(&dir, step);
        assert!(out.status.success(), "git {step:?}: {}", stderr_of(&out));
    }
    std::fs::write(dir.join("work.txt"), "stashed change\n").unwrap();
    let out = git_may_fail(&dir, &["stash", "-q"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    dir
}

/// `init` in `dir` fails, names `expected` and writes nothing: every byte
/// of the directory, `.git` included, is as it was.
fn init_refuses(env: &Env, dir: &Path, expected: &[&str]) {
    let before = snapshot(dir);
    let out = env
        .cmd(&["init", ".", "--yes", "--name", "p"])
        .current_dir(dir)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success(), "init succeeded: {err}");
    for text in expected {
        assert!(err.contains(text), "{text:?} not in: {err}");
    }
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(dir), before, "the directory changed");
}

#[test]
fn init_refuses_a_sha256_repository_and_keeps_its_history() {
    let env = Env::new();
    let dir = users_repository(&env, "sha", &["--object-format=sha256"]);
    init_refuses(&env, &dir, &["git cannot open the repository", "sha256"]);
    let log = git_may_fail(&dir, &["log", "--format=%s", "feature"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout), "my history\n");
}

#[test]
fn init_refuses_a_reftable_repository_and_keeps_its_history() {
    let env = Env::new();
    let dir = users_repository(&env, "rt", &["--ref-format=reftable"]);
    init_refuses(&env, &dir, &["git cannot open the repository", "reftable"]);
    let log = git_may_fail(&dir, &["stash", "list"]);
    assert!(String::from_utf8_lossy(&log.stdout).contains("stash@{0}"));
}

#[test]
fn new_inside_a_sha256_repository_is_refused_too() {
    let env = Env::new();
    let dir = users_repository(&env, "sha", &["--object-format=sha256"]);
    let before = snapshot(&dir);
    let out = env
        .cmd(&["new", "inner", "--yes"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("sha256"), "{}", stderr_of(&out));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn init_refuses_a_git_file_or_link_git_cannot_follow() {
    let env = Env::new();
    let file = env.path("gitfile");
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join(".git"), "gitdir: /nonexistent/repo.git\n").unwrap();
    init_refuses(&env, &file, &[".git", "is not a repository git can open"]);

    let link = env.path("gitlink");
    std::fs::create_dir(&link).unwrap();
    std::os::unix::fs::symlink("/nonexistent/repo.git", link.join(".git")).unwrap();
    init_refuses(&env, &link, &[".git", "is not a repository git can open"]);

    let empty = env.path("emptydir");
    std::fs::create_dir_all(empty.join(".git")).unwrap();
    init_refuses(&env, &empty, &[".git", "is not a repository git can open"]);
}

/// A broken `.git` inside another repository's work tree: libgit2 would
/// pass over it to the repository above; git, and so `init`, stop there.
#[test]
fn init_does_not_skip_a_broken_git_to_the_repository_above() {
    let env = Env::new();
    let outer = users_repository(&env, "outer", &[]);
    let inner = outer.join("inner");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(inner.join(".git"), "gitdir: ../nowhere\n").unwrap();
    let before = snapshot(&outer);
    let out = env
        .cmd(&["init", ".", "--yes", "--name", "p"])
        .current_dir(&inner)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stderr_of(&out));
    assert_eq!(snapshot(&outer), before);
}

/// A `.git` link to a repository git opens is used, and stays a link.
#[test]
fn init_uses_a_git_link_to_a_repository_and_keeps_the_link() {
    let env = Env::new();
    let real = users_repository(&env, "real", &[]);
    let dir = env.path("linked");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(real.join(".git"), dir.join(".git")).unwrap();
    let out = env
        .cmd(&["init", ".", "--yes", "--name", "p"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let staged = git_may_fail(&real, &["ls-files"]);
    assert!(String::from_utf8_lossy(&staged.stdout).contains(".nixcuda.yaml"));
    let meta = std::fs::symlink_metadata(dir.join(".git")).unwrap();
    assert!(meta.file_type().is_symlink(), "{}", stderr_of(&out));
}

#[test]
fn init_refuses_a_repository_owned_by_another_user() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let dir = users_repository(&env, "theirs", &[]);
    // Only root can give a repository away (CI runs as a plain user).
    if std::fs::metadata(&dir).unwrap().uid() != 0 {
        crate::support::skipped("not root, so no repository can be given to another user");
        return;
    }
    let out = std::process::Command::new("chown")
        .args(["-R", "12345:12345"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    init_refuses(&env, &dir, &["another user", "safe.directory"]);
}

/// `git fsck --full --strict` in `dir` passes.
fn fsck(dir: &Path) {
    let out = git_may_fail(dir, &["fsck", "--full", "--strict", "--no-progress"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// In a linked worktree (`git worktree add`) `update` stores its objects
/// and the pristine ref in the common directory and commits on the
/// worktree's branch; `init` stages there.
#[test]
fn update_and_init_work_in_a_linked_worktree() {
    let env = Env::new();
    let main = crate::support::updates_project(&env, "main", &[]);
    let out = git_may_fail(&main, &["worktree", "add", "-q", "-b", "side", "../side"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let side = env.path("side");
    let out = crate::support::update(&env, &side, &["--commit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let status = git_may_fail(&side, &["status", "--porcelain"]);
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
    let log = git_may_fail(&main, &["log", "--format=%s", "-1", "side"]);
    assert!(
        String::from_utf8_lossy(&log.stdout).starts_with("Update to t@1.1.0"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );
    // The pristine render is the repository's, seen from the main work tree.
    let pristine = git_may_fail(&main, &["log", "--format=%s", "refs/nixcuda/pristine"]);
    assert!(String::from_utf8_lossy(&pristine.stdout).starts_with("Pristine render of t@1.1.0"));
    let worktree_git_dir = main.join(".git/worktrees/side");
    assert!(!worktree_git_dir.join("objects").exists());
    fsck(&main);

    let plain = users_repository(&env, "plain", &[]);
    let out = git_may_fail(&plain, &["worktree", "add", "-q", "-b", "wt", "../wt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let wt = env.path("wt");
    let out = env
        .cmd_with_scaffolds(
            "updates",
            &["init", ".", "--yes", "--name", "q", "--scaffold", "t@1.0.0"],
        )
        .current_dir(&wt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        wt.join(".git").is_file(),
        "the worktree's .git file is kept"
    );
    let staged = git_may_fail(&wt, &["diff", "--cached", "--name-only"]);
    assert!(String::from_utf8_lossy(&staged.stdout).contains(".nixcuda.yaml"));
    let pristine = git_may_fail(&plain, &["cat-file", "-t", "refs/nixcuda/pristine"]);
    assert_eq!(String::from_utf8_lossy(&pristine.stdout), "commit\n");
    fsck(&plain);
}

/// `update` in a project whose repository libgit2 cannot open stops
/// before writing, instead of taking it for a project outside git.
#[test]
fn update_refuses_a_repository_libgit2_cannot_open() {
    let env = Env::new();
    let p = crate::support::updates_project(&env, "p", &["--vcs", "none"]);
    let out = git_may_fail(&p, &["init", "-q", "--ref-format=reftable"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = git_may_fail(&p, &["add", "-A"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = git_may_fail(&p, &["commit", "-q", "-m", "mine"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let before = snapshot(&p);
    for args in [&[][..], &["--allow-dirty"]] {
        let out = crate::support::update(&env, &p, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr_of(&out).contains("reftable"), "{}", stderr_of(&out));
        assert!(snapshot(&p) == before, "{args:?}: the project changed");
    }
}
