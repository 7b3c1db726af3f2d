//! Templates as a newcomer meets them: next steps from the manifest or the
//! files, `scaffold check` on validated strings, answers skipped by `when`,
//! `--answers-file`, and messages without Rust internals.

use std::path::{Path, PathBuf};

use crate::support::{Env, copy_dir, fixture, stderr_of};
use crate::ux_init::redacted;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A copy of the basic team template (README.md and flake.nix, no .envrc).
fn team_template(env: &Env, name: &str) -> PathBuf {
    let dir = env.path(name);
    copy_dir(&fixture("teams/basic"), &dir);
    dir
}

fn append_manifest(dir: &Path, text: &str) {
    let manifest = dir.join("scaffold.yaml");
    let before = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{before}{text}")).unwrap();
}

/// Adds questions after the fixture's own.
fn add_questions(dir: &Path, text: &str) {
    let manifest = dir.join("scaffold.yaml");
    let before = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        before.replace("format:", &format!("{text}format:")),
    )
    .unwrap();
}

fn record(dir: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(dir.join(".nixcuda.yaml")).unwrap()).unwrap()
}

#[test]
fn next_steps_of_a_template_without_envrc_name_only_what_it_has() {
    let env = Env::new();
    team_template(&env, "tpl");
    let out = env.ok(&["new", "proj", "--template", "tpl", "--yes", "--vcs", "none"]);
    let err = stderr_of(&out);
    let steps = &err[err.find("Next steps:").expect("next steps")..];
    assert!(steps.contains("cd proj"), "{steps}");
    assert!(steps.contains("nix develop"), "{steps}");
    assert!(!steps.contains("direnv"), "no .envrc: {steps}");
    assert!(!steps.contains("host module"), "{steps}");
    insta::assert_snapshot!("next_steps_team_default", steps);
}

