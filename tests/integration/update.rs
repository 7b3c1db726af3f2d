//! `update` and `check` on real git repositories, with a two-version test
//! scaffold (tests/fixtures/scaffold-sets/updates).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::support::{Env, edit, stderr_of, tree, update, updates_project};

const SET: &str = "updates";

/// Takes the `pristine:` line out of the tree's `.nixcuda.yaml`, returning
/// its value.
fn pristine_of_record(files: &mut BTreeMap<String, Vec<u8>>) -> Option<String> {
    let text = String::from_utf8(files.get(".nixcuda.yaml")?.clone()).unwrap();
    let mut value = None;
    let kept: String = text
        .split_inclusive('\n')
        .filter(|line| match line.strip_prefix("pristine: ") {
            Some(v) => {
                value = Some(v.trim().to_string());
                false
            }
            None => true,
        })
        .collect();
    files.insert(".nixcuda.yaml".into(), kept.into_bytes());
    value
}

/// The files of tree `id` in the repository at `dir`.
pub fn pristine_tree(dir: &Path, id: &str) -> BTreeMap<String, Vec<u8>> {
    let repo = Repository::open(dir).unwrap();
    let tree = repo.find_tree(git2::Oid::from_str(id).unwrap()).unwrap();
    let mut files = BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        if let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
            files.insert(
                format!("{parent}{}", entry.name().unwrap()),
                blob.content().to_vec(),
            );
        }
        git2::TreeWalkResult::Ok
    })
    .unwrap();
    files
}

fn read(project: &Path, file: &str) -> String {
    std::fs::read_to_string(project.join(file)).unwrap()
}

#[test]
fn untouched_project_updates_to_exactly_a_fresh_generation() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let out = update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = env
        .cmd_with_scaffolds(
            SET,
            &[
                "new",
                "fresh",
                "--yes",
                "--scaffold",
                "t@1.1.0",
                "--name",
                "p",
                "--vcs",
                "none",
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (mut updated, mut fresh) = (tree(&project), tree(&env.path("fresh")));
    let record = pristine_of_record(&mut updated);
    assert_eq!(
        pristine_of_record(&mut fresh),
        None,
        "--vcs none records none"
    );
    crate::support::assert_same_tree(&updated, &fresh, "tree");
    // The record names the new pristine render: exactly the fresh files.
    fresh.remove(".nixcuda.yaml");
    let stored = pristine_tree(&project, &record.expect("a pristine tree is recorded"));
    crate::support::assert_same_tree(&stored, &fresh, "pristine tree");
    // Staged, not committed; the work tree matches the index.
    let repo = Repository::open(&project).unwrap();
    let statuses = repo.statuses(None).unwrap();
    assert!(
        statuses.iter().all(|s| s.status().is_index_new()
            || s.status().is_index_modified()
            || s.status().is_index_deleted()),
        "every change is staged"
    );
}

#[test]
fn user_edits_survive_and_upstream_changes_arrive() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 2\n", "line 2 with my note\n");
    edit(&project, "old-name.txt", "first\n", "first, edited by me\n");
    crate::support::commit_all(&project, "my edits");
    let out = update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let notes = read(&project, "notes.md");
    assert!(notes.contains("line 2 with my note\n"), "{notes}");
    assert!(notes.contains("line 8 changed upstream\n"), "{notes}");
    // The declared rename carries the user's edit along.
    assert!(!project.join("old-name.txt").exists());
    let moved = read(&project, "new-name.txt");
    assert!(
        moved.contains("first, edited by me\n") && moved.contains("sixth (1.1.0)\n"),
        "{moved}"
    );
    // New question defaulted, new file rendered with it, removed files gone.
    assert_eq!(read(&project, "extra/added.txt"), "color: blue\n");
    assert!(read(&project, ".nixcuda.yaml").contains("color: blue"));
    assert!(read(&project, ".nixcuda.yaml").contains("version: 1.1.0"));
    assert!(!project.join("removed.txt").exists());
    let err = stderr_of(&out);
    assert!(
        err.contains("Renaming old-name.txt -> new-name.txt"),
        "{err}"
    );
    assert!(err.contains("Merging notes.md"), "{err}");
}

