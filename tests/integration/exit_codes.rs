//! docs/reference.md's table of exit codes, row by row: outcomes are exit statuses
//! with their report and no `error:` line; usage errors exit 2, as clap's
//! own; errors while running exit 1.

use std::path::Path;

use crate::support::{Env, copy_dir, fixture, stderr_of, updates_project};

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

fn assert_no_error_line(out: &std::process::Output) {
    let err = stderr_of(out);
    assert!(
        !err.lines().any(|l| l.starts_with("error:")),
        "an outcome is not an error:\n{err}"
    );
}

fn set_record_version(project: &Path, from: &str, to: &str) {
    let record = project.join(".nixcuda.yaml");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(&format!("  version: {from}\n")), "{text}");
    let text = text.replace(
        &format!("  version: {from}\n"),
        &format!("  version: {to}\n"),
    );
    std::fs::write(&record, text).unwrap();
}

#[test]
fn check_fresh_0_outdated_1_newer_2_unreadable_2() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let check = |args: &[&str]| {
        env.cmd_with_scaffolds("updates", args)
            .current_dir(&project)
            .output()
            .unwrap()
    };

    let out = check(&["check"]);
    assert_eq!(code(&out), Some(1), "outdated: {}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Outdated"), "{}", stderr_of(&out));
    assert_no_error_line(&out);

    let out = check(&["check", "--json"]);
    assert_eq!(code(&out), Some(1));
    assert_eq!(stderr_of(&out), "", "nothing on stderr under --json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "outdated");

    set_record_version(&project, "1.0.0", "1.1.0");
    let out = check(&["check"]);
    assert_eq!(code(&out), Some(0), "fresh: {}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Fresh"), "{}", stderr_of(&out));

    set_record_version(&project, "1.1.0", "9.0.0");
    let out = check(&["check"]);
    assert_eq!(code(&out), Some(2), "newer: {}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("t@9.0.0 is newer than this tool knows") && err.contains("cargo install"),
        "{err}"
    );
    let out = check(&["check", "--json"]);
    assert_eq!(code(&out), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "newer");
    assert_eq!(report["up_to_date"], false);

    let out = env.cmd(&["check"]).output().unwrap();
    assert_eq!(code(&out), Some(2), "not a project: {}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no `.nixcuda.yaml`"));
}

#[test]
fn update_conflicts_exit_1_with_the_files_and_no_error_line() {
    let env = Env::new();
    let project = updates_project(&env, "p", &[]);
    let notes = project.join("notes.md");
    let text = std::fs::read_to_string(&notes).unwrap();
    std::fs::write(&notes, text.replace("line 8\n", "line 8 mine\n")).unwrap();
    crate::support::commit_all(&project, "mine");
    let out = env
        .cmd_with_scaffolds("updates", &["update", "--yes"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("1 file(s) have conflicts") && err.contains("  notes.md"),
        "{err}"
    );
    assert_no_error_line(&out);
}

#[test]
fn scaffold_check_problems_exit_1_with_no_error_summary() {
    let env = Env::new();
    let tpl = env.path("broken");
    copy_dir(&fixture("teams/basic"), &tpl);
    std::fs::write(tpl.join("template/notes.txt.hbs"), "{{missing_variable}}\n").unwrap();
    let out = env.cmd(&["scaffold", "check", "broken"]).output().unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("problem(s)"), "{err}");
    assert!(!err.contains("error: the scaffold check found"), "{err}");

    let out = env
        .cmd(&["scaffold", "check", "broken", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(1));
    assert_eq!(stderr_of(&out), "", "nothing on stderr under --json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report["problems"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors_exit_2_like_clap() {
    let env = Env::new();
    for (args, says) in [
        (&["new", "x", "--frobnicate"][..], "unexpected argument"),
        (&["new", "x", "--yes", "-d", "frameworks=jax"], "`jax`"),
        (
            &["new", "x", "--yes", "-d", "framework=torch"],
            "unknown question",
        ),
        (
            &["new", "x", "--yes", "--scaffold", "ml@garbage"],
            "not a scaffold version",
        ),
        (
            &["new", "x", "--yes", "--scaffold", "nope"],
            "unknown scaffold",
        ),
        (
            &["new", "x", "--yes", "--template", "gh:not/a/repo"],
            "gh:OWNER/REPO",
        ),
        (&["list", "ml@9.9.9"], "no version matching"),
    ] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(code(&out), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    assert!(!env.path("x").exists(), "nothing is created");
}

#[test]
fn errors_while_running_exit_1() {
    let env = Env::new();
    std::fs::create_dir(env.path("full")).unwrap();
    std::fs::write(env.path("full/file"), "x").unwrap();
    let out = env.cmd(&["new", "full", "--yes"]).output().unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("error: destination"));
    let out = env.cmd(&["update", "--yes"]).output().unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no `.nixcuda.yaml`"));
}

/// The machine `name` of `tests/fixtures/hosts`, as host.rs runs it.
fn on_host(env: &Env, name: &str, args: &[&str]) -> std::process::Output {
    let dir = fixture(&format!("hosts/{name}"));
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("cargo-nixcuda"))
        .env_clear()
        .arg("nixcuda")
        .args(args)
        .current_dir(env.work.path())
        .env("PATH", dir.join("bin"))
        .env("HOME", dir.join("home"))
        .env("USER", "ada")
        .env("NO_COLOR", "1")
        .env("CARGO", env!("CARGO"))
        .env("__CARGO_NIXCUDA_TEST_HOST_ROOT", dir.join("root"))
        .output()
        .unwrap()
}

#[test]
fn doctor_failures_and_a_differing_module_exit_1_as_reports() {
    let env = Env::new();
    let out = on_host(&env, "broken", &["doctor"]);
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("fail "));
    assert!(stderr_of(&out).contains("doctor check(s) failed"));
    assert_no_error_line(&out);
    let out = on_host(&env, "broken", &["doctor", "--json"]);
    assert_eq!(code(&out), Some(1));
    assert_eq!(stderr_of(&out), "", "nothing on stderr under --json");

    std::fs::write(env.path("host.nix"), "{ ... }: { }\n").unwrap();
    let out = on_host(&env, "desktop-nvidia", &["nixos", "--output", "host.nix"]);
    assert_eq!(code(&out), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--force"), "{}", stderr_of(&out));
    assert_no_error_line(&out);
    let out = on_host(
        &env,
        "desktop-nvidia",
        &["nixos", "--output", "host.nix", "--json"],
    );
    assert_eq!(code(&out), Some(1));
    assert_eq!(stderr_of(&out), "", "nothing on stderr under --json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["diff"]
            .as_str()
            .unwrap()
            .contains("hardware.graphics")
    );
}
