//! `new` and `init`: what gets written, what gets refused, and git.

use std::path::Path;

use git2::Repository;

use crate::support::{Env, USER_EMAIL, USER_NAME, listing, stderr_of, tree};

fn committed_paths(repo: &Repository) -> Vec<String> {
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let mut paths = Vec::new();
    head.tree()
        .unwrap()
        .walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                paths.push(format!("{dir}{}", entry.name().unwrap()));
            }
            git2::TreeWalkResult::Ok
        })
        .unwrap();
    paths.sort();
    paths
}

#[test]
fn new_creates_project_with_one_commit_holding_every_file() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "ipsa-prediction", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let files = tree(&env.path("ipsa-prediction"));
    assert!(
        err.contains(&format!(
            "Created ml@{} project 'ipsa-prediction' ({} files)",
            crate::support::newest_ml(),
            files.len()
        )),
        "{err}"
    );
    assert!(
        err.contains("cd ipsa-prediction") && err.contains("direnv allow"),
        "{err}"
    );

    let repo = Repository::open(env.path("ipsa-prediction")).unwrap();
    assert_eq!(repo.head().unwrap().shorthand().ok(), Some("main"));
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 0, "exactly one commit");
    assert_eq!(
        head.message().ok(),
        Some(
            format!(
                "Initial commit from cargo-nixcuda ml@{}",
                crate::support::newest_ml()
            )
            .as_str()
        )
    );
    assert_eq!(head.author().name().ok(), Some(USER_NAME));
    assert_eq!(head.author().email().ok(), Some(USER_EMAIL));
    let on_disk: Vec<String> = files.keys().cloned().collect();
    assert_eq!(
        committed_paths(&repo),
        on_disk,
        "every generated file is committed"
    );
    let statuses = repo.statuses(None).unwrap();
    assert!(statuses.is_empty(), "the work tree is clean");

    let record = String::from_utf8(files[".nixcuda.yaml"].clone()).unwrap();
    assert!(
        record.contains("id: ml")
            && record.contains(&format!("version: {}", crate::support::newest_ml())),
        "{record}"
    );
    assert!(record.contains("frameworks: torch"), "{record}");
    assert!(
        record.contains(&format!("author: {USER_NAME} <{USER_EMAIL}>")),
        "{record}"
    );
}

