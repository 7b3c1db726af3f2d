//! `init` on real repositories: the user's README kept, `.gitignore`
//! merged, real conflicts refused and listed, `--overwrite PATH` for the
//! files named, an existing project pointed to `update`.

use std::process::Output;

use git2::Repository;

use crate::support::{Env, assert_same_tree, stderr_of, tree};

/// stderr with the machine-specific parts replaced, for snapshots.
pub fn redacted(env: &Env, out: &Output) -> String {
    let version = crate::support::newest_ml();
    let text = stderr_of(out)
        .replace(&env.work.path().display().to_string(), "[WORK]")
        .replace(&env.home.path().display().to_string(), "[HOME]")
        .replace(&format!("ml@{version}"), "ml@[VERSION]");
    let commit = regex::Regex::new(r"Committed [0-9a-f]{7}").unwrap();
    commit.replace_all(&text, "Committed [COMMIT]").into_owned()
}

/// What `new` renders for a project called `name` (no git).
fn reference(env: &Env, name: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    env.ok(&["new", "reference", "--yes", "--vcs", "none", "--name", name]);
    tree(&env.path("reference"))
}

fn head_blob(repo: &Repository, path: &str) -> Vec<u8> {
    let tree = repo.head().unwrap().peel_to_tree().unwrap();
    let entry = tree.get_path(std::path::Path::new(path)).unwrap();
    repo.find_blob(entry.id()).unwrap().content().to_vec()
}

#[test]
fn init_keeps_the_readme_and_merges_the_gitignore() {
    let env = Env::new();
    let dir = env.path("repo");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("README.md"), "# My analysis\n").unwrap();
    std::fs::write(dir.join(".gitignore"), "*.csv\ntarget/\n").unwrap();
    let out = env.ok(&["init", "repo", "--yes"]);
    insta::assert_snapshot!("init_keeps_and_merges", redacted(&env, &out));
    // The README kept is the user's: the next steps do not send them there
    // for the scaffold's instructions.
    let shown = redacted(&env, &out);
    let next = shown.split("Next steps:").nth(1).expect("next steps");
    assert!(!next.contains("README"), "{next}");

    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        "# My analysis\n"
    );
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.starts_with("*.csv\ntarget/\n"), "{ignore}");
    assert!(
        ignore.contains("\n.direnv/\n"),
        "the scaffold's lines: {ignore}"
    );
    assert_eq!(
        ignore.lines().filter(|l| *l == "target/").count(),
        1,
        "a line the user has is not added again: {ignore}"
    );
    // The first commit holds what is on disk, so git shows nothing modified.
    let repo = Repository::open(&dir).unwrap();
    assert_eq!(head_blob(&repo, "README.md"), b"# My analysis\n");
    assert_eq!(head_blob(&repo, ".gitignore"), ignore.as_bytes());
    let statuses = repo.statuses(None).unwrap();
    let dirty: Vec<String> = statuses
        .iter()
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect();
    assert!(dirty.is_empty(), "{dirty:?}");
}

#[test]
fn init_refuses_real_conflicts_and_overwrites_only_what_is_named() {
    let env = Env::new();
    let reference = reference(&env, "repo");
    let dir = env.path("repo");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("flake.nix"), "{ }\n").unwrap();
    std::fs::write(dir.join("pyproject.toml"), "[project]\nname = \"mine\"\n").unwrap();
    std::fs::write(dir.join("README.md"), "# Mine\n").unwrap();
    let before = tree(&dir);

    let out = env
        .cmd(&["init", "repo", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("init_conflicts", redacted(&env, &out));
    assert_same_tree(&tree(&dir), &before, "nothing is written on a conflict");

    let out = env
        .cmd(&["init", "repo", "--yes", "--vcs", "none"])
        .args(["--overwrite", "flake.nix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("  pyproject.toml\n"), "{err}");
    assert!(
        !err.contains("  flake.nix\n"),
        "named, so not a conflict: {err}"
    );
    assert_same_tree(&tree(&dir), &before, "still nothing written");

    let out = env
        .cmd(&["init", "repo", "--yes", "--vcs", "none"])
        .args([
            "--overwrite",
            "flake.nix",
            "--overwrite",
            "./pyproject.toml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let after = tree(&dir);
    assert_eq!(after["flake.nix"], reference["flake.nix"]);
    assert_eq!(after["pyproject.toml"], reference["pyproject.toml"]);
    assert_eq!(after["README.md"], b"# Mine\n", "not named: kept");
    let err = stderr_of(&out);
    assert!(err.contains("Overwrote flake.nix"), "{err}");
    assert!(err.contains("Kept your README.md"), "{err}");
}

#[test]
fn overwrite_names_only_files_the_scaffold_writes() {
    let env = Env::new();
    let dir = env.path("repo");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    let out = env
        .cmd(&["init", "repo", "--yes", "--overwrite", "notes.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("init_overwrite_unknown", redacted(&env, &out));
    assert_eq!(crate::support::listing(&dir), ["notes.txt"]);
}

#[test]
fn init_on_a_project_points_to_update() {
    let env = Env::new();
    env.ok(&["new", "proj", "--yes", "--vcs", "none"]);
    let before = tree(&env.path("proj"));
    let out = env.cmd(&["init", "proj", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("init_on_a_project", redacted(&env, &out));
    assert_same_tree(&tree(&env.path("proj")), &before, "unchanged");
}
