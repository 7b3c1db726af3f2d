//! Update scenarios from copier's own suite (`tests/test_updatediff.py`,
//! `test_updatediff`), ported to this tool: a template repository moving
//! through tags, a user edit that every update keeps, an update with
//! nothing new that changes nothing, and an answer changed through update.

use std::path::Path;

use crate::support::{Env, commit_all, git, stderr_of};

const PIRATE_QUESTIONS: &str = "  - key: goal\n    type: string\n    prompt: Goal\n    default: to become a pirate\n  - key: author_name\n    type: string\n    prompt: Author\n    default: Guybrush\n";

/// A template repository at `repo` whose next tag holds exactly `files`
/// (template/ relative paths) and `questions` (YAML list items).
fn tag_files(repo: &Path, version: &str, questions: &str, files: &[(&str, &str)]) {
    let template = repo.join("template");
    if template.exists() {
        std::fs::remove_dir_all(&template).unwrap();
    }
    for (path, text) in files {
        let path = template.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(
        repo.join("scaffold.yaml"),
        format!("id: t\nversion: {version}\ndescription: scenario\nquestions:\n{questions}"),
    )
    .unwrap();
    commit_all(repo, version);
    git(repo, &["tag", &format!("v{version}")]);
}

fn release(repo: &Path, version: &str, readme: &str) {
    tag_files(
        repo,
        version,
        PIRATE_QUESTIONS,
        &[("README.txt.hbs", readme)],
    );
}

fn run(env: &Env, dir: &Path, args: &[&str]) -> String {
    let out = env
        .cmd(args)
        .env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    stderr_of(&out)
}

fn porcelain(dir: &Path) -> String {
    String::from_utf8(git(dir, &["status", "--porcelain"]).stdout).unwrap()
}

#[test]
fn copier_updatediff_edits_survive_a_chain_of_updates_and_an_answer_change() {
    let env = Env::new();
    let repo = env.path("repo");
    let v1 = "\nLet me introduce myself.\n\nMy name is {{author_name}}, and my project is {{goal}}.\n\nThanks for your attention.\n";
    release(&repo, "0.0.1", v1);
    let url = format!("file://{}", repo.display());
    run(
        &env,
        env.work.path(),
        &[
            "new",
            "target",
            "--yes",
            "--template",
            &format!("{url}@0.0.1"),
        ],
    );
    let target = env.path("target");
    let readme = target.join("README.txt");
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.contains("My name is Guybrush, and my project is to become a pirate."));
    // The user prefers grog.
    std::fs::write(
        &readme,
        text.replace("Thanks for your attention.", "Thanks for your grog."),
    )
    .unwrap();
    commit_all(&target, "I prefer grog");

    // 0.0.2 changes only the manifest (copier: migrations); 1.0.0 the text.
    release(&repo, "0.0.2", v1);
    run(
        &env,
        &target,
        &["update", "--yes", "--to", "0.0.2", "--commit"],
    );
    assert!(
        std::fs::read_to_string(target.join(".nixcuda.yaml"))
            .unwrap()
            .contains("version: 0.0.2")
    );
    let v2 = "\nLet me introduce myself.\n\nMy name is {{author_name}}.\n\nMy project is {{goal}}.\n\nThanks for your attention.\n";
    release(&repo, "1.0.0", v2);
    run(&env, &target, &["update", "--yes", "--commit"]);
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "\nLet me introduce myself.\n\nMy name is Guybrush.\n\nMy project is to become a pirate.\n\nThanks for your grog.\n"
    );
    assert_eq!(porcelain(&target), "", "everything committed");

    // Nothing newer: an update changes nothing.
    let err = run(&env, &target, &["update", "--yes"]);
    assert!(err.contains("Fresh"), "{err}");
    assert_eq!(porcelain(&target), "");

    // An answer changed through update re-renders with the edit kept.
    run(
        &env,
        &target,
        &[
            "update",
            "--yes",
            "-d",
            "author_name=Largo LaGrande",
            "-d",
            "goal=to steal a lot",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "\nLet me introduce myself.\n\nMy name is Largo LaGrande.\n\nMy project is to steal a lot.\n\nThanks for your grog.\n"
    );
}

