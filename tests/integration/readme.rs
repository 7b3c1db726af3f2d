//! The guide and the docs pages: README's quick start comes first, their
//! links lead somewhere, and their ```console blocks are real: each `$ `
//! line runs (in a fresh
//! directory, `cargo nixcuda` being this binary) and what it prints must be
//! the lines under it. `...` stands for any lines; `? ` lines are the
//! questions a terminal shows (without one the defaults are taken, as Enter
//! does there); commit ids are compared as `[COMMIT]`. A block preceded by
//! `<!-- README test: machine NAME -->` runs on the fake machine
//! tests/fixtures/hosts/NAME; `sudo` is dropped and `/etc/nixos/` is a
//! directory of the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, fixture};

/// The pages whose console blocks run, with their path.
const PAGES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../README.md")),
    ("docs/reference.md", include_str!("../../docs/reference.md")),
    ("docs/internals.md", include_str!("../../docs/internals.md")),
];

struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
}

struct Block {
    page: &'static str,
    machine: Option<String>,
    steps: Vec<Step>,
}

fn console_blocks(page: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut previous = "";
    let mut lines = text.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if line.trim() != "```console" {
            if !line.trim().is_empty() {
                previous = line;
            }
            continue;
        }
        let machine = previous
            .trim()
            .strip_prefix("<!-- README test: machine ")
            .and_then(|rest| rest.strip_suffix(" -->"))
            .map(str::to_string);
        let mut steps: Vec<Step> = Vec::new();
        for (n, line) in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            if let Some(command) = line.strip_prefix("$ ") {
                steps.push(Step {
                    line: n + 1,
                    command: command.to_string(),
                    expected: Vec::new(),
                });
            } else if let Some(step) = steps.last_mut() {
                step.expected.push(line.to_string());
            } else {
                panic!("{page} line {}: output before any `$ ` command", n + 1);
            }
        }
        blocks.push(Block {
            page: "",
            machine,
            steps,
        });
        previous = "";
    }
    blocks
}

/// Commit ids as `[COMMIT]`, no trailing blanks, no trailing empty lines.
fn normalize(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let commit = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").unwrap();
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|l| commit.replace_all(l.trim_end(), "[COMMIT]").into_owned())
        .collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// Whether `actual` matches `expected`, where a `...` line matches any lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual.first() == Some(first) && matches(rest, &actual[1..]),
    }
}

/// A directory with the few tools README's host examples pipe into.
fn tools_dir(root: &Path) -> PathBuf {
    let dir = root.join("tools");
    if dir.exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["grep", "tee", "head"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is needed by README's examples"));
        std::os::unix::fs::symlink(found, dir.join(tool)).unwrap();
    }
    dir
}

fn shell(env: &Env, block: &Block, step: &Step) -> Command {
    let binary = assert_cmd::cargo::cargo_bin!("cargo-nixcuda");
    let etc_nixos = env.path("etc/nixos");
    std::fs::create_dir_all(&etc_nixos).unwrap();
    let command = step
        .command
        .replace(
            "cargo nixcuda ",
            &format!("'{}' nixcuda ", binary.display()),
        )
        .replace("sudo ", "")
        .replace("/etc/nixos/", &format!("{}/", etc_nixos.display()));
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &command]).current_dir(env.work.path());
    match &block.machine {
        Some(machine) => {
            let host = fixture(&format!("hosts/{machine}"));
            let tools = tools_dir(env.home.path());
            cmd.env_clear()
                .env(
                    "PATH",
                    format!("{}:{}", host.join("bin").display(), tools.display()),
                )
                .env("HOME", host.join("home"))
                .env("USER", "ada")
                .env("CARGO", env!("CARGO"))
                .env("__CARGO_NIXCUDA_TEST_HOST_ROOT", host.join("root"));
        }
        None => {
            cmd.env("HOME", env.home.path())
                .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env_remove("__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR")
                .env_remove("CARGO_NIXCUDA_CONFIG");
        }
    }
    cmd.env("NO_COLOR", "1").env_remove("CARGO_TERM_COLOR");
    cmd
}

#[test]
fn console_examples_are_what_the_tool_prints() {
    let mut blocks = Vec::new();
    for (page, text) in PAGES {
        for mut block in console_blocks(page, text) {
            block.page = page;
            blocks.push(block);
        }
    }
    assert!(
        blocks.iter().map(|b| b.steps.len()).sum::<usize>() >= 4,
        "README lost its console examples"
    );
    let mut failures = Vec::new();
    for block in &blocks {
        let env = Env::new();
        for step in &block.steps {
            let out = shell(&env, block, step).output().unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let actual = normalize(printed.lines().map(str::to_string));
            let expected = normalize(
                step.expected
                    .iter()
                    .filter(|l| !l.starts_with("? "))
                    .cloned(),
            );
            if !matches(&expected, &actual) {
                failures.push(format!(
                    "{} line {}: `$ {}`\n--- it says:\n{}\n--- the tool prints:\n{}",
                    block.page,
                    step.line,
                    step.command,
                    expected.join("\n"),
                    actual.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_matcher_can_fail() {
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    assert!(matches(&lines("a\n...\nd"), &lines("a\nb\nc\nd")));
    assert!(matches(&lines("a\n...\nb"), &lines("a\nb")));
    assert!(!matches(&lines("a\nd"), &lines("a\nb\nd")));
    assert!(!matches(&lines("a\n...\ne"), &lines("a\nb\nd")));
    assert_eq!(
        normalize(lines("Committed 3f9c2a1 on main  \n\n")),
        ["Committed [COMMIT] on main"]
    );
}

#[test]
fn the_quick_start_comes_first() {
    let readme = PAGES[0].1;
    let first = readme
        .lines()
        .position(|l| l.starts_with("## "))
        .expect("a section");
    let lines: Vec<&str> = readme.lines().collect();
    assert_eq!(lines[first], "## Quick start", "the first section");
    let start: String = lines[first..30.min(lines.len())].join("\n");
    for step in [
        "cargo install --path . --locked",
        "cargo nixcuda doctor",
        "cargo nixcuda new ",
        "direnv allow",
        "cargo nixcuda update",
    ] {
        assert!(
            start.contains(step),
            "`{step}` is not in README's first 30 lines"
        );
    }
}

/// GitHub's anchor of a heading.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn links_between_the_pages_lead_somewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut broken = Vec::new();
    for (page, text) in PAGES {
        let dir = root.join(page).parent().unwrap().to_path_buf();
        for found in link.captures_iter(text) {
            let target = &found[1];
            if target.contains("://") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let path = if file.is_empty() {
                root.join(page)
            } else {
                dir.join(file)
            };
            if !path.exists() {
                broken.push(format!("{page}: {target} (no {})", path.display()));
                continue;
            }
            if fragment.is_empty() || path.is_dir() {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let headings: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(anchor)
                .collect();
            if !headings.iter().any(|h| h == fragment) {
                broken.push(format!("{page}: {target} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert_eq!(
        anchor("## The host: doctor and nixos"),
        "the-host-doctor-and-nixos"
    );
}
