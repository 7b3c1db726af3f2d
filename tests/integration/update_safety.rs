//! `update` never loses a byte: what stands where the new version writes is
//! kept and reported, and manifests whose migrations would merge one file's
//! edits away are refused before anything runs.

use std::path::{Path, PathBuf};

use crate::support::{Env, commit_all, copy_dir, fixture, stderr_of, updates_project};

fn update(env: &Env, p: &Path) -> std::process::Output {
    env.cmd_with_scaffolds("updates", &["update", "--yes"])
        .current_dir(p)
        .output()
        .unwrap()
}

#[test]
fn an_ignored_directory_where_the_new_version_adds_a_file_is_kept_and_reported() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    // Ignored, so it does not make the tree dirty.
    std::fs::write(p.join(".gitignore"), "extra/\n").unwrap();
    commit_all(&p, "ignore extra/");
    let data = p.join("extra/added.txt/run-1/weights.bin");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    std::fs::write(&data, b"precious").unwrap();

    let out = update(&env, &p);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("extra/added.txt: is a directory in your tree"),
        "{err}"
    );
    assert!(!err.contains("Adding extra/added.txt"), "{err}");
    assert_eq!(std::fs::read(&data).unwrap(), b"precious");
    // The rest of the update went through.
    let notes = std::fs::read_to_string(p.join("notes.md")).unwrap();
    assert!(notes.contains("line 8 changed upstream"), "{notes}");
}

#[test]
fn a_file_where_the_new_version_needs_a_directory_is_kept_and_reported() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    std::fs::write(p.join(".gitignore"), "extra\n").unwrap();
    commit_all(&p, "ignore extra");
    std::fs::write(p.join("extra"), "my notes, not a directory\n").unwrap();
    let out = update(&env, &p);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("`extra` is a file in your tree"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.join("extra")).unwrap(),
        "my notes, not a directory\n"
    );
}