const NO_QUESTIONS: &str =
    "  - key: unused\n    type: bool\n    prompt: Unused\n    default: false\n";

/// copier's `test_file_removed`: files and whole directories the template
/// drops go; what the user added beside them, and ignored files, stay.
#[test]
fn copier_file_removed_drops_template_files_and_keeps_the_users() {
    let env = Env::new();
    let repo = env.path("repo");
    tag_files(
        &repo,
        "1.0.0",
        NO_QUESTIONS,
        &[
            ("1.txt", "content 1"),
            ("dir 2/2.txt", "content 2"),
            ("dir 3/subdir 3/3.txt", "content 3"),
            ("dir 4/subdir 4/4.txt", "content 4"),
            ("dir 5/subdir 5/5.txt", "content 5"),
            ("toignore.txt", "should survive update"),
        ],
    );
    let url = format!("file://{}", repo.display());
    run(
        &env,
        env.work.path(),
        &["new", "dst", "--yes", "--template", &url],
    );
    let dst = env.path("dst");
    for (path, text) in [
        ("I.txt", "content I"),
        ("dir II/II.txt", "content II"),
        ("dir 3/subdir III/III.txt", "content III"),
        ("dir 4/subdir 4/IV.txt", "content IV"),
    ] {
        std::fs::create_dir_all(dst.join(path).parent().unwrap()).unwrap();
        std::fs::write(dst.join(path), text).unwrap();
    }
    std::fs::write(dst.join(".gitignore"), "toignore.txt\n").unwrap();
    std::fs::remove_file(dst.join("toignore.txt")).ok();
    commit_all(&dst, "user files");
    std::fs::write(dst.join("toignore.txt"), "should survive update").unwrap();
    tag_files(
        &repo,
        "2.0.0",
        NO_QUESTIONS,
        &[
            ("6.txt", "content 6"),
            ("toignore.txt", "should survive update"),
        ],
    );
    run(&env, &dst, &["update", "--yes"]);
    for kept in [
        "I.txt",
        "dir II/II.txt",
        "dir 3/subdir III/III.txt",
        "dir 4/subdir 4/IV.txt",
        "6.txt",
        "toignore.txt",
    ] {
        assert!(dst.join(kept).is_file(), "{kept} must still exist");
    }
    for gone in [
        "1.txt",
        "dir 2",
        "dir 3/subdir 3",
        "dir 4/subdir 4/4.txt",
        "dir 5",
    ] {
        assert!(!dst.join(gone).exists(), "{gone} must be gone");
    }
}

/// copier's `test_update_inline_changed_answers_and_questions`: a new
/// question whose text lands where the user wrote gives conflict markers.
#[test]
fn copier_changed_answers_and_new_questions_conflict_inline() {
    let env = Env::new();
    let repo = env.path("repo");
    let b = "  - key: b\n    type: bool\n    prompt: b\n    default: false\n";
    tag_files(
        &repo,
        "1.0.0",
        b,
        &[("content.hbs", "aaa\n{{#if b}}\nbbb\n{{/if}}\nzzz\n")],
    );
    let url = format!("file://{}", repo.display());
    run(
        &env,
        env.work.path(),
        &[
            "new",
            "dst",
            "--yes",
            "-d",
            "b=true",
            "--template",
            &format!("{url}@1.0.0"),
        ],
    );
    let dst = env.path("dst");
    assert_eq!(
        std::fs::read_to_string(dst.join("content")).unwrap(),
        "aaa\nbbb\nzzz\n"
    );
    std::fs::write(dst.join("content"), "aaa\nbbb\njjj\nzzz\n").unwrap();
    commit_all(&dst, "evolve");
    let c = "  - key: c\n    type: bool\n    prompt: c\n    default: false\n";
    tag_files(
        &repo,
        "2.0.0",
        &format!("{b}{c}"),
        &[(
            "content.hbs",
            "aaa\n{{#if b}}\nbbb\n{{/if}}\n{{#if c}}\nccc\n{{/if}}\nzzz\n",
        )],
    );
    let out = env
        .cmd(&["update", "--yes", "-d", "c=true"])
        .env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .current_dir(&dst)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(dst.join("content")).unwrap(),
        "aaa\nbbb\n<<<<<<< ours\njjj\n=======\nccc\n>>>>>>> t@2.0.0\nzzz\n"
    );
}

