//! `update` takes its merge base from the project's own repository: the
//! pristine render recorded in `.nixcuda.yaml` and kept by
//! `refs/nixcuda/pristine`. So a project updates after its template moved
//! on in place or lost the old tag; without the pristine tree it renders
//! the recorded version again, and says which base it used.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, commit_all, copy_dir, fixture, git, stderr_of};

fn cmd(env: &Env, args: &[&str]) -> assert_cmd::Command {
    let mut c = env.cmd(args);
    c.env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .env_remove("CARGO_NIXCUDA_CONFIG")
        .env_remove("__CARGO_NIXCUDA_TEST_GIT_CLI");
    c
}

fn run_ok(mut c: assert_cmd::Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    stderr_of(&out)
}

/// Drops every object nothing references any more.
fn gc(dir: &Path) {
    git(dir, &["reflog", "expire", "--expire=now", "--all"]);
    git(dir, &["gc", "-q", "--prune=now"]);
}

fn object_exists(dir: &Path, id: &str) -> bool {
    Command::new("git")
        .args(["cat-file", "-e", id])
        .current_dir(dir)
        .status()
        .unwrap()
        .success()
}

fn recorded_pristine(project: &Path) -> Option<String> {
    std::fs::read_to_string(project.join(".nixcuda.yaml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("pristine: ").map(str::to_string))
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

/// Moves the team template in `dir` from 1.0.0 to 1.1.0: a changed file and
/// a new one.
fn bump_template(dir: &Path) {
    edit(&dir.join("scaffold.yaml"), |t| {
        t.replace("version: 1.0.0", "version: 1.1.0")
    });
    edit(&dir.join("template/README.md.hbs"), |t| {
        format!("{t}\nNew in 1.1.0.\n")
    });
    std::fs::write(dir.join("template/CHANGELOG.md"), "1.1.0\n").unwrap();
}

/// A project from the team template at `template`, with a committed edit
/// of flake.nix that every update must keep.
fn team_project(env: &Env, template: &str) -> PathBuf {
    run_ok(cmd(env, &["new", "p", "--template", template, "--yes"]));
    let p = env.path("p");
    edit(&p.join("flake.nix"), |t| format!("# my note\n{t}"));
    commit_all(&p, "my edit");
    p
}

fn assert_updated_with_edit(p: &Path) {
    let readme = std::fs::read_to_string(p.join("README.md")).unwrap();
    assert!(readme.contains("New in 1.1.0."), "{readme}");
    assert_eq!(
        std::fs::read_to_string(p.join("CHANGELOG.md")).unwrap(),
        "1.1.0\n"
    );
    let flake = std::fs::read_to_string(p.join("flake.nix")).unwrap();
    assert!(
        flake.starts_with("# my note\n"),
        "the edit is kept: {flake}"
    );
    assert!(
        std::fs::read_to_string(p.join(".nixcuda.yaml"))
            .unwrap()
            .contains("version: 1.1.0")
    );
}

#[test]
fn a_plain_directory_template_bumped_in_place_updates_and_keeps_edits() {
    let env = Env::new();
    let tpl = env.path("tpl");
    copy_dir(&fixture("teams/basic"), &tpl);
    let p = team_project(&env, tpl.to_str().unwrap());
    let first = recorded_pristine(&p).expect("new records the pristine tree");
    bump_template(&tpl);

    let out = cmd(&env, &["check"]).current_dir(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = run_ok({
        let mut c = cmd(&env, &["update", "--yes", "--commit"]);
        c.current_dir(&p);
        c
    });
    assert!(
        err.contains("Base") && err.contains("pristine tree of team@1.0.0"),
        "{err}"
    );
    assert_updated_with_edit(&p);
    // The next update's base is the new pristine render, chained to the first.
    let second = recorded_pristine(&p).unwrap();
    assert_ne!(first, second);
    let log = git(&p, &["log", "--format=%T", "refs/nixcuda/pristine"]);
    let trees = String::from_utf8(log.stdout).unwrap();
    assert_eq!(trees, format!("{second}\n{first}\n"));
}

#[test]
fn a_team_repository_that_lost_the_old_tag_and_commit_still_updates() {
    let env = Env::new();
    let repo = env.path("repo");
    copy_dir(&fixture("teams/basic"), &repo);
    let v1 = commit_all(&repo, "v1.0.0").to_string();
    git(&repo, &["tag", "v1.0.0"]);
    let p = team_project(&env, &format!("file://{}@1.0.0", repo.display()));
    assert!(
        std::fs::read_to_string(p.join(".nixcuda.yaml"))
            .unwrap()
            .contains(&v1)
    );
    // History rewritten upstream: 1.1.0 on a new root, the old tag and its
    // commit gone.
    git(&repo, &["checkout", "-q", "--orphan", "rewritten"]);
    bump_template(&repo);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "v1.1.0"]);
    git(&repo, &["tag", "v1.1.0"]);
    git(&repo, &["tag", "-d", "v1.0.0"]);
    for branch in ["main", "master"] {
        let _ = Command::new("git")
            .args(["branch", "-D", branch])
            .current_dir(&repo)
            .output();
    }
    gc(&repo);
    assert!(!object_exists(&repo, &v1), "the old commit is gone");

    let err = run_ok({
        let mut c = cmd(&env, &["update", "--yes"]);
        c.current_dir(&p);
        c
    });
    assert!(err.contains("pristine tree of team@1.0.0"), "{err}");
    assert_updated_with_edit(&p);
}

#[test]
fn gc_keeps_the_pristine_tree_and_update_needs_no_old_version() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds("updates", &["new", "p", "--yes", "--scaffold", "t@1.0.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let p = env.path("p");
    edit(&p.join("notes.md"), |t| {
        t.replacen("line 2\n", "line 2 with my note\n", 1)
    });
    commit_all(&p, "mine");
    gc(&p);
    let tree = recorded_pristine(&p).unwrap();
    assert!(object_exists(&p, &tree), "refs/nixcuda/pristine keeps it");
    // A scaffold set that no longer has 1.0.0: only the pristine tree can
    // be the base.
    let set = env.path("set");
    copy_dir(
        &fixture("scaffold-sets/updates/t/1.1.0"),
        &set.join("t/1.1.0"),
    );
    let out = env
        .cmd(&["update", "--yes"])
        .env("__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR", &set)
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("pristine tree of t@1.0.0"),
        "{}",
        stderr_of(&out)
    );
    let notes = std::fs::read_to_string(p.join("notes.md")).unwrap();
    assert!(
        notes.contains("line 2 with my note\n") && notes.contains("line 8 changed upstream\n"),
        "{notes}"
    );
}

#[test]
fn without_the_pristine_tree_the_recorded_version_is_rendered_again_and_said() {
    let env = Env::new();
    let new = |name: &str, extra: &[&str]| {
        let mut args = vec!["new", name, "--yes", "--scaffold", "t@1.0.0"];
        args.extend_from_slice(extra);
        let out = env.cmd_with_scaffolds("updates", &args).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        env.path(name)
    };
    let update = |p: &Path| {
        let out = env
            .cmd_with_scaffolds("updates", &["update", "--yes"])
            .current_dir(p)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        stderr_of(&out)
    };
    // The ref deleted and the objects collected.
    let gone = new("gone", &[]);
    let tree = recorded_pristine(&gone).unwrap();
    git(&gone, &["update-ref", "-d", "refs/nixcuda/pristine"]);
    gc(&gone);
    assert!(!object_exists(&gone, &tree));
    let err = update(&gone);
    assert!(
        err.contains(&format!(
            "t@1.0.0 rendered again (the pristine tree {tree} is not in this repository)"
        )),
        "{err}"
    );
    // `--vcs none`, put in git by the user afterwards.
    let plain = new("plain", &["--vcs", "none"]);
    assert_eq!(recorded_pristine(&plain), None);
    commit_all(&plain, "by hand");
    let err = update(&plain);
    assert!(
        err.contains("t@1.0.0 rendered again (`.nixcuda.yaml` names no pristine tree)"),
        "{err}"
    );
}

#[test]
fn with_neither_base_the_error_says_what_is_missing_and_what_to_do() {
    let env = Env::new();
    let tpl = env.path("tpl");
    copy_dir(&fixture("teams/basic"), &tpl);
    let p = team_project(&env, tpl.to_str().unwrap());
    git(&p, &["update-ref", "-d", "refs/nixcuda/pristine"]);
    gc(&p);
    bump_template(&tpl);
    let before = crate::support::tree(&p);
    let out = cmd(&env, &["update", "--yes"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("no merge base for team@1.0.0"), "{err}");
    assert!(err.contains("is not in this repository"), "{err}");
    assert!(
        err.contains("restore its tag") && err.contains("dir:"),
        "{err}"
    );
    crate::support::assert_same_tree(&crate::support::tree(&p), &before, "nothing written");
}

#[test]
fn a_project_staged_in_an_enclosing_repository_keeps_its_pristine_tree_there() {
    let env = Env::new();
    let mono = env.path("mono");
    std::fs::create_dir_all(&mono).unwrap();
    std::fs::write(mono.join("README"), "monorepo\n").unwrap();
    commit_all(&mono, "start");
    let out = env
        .cmd_with_scaffolds(
            "updates",
            &["new", "mono/p", "--yes", "--scaffold", "t@1.0.0"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let p = mono.join("p");
    assert!(!p.join(".git").exists(), "no nested repository");
    commit_all(&mono, "add p");
    gc(&mono);
    let out = env
        .cmd_with_scaffolds("updates", &["update", "--yes"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("pristine tree of t@1.0.0"),
        "{}",
        stderr_of(&out)
    );
}