#[test]
fn next_steps_come_from_the_manifest_with_the_answers() {
    let env = Env::new();
    let tpl = team_template(&env, "tpl");
    append_manifest(
        &tpl,
        "next_steps: |\n  cd {{path}}\n  make {{flavor}}   # builds the {{flavor}} flavour\n",
    );
    let out = env
        .cmd(&[
            "new",
            "my proj",
            "--template",
            "tpl",
            "--yes",
            "--vcs",
            "none",
        ])
        .args(["--name", "proj", "-d", "flavor=fancy"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("Next steps:\n  cd 'my proj'\n  make fancy   # builds the fancy flavour\n"),
        "{err}"
    );
}

#[test]
fn ml_next_steps_mention_doctor_check_and_update() {
    let env = Env::new();
    let out = env.ok(&["new", "demo", "--yes", "--vcs", "none"]);
    let err = stderr_of(&out);
    let steps = &err[err.find("Next steps:").expect("next steps")..];
    insta::assert_snapshot!("next_steps_ml", steps);
    for word in [
        "cd demo",
        "direnv allow",
        "cargo nixcuda doctor",
        "cargo nixcuda check",
        "cargo nixcuda update",
    ] {
        assert!(steps.contains(word), "{word}: {steps}");
    }
}

#[test]
fn scaffold_check_accepts_a_required_regex_validated_string() {
    let env = Env::new();
    let tpl = team_template(&env, "tpl");
    add_questions(
        &tpl,
        "  - key: ticket\n    type: string\n    prompt: Ticket\n    validate: { regex: '^[A-Z]{3}-[0-9]{4}$', message: a ticket like ABC-1234 }\n  - key: env\n    type: string\n    prompt: Environment\n    examples: [prod, staging]\n    validate: { regex: '^[a-z]+$', message: lower-case letters }\n",
    );
    write(&tpl.join("template/ticket.txt.hbs"), "{{ticket}} {{env}}\n");
    env.ok(&["scaffold", "check", "tpl"]);
}

#[test]
fn scaffold_check_prints_a_command_that_reproduces_the_failure() {
    let env = Env::new();
    let tpl = team_template(&env, "tpl");
    write(
        &tpl.join("template/notes.txt.hbs"),
        "one\n{{#if (eq flavor \"fancy\")}}{{missing_variable}}{{/if}}\n",
    );
    let out = env.cmd(&["scaffold", "check", "tpl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(!err.contains("Some("), "{err}");
    assert!(err.contains("unknown variable `missing_variable`"), "{err}");
    let line = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce with: "))
        .unwrap_or_else(|| panic!("a command: {err}"));
    let command = line
        .strip_prefix("cargo nixcuda ")
        .unwrap_or_else(|| panic!("{line}"));
    let bin = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' nixcuda {command} --vcs none", bin.display()))
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("unknown variable `missing_variable`"),
        "the pasted command fails the same way: {}",
        stderr_of(&out)
    );
}

#[test]
fn an_answer_to_a_skipped_question_warns_and_tensorflow_records_its_python() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "a", "--yes", "--vcs", "none"])
        .args(["-d", "rust_crate=none", "-d", "cuda=cudaPackages_13"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("cuda=cudaPackages_13 is ignored")
            && err.contains("(eq rust_crate \"cudarc\")"),
        "{err}"
    );

    env.ok(&[
        "new",
        "tf",
        "--yes",
        "--vcs",
        "none",
        "-d",
        "frameworks=tensorflow",
    ]);
    assert_eq!(record(&env.path("tf"))["answers"]["python"], "python313");
    let flake = std::fs::read_to_string(env.path("tf/flake.nix")).unwrap();
    assert!(
        flake.contains("python313"),
        "the recorded value is the one used"
    );
}

#[test]
fn answers_file_gives_answers_and_d_wins() {
    let env = Env::new();
    write(
        &env.path("answers.yaml"),
        "frameworks: none\nnotebook: false\nrust_crate: pyo3\n",
    );
    let out = env
        .cmd(&[
            "new",
            "p",
            "--yes",
            "--vcs",
            "none",
            "--answers-file",
            "answers.yaml",
        ])
        .args(["-d", "rust_crate=none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let answers = &record(&env.path("p"))["answers"];
    assert_eq!(answers["frameworks"], "none");
    assert_eq!(answers["notebook"], false);
    assert_eq!(answers["rust_crate"], "none", "-d wins over the file");
}

#[test]
fn answers_file_errors_name_the_file_and_the_key() {
    let env = Env::new();
    for (name, text) in [
        ("unknown", "framework: torch\n"),
        ("typed", "notebook: maybe\n"),
        ("nested", "frameworks: { a: b }\n"),
        ("not_a_mapping", "- frameworks\n"),
    ] {
        let file = format!("{name}.yaml");
        write(&env.path(&file), text);
        let out = env
            .cmd(&["new", "proj", "--yes", "--vcs", "none"])
            .args(["--answers-file", &file])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            stderr_of(&out).contains(&format!("answers file `{file}`")),
            "{name}: {}",
            stderr_of(&out)
        );
        assert!(!env.path("proj").exists(), "{name}: nothing written");
        insta::assert_snapshot!(format!("answers_file_{name}"), redacted(&env, &out));
    }
}

#[test]
fn answers_file_changes_answers_on_update() {
    let env = Env::new();
    env.ok(&["new", "p", "--yes"]);
    write(&env.path("change.yaml"), "justfile: false\n");
    let out = env.ok(&[
        "update",
        "--path",
        "p",
        "--answers-file",
        "change.yaml",
        "--yes",
    ]);
    assert!(!env.path("p/justfile").exists(), "{}", stderr_of(&out));
    assert_eq!(record(&env.path("p"))["answers"]["justfile"], false);

    write(&env.path("bad.yaml"), "no_such_question: 1\n");
    let out = env
        .cmd(&[
            "update",
            "--path",
            "p",
            "--answers-file",
            "bad.yaml",
            "--allow-dirty",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("bad.yaml") && err.contains("no_such_question"),
        "{err}"
    );
}

#[test]
fn handlebars_errors_name_the_variable() {
    let env = Env::new();
    let out = env
        .cmd_with_scaffolds("broken-template", &["new", "p", "--yes", "--scaffold", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = redacted(&env, &out).replace(env!("CARGO_MANIFEST_DIR"), "[REPO]");
    assert!(!text.contains("Some("), "{text}");
    insta::assert_snapshot!("render_unknown_variable", text);
}

#[test]
fn a_bad_answer_for_a_template_points_at_its_questions() {
    let env = Env::new();
    team_template(&env, "tpl");
    let out = env
        .cmd(&[
            "new",
            "p",
            "--template",
            "tpl",
            "--yes",
            "-d",
            "flavor=spicy",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("template_bad_answer", redacted(&env, &out));
    assert!(stderr_of(&out).contains("cargo nixcuda list --template tpl"));
}

#[test]
fn a_bad_ref_lists_the_tags_and_branches() {
    let env = Env::new();
    let dir = team_template(&env, "repo");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(&dir, &init).unwrap();
    let commit = crate::support::commit_all(&dir, "first");
    let object = repo.find_object(commit, None).unwrap();
    repo.tag_lightweight("v1.0.0", &object, false).unwrap();
    repo.branch("stable", &repo.find_commit(commit).unwrap(), false)
        .unwrap();
    let spec = format!("file://{}#nope", dir.display());
    let out = env
        .cmd(&["new", "p", "--template", &spec, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("`nope` is not a tag, branch or commit"),
        "{err}"
    );
    assert!(err.contains("tags (v1.0.0)"), "{err}");
    assert!(err.contains("branches (main, stable)"), "{err}");
    insta::assert_snapshot!("template_bad_ref", redacted(&env, &out));
}

#[test]
fn a_file_name_broken_by_an_answer_blames_the_answer() {
    let env = Env::new();
    let tpl = team_template(&env, "tpl");
    add_questions(
        &tpl,
        "  - key: dataset\n    type: string\n    prompt: Dataset\n    default: main\n",
    );
    write(&tpl.join("template/data/{{dataset}}/README.md"), "data\n");
    let out = env
        .cmd(&["new", "p", "--template", "tpl", "--yes", "-d", "dataset=.."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(!err.contains("bug in the scaffold"), "{err}");
    assert!(err.contains("made from your answers"), "{err}");
}

#[test]
fn offline_is_not_suggested_without_a_cached_copy() {
    let env = Env::new();
    let out = env
        .cmd(&[
            "new",
            "p",
            "--yes",
            "--template",
            "https://127.0.0.1:1/none.git",
        ])
        .env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("git could not"), "{err}");
    assert!(!err.contains("--offline"), "{err}");
}

#[test]
fn list_shows_what_defaults_mean_not_template_code() {
    let env = Env::new();
    let out = env.ok(&["list", "ml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("{{"),
        "template code shown as a default:\n{text}"
    );
    assert!(
        text.contains("default: python3  (from the answer to frameworks)"),
        "{text}"
    );
    assert!(
        text.contains(
            "default: <name>: GPU machine-learning project on NixOS  (from the project name)"
        ),
        "{text}"
    );
    assert!(text.contains("default: empty"), "{text}");
    let json = env.ok(&["list", "ml", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let questions = listed[0]["versions"][0]["questions"].as_array().unwrap();
    let python = questions.iter().find(|q| q["key"] == "python").unwrap();
    assert_eq!(python["recommended"], "python3", "{python}");
}
