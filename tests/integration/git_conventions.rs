//! Git's own conventions, as `git commit` and `git init` honour them: the
//! config files the environment names, the identity variables,
//! `user.useConfigOnly`, `init.*` settings git refuses, a global
//! `core.ignorecase`, and indexes, filters and bare repositories libgit2
//! cannot serve (refused before anything is written).

use std::path::Path;

use crate::git_repositories::snapshot;
use crate::support::git_may_fail;
use crate::support::{Env, TemplateRepo, stderr_of};

fn log(dir: &Path, format: &str) -> String {
    let out = git_may_fail(dir, &["log", "-1", &format!("--format={format}")]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_first_commit_is_by_whom_git_commit_would_name() {
    let env = Env::new();
    // GIT_CONFIG_GLOBAL replaces ~/.gitconfig (which names Ada).
    let global = env.home.path().join("other.gitconfig");
    std::fs::write(
        &global,
        "[user]\n\tname = Grace\n\temail = grace@example.org\n",
    )
    .unwrap();
    let out = env
        .cmd(&["new", "a", "--yes"])
        .env("GIT_CONFIG_GLOBAL", &global)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        log(&env.path("a"), "%an <%ae>|%cn <%ce>"),
        "Grace <grace@example.org>|Grace <grace@example.org>"
    );

    // The variables come before any config, and dates are taken as given.
    let out = env
        .cmd(&["new", "b", "--yes"])
        .env("GIT_AUTHOR_NAME", "Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.org")
        .env("GIT_AUTHOR_DATE", "@1112911993 +0200")
        .env("GIT_COMMITTER_NAME", "Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.org")
        .env("GIT_COMMITTER_DATE", "2005-04-07T22:13:13+02:00")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        log(&env.path("b"), "%an <%ae> %at %ai|%cn <%ce> %ct"),
        "Author <author@example.org> 1112911993 2005-04-08 00:13:13 +0200|Committer <committer@example.org> 1112904793"
    );
}