fn set_with_renames(env: &Env, renames: &str) -> PathBuf {
    let set = env.path("set");
    copy_dir(&fixture("scaffold-sets/updates"), &set);
    let manifest = set.join("t/1.1.0/scaffold.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        "rename_paths: { \"old-name.txt\": \"new-name.txt\" }",
        &format!("rename_paths: {renames}"),
    );
    std::fs::write(&manifest, text).unwrap();
    set
}

#[test]
fn migrations_that_move_two_files_onto_one_path_are_refused_at_load() {
    let env = Env::new();
    for (renames, expected) in [
        (
            r#"{ "old-name.txt": "new-name.txt", "removed.txt": "new-name.txt" }"#,
            "moves both `old-name.txt` and `removed.txt` onto `new-name.txt`",
        ),
        (
            r#"{ "old-name.txt": "notes.md", "notes.md": "old-name.txt" }"#,
            "which the same migration moves away",
        ),
    ] {
        let set = set_with_renames(&env, renames);
        let out = env
            .cmd(&["list"])
            .env("__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR", &set)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = stderr_of(&out);
        assert!(err.contains(expected), "{err}");
        assert!(
            err.contains("t/1.1.0/scaffold.yaml:16"),
            "names file and line: {err}"
        );
        // `scaffold check` reads templates with the same loader.
        let out = env
            .cmd(&["scaffold", "check", set.join("t/1.1.0").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(stderr_of(&out).contains(expected), "{}", stderr_of(&out));
        std::fs::remove_dir_all(&set).unwrap();
    }
}

#[test]
fn a_locked_index_stops_the_update_before_anything_is_written() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    let lock = p.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let before = crate::support::tree(&p);
    let out = update(&env, &p);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("the git index is locked"), "{err}");
    assert!(
        err.contains("remove `") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!err.contains("--vcs none"), "update has no --vcs: {err}");
    crate::support::assert_same_tree(&crate::support::tree(&p), &before, "work tree");
    assert!(lock.exists(), "the other process's lock is left alone");
}

#[test]
fn a_repository_with_a_separate_git_dir_is_updated_and_staged() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds(
            "updates",
            &[
                "new",
                "p",
                "--yes",
                "--scaffold",
                "t@1.0.0",
                "--vcs",
                "none",
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let p = env.path("p");
    let gitdir = env.path("p.git");
    let status = std::process::Command::new("git")
        .args(["init", "-q", "--separate-git-dir"])
        .arg(&gitdir)
        .current_dir(&p)
        .status()
        .unwrap();
    assert!(status.success());
    commit_all(&p, "first");
    let out = update(&env, &p);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let repo = git2::Repository::open(&p).unwrap();
    let added = repo.status_file(Path::new("extra/added.txt")).unwrap();
    assert!(added.is_index_new(), "{added:?}");
    assert!(
        !std::fs::read_dir(env.work.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("nixcuda")),
        "no staging directory is left beside the project"
    );
}

#[test]
fn git_directory_look_alikes_are_never_written() {
    let env = Env::new();
    for name in [".GIT", ".Git", ".g\u{200c}it", ".git.", "GIT~1"] {
        let tpl = env.path("tpl");
        copy_dir(&fixture("teams/basic"), &tpl);
        let hook = tpl.join("template").join(name).join("hooks/post-checkout");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        std::fs::write(&hook, "#!/bin/sh\necho pwned\n").unwrap();
        for vcs in ["git", "none"] {
            let out = env
                .cmd(&[
                    "new",
                    "p",
                    "--yes",
                    "--vcs",
                    vcs,
                    "--template",
                    tpl.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "{name:?} with --vcs {vcs} was written"
            );
            assert!(
                stderr_of(&out).contains("would write into `.git`"),
                "{}",
                stderr_of(&out)
            );
            assert!(!env.path("p").exists());
        }
        std::fs::remove_dir_all(&tpl).unwrap();
    }
}

/// SIGKILL at every step of an update: the next command rolls the project
/// back (and says so), so it is always the old or the new version, every
/// user edit in it.
#[test]
fn an_update_killed_at_any_step_is_rolled_back_by_the_next_command() {
    let env = Env::new();
    let base = updates_project(&env, "p", &[]);
    let notes = base.join("notes.md");
    let text = std::fs::read_to_string(&notes).unwrap();
    std::fs::write(
        &notes,
        text.replacen("line 2\n", "line 2 with my note\n", 1),
    )
    .unwrap();
    commit_all(&base, "my edit");
    let old = crate::support::tree(&base);

    let done = env.path("done");
    copy_dir(&base, &done);
    let out = update(&env, &done);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let new = crate::support::tree(&done);
    assert_ne!(old, new);

    let (mut kills, mut recovered) = (0, 0);
    for step in 0.. {
        let p = env.path(&format!("k{step}"));
        copy_dir(&base, &p);
        let out = env
            .cmd_with_scaffolds("updates", &["update", "--yes"])
            .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", step.to_string())
            .current_dir(&p)
            .output()
            .unwrap();
        if out.status.code().is_some() {
            // Past the last step: the update ran to its end.
            assert!(out.status.success(), "{}", stderr_of(&out));
            crate::support::assert_same_tree(&crate::support::tree(&p), &new, "completed");
            break;
        }
        kills += 1;
        let out = env
            .cmd_with_scaffolds("updates", &["check"])
            .current_dir(&p)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        let now = crate::support::tree(&p);
        if now == new {
            continue; // killed after the last rename: complete
        }
        crate::support::assert_same_tree(&now, &old, &format!("killed at step {step}"));
        assert!(
            !p.join(".git/nixcuda/journal").exists(),
            "step {step}: the journal is gone after recovery"
        );
        assert!(
            std::fs::read_to_string(p.join("notes.md"))
                .unwrap()
                .contains("line 2 with my note"),
            "step {step}"
        );
        if err.contains("Recovered") {
            assert!(
                err.contains("was interrupted here; its changes were rolled back"),
                "{err}"
            );
            recovered += 1;
        }
        // And the update then goes through as if nothing had happened.
        let out = update(&env, &p);
        assert!(out.status.success(), "step {step}: {}", stderr_of(&out));
        crate::support::assert_same_tree(
            &crate::support::tree(&p),
            &new,
            &format!("step {step}, rerun"),
        );
    }
    assert!(kills >= 10, "only {kills} kill points");
    assert!(
        recovered >= 5,
        "only {recovered} of {kills} kills needed a rollback"
    );
    eprintln!("{kills} kill points, {recovered} rolled back");
}

#[test]
fn a_second_update_while_one_runs_fails_at_once_naming_the_other() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    // Hold the lock as a running update would.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p.join(".git/nixcuda.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    std::fs::write(p.join(".git/nixcuda.lock"), "cargo-nixcuda, process 4242\n").unwrap();
    let before = crate::support::tree(&p);
    let out = update(&env, &p);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("another cargo-nixcuda is changing the project"),
        "{err}"
    );
    assert!(err.contains("process 4242"), "{err}");
    crate::support::assert_same_tree(&crate::support::tree(&p), &before, "untouched");
    drop(lock);
    assert!(update(&env, &p).status.success());
}

/// `init` goes through the same journal: SIGKILL at any step leaves the
/// directory as it was or complete, and the next `init` finishes the job
/// with a repository whose commit tracks every scaffold path.
#[test]
fn init_killed_at_any_step_is_recovered_and_completed_by_the_next_init() {
    let env = Env::new();
    let base = env.path("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("my-notes.txt"), "mine\n").unwrap();
    let init = |dir: &Path, kill: Option<usize>| {
        let mut c = env.cmd_with_scaffolds(
            "updates",
            &["init", ".", "--yes", "--name", "p", "--scaffold", "t@1.0.0"],
        );
        c.current_dir(dir);
        if let Some(step) = kill {
            c.env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", step.to_string());
        }
        c.output().unwrap()
    };
    let complete = env.path("complete");
    copy_dir(&base, &complete);
    assert!(init(&complete, None).status.success());
    let expected = crate::support::tree(&complete);
    let (mut kills, mut told) = (0, 0);
    for step in 0.. {
        let dir = env.path(&format!("i{step}"));
        copy_dir(&base, &dir);
        let out = init(&dir, Some(step));
        if out.status.code().is_some() {
            assert!(out.status.success(), "{}", stderr_of(&out));
            break;
        }
        kills += 1;
        let now = crate::support::tree(&dir);
        let untouched = now
            .keys()
            .all(|k| k == "my-notes.txt" || k.starts_with(".nixcuda-journal/"));
        assert!(
            untouched || now == expected || dir.join(".nixcuda-journal").exists(),
            "step {step}: {:?}",
            now.keys()
        );
        if dir.join(".git").exists() && !dir.join(".nixcuda-journal").exists() {
            continue; // killed after the last rename: complete
        }
        let journaled = dir.join(".nixcuda-journal/journal.json").exists();
        let out = init(&dir, None);
        assert!(out.status.success(), "step {step}: {}", stderr_of(&out));
        if journaled {
            told += 1;
            assert!(
                stderr_of(&out).contains("was interrupted here; its changes were rolled back"),
                "step {step}: the rollback is told: {}",
                stderr_of(&out)
            );
        }
        crate::support::assert_same_tree(
            &crate::support::tree(&dir),
            &expected,
            &format!("step {step}"),
        );
        let repo = git2::Repository::open(&dir).unwrap();
        let head = repo.head().unwrap().peel_to_tree().unwrap();
        for path in expected.keys().filter(|k| *k != "my-notes.txt") {
            assert!(
                head.get_path(Path::new(path)).is_ok(),
                "step {step}: {path} is not committed"
            );
        }
        assert!(
            repo.statuses(None)
                .unwrap()
                .iter()
                .all(|s| s.path() == Ok("my-notes.txt")),
            "step {step}: clean but for the user's file"
        );
    }
    assert!(kills >= 5, "only {kills} kill points");
    assert!(told >= 1, "no kill left a journal to roll back");
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".nixcuda-"))
        .collect()
}

