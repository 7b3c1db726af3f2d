//! `update --dry-run`: a git diff that `git apply` takes, on a clean or a
//! dirty tree, with the exit code of the real run, paged and coloured on a
//! terminal only; and the migration notes it prints.

use std::path::Path;

use crate::support::{
    Env, commit_all, copy_dir, edit, git, stderr_of, tree, update, updates_project,
};

/// A t@1.0.0 project with an edit that merges cleanly into the renamed
/// file, one into a changed file, and a file the user deleted.
fn edited_project(env: &Env, name: &str) -> std::path::PathBuf {
    let project = updates_project(env, name, &[]);
    edit(&project, "old-name.txt", "first\n", "first mine\n");
    edit(&project, "notes.md", "line 2\n", "line 2 mine\n");
    std::fs::remove_file(project.join("config.txt")).unwrap();
    commit_all(&project, "mine");
    project
}

/// Applies `patch` with `git apply` in `dir` (checked first).
fn git_apply(dir: &Path, patch: &[u8]) {
    let file = dir.join("../update.patch");
    std::fs::write(&file, patch).unwrap();
    let file = file.to_str().unwrap();
    git(dir, &["apply", "--check", file]);
    git(dir, &["apply", file]);
}

#[test]
fn the_dry_run_is_a_git_diff_that_git_apply_takes() {
    let env = Env::new();
    let project = edited_project(&env, "p");
    let before = tree(&project);
    let out = update(&env, &project, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    for header in [
        "diff --git a/extra/added.txt b/extra/added.txt\nnew file mode 100644\n",
        "--- /dev/null\n+++ b/extra/added.txt\n",
        "diff --git a/removed.txt b/removed.txt\ndeleted file mode 100644\n",
        "rename from old-name.txt\nrename to new-name.txt\n",
        "diff --git a/notes.md b/notes.md\n",
    ] {
        assert!(diff.contains(header), "no {header:?} in\n{diff}");
    }
    assert!(!diff.contains("\x1b["), "no colour off a terminal");
    assert!(tree(&project) == before, "a dry run writes nothing");

    // Applied by git, the diff gives exactly what the real update writes.
    let applied = env.path("applied");
    copy_dir(&project, &applied);
    git_apply(&applied, &out.stdout);
    let out = update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut real = tree(&project);
    let mut patched = tree(&applied);
    for files in [&mut real, &mut patched] {
        files.retain(|path, _| !path.starts_with(".git/"));
    }
    crate::support::assert_same_tree(&patched, &real, "git apply of the dry run");
}

#[test]
fn the_dry_run_works_on_a_dirty_tree_and_writes_nothing() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 1\n", "uncommitted\n");
    std::fs::write(project.join("scratch.py"), "x = 1\n").unwrap();
    let before = tree(&project);
    let index = std::fs::read(project.join(".git/index")).unwrap();
    let out = update(&env, &project, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("uncommitted") && err.contains("--allow-dirty"),
        "{err}"
    );
    assert!(tree(&project) == before, "a dry run writes nothing");
    assert_eq!(std::fs::read(project.join(".git/index")).unwrap(), index);
    // The diff is against the dirty tree, so it applies to it, and the
    // uncommitted edit survives.
    git_apply(&project, &out.stdout);
    let notes = std::fs::read_to_string(project.join("notes.md")).unwrap();
    assert!(notes.contains("uncommitted\n") && notes.contains("line 8 changed upstream\n"));
}

#[test]
fn the_dry_run_exits_as_the_real_run_would() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 8\n", "line 8 mine\n");
    commit_all(&project, "mine");
    let dry = update(&env, &project, &["--dry-run"]);
    let diff = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(diff.contains("+<<<<<<< ours"), "{diff}");
    let real = update(&env, &project, &[]);
    assert_eq!(real.status.code(), Some(1), "{}", stderr_of(&real));
    assert_eq!(dry.status.code(), real.status.code(), "{}", stderr_of(&dry));
    let err = stderr_of(&dry);
    assert!(
        err.contains("notes.md") && err.contains("would have conflicts"),
        "{err}"
    );
}

/// Runs `cargo-nixcuda nixcuda ARGS` in `dir` under a pseudo-terminal
/// (`script` from util-linux), with `PAGER` writing what it is given to
/// `paged`. None when `script` is missing.
fn on_a_terminal(env: &Env, dir: &Path, args: &str, paged: &Path, color: bool) -> Option<String> {
    let available = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !crate::support::prerequisite("script (util-linux)", available, "install util-linux") {
        return None;
    }
    let bin = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    let command = format!("{} nixcuda {args}", bin.display());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("HOME", env.home.path())
        .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env(
            "__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR",
            crate::support::fixture("scaffold-sets/updates"),
        )
        .env("PAGER", format!("cat > '{}'", paged.display()))
        .env_remove("GIT_PAGER")
        .env_remove("NO_COLOR");
    if !color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn on_a_terminal_the_diff_is_paged_and_coloured() {
    let env = Env::new();
    let project = edited_project(&env, "p");
    let paged = env.path("paged.txt");
    let Some(screen) = on_a_terminal(&env, &project, "update --yes --dry-run", &paged, true) else {
        return;
    };
    let text = std::fs::read_to_string(&paged).unwrap_or_default();
    assert!(text.contains("diff --git"), "not paged: {screen}");
    assert!(text.contains("\x1b[32m+"), "not coloured: {text}");
    assert!(
        !screen.contains("diff --git"),
        "paged and printed: {screen}"
    );

    let plain = env.path("plain.txt");
    on_a_terminal(&env, &project, "update --yes --dry-run", &plain, false);
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(
        text.contains("diff --git") && !text.contains("\x1b["),
        "{text}"
    );
}

#[test]
fn migration_notes_are_printed_by_the_update_and_its_dry_run() {
    let env = Env::new();
    env.ok(&["new", "demo", "--yes", "--scaffold", "ml@1.0.0"]);
    let project = env.path("demo");
    let note = "nix/nvidia.nix moved to nix/host.nix: update the import";
    let run = |args: &[&str]| {
        let mut all = vec!["update", "--yes"];
        all.extend_from_slice(args);
        env.cmd(&all).current_dir(&project).output().unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr_of(&dry));
    assert!(stderr_of(&dry).contains(note), "{}", stderr_of(&dry));
    let diff = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        diff.contains("rename from nix/nvidia.nix\nrename to nix/host.nix\n"),
        "{diff}"
    );
    let patch = env.path("ml.patch");
    std::fs::write(&patch, &dry.stdout).unwrap();
    git(&project, &["apply", "--check", patch.to_str().unwrap()]);
    let real = run(&[]);
    assert!(real.status.success(), "{}", stderr_of(&real));
    assert!(stderr_of(&real).contains(note), "{}", stderr_of(&real));
    // Only projects the migration moves hear of it.
    let again = run(&["--dry-run"]);
    assert!(!stderr_of(&again).contains(note), "{}", stderr_of(&again));
}
