//! The questions on a real terminal (a pty): answers commit on Enter,
//! invalid text is asked again, Ctrl-C restores the cursor and exits 130
//! with nothing written; colour follows a terminal unless NO_COLOR.

use std::path::Path;
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::{Env, listing};

const CURSOR_SHOWN: &str = "\x1b[?25h";

/// `-d` answers for every `ml` question except `asked`, so exactly those are
/// asked on the terminal, in the scaffold's order.
fn answer_all_but(asked: &[&str]) -> Vec<String> {
    let out = Env::new().cmd(&["list", "ml", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let newest = &listed[0]["versions"][0]["questions"];
    let mut defines = Vec::new();
    for q in newest.as_array().expect("questions") {
        let key = q["key"].as_str().unwrap();
        if asked.contains(&key) {
            continue;
        }
        let value = match &q["default"] {
            serde_json::Value::String(s) if !s.contains("{{") => s.clone(),
            serde_json::Value::Bool(b) => b.to_string(),
            // A templated default: any valid answer does.
            _ => match q["choices"][0]["value"].as_str() {
                Some(choice) => choice.to_string(),
                None => "x".to_string(),
            },
        };
        defines.push("-d".to_string());
        defines.push(format!("{key}={value}"));
    }
    defines
}

/// The prompt text of an `ml` question.
fn prompt_of(key: &str) -> String {
    let out = Env::new().cmd(&["list", "ml", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let questions = listed[0]["versions"][0]["questions"].as_array().unwrap();
    let q = questions.iter().find(|q| q["key"] == key).expect(key);
    q["prompt"].as_str().unwrap().to_string()
}

/// `cargo-nixcuda nixcuda ARGS` on a pty in the env's work directory.
fn spawn(env: &Env, args: &[String], extra_env: &[(&str, &str)]) -> PtySession {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("cargo-nixcuda"));
    cmd.arg("nixcuda")
        .args(args)
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    spawn_command(cmd, Some(30_000)).expect("spawn on a pty")
}

fn new_asking(env: &Env, asked: &[&str]) -> PtySession {
    let mut args: Vec<String> = ["new", "demo", "--vcs", "none"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(answer_all_but(asked));
    spawn(env, &args, &[("NO_COLOR", "1")])
}

fn exit_code(session: &mut PtySession) -> i32 {
    match session.process_mut().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the tool did not exit normally: {other:?}"),
    }
}

fn recorded(project: &Path) -> String {
    std::fs::read_to_string(project.join(".nixcuda.yaml")).expect("the record")
}

#[test]
fn no_then_enter_answers_only_this_question() {
    let env = Env::new();
    let mut s = new_asking(&env, &["notebook", "justfile"]);
    s.exp_string(&prompt_of("notebook")).unwrap();
    s.send_line("no").unwrap();
    // The next question waits for its own answer instead of taking its
    // default from the keys typed for this one.
    s.exp_string(&prompt_of("justfile")).unwrap();
    s.send_line("n").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let record = recorded(&env.path("demo"));
    assert!(record.contains("notebook: false"), "{record}");
    assert!(record.contains("justfile: false"), "{record}");
}

#[test]
fn invalid_yes_no_text_is_asked_again() {
    let env = Env::new();
    let mut s = new_asking(&env, &["notebook", "justfile"]);
    s.exp_string(&prompt_of("notebook")).unwrap();
    s.send_line("maybe").unwrap();
    s.exp_string("please answer y or n").unwrap();
    s.send_line("yes").unwrap();
    s.exp_string(&prompt_of("justfile")).unwrap();
    // Enter alone takes the default (yes).
    s.send_line("").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let record = recorded(&env.path("demo"));
    assert!(record.contains("notebook: true"), "{record}");
    assert!(record.contains("justfile: true"), "{record}");
}

#[test]
fn ctrl_c_at_a_select_restores_the_cursor_and_writes_nothing() {
    let env = Env::new();
    let mut s = new_asking(&env, &["frameworks"]);
    s.exp_string(&prompt_of("frameworks")).unwrap();
    // The select list is drawn with the cursor hidden; Ctrl-C must show it.
    s.send_control('c').unwrap();
    let rest = s.exp_eof().unwrap();
    assert!(
        rest.contains(CURSOR_SHOWN),
        "no cursor-show escape after Ctrl-C: {rest:?}"
    );
    assert!(
        rest.contains("cancelled at the question `frameworks`"),
        "{rest:?}"
    );
    assert_eq!(exit_code(&mut s), 130);
    assert!(
        listing(env.work.path()).is_empty(),
        "left behind: {:?}",
        listing(env.work.path())
    );
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let env = Env::new();
    let args = vec!["new".to_string(), "json".to_string(), "--yes".to_string()];
    let mut s = spawn(&env, &args, &[]);
    let coloured = s.exp_eof().unwrap();
    assert!(
        coloured.contains("\x1b[31m"),
        "no red `error:` on a terminal: {coloured:?}"
    );
    let mut s = spawn(&env, &args, &[("NO_COLOR", "1")]);
    let plain = s.exp_eof().unwrap();
    assert!(plain.contains("error:"), "{plain:?}");
    assert!(
        !plain.contains("\x1b[3"),
        "colour despite NO_COLOR: {plain:?}"
    );
    let mut s = spawn(&env, &[args, vec!["--color=never".into()]].concat(), &[]);
    let never = s.exp_eof().unwrap();
    assert!(
        !never.contains("\x1b[3"),
        "colour despite --color never: {never:?}"
    );
}

/// stderr of `new json --yes` (always an error, so always an `error:` line).
fn error_stderr(env: &Env, flags: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = env.cmd(&[&["new", "json", "--yes"], flags].concat());
    cmd.env_remove("CARGO_TERM_COLOR");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const RED_ERROR: &str = "\x1b[31m\x1b[1merror:";

#[test]
fn colour_flag_beats_cargo_term_color_beats_no_color() {
    // Not a terminal, NO_COLOR=1 (the test default): plain.
    let env = Env::new();
    assert!(!error_stderr(&env, &[], &[]).contains('\x1b'));
    assert!(error_stderr(&env, &["--color", "always"], &[]).contains(RED_ERROR));
    assert!(error_stderr(&env, &[], &[("CARGO_TERM_COLOR", "always")]).contains(RED_ERROR));
    let flag_wins = error_stderr(&env, &["--color=never"], &[("CARGO_TERM_COLOR", "always")]);
    assert!(!flag_wins.contains('\x1b'), "{flag_wins:?}");
    let auto = error_stderr(&env, &[], &[("CARGO_TERM_COLOR", "auto")]);
    assert!(!auto.contains('\x1b'), "auto colours a pipe: {auto:?}");
}

#[test]
fn a_bad_cargo_term_color_is_named() {
    let env = Env::new();
    let stderr = error_stderr(&env, &[], &[("CARGO_TERM_COLOR", "sometimes")]);
    assert!(
        stderr.contains("warning: CARGO_TERM_COLOR is `sometimes`"),
        "{stderr}"
    );
}

#[test]
fn status_verbs_are_green_and_bold() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "demo", "--yes", "--vcs", "none", "--color", "always"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\x1b[32m\x1b[1m     Created\x1b[0m"),
        "{stderr:?}"
    );
}

#[test]
fn usage_errors_follow_the_colour_choice_too() {
    let env = Env::new();
    let run = |flags: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = env.cmd(&[&["new", "x", "--vcs", "svn"], flags].concat());
        cmd.env_remove("CARGO_TERM_COLOR");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["--color", "always"], &[]).contains('\x1b'));
    assert!(run(&[], &[("CARGO_TERM_COLOR", "always")]).contains('\x1b'));
    assert!(!run(&["--color=never"], &[("CARGO_TERM_COLOR", "always")]).contains('\x1b'));
    assert!(!run(&[], &[]).contains('\x1b'));
}
