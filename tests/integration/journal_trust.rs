//! Recovery obeys only the project's own journal, written by this user,
//! naming plain paths inside the project; and it never removes or
//! overwrites a file changed after the run it rolls back.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Env, copy_dir, stderr_of, tree, updates_project};

fn check(env: &Env, dir: &Path) -> std::process::Output {
    env.cmd_with_scaffolds("updates", &["check"])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// What a journal entry needs to remove `contents` from its path.
fn written(contents: &[u8]) -> String {
    format!(
        r#"{{"size": {}, "sha1": "{}"}}"#,
        contents.len(),
        sha1_smol::Sha1::from(contents).digest()
    )
}

/// Writes a journal at `dir` whose one entry, rolled back, removes
/// `path` when it holds `current` and puts `planted` there.
fn plant(dir: &Path, project: &str, path: &str, current: &[u8], planted: &str, is_dir: bool) {
    std::fs::create_dir_all(dir.join("old")).unwrap();
    std::fs::create_dir_all(dir.join("new")).unwrap();
    std::fs::write(dir.join("old/0"), planted).unwrap();
    let path = serde_json::to_string(path).unwrap();
    let project = serde_json::to_string(project).unwrap();
    let journal = format!(
        r#"{{"command": "hostile", "project": {project}, "entries": [{{"path": {path}, "new": "0", "written": {}, "old": "0", "created_dirs": [], "is_dir": {is_dir}}}]}}"#,
        written(current)
    );
    std::fs::write(dir.join("journal.json"), journal).unwrap();
}

/// A project, a file outside it, and what both hold.
struct Scene {
    p: PathBuf,
    outside: PathBuf,
}

impl Scene {
    fn new(env: &Env) -> Scene {
        let p = updates_project(env, "p", &[]);
        let outside = env.path("outside/victim.txt");
        std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
        std::fs::write(&outside, "not the project's\n").unwrap();
        std::fs::create_dir_all(p.join("data")).unwrap();
        std::fs::write(p.join("data/weights.bin"), "precious\n").unwrap();
        Scene { p, outside }
    }

    fn snapshot(
        &self,
    ) -> (
        Vec<u8>,
        Vec<u8>,
        std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        (
            std::fs::read(&self.outside).unwrap(),
            std::fs::read(self.p.join(".git/config")).unwrap(),
            tree(&self.p),
        )
    }
}

/// The control: a well-formed journal of this user is rolled back, so
/// the refusals below are the checks' doing, not a malformed journal's.
#[test]
fn the_projects_own_journal_is_rolled_back() {
    let env = Env::new();
    let scene = Scene::new(&env);
    let notes = std::fs::read(scene.p.join("notes.md")).unwrap();
    plant(
        &scene.p.join(".git/nixcuda/journal"),
        "",
        "notes.md",
        &notes,
        "before the run\n",
        false,
    );
    let out = check(&env, &scene.p);
    assert!(
        stderr_of(&out).contains("was interrupted here"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(
        std::fs::read_to_string(scene.p.join("notes.md")).unwrap(),
        "before the run\n"
    );
    assert!(!scene.p.join(".git/nixcuda/journal").exists());
}

#[test]
fn a_journal_naming_paths_outside_the_project_or_in_git_is_not_obeyed() {
    let env = Env::new();
    let scene = Scene::new(&env);
    let victim = std::fs::read(&scene.outside).unwrap();
    let config = std::fs::read(scene.p.join(".git/config")).unwrap();
    std::os::unix::fs::symlink(env.path("outside"), scene.p.join("link")).unwrap();
    let absolute = scene.outside.display().to_string();
    let fsmonitor = "[core]\n\tfsmonitor = touch /tmp/pwned\n";
    let cases: [(&str, &[u8], &str, bool); 6] = [
        (&absolute, &victim, "planted", false),
        ("../outside/victim.txt", &victim, "planted", false),
        ("link/victim.txt", &victim, "planted", false),
        (".git/config", &config, fsmonitor, false),
        (".GIT/config", &config, fsmonitor, false),
        ("data", b"", "planted", true),
    ];
    let journal = scene.p.join(".git/nixcuda/journal");
    for (path, current, planted, is_dir) in cases {
        plant(&journal, "", path, current, planted, is_dir);
        let before = scene.snapshot();
        let out = check(&env, &scene.p);
        let err = stderr_of(&out);
        assert!(!out.status.success(), "{path}: {err}");
        assert!(err.contains("did not apply the journal"), "{path}: {err}");
        assert!(err.contains("rm -r"), "{path}: the fix is told: {err}");
        assert!(before == scene.snapshot(), "{path}: something changed");
        assert!(
            journal.join("journal.json").exists(),
            "{path}: left as it is"
        );
        std::fs::remove_dir_all(&journal).unwrap();
    }
}

/// A journal committed into the repository (or in an archive of it) is
/// not the project's: it is told about and left alone.
#[test]
fn a_journal_that_came_with_the_files_is_not_obeyed() {
    let env = Env::new();
    let scene = Scene::new(&env);
    let victim = std::fs::read(&scene.outside).unwrap();
    let notes = std::fs::read(scene.p.join("notes.md")).unwrap();
    let beside = scene.p.join(".nixcuda-journal");
    plant(&beside, "", "notes.md", &notes, "planted", false);
    let before = scene.snapshot();
    let out = check(&env, &scene.p);
    let err = stderr_of(&out);
    assert!(
        err.contains("holds a journal that cargo-nixcuda did not apply"),
        "{err}"
    );
    assert!(before == scene.snapshot(), "something changed");
    assert_eq!(std::fs::read(&scene.outside).unwrap(), victim);
}

/// A directory above the one named (a shared `/tmp`) is never searched
/// for a journal.
#[test]
fn a_journal_in_a_parent_directory_is_not_obeyed() {
    let env = Env::new();
    let shared = env.path("shared");
    std::fs::create_dir_all(shared.join("child")).unwrap();
    std::fs::write(shared.join("victim.txt"), "mine\n").unwrap();
    plant(
        &shared.join(".nixcuda-journal"),
        "",
        "victim.txt",
        b"mine\n",
        "planted",
        false,
    );
    let before = tree(&shared);
    let out = check(&env, &shared.join("child"));
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("no `.nixcuda.yaml`"),
        "{}",
        stderr_of(&out)
    );
    assert!(before == tree(&shared), "something changed");
    // Nor for a project below it.
    let p = updates_project(&env, "shared/p", &[]);
    let err = stderr_of(&check(&env, &p));
    assert!(
        err.contains("Outdated") && !err.contains("interrupted"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("victim.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn a_journal_others_can_write_or_another_user_owns_is_not_obeyed() {
    let env = Env::new();
    let scene = Scene::new(&env);
    let notes = std::fs::read(scene.p.join("notes.md")).unwrap();
    let journal = scene.p.join(".git/nixcuda/journal");
    let as_root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&scene.p).unwrap()) == 0;
    type Spoil = fn(&Path);
    let mut cases: Vec<(&str, Spoil)> = vec![
        ("world-writable directory", |j| {
            std::fs::set_permissions(j, std::fs::Permissions::from_mode(0o777)).unwrap()
        }),
        ("group-writable journal", |j| {
            std::fs::set_permissions(
                j.join("journal.json"),
                std::fs::Permissions::from_mode(0o664),
            )
            .unwrap()
        }),
    ];
    if as_root {
        cases.push(("journal of another user", |j| {
            std::os::unix::fs::chown(j.join("journal.json"), Some(4321), Some(4321)).unwrap()
        }));
    } else {
        eprintln!("not root: the journal of another user is not tried (chown needs root)");
    }
    for (what, spoil) in cases {
        plant(&journal, "", "notes.md", &notes, "planted", false);
        spoil(&journal);
        let before = scene.snapshot();
        let out = check(&env, &scene.p);
        let err = stderr_of(&out);
        assert!(err.contains("did not apply the journal"), "{what}: {err}");
        assert!(before == scene.snapshot(), "{what}: something changed");
        std::fs::remove_dir_all(&journal).unwrap();
    }
}

/// Killed in the middle of an update, then the user edits a file the run
/// had moved in: the next command rolls the rest back and keeps the edit,
/// naming the file and where its version from before the update went.
#[test]
fn an_edit_made_after_a_killed_update_is_kept_by_the_recovery() {
    let env = Env::new();
    let base = updates_project(&env, "p", &[]);
    let old = tree(&base);
    let mut tried = 0;
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
            break;
        }
        // A file the run changed already (moved in, not yet rolled back).
        let now = tree(&p);
        let Some(changed) = now
            .iter()
            .find(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
            .map(|(k, _)| k.clone())
        else {
            continue;
        };
        let mut edited = now[&changed].clone();
        edited.extend_from_slice(b"my edit after the crash\n");
        std::fs::write(p.join(&changed), &edited).unwrap();
        let out = check(&env, &p);
        let err = stderr_of(&out);
        assert_eq!(
            std::fs::read(p.join(&changed)).unwrap(),
            edited,
            "step {step}"
        );
        assert!(err.contains("left as they are"), "step {step}: {err}");
        assert!(err.contains(&changed), "step {step}: {err}");
        // Everything else is as before the update.
        let mut expected = old.clone();
        expected.insert(changed.clone(), edited.clone());
        crate::support::assert_same_tree(&tree(&p), &expected, &format!("step {step}"));
        let kept: Vec<_> = std::fs::read_dir(p.join(".git/nixcuda"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|e| e.to_string_lossy().contains("journal-kept-"))
            .collect();
        assert_eq!(kept.len(), 1, "step {step}");
        assert_eq!(
            std::fs::read(kept[0].join(&changed)).unwrap(),
            old[&changed],
            "step {step}: the original is kept"
        );
        tried += 1;
    }
    assert!(tried >= 2, "only {tried} kill points left a changed file");
}

/// A file the interrupted run removed and the user made again since is
/// not overwritten by the original: both are kept.
#[test]
fn a_file_made_again_after_a_killed_run_removed_it_is_kept() {
    let env = Env::new();
    let scene = Scene::new(&env);
    let journal = scene.p.join(".git/nixcuda/journal");
    std::fs::create_dir_all(journal.join("old")).unwrap();
    std::fs::create_dir_all(journal.join("new")).unwrap();
    std::fs::write(journal.join("old/0"), "the original\n").unwrap();
    std::fs::write(
        journal.join("journal.json"),
        r#"{"command": "killed", "project": "", "entries": [{"path": "removed.txt", "new": null, "old": "0", "created_dirs": []}]}"#,
    )
    .unwrap();
    std::fs::write(scene.p.join("removed.txt"), "made again\n").unwrap();
    let err = stderr_of(&check(&env, &scene.p));
    assert!(err.contains("left as they are: removed.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(scene.p.join("removed.txt")).unwrap(),
        "made again\n"
    );
    let kept: Vec<_> = std::fs::read_dir(scene.p.join(".git/nixcuda"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|e| e.to_string_lossy().contains("journal-kept-"))
        .collect();
    assert_eq!(
        std::fs::read_to_string(kept[0].join("removed.txt")).unwrap(),
        "the original\n"
    );
    assert!(!journal.exists());
}