#[test]
fn hangup_and_quit_clean_up_like_ctrl_c() {
    let env = Env::new();
    for signal in ["INT", "TERM", "HUP", "QUIT"] {
        let out = env
            .cmd(&["new", "p", "--yes"])
            .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", "3")
            .env("__CARGO_NIXCUDA_TEST_KILL_SIGNAL", signal)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "SIG{signal}: {}",
            stderr_of(&out)
        );
        assert!(!env.path("p").exists(), "SIG{signal}");
        assert_eq!(
            leftovers(env.work.path()),
            Vec::<String>::new(),
            "SIG{signal}"
        );
    }
}

#[test]
fn staging_left_by_a_killed_new_is_removed_by_the_next_one() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "p", "--yes"])
        .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "killed");
    let left = leftovers(env.work.path());
    assert_eq!(left.len(), 1, "{left:?}");
    // Younger than a minute, it may be a live run's that took no lock yet.
    crate::staging::age(&env.path(&left[0]), 120);
    let out = env
        .cmd(&["new", "q", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&left[0]) && err.contains("interrupted `cargo nixcuda new`"),
        "{err}"
    );
    assert_eq!(leftovers(env.work.path()), Vec::<String>::new());
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn executable_template_files_stay_executable_and_update_keeps_the_users_modes() {
    let env = Env::new();
    let tpl = env.path("tpl");
    copy_dir(&fixture("teams/basic"), &tpl);
    let script = tpl.join("template/run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    set_mode(&script, 0o755);
    for command in ["new", "init"] {
        let dir = env.path(command);
        let out = env
            .cmd(&[
                command,
                dir.to_str().unwrap(),
                "--yes",
                "--template",
                tpl.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", stderr_of(&out));
        assert_eq!(mode(&dir.join("run.sh")) & 0o111, 0o111, "{command}");
        assert_eq!(mode(&dir.join("README.md")) & 0o111, 0, "{command}");
        let repo = git2::Repository::open(&dir).unwrap();
        let entry = repo
            .index()
            .unwrap()
            .get_path(Path::new("run.sh"), 0)
            .unwrap();
        assert_eq!(entry.mode, 0o100755, "{command}: committed executable");
        assert!(repo.statuses(None).unwrap().is_empty(), "{command}: clean");
    }

    let p = updates_project(&env, "p", &[]);
    set_mode(&p.join("notes.md"), 0o755);
    set_mode(&p.join("config.txt"), 0o444);
    commit_all(&p, "my modes");
    let out = update(&env, &p);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        std::fs::read_to_string(p.join("config.txt"))
            .unwrap()
            .contains("1.1.0")
    );
    assert_eq!(mode(&p.join("notes.md")), 0o755);
    assert_eq!(mode(&p.join("config.txt")), 0o444);
}

#[test]
fn new_into_an_existing_empty_directory_keeps_that_directory() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let dir = env.path("here");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o751);
    let inode = std::fs::metadata(&dir).unwrap().ino();
    let out = env
        .cmd(&["new", ".", "--yes", "--name", "here"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.ino(), inode, "the same directory, not a replacement");
    assert_eq!(mode(&dir), 0o751);
    assert!(dir.join("flake.nix").is_file());
    let repo = git2::Repository::open(&dir).unwrap();
    assert!(repo.head().unwrap().peel_to_commit().is_ok());
    assert!(
        repo.statuses(None).unwrap().is_empty(),
        "everything committed"
    );
}

#[test]
fn a_file_where_new_needs_a_directory_gets_a_hint_about_the_path() {
    let env = Env::new();
    std::fs::write(env.path("afile"), "x").unwrap();
    let out = env.cmd(&["new", "afile/sub", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("a file stands where a directory is needed"),
        "{err}"
    );
    assert!(!err.contains("free space"), "{err}");
}

#[test]
fn a_semver_tag_on_a_tree_is_skipped_with_a_warning() {
    let env = Env::new();
    let repo_dir = env.path("repo");
    copy_dir(&fixture("teams/basic"), &repo_dir);
    let commit = commit_all(&repo_dir, "v1.0.0");
    let repo = git2::Repository::open(&repo_dir).unwrap();
    repo.tag_lightweight("v1.0.0", &repo.find_object(commit, None).unwrap(), false)
        .unwrap();
    let tree = repo.find_commit(commit).unwrap().tree().unwrap();
    repo.tag_lightweight("v0.9.0", tree.as_object(), false)
        .unwrap();
    let url = format!("file://{}", repo_dir.display());
    let out = env
        .cmd(&["new", "p", "--yes", "--vcs", "none", "--template", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("tag `v0.9.0` does not point at a commit; version 0.9.0 is skipped"),
        "{err}"
    );
}

/// Waits until process `pid` is stopped (state `T` in /proc).
fn wait_stopped(pid: u32) {
    for _ in 0..500 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('T'))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("process {pid} did not stop");
}

#[test]
fn a_parent_swapped_for_a_link_during_new_does_not_redirect_the_project() {
    if !Path::new("/proc/self/stat").exists() {
        return;
    }
    let env = Env::new();
    let parent = env.path("parent");
    std::fs::create_dir(&parent).unwrap();
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    let child = std::process::Command::new(bin)
        .args(["new", "parent/p", "--yes", "--vcs", "none"])
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS", "3")
        .env("__CARGO_NIXCUDA_TEST_KILL_SIGNAL", "STOP")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_stopped(child.id());
    // The attacker's move: the parent becomes a link to somewhere else.
    std::fs::rename(&parent, env.path("parent.real")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &parent).unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-CONT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        env.path("parent.real/p/flake.nix").is_file(),
        "made where it was asked for"
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
}