#[test]
fn the_system_config_is_read_unless_git_config_nosystem_is_set() {
    let env = Env::bare();
    let system = env.home.path().join("system.gitconfig");
    std::fs::write(&system, "[user]\n\tname = Sys\n\temail = sys@example.org\n").unwrap();
    let out = env
        .cmd(&["new", "a", "--yes"])
        .env_remove("GIT_CONFIG_NOSYSTEM")
        .env("GIT_CONFIG_SYSTEM", &system)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(log(&env.path("a"), "%an"), "Sys");
    let out = env
        .cmd(&["new", "b", "--yes"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_SYSTEM", &system)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(log(&env.path("b"), "%an"), "cargo-nixcuda");
}

/// `new` in `env` with `config` as the whole git config fails before
/// anything is written, saying `expected`.
fn new_refused(config: &str, expected: &str) {
    let env = Env::bare();
    env.git_config(config);
    let out = env.cmd(&["new", "p", "--yes"]).output().unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success(), "{config}: new succeeded");
    assert!(err.contains(expected), "{expected:?} not in: {err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        crate::support::listing(env.work.path()).is_empty(),
        "{config}: something was written"
    );
}

#[test]
fn use_config_only_without_an_identity_is_refused_as_git_commit_refuses() {
    new_refused("[user]\n\tuseConfigOnly = true\n", "user.useConfigOnly");
    new_refused(
        "[user]\n\tuseConfigOnly = true\n\tname = Only Name\n",
        "git has no user.email",
    );
}

#[test]
fn a_sha256_default_and_branch_names_git_init_refuses_are_refused() {
    let user = "[user]\n\tname = A\n\temail = a@b.c\n";
    new_refused(
        &format!("{user}[init]\n\tdefaultObjectFormat = sha256\n"),
        "sha256",
    );
    new_refused(&format!("{user}[init]\n\tdefaultBranch = HEAD\n"), "`HEAD`");
    new_refused(&format!("{user}[init]\n\tdefaultBranch = -x\n"), "`-x`");
}

/// With a global `core.ignorecase = true`, files whose names differ only
/// in case are all in the index, as in the tree: the next commit keeps them.
#[test]
fn a_global_ignorecase_does_not_drop_files_from_the_index() {
    let env = Env::new();
    env.git_config("[user]\n\tname = A\n\temail = a@b.c\n[core]\n\tignorecase = true\n");
    let tpl = TemplateRepo::basic(&env, "tpl");
    tpl.write("template/Notes.txt", "upper\n");
    tpl.write("template/notes.txt", "lower\n");
    let out = env
        .cmd(&["new", "p", "--template", tpl.spec(), "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let p = env.path("p");
    let files = git_may_fail(&p, &["ls-files"]);
    let files = String::from_utf8_lossy(&files.stdout).into_owned();
    assert!(
        files.lines().any(|l| l == "Notes.txt") && files.lines().any(|l| l == "notes.txt"),
        "{files}"
    );
    let out = git_may_fail(&p, &["commit", "-q", "--allow-empty", "-m", "next"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let tree = git_may_fail(&p, &["ls-tree", "--name-only", "HEAD"]);
    let tree = String::from_utf8_lossy(&tree.stdout).into_owned();
    assert!(
        tree.contains("Notes.txt") && tree.contains("notes.txt"),
        "{tree}"
    );
}

/// `init` in the repository at `dir` fails, says `expected`, and every
/// byte there (`.git` included) is as it was.
fn init_refused(env: &Env, dir: &Path, expected: &str) {
    let before = snapshot(dir);
    let out = env
        .cmd(&["init", ".", "--yes", "--name", "p"])
        .current_dir(dir)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success(), "init succeeded");
    assert!(err.contains(expected), "{expected:?} not in: {err}");
    assert_eq!(snapshot(dir), before, "the directory changed");
}

fn repository(env: &Env, name: &str) -> std::path::PathBuf {
    let dir = env.path(name);
    std::fs::create_dir(&dir).unwrap();
    for args in [
        &["init", "-q"][..],
        &["commit", "-q", "--allow-empty", "-m", "mine"],
    ] {
        let out = git_may_fail(&dir, args);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    dir
}

#[test]
fn split_and_sparse_indexes_are_refused_before_anything_is_written() {
    let env = Env::new();
    let split = repository(&env, "split");
    std::fs::write(split.join("mine.txt"), "x\n").unwrap();
    assert!(git_may_fail(&split, &["add", "mine.txt"]).status.success());
    assert!(
        git_may_fail(&split, &["update-index", "--split-index"])
            .status
            .success()
    );
    init_refused(&env, &split, "split index");

    let sparse = repository(&env, "sparse");
    let out = git_may_fail(
        &sparse,
        &["sparse-checkout", "init", "--cone", "--sparse-index"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    init_refused(&env, &sparse, "sparse index");
}

#[test]
fn files_a_filter_driver_would_clean_are_refused() {
    let env = Env::new();
    let dir = repository(&env, "filtered");
    std::fs::write(dir.join(".gitattributes"), "*.nix filter=strip\n").unwrap();
    assert!(
        git_may_fail(&dir, &["config", "filter.strip.clean", "cat"])
            .status
            .success()
    );
    init_refused(&env, &dir, "filter");
}

#[test]
fn a_bare_repository_is_refused() {
    let env = Env::new();
    let bare = env.path("b.git");
    let out = git_may_fail(env.work.path(), &["init", "-q", "--bare", "b.git"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    init_refused(&env, &bare, "bare repository");
    let before = snapshot(&bare);
    let out = env
        .cmd(&["new", "inner", "--yes"])
        .current_dir(&bare)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("bare repository"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(snapshot(&bare), before);
}

#[test]
fn update_refuses_files_a_filter_driver_would_clean() {
    let env = Env::new();
    let p = crate::support::updates_project(&env, "p", &[]);
    std::fs::write(p.join(".git/info/attributes"), "notes.md filter=strip\n").unwrap();
    assert!(
        git_may_fail(&p, &["config", "filter.strip.clean", "cat"])
            .status
            .success()
    );
    // The project's lock file (its holder's process id) aside, nothing changes.
    let unlocked = |p: &Path| {
        let mut all = snapshot(p);
        all.remove(".git/nixcuda.lock");
        all
    };
    let before = unlocked(&p);
    let out = crate::support::update(&env, &p, &[]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("`strip` filter"),
        "{}",
        stderr_of(&out)
    );
    let after = unlocked(&p);
    let changed: Vec<&String> = (before.keys().chain(after.keys()))
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
}
