//! The applier build.rs uses to materialise older scaffold versions from
//! their stored differences (build/patch.rs), against diffs made by git.

use std::collections::BTreeMap;
use std::path::Path;

#[path = "../../build/patch.rs"]
#[allow(dead_code)]
mod patch;

use patch::Tree;

use crate::support::git;

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

fn write(root: &Path, files: &Tree) {
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// What scripts/scaffold-version.py stores: `git diff -M` from newer to older.
fn git_diff(newer: &Tree, older: &Tree) -> String {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    write(dir.path(), newer);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "newer"]);
    for rel in newer.keys() {
        std::fs::remove_file(dir.path().join(rel)).unwrap();
    }
    write(dir.path(), older);
    git(dir.path(), &["add", "-A"]);
    let diff = git(
        dir.path(),
        &[
            "diff",
            "--cached",
            "-M",
            "--no-color",
            "--no-ext-diff",
            "--src-prefix=a/",
            "--dst-prefix=b/",
        ],
    );
    String::from_utf8(diff.stdout).unwrap()
}

fn lines(n: usize, tag: &str) -> String {
    (1..=n).map(|i| format!("{tag} line {i}\n")).collect()
}

#[test]
fn git_diffs_with_edits_additions_deletions_renames_and_missing_newlines_apply_exactly() {
    let long = lines(40, "flake");
    let newer = tree(&[
        ("scaffold.yaml", "id: x\nversion: 1.1.0\nquestions: []\n"),
        ("template/flake.nix.hbs", &long),
        ("template/nix/host.nix", &lines(30, "host")),
        ("template/justfile.hbs", "test:\n  pytest\n"),
        ("template/no-newline.txt", "a\nb\nc"),
        ("template/gets-newline.txt", "a\nb"),
    ]);
    let mut edited = long.replace("flake line 3\n", "flake line 3 (old)\n");
    edited = edited.replace("flake line 20\n", "");
    edited.push_str("appended in the old version\n");
    let older = tree(&[
        ("scaffold.yaml", "id: x\nversion: 1.0.0\nquestions: []\n"),
        ("template/flake.nix.hbs", &edited),
        // A rename with an edit, as 1.1.0's nix/nvidia.nix -> nix/host.nix.
        (
            "template/nix/nvidia.nix",
            &lines(30, "host").replace("host line 7\n", "nvidia line 7\n"),
        ),
        ("template/removed-later.txt", "only in the old version\n"),
        ("template/no-newline.txt", "a\nB\nc"),
        ("template/gets-newline.txt", "a\nb\n"),
    ]);
    let diff = git_diff(&newer, &older);
    assert!(diff.contains("rename from template/nix/host.nix"), "{diff}");
    assert!(diff.contains("\\ No newline at end of file"), "{diff}");
    let mut applied = newer.clone();
    patch::apply(&mut applied, &diff).unwrap();
    assert_eq!(applied, older);
}

#[test]
fn a_difference_that_does_not_match_its_tree_is_refused_naming_the_file_and_line() {
    let newer = tree(&[("scaffold.yaml", &lines(10, "a"))]);
    let older = tree(&[(
        "scaffold.yaml",
        &lines(10, "a").replace("a line 5\n", "b\n"),
    )]);
    let diff = git_diff(&newer, &older);
    let mut drifted = tree(&[(
        "scaffold.yaml",
        &lines(10, "a").replace("a line 4\n", "edited\n"),
    )]);
    let err = patch::apply(&mut drifted, &diff).unwrap_err();
    assert!(err.starts_with("scaffold.yaml: line 4"), "{err}");
    let mut missing = BTreeMap::new();
    let err = patch::apply(&mut missing, &diff).unwrap_err();
    assert!(err.contains("not in the tree"), "{err}");
    let truncated = &diff[..diff.len() - 10];
    let err = patch::apply(&mut newer.clone(), truncated).unwrap_err();
    assert!(
        err.contains("ends early") || err.contains("expects"),
        "{err}"
    );
}

#[test]
fn zero_context_hunks_insert_and_delete_at_the_right_lines() {
    let base = tree(&[("f", "1\n2\n3\n")]);
    let diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+0\n@@ -2 +2,0 @@\n-2\n@@ -3,0 +4 @@\n+4\n";
    let mut applied = base.clone();
    patch::apply(&mut applied, diff).unwrap();
    assert_eq!(applied["f"], "0\n1\n3\n4\n");
}
