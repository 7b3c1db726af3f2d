//! `.nixcuda.yaml` comes with the project, also with one cloned from a
//! stranger: its source obeys the same transport rules as `--template`, its
//! answers and name are checked like `new`'s, and its size is bounded.

use std::path::Path;
use std::time::Duration;

use crate::support::{Env, commit_all, stderr_of, updates_project};

fn edit_record(p: &Path, from: &str, to: &str) {
    let path = p.join(".nixcuda.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    commit_all(p, "tampered record");
}

fn run(env: &Env, p: &Path, args: &[&str]) -> std::process::Output {
    env.cmd_with_scaffolds("updates", args)
        .current_dir(p)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap()
}

#[test]
fn recorded_sources_cannot_use_other_git_transports() {
    let env = Env::new();
    // Even where the user's git would allow `ext::`.
    env.git_config("[user]\n\tname = A\n\temail = a@e.x\n[protocol \"ext\"]\n\tallow = always\n");
    let p = updates_project(&env, "p", &[]);
    let marker = env.path("pwned");
    let ext = format!("git+ext::sh -c touch\\ {}", marker.display());
    for (source, _) in [
        (ext.as_str(), "ext"),
        ("git+fd::7", "fd"),
        ("git+ftp://example.org/t.git", "ftp"),
        ("git+-uhttps://example.org/t.git", "option"),
    ] {
        edit_record(&p, "source: embedded", &format!("source: '{source}'"));
        for command in [&["check"][..], &["update", "--yes"][..]] {
            let out = run(&env, &p, command);
            // `check` cannot say: 2; `update` failed: 1 (README, exit codes).
            let code = if command[0] == "check" { 2 } else { 1 };
            assert_eq!(
                out.status.code(),
                Some(code),
                "{source}: {}",
                stderr_of(&out)
            );
            let err = stderr_of(&out);
            assert!(err.contains("scaffold source"), "{source}: {err}");
            assert!(
                err.contains("no `ext::` or other transports")
                    || err.contains("may not start with `-`"),
                "{source}: {err}"
            );
        }
        edit_record(&p, &format!("source: '{source}'"), "source: embedded");
    }
    assert!(!marker.exists(), "no command ran");
}

#[test]
fn a_recorded_project_name_is_checked_like_new_checks_it() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    edit_record(&p, "project_name: p", "project_name: \"p$(id >&2)\"");
    let before = crate::support::tree(&p);
    let out = run(&env, &p, &["update", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("project_name `p$(id >&2)`"), "{err}");
    assert!(err.contains("is not allowed"), "{err}");
    crate::support::assert_same_tree(&crate::support::tree(&p), &before, "nothing written");
}

#[test]
fn recorded_answers_with_control_characters_are_refused_naming_the_key() {
    let env = Env::new();
    let out = env
        .cmd(&[
            "new",
            "demo",
            "--yes",
            "--vcs",
            "none",
            "--scaffold",
            "ml@1.0.0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let p = env.path("demo");
    let record = p.join(".nixcuda.yaml");
    let text = std::fs::read_to_string(&record).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("description:"))
        .unwrap();
    std::fs::write(
        &record,
        text.replace(line, "  description: \"a\\0b\\e[31m\""),
    )
    .unwrap();
    commit_all(&p, "tampered");
    let out = env
        .cmd(&["update", "--yes"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("records `description:"), "{err}");
    assert!(err.contains("control characters are not allowed"), "{err}");
    // A `-d` answer with one is refused too, and so is it from `new`.
    let out = env
        .cmd(&[
            "new",
            "other",
            "--yes",
            "--vcs",
            "none",
            "-d",
            "description=a\u{1b}[31mred",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad `-d` value is a usage error"
    );
    assert!(
        stderr_of(&out).contains("control characters"),
        "{}",
        stderr_of(&out)
    );
    assert!(!env.path("other").exists());
}

#[test]
fn a_recorded_choice_the_new_version_dropped_is_asked_again_with_a_warning() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    edit_record(&p, "flavor: a", "flavor: retired");
    let out = run(&env, &p, &["update", "--yes"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("flavor = \"retired\" is no longer a choice"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn huge_or_deeply_nested_records_are_refused_at_once() {
    let env = Env::new();
    let p = updates_project(&env, "p", &[]);
    let record = p.join(".nixcuda.yaml");
    let original = std::fs::read_to_string(&record).unwrap();
    for (text, expected) in [
        (
            format!("{original}extra: {}\n", "[".repeat(5000)),
            "nested more than 32 levels",
        ),
        (
            format!("{original}# {}\n", "x".repeat(100_000)),
            "a record is at most",
        ),
    ] {
        std::fs::write(&record, &text).unwrap();
        let started = std::time::Instant::now();
        let out = run(&env, &p, &["check"]);
        assert_eq!(out.status.code(), Some(2), "`check` cannot say");
        assert!(stderr_of(&out).contains(expected), "{}", stderr_of(&out));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn long_refused_values_are_cut_in_messages() {
    let env = Env::new();
    let long = format!("description={}\u{7}", "y".repeat(100_000));
    let out = env
        .cmd(&["new", "demo", "--yes", "--vcs", "none", "-d", &long])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad `-d` value is a usage error"
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("(100001 characters)"),
        "{}",
        &err[..err.len().min(400)]
    );
    assert!(err.len() < 2000, "{} bytes of stderr", err.len());
}

#[test]
fn answers_that_would_overflow_the_record_are_refused_before_writing() {
    let env = Env::new();
    // A free-text question of a team template, with no length rule.
    let long = format!("color={}", "y".repeat(70_000));
    let out = env
        .cmd_with_scaffolds(
            "updates",
            &["new", "demo", "--yes", "--scaffold", "t@1.1.0", "-d", &long],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("`color`") && err.contains(".nixcuda.yaml"),
        "{}",
        &err[..err.len().min(600)]
    );
    assert!(!env.path("demo").exists(), "nothing is written");

    // `update` refuses such an answer too, and the project stays as it was.
    let p = updates_project(&env, "p", &[]);
    let before = crate::support::tree(&p);
    let out = run(&env, &p, &["update", "--yes", "-d", &long]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(".nixcuda.yaml"));
    assert_eq!(crate::support::tree(&p), before);
}