#[test]
fn overlapping_edits_get_conflict_markers_and_exit_1() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 8\n", "line 8 mine\n");
    crate::support::commit_all(&project, "mine");
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("notes.md") && err.contains("<<<<<<<"), "{err}");
    let notes = read(&project, "notes.md");
    assert!(
        notes.contains(
            "<<<<<<< ours\nline 8 mine\n=======\nline 8 changed upstream\n>>>>>>> t@1.1.0\n"
        ),
        "{notes}"
    );
    // Everything else went through and is staged; the conflicted file is
    // unmerged, as `git merge` leaves it.
    assert_eq!(read(&project, "extra/added.txt"), "color: blue\n");
    let repo = Repository::open(&project).unwrap();
    let notes_status = repo.status_file(Path::new("notes.md")).unwrap();
    assert!(notes_status.is_conflicted(), "{notes_status:?}");
    let added = repo.status_file(Path::new("extra/added.txt")).unwrap();
    assert!(added.is_index_new());
}

#[test]
fn a_file_the_user_deleted_stays_deleted_and_changed_removed_files_are_kept() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    std::fs::remove_file(project.join("config.txt")).unwrap();
    edit(&project, "also-removed.txt", "gone", "still mine, gone");
    crate::support::commit_all(&project, "delete config");
    let out = update(&env, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!project.join("config.txt").exists(), "not resurrected");
    assert!(
        project.join("also-removed.txt").exists(),
        "a changed file is never deleted"
    );
    let err = stderr_of(&out);
    assert!(err.contains("config.txt: you deleted it"), "{err}");
    assert!(err.contains("also-removed.txt: you changed it"), "{err}");
}