#[test]
fn new_writes_no_staging_leftovers_and_keeps_umask_permissions() {
    let env = Env::new();
    let out = env.cmd(&["new", "demo", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(listing(env.work.path()), ["demo"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("demo"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(
        mode & 0o055,
        0,
        "not the 0700 of a private temp dir: {mode:o}"
    );
}

#[test]
fn user_identity_is_a_fallback_with_instructions_when_unset() {
    let env = Env::bare();
    let out = env.cmd(&["new", "demo", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("git commit --amend --reset-author"), "{err}");
    let repo = Repository::open(env.path("demo")).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.author().name().ok(), Some("cargo-nixcuda"));
}

#[test]
fn default_branch_follows_git_config() {
    let env = Env::new();
    env.git_config("[user]\n\tname = A\n\temail = a@b.c\n[init]\n\tdefaultBranch = trunk\n");
    let out = env.cmd(&["new", "demo", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let repo = Repository::open(env.path("demo")).unwrap();
    assert_eq!(repo.head().unwrap().shorthand().ok(), Some("trunk"));
}

#[test]
fn an_invalid_default_branch_fails_new_and_leaves_nothing() {
    let env = Env::new();
    env.git_config("[user]\n\tname = A\n\temail = a@b.c\n[init]\n\tdefaultBranch = bad..name\n");
    let err = env.fail(&["new", "demo", "--yes"]);
    assert!(err.contains("init.defaultBranch"), "{err}");
    assert!(err.contains("bad..name"), "{err}");
    assert!(!env.path("demo").exists());
    let left: Vec<_> = std::fs::read_dir(env.path("."))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("demo"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn vcs_none_makes_no_repository() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "demo", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!env.path("demo/.git").exists());
    assert!(env.path("demo/.nixcuda.yaml").is_file());
}

#[test]
fn inside_a_repository_files_are_staged_not_nested() {
    let env = Env::new();
    let outer = Repository::init(env.work.path()).unwrap();
    let out = env.cmd(&["new", "sub/demo", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Staged"));
    assert!(!env.path("sub/demo/.git").exists(), "no nested repository");
    let index = outer.index().unwrap();
    let staged: Vec<String> = index
        .iter()
        .map(|e| String::from_utf8(e.path).unwrap())
        .collect();
    let on_disk = tree(&env.path("sub/demo"));
    assert_eq!(staged.len(), on_disk.len());
    assert!(
        staged.contains(&"sub/demo/.nixcuda.yaml".to_string()),
        "{staged:?}"
    );
}

#[test]
fn existing_non_empty_destination_is_refused_untouched() {
    let env = Env::new();
    std::fs::create_dir(env.path("taken")).unwrap();
    std::fs::write(env.path("taken/notes.txt"), "mine").unwrap();
    let out = env.cmd(&["new", "taken", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("`") && err.contains("taken") && err.contains("not empty"),
        "{err}"
    );
    assert!(
        err.contains("cargo nixcuda init"),
        "the hint names init: {err}"
    );
    assert_eq!(listing(&env.path("taken")), ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(env.path("taken/notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn empty_existing_destination_is_used() {
    let env = Env::new();
    std::fs::create_dir(env.path("empty")).unwrap();
    let out = env.cmd(&["new", "empty", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(env.path("empty/.nixcuda.yaml").is_file());
}

#[test]
fn destination_that_is_a_file_is_refused() {
    let env = Env::new();
    std::fs::write(env.path("file"), "x").unwrap();
    let out = env.cmd(&["new", "file", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("not a directory"));
}

#[test]
fn bad_names_are_refused_with_rule_and_suggestion() {
    let env = Env::new();
    for (args, rule, suggestion) in [
        (
            &["new", "2fast", "--yes"][..],
            "starts with a digit",
            "project-2fast",
        ),
        (&["new", "My Model", "--yes"], "not allowed", "my-model"),
        (
            &["new", "x", "--name", "test", "--yes"],
            "standard library",
            "test-project",
        ),
        (&["new", "fn", "--yes"], "Rust keyword", "fn-project"),
        (&["new", "con", "--yes"], "Windows", "con-project"),
    ] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr_of(&out);
        assert!(err.contains(rule), "{args:?}: {err}");
        assert!(err.contains(&format!("`{suggestion}`")), "{args:?}: {err}");
    }
    let out = env.cmd(&["new", "2fast", "--yes"]).output().unwrap();
    assert!(
        stderr_of(&out).contains("--name"),
        "the hint for a directory name mentions --name"
    );
    assert!(listing(env.work.path()).is_empty(), "nothing was written");
}

#[test]
fn bad_define_key_or_value_is_refused() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "demo", "--yes", "-d", "framework=torch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr_of(&out);
    assert!(
        err.contains("unknown question `framework`") && err.contains("frameworks"),
        "{err}"
    );

    let out = env
        .cmd(&["new", "demo", "--yes", "-d", "frameworks=jax"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr_of(&out);
    assert!(
        err.contains("`jax`") && err.contains("torch, tensorflow, both, none"),
        "{err}"
    );

    let out = env
        .cmd(&["new", "demo", "--yes", "-d", "notebook=perhaps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr_of(&out).contains("true or false"));
    assert!(listing(env.work.path()).is_empty());
}

#[test]
fn answers_with_quotes_and_interpolation_stay_data() {
    let env = Env::new();
    let nasty = "say \"hi\" ${builtins.abort \"x\"} \\ ñandú";
    let out = env
        .cmd(&[
            "new",
            "demo",
            "--yes",
            "--vcs",
            "none",
            "-d",
            &format!("description={nasty}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let record = std::fs::read_to_string(env.path("demo/.nixcuda.yaml")).unwrap();
    let parsed: serde_yaml::Value = serde_yaml::from_str(&record).unwrap();
    assert_eq!(parsed["answers"]["description"].as_str(), Some(nasty));
}

#[test]
fn required_question_without_answer_names_the_flag() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds("required", &["new", "demo", "--scaffold", "t", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("`team`") && err.contains("-d team=..."),
        "{err}"
    );
    assert!(listing(env.work.path()).is_empty());

    // stdin is not a terminal under tests: no prompt even without --yes.
    let out = env
        .cmd_with_scaffolds("required", &["new", "demo", "--scaffold", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let out = env
        .cmd_with_scaffolds(
            "required",
            &["new", "demo", "--scaffold", "t", "-d", "team=Bad Team"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr_of(&out).contains("lower-case letters only"));

    let out = env
        .cmd_with_scaffolds(
            "required",
            &["new", "demo", "--scaffold", "t", "-d", "team=vision"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(env.path("demo/team.toml")).unwrap(),
        "team = \"vision\"\n"
    );
}

#[test]
fn render_error_names_file_and_line_and_writes_nothing() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds(
            "broken-template",
            &["new", "demo", "--scaffold", "t", "--yes"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("template/b.txt.hbs") && err.contains("line 3"),
        "{err}"
    );
    assert!(listing(env.work.path()).is_empty());
}

#[test]
fn manifest_error_names_file_and_line() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds("broken-manifest", &["list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("scaffold.yaml:6"), "{err}");
    assert!(err.contains("strng"), "{err}");
}

#[test]
fn unknown_scaffold_version_lists_the_available_ones() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "demo", "--yes", "--scaffold", "ml@7.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr_of(&out);
    assert!(
        err.contains("no version matching `7.0.0`") && err.contains("1.0.0"),
        "{err}"
    );
}

#[test]
fn failure_in_the_middle_of_writing_leaves_nothing() {
    let env = Env::new();
    for after in ["0", "3", "9"] {
        let out = env
            .cmd(&["new", "deep/er/demo", "--yes"])
            .env("__CARGO_NIXCUDA_TEST_FAIL_AFTER_WRITES", after)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "after {after}");
        assert!(stderr_of(&out).contains("failure injected"));
        assert!(
            listing(env.work.path()).is_empty(),
            "after {after}: {:?}",
            listing(env.work.path())
        );
    }
}

#[test]
fn init_adds_files_and_commits_them() {
    let env = Env::new();
    std::fs::create_dir(env.path("existing")).unwrap();
    std::fs::write(env.path("existing/data.csv"), "a,b\n1,2\n").unwrap();
    let out = env.cmd(&["init", "existing", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(&format!(
        "Initialized ml@{} project 'existing'",
        crate::support::newest_ml()
    )));
    assert_eq!(
        std::fs::read_to_string(env.path("existing/data.csv")).unwrap(),
        "a,b\n1,2\n"
    );
    let repo = Repository::open(env.path("existing")).unwrap();
    let committed = committed_paths(&repo);
    assert!(committed.contains(&".nixcuda.yaml".to_string()));
    assert!(
        !committed.contains(&"data.csv".to_string()),
        "the user's files are left to them"
    );
}

#[test]
fn init_skips_identical_files_and_refuses_conflicts_writing_nothing() {
    let env = Env::new();
    // A reference project to copy files from.
    let out = env
        .cmd(&["new", "reference", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let reference = tree(&env.path("reference"));
    let mut names = reference.keys();
    let same = names.next().unwrap().clone();
    let other = names.next().unwrap().clone();

    std::fs::create_dir(env.path("mine")).unwrap();
    let put = |rel: &str, bytes: &[u8]| {
        let p = env.path("mine").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    put(&same, &reference[&same]);
    put(&other, b"my own version\n");
    let before = tree(&env.path("mine"));
    let out = env
        .cmd(&["init", "mine", "--yes", "--name", "reference"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains(&other), "the conflict is listed: {err}");
    assert!(
        !err.contains(&format!("  {same}\n")),
        "identical files are not conflicts: {err}"
    );
    crate::support::assert_same_tree(&tree(&env.path("mine")), &before, "tree");
    assert!(!env.path("mine/.git").exists());

    std::fs::remove_file(env.path("mine").join(&other)).unwrap();
    let out = env
        .cmd(&[
            "init",
            "mine",
            "--yes",
            "--vcs",
            "none",
            "--name",
            "reference",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("1 identical skipped"),
        "{}",
        stderr_of(&out)
    );
    crate::support::assert_same_tree(&tree(&env.path("mine")), &reference, "tree");
}

#[test]
fn init_never_writes_through_a_symlink() {
    let env = Env::new();
    let outside = assert_fs::TempDir::new().unwrap();
    std::fs::create_dir(env.path("proj")).unwrap();
    // Whatever the first directory of the scaffold is, make it a link out.
    let out = env
        .cmd(&["new", "reference", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let first_dir = tree(&env.path("reference"))
        .keys()
        .find_map(|k| k.split_once('/').map(|(d, _)| d.to_string()))
        .expect("the scaffold has a directory");
    std::os::unix::fs::symlink(outside.path(), env.path("proj").join(&first_dir)).unwrap();
    let out = env
        .cmd(&["init", "proj", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("symbolic link"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        listing(outside.path()).is_empty(),
        "nothing was written outside"
    );
    assert_eq!(listing(&env.path("proj")), [first_dir]);
}

#[test]
fn init_failure_mid_write_removes_what_it_wrote() {
    let env = Env::new();
    std::fs::create_dir(env.path("proj")).unwrap();
    std::fs::write(env.path("proj/keep.txt"), "keep").unwrap();
    let out = env
        .cmd(&["init", "proj", "--yes"])
        .env("__CARGO_NIXCUDA_TEST_FAIL_AFTER_WRITES", "4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(listing(&env.path("proj")), ["keep.txt"]);
}

#[test]
fn verbose_lists_files_and_quiet_prints_nothing() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "a", "--yes", "-v", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(stderr_of(&out).contains("Rendered .nixcuda.yaml"));
    let out = env
        .cmd(&["new", "b", "--yes", "-q", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stderr_of(&out), "");
    let _ = Path::new("unused");
}