/// copier's `test_update_in_repo_subdirectory`: a project in a
/// sub-directory of a repository updates there, conflicts marked inline.
#[test]
fn copier_update_in_a_repository_subdirectory() {
    let env = Env::new();
    let repo = env.path("repo");
    tag_files(&repo, "1.0.0", NO_QUESTIONS, &[("version.txt", "v1\n")]);
    let dst = env.path("dst");
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("README"), "monorepo\n").unwrap();
    commit_all(&dst, "start");
    let url = format!("file://{}", repo.display());
    run(&env, &dst, &["new", "subdir", "--yes", "--template", &url]);
    commit_all(&dst, "add subdir");
    std::fs::write(dst.join("subdir/version.txt"), "v1 edited\n").unwrap();
    commit_all(&dst, "edit");
    tag_files(&repo, "2.0.0", NO_QUESTIONS, &[("version.txt", "v2\n")]);
    let out = env
        .cmd(&["update", "--yes"])
        .env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .current_dir(dst.join("subdir"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(dst.join("subdir/version.txt")).unwrap(),
        "<<<<<<< ours\nv1 edited\n=======\nv2\n>>>>>>> t@2.0.0\n"
    );
    assert!(
        std::fs::read_to_string(dst.join("subdir/.nixcuda.yaml"))
            .unwrap()
            .contains("version: 2.0.0")
    );
}

/// copier's `test_update_needs_more_context`: near-identical blocks are
/// where patch-based updates apply a change at the wrong place; a
/// three-way merge puts both edits where they belong.
#[test]
fn copier_similar_blocks_merge_without_conflict() {
    let env = Env::new();
    let repo = env.path("repo");
    let same = "    print(\"This line is equal to the next one.\")\n";
    let block = |name: &str, extra: &str| {
        format!(
            "def {name}():\n{same}{same}{extra}{same}{same}    print(\"Previous line lied.\")\n"
        )
    };
    let v1 = format!(
        "{}\n{}",
        block("function_one", ""),
        block("function_two", "")
    );
    tag_files(&repo, "1.0.0", NO_QUESTIONS, &[("sample.py", &v1)]);
    let url = format!("file://{}", repo.display());
    run(
        &env,
        env.work.path(),
        &["new", "dst", "--yes", "--template", &url],
    );
    let dst = env.path("dst");
    let mine = format!(
        "{}\n{}",
        block("function_one", ""),
        block("function_two", "    print(\"This line is new.\")\n")
    );
    std::fs::write(dst.join("sample.py"), &mine).unwrap();
    commit_all(&dst, "mine");
    let v2 = format!(
        "{}\n{}\n{}",
        block("function_zero", ""),
        block("function_one", ""),
        block("function_two", "")
    );
    tag_files(&repo, "2.0.0", NO_QUESTIONS, &[("sample.py", &v2)]);
    run(&env, &dst, &["update", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(dst.join("sample.py")).unwrap(),
        format!(
            "{}\n{}\n{}",
            block("function_zero", ""),
            block("function_one", ""),
            block("function_two", "    print(\"This line is new.\")\n")
        )
    );
}
