//! The repository `new` makes: objects git accepts, an index git trusts, and commits
//! signed when the user's git config asks for it (`commit.gpgsign`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Env, USER_EMAIL, USER_NAME, stderr_of, updates_project};

/// Runs git in `dir` with the test HOME, so the user's config applies.
fn git_as_user(env: &Env, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", env.home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs")
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `gpg.program` that signs anything with a fake signature, as gpg
/// would answer git, and leaves a mark that it ran.
fn fake_gpg(env: &Env, ok: bool) -> PathBuf {
    let script = env.home.path().join("fake-gpg");
    let mark = env.home.path().join("gpg-ran");
    let body = if ok {
        format!(
            "#!/bin/sh\ncat >/dev/null\ntouch '{}'\necho '[GNUPG:] SIG_CREATED D 1 8 00 1700000000 FAKEFINGERPRINT' >&2\nprintf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n",
            mark.display()
        )
    } else {
        "#!/bin/sh\ncat >/dev/null\necho 'gpg: signing failed: No secret key' >&2\nexit 2\n"
            .to_string()
    };
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.git_config(&format!(
        "[user]\n\tname = {USER_NAME}\n\temail = {USER_EMAIL}\n[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = {}\n",
        script.display()
    ));
    mark
}

#[test]
fn new_makes_a_repository_git_accepts() {
    let env = Env::new();
    env.ok(&["new", "demo", "--yes"]);
    let project = env.path("demo");
    let all = git_as_user(
        &env,
        &project,
        &["cat-file", "--batch-all-objects", "--batch-check"],
    );
    let count = stdout_of(&all).lines().count();
    assert!(count > 20, "{count} objects");
    let fsck = git_as_user(&env, &project, &["fsck", "--strict", "--no-dangling"]);
    assert!(fsck.status.success(), "{}", stderr_of(&fsck));
    let status = git_as_user(&env, &project, &["status", "--porcelain"]);
    assert_eq!(stdout_of(&status), "", "clean work tree");
    let log = git_as_user(&env, &project, &["log", "--format=%an <%ae>|%s"]);
    let log = stdout_of(&log);
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.starts_with(&format!(
            "{USER_NAME} <{USER_EMAIL}>|Initial commit from cargo-nixcuda ml@"
        )),
        "{log}"
    );
    // The index holds each file's status: nothing needs hashing again.
    let stale = git_as_user(&env, &project, &["diff-files", "--name-only"]);
    assert_eq!(stdout_of(&stale), "");
    let tracked = git_as_user(&env, &project, &["ls-files"]);
    assert!(stdout_of(&tracked).lines().any(|l| l == "flake.nix"));
    let pristine = git_as_user(&env, &project, &["cat-file", "-t", "refs/nixcuda/pristine"]);
    assert_eq!(stdout_of(&pristine).trim(), "commit");
    // The tree id the record names, computed before anything was stored,
    // is the id of the tree stored.
    let stored = git_as_user(
        &env,
        &project,
        &["rev-parse", "refs/nixcuda/pristine^{tree}"],
    );
    assert_eq!(
        Some(stdout_of(&stored).trim().to_string()),
        recorded_pristine(&project)
    );
}

