//! The git index is part of an update's atomic unit: git's `index.lock` is
//! held from before the first file moves until the new index (staged files
//! and conflict stages, written once) is in place, and a kill anywhere
//! leaves old files with the old index or new files with the new one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, commit_all, copy_dir, edit, git, stderr_of, tree, updates_project};

/// A project on t@1.0.0 whose committed edit conflicts with 1.1.0.
fn conflicting_project(env: &Env) -> PathBuf {
    let project = updates_project(env, "p", &[]);
    edit(&project, "notes.md", "line 8\n", "line 8 mine\n");
    commit_all(&project, "mine");
    project
}

fn update_cmd(env: &Env, dir: &Path) -> assert_cmd::Command {
    let mut c = env.cmd_with_scaffolds("updates", &["update", "--yes"]);
    c.current_dir(dir);
    c
}

/// The index as git lists it (modes, ids and stages of every entry).
fn staged(dir: &Path) -> String {
    String::from_utf8_lossy(&git(dir, &["ls-files", "--stage"]).stdout).into_owned()
}

#[test]
fn an_update_killed_at_any_step_leaves_files_and_index_together() {
    let env = Env::new();
    let base = conflicting_project(&env);
    let (old_tree, old_index) = (tree(&base), staged(&base));
    let done = env.path("done");
    copy_dir(&base, &done);
    let out = update_cmd(&env, &done).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let (new_tree, new_index) = (tree(&done), staged(&done));
    assert!(new_index.contains(" 3\tnotes.md"), "{new_index}");

    let (mut kills, mut rolled_back) = (0, 0);
    for step in 0.. {
        let p = env.path(&format!("k{step}"));
        copy_dir(&base, &p);
        let out = update_cmd(&env, &p)
            .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", step.to_string())
            .output()
            .unwrap();
        if out.status.code().is_some() {
            break;
        }
        kills += 1;
        let out = env
            .cmd_with_scaffolds("updates", &["check"])
            .current_dir(&p)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert!(!p.join(".git/index.lock").exists(), "step {step}: {err}");
        git(&p, &["fsck", "--full", "--no-progress"]);
        let (now_tree, now_index) = (tree(&p), staged(&p));
        if now_tree == new_tree {
            assert_eq!(now_index, new_index, "step {step}: new files, old index");
            continue;
        }
        crate::support::assert_same_tree(&now_tree, &old_tree, &format!("step {step}"));
        assert_eq!(now_index, old_index, "step {step}: old files, new index");
        assert!(err.contains("Outdated"), "step {step}: {err}");
        rolled_back += 1;
    }
    assert!(
        kills >= 10 && rolled_back >= 5,
        "{kills} kills, {rolled_back} rolled back"
    );
    eprintln!("{kills} kill points, {rolled_back} rolled back");
}

/// The same command, as one that can be spawned (assert_cmd only waits).
fn spawnable(cmd: &assert_cmd::Command) -> Command {
    let mut std = Command::new(cmd.get_program());
    std.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => std.env(key, value),
            None => std.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        std.current_dir(dir);
    }
    std
}

/// Whether process `pid` is stopped (SIGSTOP), from `/proc`.
fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('T'))
    })
}

/// A `git commit` while the update is half done is refused by git (the
/// index is locked), and the update then stages its conflicts.
#[test]
fn a_git_commit_during_an_update_waits_for_the_index() {
    if !Path::new("/proc/self/stat").exists() {
        eprintln!("no /proc: the run cannot be watched for its stop; skipped");
        return;
    }
    let env = Env::new();
    let base = conflicting_project(&env);
    let mut tried = false;
    for step in 0..60 {
        let p = env.path(&format!("s{step}"));
        copy_dir(&base, &p);
        let mut child = spawnable(&update_cmd(&env, &p))
            .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", step.to_string())
            .env("__CARGO_NIXCUDA_TEST_KILL_SIGNAL", "STOP")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let is_stopped = loop {
            if stopped(pid) {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        if !is_stopped {
            break; // past the last step
        }
        // Files have moved, and the new index is not in place yet.
        let swapped = tree(&p).get("config.txt") != tree(&base).get("config.txt");
        if swapped && !staged(&p).contains(" 3\tnotes.md") {
            tried = true;
            std::fs::write(p.join("mine.txt"), "mine\n").unwrap();
            let add = Command::new("git")
                .args(["add", "mine.txt"])
                .current_dir(&p)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&add.stderr);
            assert!(!add.status.success(), "step {step}: git add ran mid-update");
            assert!(err.contains("index.lock"), "step {step}: {err}");
        }
        Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "step {step}: conflicts");
        let index = staged(&p);
        assert!(
            index.contains(" 2\tnotes.md") && index.contains(" 3\tnotes.md"),
            "step {step}: {index}"
        );
        assert!(!p.join(".git/index.lock").exists(), "step {step}");
    }
    assert!(tried, "no stop came after a file moved");
}

/// `init` in a directory of an existing repository stages its files in
/// the same atomic unit: killed anywhere, the next command leaves the
/// files and the index both as before or both complete.
#[test]
fn init_in_a_repository_killed_at_any_step_leaves_files_and_index_together() {
    let env = Env::new();
    let base = env.path("base");
    std::fs::create_dir_all(base.join("proj")).unwrap();
    std::fs::write(base.join("proj/mine.txt"), "mine\n").unwrap();
    git(&base, &["init", "-q"]);
    git(&base, &["add", "."]);
    git(&base, &["commit", "-qm", "mine"]);
    let init = |dir: &Path, kill: Option<usize>| {
        let mut c = env.cmd_with_scaffolds(
            "updates",
            &[
                "init",
                "proj",
                "--yes",
                "--name",
                "p",
                "--scaffold",
                "t@1.0.0",
            ],
        );
        c.current_dir(dir);
        if let Some(step) = kill {
            c.env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", step.to_string());
        }
        c.output().unwrap()
    };
    let (old_tree, old_index) = (tree(&base), staged(&base));
    let done = env.path("done");
    copy_dir(&base, &done);
    let out = init(&done, None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (new_tree, new_index) = (tree(&done), staged(&done));
    assert!(new_index.contains("\tproj/notes.md"), "{new_index}");

    let mut kills = 0;
    for step in 0.. {
        let dir = env.path(&format!("i{step}"));
        copy_dir(&base, &dir);
        if init(&dir, Some(step)).status.code().is_some() {
            break;
        }
        kills += 1;
        // Any command there recovers first.
        let _ = env
            .cmd_with_scaffolds("updates", &["check"])
            .current_dir(dir.join("proj"))
            .output()
            .unwrap();
        assert!(!dir.join(".git/index.lock").exists(), "step {step}");
        git(&dir, &["fsck", "--full", "--no-progress"]);
        let (now_tree, now_index) = (tree(&dir), staged(&dir));
        if now_tree == new_tree {
            assert_eq!(now_index, new_index, "step {step}: new files, old index");
        } else {
            crate::support::assert_same_tree(&now_tree, &old_tree, &format!("step {step}"));
            assert_eq!(now_index, old_index, "step {step}: old files, new index");
        }
    }
    assert!(kills >= 5, "only {kills} kill points");
    eprintln!("{kills} kill points");
}
