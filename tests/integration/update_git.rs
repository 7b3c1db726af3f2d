//! `update` leaves conflicts the way `git merge` does (unmerged paths with
//! index stages 1/2/3), and `update --abort` puts everything back; checked
//! with the git command line, as users and their tools see it.

use std::path::Path;

use crate::support::{
    Env, commit_all, edit, git, git_may_fail, stderr_of, tree, update, updates_project,
};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project on t@1.0.0 with a committed edit that conflicts with 1.1.0's
/// change to `notes.md`.
fn conflicting_project(env: &Env) -> std::path::PathBuf {
    let project = updates_project(env, "p", &[]);
    edit(&project, "notes.md", "line 8\n", "line 8 mine\n");
    commit_all(&project, "mine");
    project
}

#[test]
fn conflicts_are_unmerged_paths_with_the_three_stages() {
    let env = Env::new();
    let project = conflicting_project(&env);
    let base = std::fs::read_to_string(project.join("notes.md"))
        .unwrap()
        .replace("line 8 mine\n", "line 8\n");
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));

    let status = stdout(&git(&project, &["status", "--porcelain"]));
    assert!(status.lines().any(|l| l == "UU notes.md"), "{status}");
    assert!(
        status.lines().any(|l| l == "A  extra/added.txt"),
        "{status}"
    );
    let unmerged = git(&project, &["diff", "--name-only", "--diff-filter=U"]);
    assert_eq!(stdout(&unmerged), "notes.md\n");
    // The stages are base, ours and theirs, as `git mergetool` reads them.
    let stage = |n: u8| stdout(&git(&project, &["show", &format!(":{n}:notes.md")]));
    assert_eq!(stage(1), base);
    assert!(stage(2).contains("line 8 mine\n") && !stage(2).contains("upstream"));
    assert!(stage(3).contains("line 8 changed upstream\n") && !stage(3).contains("mine"));
    assert!(
        std::fs::read_to_string(project.join("notes.md"))
            .unwrap()
            .contains("<<<<<<< ours\n")
    );

    // `git commit` refuses unmerged paths, as after `git merge`. (So does
    // nothing stop `git commit -a`: it stages the marked file, after
    // `git merge` too.)
    let commit = git_may_fail(&project, &["commit", "-m", "with markers"]);
    assert!(!commit.status.success(), "git commit took unmerged files");
    let err = String::from_utf8_lossy(&commit.stderr);
    assert!(err.contains("unmerged"), "{err}");
    // Resolved as after any merge.
    std::fs::write(project.join("notes.md"), stage(3)).unwrap();
    git(&project, &["add", "notes.md"]);
    git(&project, &["commit", "-m", "update"]);
    assert_eq!(stdout(&git(&project, &["status", "--porcelain"])), "");
}

#[test]
fn check_names_unresolved_conflicts_until_they_are_added() {
    let env = Env::new();
    let project = conflicting_project(&env);
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let check = |args: &[&str]| {
        env.cmd_with_scaffolds("updates", &[&["check"], args].concat())
            .current_dir(&project)
            .output()
            .unwrap()
    };
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("Conflicts") && err.contains("notes.md") && err.contains("--abort"),
        "{err}"
    );
    assert!(!err.contains("Fresh"), "{err}");
    let out = check(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "conflicts");
    assert_eq!(json["unresolved"], serde_json::json!(["notes.md"]));
    // Resolved and added: fresh again.
    git(&project, &["add", "notes.md"]);
    let out = check(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Fresh"), "{}", stderr_of(&out));
}

#[test]
fn a_renamed_file_with_conflicts_is_tracked_under_its_new_path() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "old-name.txt", "sixth\n", "sixth mine\n");
    commit_all(&project, "mine");
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let status = stdout(&git(&project, &["status", "--porcelain"]));
    assert!(status.lines().any(|l| l == "UU new-name.txt"), "{status}");
    assert!(status.lines().any(|l| l == "D  old-name.txt"), "{status}");
    assert!(
        !status.contains("??"),
        "nothing is left untracked: {status}"
    );
    assert!(!project.join("old-name.txt").exists());
    let moved = std::fs::read_to_string(project.join("new-name.txt")).unwrap();
    assert!(moved.contains("<<<<<<< ours\nsixth mine\n"), "{moved}");
}

#[test]
fn a_file_added_on_both_sides_is_unmerged_without_a_base() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    std::fs::create_dir(project.join("extra")).unwrap();
    std::fs::write(project.join("extra/added.txt"), "mine\n").unwrap();
    commit_all(&project, "mine");
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let status = stdout(&git(&project, &["status", "--porcelain"]));
    assert!(
        status.lines().any(|l| l == "AA extra/added.txt"),
        "{status}"
    );
}

/// What `--abort` must restore: the files, the index, HEAD and the
/// pristine ref.
fn snapshot(project: &Path) -> (String, Vec<u8>, String, String) {
    let files = format!("{:?}", tree(project));
    let index = std::fs::read(project.join(".git/index")).unwrap();
    let head = stdout(&git(project, &["rev-parse", "HEAD"]));
    let pristine = stdout(&git(project, &["rev-parse", "refs/nixcuda/pristine"]));
    (files, index, head, pristine)
}

#[test]
fn abort_restores_the_project_as_it_was_before_a_conflicted_update() {
    let env = Env::new();
    let project = conflicting_project(&env);
    let before = snapshot(&project);
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_ne!(snapshot(&project).0, before.0);

    let out = update(&env, &project, &["--abort"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("t@1.0.0 -> t@1.1.0"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        snapshot(&project) == before,
        "the project differs after --abort"
    );
    assert_eq!(stdout(&git(&project, &["status", "--porcelain"])), "");
    // Once only.
    let again = update(&env, &project, &["--abort"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr_of(&again).contains("no update to abort"),
        "{}",
        stderr_of(&again)
    );
    // And the update can be run again.
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
}

#[test]
fn abort_takes_back_a_committed_update_and_refuses_once_history_moved_on() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let before = snapshot(&project);
    let out = update(&env, &project, &["--commit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_ne!(snapshot(&project).2, before.2, "committed");
    let out = update(&env, &project, &["--abort"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        snapshot(&project) == before,
        "the project differs after --abort"
    );

    // An update the user committed is history: git undoes it, not --abort.
    let out = update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    git(&project, &["commit", "-m", "update"]);
    let files = tree(&project);
    let out = update(&env, &project, &["--abort"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("HEAD moved") && err.contains("git revert"),
        "{err}"
    );
    assert!(tree(&project) == files, "a refused abort changes nothing");
}

#[test]
fn abort_without_an_update_says_there_is_none() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let out = update(&env, &project, &["--abort"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("no update to abort") && err.contains("help:"),
        "{err}"
    );

    let loose = updates_project(&env, "loose", &["--vcs", "none"]);
    let out = update(&env, &loose, &["--abort"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("needs git"), "{}", stderr_of(&out));
}