fn recorded_pristine(project: &Path) -> Option<String> {
    std::fs::read_to_string(project.join(".nixcuda.yaml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("pristine: ").map(str::to_string))
}

#[test]
fn new_signs_the_first_commit_through_git_when_commit_gpgsign_is_set() {
    let env = Env::new();
    let mark = fake_gpg(&env, true);
    env.ok(&["new", "demo", "--yes"]);
    assert!(mark.exists(), "gpg.program was not run");
    let project = env.path("demo");
    let commit = stdout_of(&git_as_user(
        &env,
        &project,
        &["cat-file", "commit", "HEAD"],
    ));
    assert!(
        commit.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{commit}"
    );
    assert!(
        commit.contains(&format!("author {USER_NAME} <{USER_EMAIL}>")),
        "{commit}"
    );
    let fsck = git_as_user(&env, &project, &["fsck", "--strict", "--no-dangling"]);
    assert!(fsck.status.success(), "{}", stderr_of(&fsck));
    let status = git_as_user(&env, &project, &["status", "--porcelain"]);
    assert_eq!(stdout_of(&status), "");
    let reflog = stdout_of(&git_as_user(&env, &project, &["reflog", "--format=%H"]));
    let head = stdout_of(&git_as_user(&env, &project, &["rev-parse", "HEAD"]));
    assert_eq!(reflog.trim(), head.trim());
}

#[test]
fn a_signing_failure_keeps_the_project_staged_and_says_how_to_commit_it() {
    let env = Env::new();
    fake_gpg(&env, false);
    let out = env.cmd(&["new", "demo", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("commit.gpgsign") && err.contains("No secret key"),
        "{err}"
    );
    assert!(
        err.contains("cd demo && git commit -S -m")
            && err.contains("git -c commit.gpgsign=false commit"),
        "the warning says how to make the commit: {err}"
    );
    // Nothing of the user's project is lost: it is there, every file
    // staged, and no commit made.
    let project = env.path("demo");
    assert!(project.join("flake.nix").is_file() && project.join(".nixcuda.yaml").is_file());
    let head = git_as_user(&env, &project, &["rev-parse", "--verify", "-q", "HEAD"]);
    assert!(!head.status.success(), "no commit was made");
    let status = stdout_of(&git_as_user(&env, &project, &["status", "--porcelain"]));
    assert!(
        !status.is_empty() && status.lines().all(|l| l.starts_with("A  ")),
        "{status}"
    );
    // Once signing works, the printed command makes the commit.
    let mark = fake_gpg(&env, true);
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("cd demo && git commit -S"))
        .unwrap()
        .trim()
        .to_string();
    let run = std::process::Command::new("sh")
        .args(["-c", &line])
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert!(mark.exists(), "the commit was signed");
    assert_eq!(
        stdout_of(&git_as_user(&env, &project, &["status", "--porcelain"])),
        ""
    );
}

#[test]
fn without_git_on_path_new_warns_that_the_commit_is_unsigned() {
    let env = Env::new();
    fake_gpg(&env, true);
    let empty = env.home.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .cmd(&["new", "demo", "--yes"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("commit.gpgsign is set, but git is not on PATH") && err.contains("not signed"),
        "{err}"
    );
    let commit = stdout_of(&git_as_user(
        &env,
        &env.path("demo"),
        &["cat-file", "commit", "HEAD"],
    ));
    assert!(!commit.contains("gpgsig"), "{commit}");
    assert!(
        commit.contains("Initial commit from cargo-nixcuda"),
        "{commit}"
    );
}

#[test]
fn update_commit_is_signed_when_commit_gpgsign_is_set() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let mark = fake_gpg(&env, true);
    let out = env
        .cmd_with_scaffolds("updates", &["update", "--yes", "--commit"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(mark.exists(), "gpg.program was not run");
    let commit = stdout_of(&git_as_user(
        &env,
        &project,
        &["cat-file", "commit", "HEAD"],
    ));
    assert!(
        commit.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{commit}"
    );
    assert!(commit.contains("Update to t@1.1.0"), "{commit}");
    assert!(commit.contains("\nparent "), "{commit}");
    let status = git_as_user(&env, &project, &["status", "--porcelain"]);
    assert_eq!(stdout_of(&status), "", "clean after the commit");
}

#[test]
fn init_signs_the_first_commit_of_the_repository_it_creates() {
    let env = Env::new();
    let mark = fake_gpg(&env, true);
    let dir = env.path("existing");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    env.ok(&["init", "existing", "--yes"]);
    assert!(mark.exists(), "gpg.program was not run");
    let commit = stdout_of(&git_as_user(&env, &dir, &["cat-file", "commit", "HEAD"]));
    assert!(
        commit.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{commit}"
    );
    let fsck = git_as_user(&env, &dir, &["fsck", "--strict", "--no-dangling"]);
    assert!(fsck.status.success(), "{}", stderr_of(&fsck));
    let status = git_as_user(&env, &dir, &["status", "--porcelain"]);
    assert_eq!(stdout_of(&status), "?? notes.txt\n");
}

/// `update` adds the new pristine render, its commit after the one before.
#[test]
fn update_stores_the_new_pristine_render() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let before = stdout_of(&git_as_user(
        &env,
        &project,
        &["rev-parse", "refs/nixcuda/pristine"],
    ));
    let out = crate::support::update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = stdout_of(&git_as_user(
        &env,
        &project,
        &["log", "--format=%H %P|%s", "refs/nixcuda/pristine"],
    ));
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains(&format!(" {}|Pristine render of t@1.1.0", before.trim())),
        "{log}"
    );
    let stored = git_as_user(
        &env,
        &project,
        &["rev-parse", "refs/nixcuda/pristine^{tree}"],
    );
    assert_eq!(
        Some(stdout_of(&stored).trim().to_string()),
        recorded_pristine(&project)
    );
    let fsck = git_as_user(&env, &project, &["fsck", "--strict", "--no-dangling"]);
    assert!(fsck.status.success(), "{}", stderr_of(&fsck));
}
