//! The user's repository survives every kill: `new`, `init` and `update`
//! are killed at each step they take (a file written, an object stored, a
//! reference moved) and `git fsck --full --strict` must accept what is left,
//! and a retry must then succeed.

use std::path::Path;

use crate::support::{Env, copy_dir, git, stderr_of, tree};

const KILL: &str = "__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS";

/// `git fsck --full --strict` of the repository at `dir` passes.
fn fsck(dir: &Path, what: &str) {
    let out = std::process::Command::new("git")
        .args(["fsck", "--full", "--strict", "--no-progress"])
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "{what}: {}", stderr_of(&out));
}

/// The `.git` directories under `dir` (a killed `new` leaves its staging
/// directory, with the repository it was building, beside the project).
fn repositories(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.join(".git/HEAD").exists() {
            found.push(path);
        }
    }
    found
}

/// A retry that fails because the killed run had already put every file
/// in place (killed after its journal finished, while storing the pristine
/// render or writing a reference) must find the complete project; else it
/// must succeed.
fn left_complete(
    retry: &std::process::Output,
    dir: &Path,
    complete: &std::collections::BTreeMap<String, Vec<u8>>,
    step: usize,
) -> bool {
    if retry.status.success() {
        return false;
    }
    let err = stderr_of(retry);
    assert!(
        err.contains("already a cargo-nixcuda project") || err.contains("uncommitted changes"),
        "retry after step {step}: {err}"
    );
    crate::support::assert_same_tree(&tree(dir), complete, &format!("step {step}"));
    true
}

fn killed(out: &std::process::Output) -> bool {
    out.status.code().is_none()
}

#[test]
fn new_killed_at_any_step_leaves_nothing_git_rejects_and_a_retry_succeeds() {
    let env = Env::new();
    let (mut kills, mut checked) = (0, 0);
    for step in 0.. {
        let parent = env.path(&format!("n{step}"));
        std::fs::create_dir(&parent).unwrap();
        let new = |kill: Option<usize>| {
            let mut cmd =
                env.cmd_with_scaffolds("updates", &["new", "p", "--yes", "--scaffold", "t@1.0.0"]);
            cmd.current_dir(&parent);
            if let Some(step) = kill {
                cmd.env(KILL, step.to_string());
            }
            cmd.output().unwrap()
        };
        let out = new(Some(step));
        if !killed(&out) {
            assert!(out.status.success(), "{}", stderr_of(&out));
            fsck(&parent.join("p"), "completed");
            break;
        }
        kills += 1;
        // The staging directory's half-built repository, if any.
        for repo in repositories(&parent) {
            if repo.join(".git/refs").exists() && repo.join(".git/HEAD").exists() {
                let head = repo.join(".git/refs/heads");
                if std::fs::read_dir(&head).is_ok_and(|mut d| d.next().is_some()) {
                    fsck(&repo, &format!("killed at step {step}"));
                    checked += 1;
                }
            }
        }
        let out = new(None);
        assert!(
            out.status.success(),
            "retry after step {step}: {}",
            stderr_of(&out)
        );
        fsck(&parent.join("p"), &format!("retry after step {step}"));
        checked += 1;
    }
    assert!(kills > 10, "only {kills} kill points");
    eprintln!("new: {kills} kill points, {checked} repositories checked with git fsck");
}

#[test]
fn init_killed_at_any_step_leaves_the_users_repository_valid_and_a_retry_succeeds() {
    let env = Env::new();
    let base = env.path("base");
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("mine.txt"), "mine\n").unwrap();
    git(&base, &["init", "-q", "-b", "trunk"]);
    git(&base, &["add", "mine.txt"]);
    git(&base, &["commit", "-q", "-m", "my work"]);
    let head = git(&base, &["rev-parse", "HEAD"]).stdout;
    let init = |dir: &Path, kill: Option<usize>| {
        let mut cmd = env.cmd_with_scaffolds(
            "updates",
            &["init", ".", "--yes", "--name", "p", "--scaffold", "t@1.0.0"],
        );
        cmd.current_dir(dir);
        if let Some(step) = kill {
            cmd.env(KILL, step.to_string());
        }
        cmd.output().unwrap()
    };
    let complete = env.path("complete");
    copy_dir(&base, &complete);
    assert!(init(&complete, None).status.success());
    let complete = tree(&complete);
    let (mut kills, mut checked, mut unstaged) = (0, 0, 0);
    for step in 0.. {
        let dir = env.path(&format!("i{step}"));
        copy_dir(&base, &dir);
        let out = init(&dir, Some(step));
        fsck(&dir, &format!("step {step}"));
        checked += 1;
        assert_eq!(
            git(&dir, &["rev-parse", "HEAD"]).stdout,
            head,
            "step {step}"
        );
        if !killed(&out) {
            assert!(out.status.success(), "{}", stderr_of(&out));
            break;
        }
        kills += 1;
        let out = init(&dir, None);
        if left_complete(&out, &dir, &complete, step) {
            unstaged += 1;
            continue;
        }
        fsck(&dir, &format!("retry after step {step}"));
        checked += 1;
        let staged = git(&dir, &["ls-files"]).stdout;
        assert!(
            String::from_utf8_lossy(&staged).contains(".nixcuda.yaml"),
            "step {step}"
        );
    }
    assert!(kills > 5, "only {kills} kill points");
    eprintln!(
        "init: {kills} kill points, {checked} repositories checked with git fsck, \
         {unstaged} left complete (the retry refuses a finished project)"
    );
}

