//! Help, list, completions and usage errors.

use crate::support::{Env, stderr_of};
use assert_cmd::Command;

#[test]
fn help_names_the_commands_and_examples() {
    let env = Env::new();
    let out = env.cmd(&["--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn works_without_the_cargo_subcommand_word() {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("cargo-nixcuda"))
        .args(["list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ml (default scaffold)"));
}

#[test]
fn version_flag() {
    let out = Env::new().cmd(&["--version"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("cargo-nixcuda {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn list_shows_versions_and_questions() {
    let env = Env::new();
    let out = env.cmd(&["list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(newest, default)"), "{text}");
    assert!(text.contains("frameworks"), "{text}");

    let out = env.cmd(&["list", "ml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "frameworks (choice)",
        "default: torch",
        "- tensorflow",
        "notebook (bool)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn list_json_is_machine_readable() {
    let out = Env::new().cmd(&["list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ml = value
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ml")
        .expect("ml is listed");
    assert_eq!(ml["default"], true);
    let questions = ml["versions"][0]["questions"].as_array().unwrap();
    let fw = questions.iter().find(|q| q["key"] == "frameworks").unwrap();
    assert_eq!(fw["default"], "torch");
    assert_eq!(fw["choices"].as_array().unwrap().len(), 4);
}

#[test]
fn list_of_unknown_scaffold_fails_with_alternatives() {
    let out = Env::new().cmd(&["list", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown id is a usage error");
    let err = stderr_of(&out);
    assert!(
        err.contains("unknown scaffold `nope`") && err.contains("available scaffolds: ml"),
        "{err}"
    );
}

#[test]
fn completions_are_generated_for_the_binary_name() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Env::new().cmd(&["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("cargo-nixcuda") && text.contains("init"),
            "{shell}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        &["new"][..],
        &["new", "x", "-d", "novalue"],
        &["new", "x", "--vcs", "svn"],
        &["frobnicate"],
    ] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    assert!(
        env.path("x").symlink_metadata().is_err(),
        "nothing is created"
    );
}

#[test]
fn closed_or_full_output_never_panics() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    // `completions fish | head -c 10`: the reader goes away early.
    let mut child = Command::new(bin)
        .args(["completions", "fish"])
        .env("HOME", env.home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
    // A full disk is an error with a message, not a panic.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = Command::new(bin)
            .args(["list"])
            .env("HOME", env.home.path())
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr_of(&out).contains("could not write to standard output"),
            "{}",
            stderr_of(&out)
        );
    }
    // A closed stderr after a successful `new` is still a success.
    let out = Command::new("sh")
        .args(["-c", "\"$0\" new quiet --yes --vcs none 2>&-"])
        .arg(bin)
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .status()
        .unwrap();
    assert!(out.success(), "{out:?}");
    assert!(env.path("quiet/flake.nix").exists());
}

fn write_config(env: &Env, text: &str) {
    let dir = env.home.path().join(".config/cargo-nixcuda");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), text).unwrap();
}

#[test]
fn list_honours_the_configs_default_template() {
    let env = Env::new();
    let tpl = env.path("acme");
    crate::support::copy_dir(&crate::support::fixture("teams/basic"), &tpl);
    write_config(&env, &format!("default_template: {}\n", tpl.display()));
    let out = env.cmd(&["list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("template {}", tpl.display())),
        "{text}"
    );
    assert!(!text.contains("ml (default scaffold)"), "{text}");
    let out = env
        .cmd(&["list", "--template", "embedded"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ml (default scaffold)"), "{text}");
}

#[test]
fn update_takes_config_defaults_only_for_questions_new_in_the_target() {
    let env = Env::new();
    let project = crate::support::updates_project(&env, "p", &[]);
    // Written after `new`: the recorded `flavor: a` is the project's own.
    write_config(&env, "defaults:\n  flavor: b\n  color: red\n");
    let out = env
        .cmd_with_scaffolds("updates", &["update", "--yes"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let record = std::fs::read_to_string(project.join(".nixcuda.yaml")).unwrap();
    assert!(record.contains("color: red"), "{record}");
    assert!(record.contains("flavor: a"), "{record}");
}