#[test]
fn an_answer_changes_through_define() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 3\n", "line 3 mine\n");
    crate::support::commit_all(&project, "mine");
    let out = update(&env, &project, &["-d", "flavor=b", "-d", "color=red"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(read(&project, "flavor.txt"), "flavor: b\n");
    assert_eq!(read(&project, "extra/added.txt"), "color: red\n");
    assert!(read(&project, "notes.md").contains("line 3 mine\n"));
    let record = read(&project, ".nixcuda.yaml");
    assert!(
        record.contains("flavor: b") && record.contains("color: red"),
        "{record}"
    );
    // Only an answer changes: the version stays, and the report says so.
    crate::support::commit_all(&project, "updated");
    let out = update(&env, &project, &["-d", "color=green"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("t@1.1.0 (answers changed)"), "{err}");
    assert!(!err.contains("t@1.1.0 -> t@1.1.0"), "{err}");
    assert_eq!(read(&project, "extra/added.txt"), "color: green\n");
}

#[test]
fn a_dirty_tree_is_refused_naming_the_files() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 1\n", "uncommitted\n");
    std::fs::write(project.join("scratch.py"), "x = 1\n").unwrap();
    let before = tree(&project);
    let out = update(&env, &project, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("notes.md") && err.contains("scratch.py") && err.contains("--allow-dirty"),
        "{err}"
    );
    crate::support::assert_same_tree(&tree(&project), &before, "tree");
    let out = update(&env, &project, &["--allow-dirty"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(read(&project, "notes.md").contains("uncommitted\n"));
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let before = tree(&project);
    let index_before = std::fs::read(project.join(".git/index")).unwrap();
    let out = update(&env, &project, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("--- a/notes.md") && diff.contains("+++ b/notes.md"),
        "{diff}"
    );
    assert!(diff.contains("+line 8 changed upstream"), "{diff}");
    assert!(diff.contains("+++ b/extra/added.txt"), "{diff}");
    crate::support::assert_same_tree(&tree(&project), &before, "tree");
    assert_eq!(
        std::fs::read(project.join(".git/index")).unwrap(),
        index_before
    );
}

#[test]
fn a_failure_in_the_middle_of_writing_leaves_the_tree_as_it_was() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    edit(&project, "notes.md", "line 2\n", "line 2 mine\n");
    crate::support::commit_all(&project, "mine");
    let before = tree(&project);
    for after in ["0", "2", "4"] {
        let mut cmd = env.cmd_with_scaffolds(SET, &["update", "--yes"]);
        let out = cmd
            .current_dir(&project)
            .env("__CARGO_NIXCUDA_TEST_FAIL_AFTER_WRITES", after)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "after {after}: {}",
            stderr_of(&out)
        );
        assert!(stderr_of(&out).contains("failure injected"));
        crate::support::assert_same_tree(&tree(&project), &before, "tree");
    }
}

#[test]
fn commit_flag_commits_and_check_reports_versions() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let out = env
        .cmd_with_scaffolds(SET, &["check"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("t@1.0.0") && err.contains("1.1.0"), "{err}");
    let out = env
        .cmd_with_scaffolds(SET, &["check", "--json"])
        .current_dir(&project)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["up_to_date"], false);
    assert_eq!(report["newer"], serde_json::json!(["1.1.0"]));

    let out = update(&env, &project, &["--commit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let repo = Repository::open(&project).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 1);
    assert!(head.message().unwrap().contains("Update to t@1.1.0"));
    assert!(
        repo.statuses(None).unwrap().is_empty(),
        "clean after the commit"
    );

    let out = env
        .cmd_with_scaffolds(SET, &["check"])
        .current_dir(project.join("extra"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check finds the project from a subdirectory: {}",
        stderr_of(&out)
    );
    let out = update(&env, &project, &[]);
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("nothing to update"));
    let out = update(&env, &project, &["--to", "1.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("older"));
}

#[test]
fn outside_a_project_update_says_where_to_run() {
    let env = Env::new();
    let out = env.cmd(&["update"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains(".nixcuda.yaml"));
}

#[test]
fn ml_project_moves_from_1_0_0_to_1_1_0_keeping_edits() {
    let env = Env::new();
    let project = tuned_ml_project(&env, "1.0.0", "nix/nvidia.nix");
    crate::support::commit_all(&project, "tune");

    let out = env
        .cmd(&["update", "--yes", "--commit", "--to", "1.1.0"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!project.join("nix/nvidia.nix").exists());
    let host = read(&project, "nix/host.nix");
    assert!(
        host.contains("nvidiaPersistenced = false; # laptop"),
        "the edit followed the rename"
    );
    assert!(
        host.contains("cargo nixcuda nixos --output nix/host.nix"),
        "upstream's change arrived"
    );
    let flake = read(&project, "flake.nix");
    assert!(
        flake.contains("import ./nix/host.nix") && flake.contains("pkgs.just"),
        "{flake}"
    );
    assert!(
        flake.contains("  # Our lab's flake.\n"),
        "the user's flake edit survived"
    );
    assert!(
        project.join("justfile").is_file(),
        "new file from the new question's default"
    );
    let record = read(&project, ".nixcuda.yaml");
    assert!(
        record.contains("version: 1.1.0") && record.contains("justfile: true"),
        "{record}"
    );

    let out = env.cmd(&["check"]).current_dir(&project).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "1.1.0 is no longer the newest: {}",
        stderr_of(&out)
    );
}

/// An ml project made with `from` (its host module at `host`) whose user
/// tuned the host module and commented the flake;
/// uncommitted. (A Python package added to the flake's list is
/// `python_package_added_to_the_flake_conflicts_and_the_note_says_where_it_goes`.)
fn tuned_ml_project(env: &Env, from: &str, host: &str) -> PathBuf {
    let scaffold = format!("ml@{from}");
    let out = env
        .cmd(&["new", "lab", "--yes", "--scaffold", &scaffold])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("lab");
    edit(
        &project,
        host,
        "nvidiaPersistenced = true;",
        "nvidiaPersistenced = false; # laptop",
    );
    edit(
        &project,
        "flake.nix",
        "  description = ",
        "  # Our lab's flake.\n  description = ",
    );
    project
}

/// A project made with `from`, edited by its user, moved to ml@1.3.0.
fn ml_project_moves_to_1_3_0_keeping_edits(from: &str, host: &str) {
    let env = Env::new();
    let project = tuned_ml_project(&env, from, host);
    // And a note to the README.
    edit(
        &project,
        "README.md",
        "## Troubleshooting\n",
        "## Troubleshooting\n\nOur lab: ask Ada first.\n",
    );
    crate::support::commit_all(&project, "tune");

    let out = env
        .cmd(&["update", "--yes", "--commit", "--to", "1.3.0"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!project.join("nix/nvidia.nix").exists());
    let host = read(&project, "nix/host.nix");
    assert!(
        host.contains("nvidiaPersistenced = false; # laptop"),
        "the host edit survived: {host}"
    );
    assert!(
        host.contains("licensed redistribution"),
        "upstream's change to the host module arrived"
    );
    assert!(
        host.contains("# powerManagement.finegrained = true;"),
        "1.3.0's laptop block arrived next to the user's edit: {host}"
    );
    let flake = read(&project, "flake.nix");
    assert!(
        flake.contains("  # Our lab's flake.\n"),
        "the user's flake edit survived:\n{flake}"
    );
    assert!(
        flake.contains("github:nixos-cuda/nixpkgs/nixos-unstable-cuda")
            && !flake.contains("CUDARC_CUDA_VERSION")
            && flake.contains("_RUSTFLAGS"),
        "1.3.0's flake arrived (1.2.0's `nixpkgs` question at its default):\n{flake}"
    );
    assert!(
        read(&project, "README.md").contains("Our lab: ask Ada first.\n"),
        "the README note survived"
    );
    let envrc = read(&project, ".envrc");
    assert!(envrc.contains("nixcuda_has_cuda_cache"), "{envrc}");
    assert!(
        project.join(".github/workflows/ci.yml").is_file(),
        "new file from the new `ci` question's default"
    );
    let record = read(&project, ".nixcuda.yaml");
    for answer in [
        "version: 1.3.0",
        "nixpkgs: nixos-unstable-cuda",
        "ci: github",
        "cuda_capabilities: ''",
        "justfile: true",
    ] {
        assert!(record.contains(answer), "{answer}:\n{record}");
    }
    let out = env.cmd(&["check"]).current_dir(&project).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "1.3.0 is no longer the newest: {}",
        stderr_of(&out)
    );
}

#[test]
fn ml_project_moves_from_1_0_0_to_1_3_0_keeping_edits() {
    ml_project_moves_to_1_3_0_keeping_edits("1.0.0", "nix/nvidia.nix");
}

#[test]
fn ml_project_moves_from_1_1_0_to_1_3_0_keeping_edits() {
    ml_project_moves_to_1_3_0_keeping_edits("1.1.0", "nix/host.nix");
}

#[test]
fn ml_project_moves_from_1_2_0_to_1_3_0_keeping_edits() {
    ml_project_moves_to_1_3_0_keeping_edits("1.2.0", "nix/host.nix");
}

#[test]
fn ml_project_moves_from_1_3_0_to_1_4_0_gaining_the_training_entrypoint() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "lab", "--yes", "--scaffold", "ml@1.3.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("lab");
    assert!(!project.join("src/lab/train.py").exists());
    // The user's edits: models.py, which 1.4.0 changes too, and the justfile.
    edit(
        &project,
        "src/lab/models.py",
        "Any network has to beat this to be worth its cost.",
        "Any network has to beat this to be worth its cost. Our lab: try a forest too.",
    );
    let justfile = read(&project, "justfile");
    std::fs::write(
        project.join("justfile"),
        format!("{justfile}\n# Our lab's data\nfetch:\n    python -m lab.ipsa\n"),
    )
    .unwrap();
    crate::support::commit_all(&project, "tune");

    let out = env
        .cmd(&["update", "--yes", "--commit", "--to", "1.4.0"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for new in ["src/lab/train.py", "tests/test_distributed.py"] {
        assert!(project.join(new).is_file(), "{new} arrived");
    }
    let models = read(&project, "src/lab/models.py");
    assert!(
        models.contains("Our lab: try a forest too.") && models.contains("def build_torch_mlp("),
        "the user's edit and 1.4.0's network builder are both there:\n{models}"
    );
    let justfile = read(&project, "justfile");
    assert!(
        justfile.contains("fetch:\n    python -m lab.ipsa")
            && justfile.contains("train-ddp N *ARGS:")
            && justfile.contains("--nproc-per-node={{N}} -m lab.train {{ARGS}}"),
        "{justfile}"
    );
    let record = read(&project, ".nixcuda.yaml");
    assert!(
        record.contains("version: 1.4.0") && record.contains("cluster: all"),
        "the new question takes its default:\n{record}"
    );
}
