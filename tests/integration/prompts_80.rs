//! The questions at 80 columns, as a newcomer's terminal shows them: the
//! output of `new` on a pty is played through a terminal emulator (vt100),
//! and the screen left behind must hold each answered question once, no
//! half-cleared prompt, list or refusal, and no line wider than the
//! terminal. "Use the recommended setup?" comes first: yes asks nothing
//! else, no asks every question; `-` leaves the author empty.

use std::process::Command;
use std::time::Duration;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::Env;

const COLUMNS: u16 = 80;
const ROWS: u16 = 200;

/// `cargo-nixcuda nixcuda ARGS` on a pty `COLUMNS` wide.
fn spawn(env: &Env, args: &[&str]) -> PtySession {
    let binary = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "stty cols {COLUMNS} rows {ROWS} && exec \"$0\" nixcuda \"$@\""
        ))
        .arg(binary)
        .args(args)
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR");
    spawn_command(cmd, Some(30_000)).expect("spawn on a pty")
}

/// Everything the tool draws, kept as it is read (what is waited for is
/// ASCII: rexpect reads bytes, not UTF-8).
struct Screen {
    session: PtySession,
    drawn: String,
}

impl Screen {
    fn wait_for(&mut self, text: &str) {
        let before = self
            .session
            .exp_string(text)
            .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}\n{}", self.drawn));
        self.drawn.push_str(&before);
        self.drawn.push_str(text);
        // The keys go in once the question reads them (raw mode), not
        // echoed by the terminal before it does.
        std::thread::sleep(Duration::from_millis(150));
    }

    fn answer(&mut self, text: &str) {
        self.session.send_line(text).unwrap();
    }

    /// Waits for the exit; the screen's rows and the exit code.
    fn finish(mut self) -> (Vec<String>, i32) {
        let rest = self.session.exp_eof().unwrap();
        self.drawn.push_str(&rest);
        let code = match self.session.process_mut().wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("the tool did not exit normally: {other:?}"),
        };
        let mut parser = vt100::Parser::new(ROWS, COLUMNS, 0);
        // rexpect reads each byte as a char.
        let bytes: Vec<u8> = self.drawn.chars().map(|c| c as u32 as u8).collect();
        parser.process(&bytes);
        let rows = parser
            .screen()
            .rows(0, COLUMNS)
            .map(|r| r.trim_end().to_string())
            .collect();
        (rows, code)
    }
}

/// The `ml` questions of `list ml --json` as (key, prompt).
fn questions() -> Vec<(String, String)> {
    let out = Env::new().cmd(&["list", "ml", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed[0]["versions"][0]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["key"].as_str().unwrap().to_string(),
                q["prompt"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(rows: &[String], prefix: &str) -> usize {
    rows.iter().filter(|r| r.starts_with(prefix)).count()
}

#[test]
fn every_question_at_80_columns_leaves_one_line_each() {
    let env = Env::new();
    // A git identity: the author's default, which `-` leaves out.
    std::fs::write(
        env.home.path().join(".gitconfig"),
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.org\n",
    )
    .unwrap();
    let mut screen = Screen {
        session: spawn(&env, &["new", "ipsa-prediction", "--vcs", "none"]),
        drawn: String::new(),
    };
    screen.wait_for("Use the recommended setup?");
    screen.answer("n");
    let asked = questions();
    for (key, prompt) in &asked {
        screen.wait_for(prompt);
        match key.as_str() {
            "author" => screen.answer("-"),
            "cuda_capabilities" => {
                // Refused with a message longer than a row, then Enter
                // takes the default.
                screen.answer("six");
                screen.wait_for("comma-separated");
                screen.answer("");
            }
            "justfile" => screen.answer("n"),
            _ => screen.answer(""),
        }
    }
    let (rows, code) = screen.finish();
    let shown = rows.join("\n");
    assert_eq!(code, 0, "{shown}");
    assert_eq!(count(&rows, "✔ Use the recommended setup?"), 1, "{shown}");
    for (key, prompt) in &asked {
        assert_eq!(
            count(&rows, &format!("✔ {prompt}")),
            1,
            "`{key}` is not on the screen exactly once:\n{shown}"
        );
    }
    for left in ["? ", "✘", "❯", "  nixos-unstable (", "  python312 ("] {
        assert_eq!(count(&rows, left), 0, "{left:?} left behind:\n{shown}");
    }
    let record = std::fs::read_to_string(env.path("ipsa-prediction/.nixcuda.yaml")).unwrap();
    assert!(record.contains("author: ''"), "{record}");
    assert!(record.contains("justfile: false"), "{record}");
    assert!(record.contains("cuda_capabilities: ''"), "{record}");
}

#[test]
fn the_recommended_setup_is_one_question() {
    let env = Env::new();
    let mut screen = Screen {
        session: spawn(&env, &["new", "ipsa-prediction", "--vcs", "none"]),
        drawn: String::new(),
    };
    screen.wait_for("Use the recommended setup?");
    screen.answer("");
    let (rows, code) = screen.finish();
    let shown = rows.join("\n");
    assert_eq!(code, 0, "{shown}");
    assert_eq!(count(&rows, "✔ "), 1, "{shown}");
    assert!(shown.contains("Created ml@"), "{shown}");
    let record = std::fs::read_to_string(env.path("ipsa-prediction/.nixcuda.yaml")).unwrap();
    assert!(record.contains("frameworks: torch"), "{record}");
    assert!(record.contains("justfile: true"), "{record}");
}