#[test]
fn update_killed_at_any_step_leaves_a_repository_git_accepts_and_a_retry_succeeds() {
    let env = Env::new();
    let base = crate::support::updates_project(&env, "base", &[]);
    let update = |dir: &Path, kill: Option<usize>| {
        let mut cmd = env.cmd_with_scaffolds("updates", &["update", "--yes"]);
        cmd.current_dir(dir);
        if let Some(step) = kill {
            cmd.env(KILL, step.to_string());
        }
        cmd.output().unwrap()
    };
    let complete = env.path("complete");
    copy_dir(&base, &complete);
    assert!(update(&complete, None).status.success());
    let complete = tree(&complete);
    let (mut kills, mut checked, mut unstaged) = (0, 0, 0);
    for step in 0.. {
        let dir = env.path(&format!("u{step}"));
        copy_dir(&base, &dir);
        let out = update(&dir, Some(step));
        fsck(&dir, &format!("step {step}"));
        checked += 1;
        if !killed(&out) {
            assert!(out.status.success(), "{}", stderr_of(&out));
            break;
        }
        kills += 1;
        let out = update(&dir, None);
        if left_complete(&out, &dir, &complete, step) {
            unstaged += 1;
            continue;
        }
        fsck(&dir, &format!("retry after step {step}"));
        checked += 1;
    }
    assert!(kills > 5, "only {kills} kill points");
    eprintln!(
        "update: {kills} kill points, {checked} repositories checked with git fsck, \
         {unstaged} left complete (the retry refuses a finished project)"
    );
}

/// `init` of a directory with no repository builds the `.git` in its
/// journal: killed anywhere, no `.git` or one git accepts is left, and the
/// retry makes the repository.
#[test]
fn init_of_a_plain_directory_killed_at_any_step_leaves_no_broken_repository() {
    let env = Env::new();
    let (mut kills, mut checked) = (0, 0);
    for step in 0.. {
        let dir = env.path(&format!("d{step}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("mine.txt"), "mine\n").unwrap();
        let init = |kill: Option<usize>| {
            let mut cmd = env.cmd_with_scaffolds(
                "updates",
                &["init", ".", "--yes", "--name", "p", "--scaffold", "t@1.0.0"],
            );
            cmd.current_dir(&dir);
            if let Some(step) = kill {
                cmd.env(KILL, step.to_string());
            }
            cmd.output().unwrap()
        };
        let out = init(Some(step));
        if dir.join(".git").exists() {
            fsck(&dir, &format!("step {step}"));
            checked += 1;
        }
        if !killed(&out) {
            assert!(out.status.success(), "{}", stderr_of(&out));
            break;
        }
        kills += 1;
        let out = init(None);
        assert!(
            out.status.success(),
            "retry after step {step}: {}",
            stderr_of(&out)
        );
        fsck(&dir, &format!("retry after step {step}"));
        checked += 1;
    }
    assert!(kills > 5, "only {kills} kill points");
    eprintln!("init (no repository): {kills} kill points, {checked} repositories checked");
}

/// `new` inside another repository stages the project before the rename
/// that makes it visible: killed at any step, the project is either there
/// and wholly staged, or not there (and a retry makes and stages it).
#[test]
fn new_inside_a_repository_killed_at_any_step_is_never_present_but_unstaged() {
    let env = Env::new();
    let outer = env.path("outer");
    std::fs::create_dir(&outer).unwrap();
    git(&outer, &["init", "-q"]);
    std::fs::write(outer.join("mine.txt"), "mine\n").unwrap();
    git(&outer, &["add", "mine.txt"]);
    git(&outer, &["commit", "-q", "-m", "mine"]);
    let base = env.path("base");
    copy_dir(&outer, &base);
    let (mut kills, mut present, mut absent) = (0, 0, 0);
    for step in 0.. {
        let dir = env.path(&format!("o{step}"));
        copy_dir(&base, &dir);
        let new = |kill: Option<usize>| {
            let mut cmd =
                env.cmd_with_scaffolds("updates", &["new", "p", "--yes", "--scaffold", "t@1.0.0"]);
            cmd.current_dir(&dir);
            if let Some(step) = kill {
                cmd.env(KILL, step.to_string());
            }
            cmd.output().unwrap()
        };
        let out = new(Some(step));
        fsck(&dir, &format!("step {step}"));
        let finished = !killed(&out);
        if finished {
            assert!(out.status.success(), "{}", stderr_of(&out));
        } else {
            kills += 1;
        }
        if dir.join("p").exists() {
            present += 1;
            let status = git(
                &dir,
                &["status", "--porcelain", "--untracked-files=all", "--", "p"],
            );
            let status = String::from_utf8_lossy(&status.stdout).into_owned();
            let files = tree(&dir.join("p"));
            assert!(!files.is_empty());
            for line in status.lines() {
                assert!(
                    line.starts_with("A  "),
                    "step {step}: not staged: {line}\n{status}"
                );
            }
            assert_eq!(status.lines().count(), files.len(), "step {step}: {status}");
        } else {
            absent += 1;
            let out = new(None);
            assert!(
                out.status.success(),
                "retry after step {step}: {}",
                stderr_of(&out)
            );
            let status = git(&dir, &["status", "--porcelain", "--untracked-files=all"]);
            let status = String::from_utf8_lossy(&status.stdout).into_owned();
            // The killed run's staging directory stays until it is a
            // minute old (no clean-up can tell a fresh one from a live one).
            assert!(
                status
                    .lines()
                    .filter(|l| !l.starts_with("?? .p.nixcuda-"))
                    .all(|l| l.starts_with("A  p/")),
                "step {step}: {status}"
            );
            fsck(&dir, &format!("retry after step {step}"));
        }
        if finished {
            break;
        }
    }
    assert!(kills > 5, "only {kills} kill points");
    eprintln!(
        "new inside a repository: {kills} kill points, {present} left present and staged, {absent} absent and made by the retry"
    );
}
