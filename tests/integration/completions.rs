//! Shell completions complete options and values for both `cargo nixcuda
//! ...` and `cargo-nixcuda ...`, and leave cargo's own completion in charge
//! of every other cargo command; the man pages render.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, prerequisite, run};

/// The script for `shell` in a file (removed with the returned directory).
fn script(shell: &str) -> (tempfile::TempDir, PathBuf) {
    let out = Env::new().cmd(&["completions", shell]).output().unwrap();
    assert!(out.status.success(), "completions {shell} failed");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("completion.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap();
    (dir, path)
}

fn shell_available(shell: &str) -> bool {
    Command::new(shell)
        .args(["-c", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// COMPREPLY of bash completion function `function` for `words` (the last
/// word is the one being completed), after `setup` and sourcing `script`.
fn bash_complete(script: &Path, setup: &str, function: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"{setup}
source '{script}'
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMPREPLY=()
{function} "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = quoted.join(" "),
    );
    let (ok, text) = run(Command::new("bash").args(["--norc", "-c", &program]));
    assert!(ok, "bash failed: {text}");
    text.lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

fn has(replies: &[String], want: &[&str]) -> bool {
    want.iter().all(|w| replies.iter().any(|r| r == w))
}

#[test]
fn bash_completes_options_and_values_in_both_forms() {
    if !prerequisite("bash", shell_available("bash"), "install bash") {
        return;
    }
    let (_dir, script) = script("bash");
    for (function, words) in [
        (
            "_cargo_nixcuda_cargo",
            &["cargo", "nixcuda", "new", "x", "--"][..],
        ),
        (
            "_cargo_nixcuda_direct",
            &["cargo-nixcuda", "new", "x", "--"][..],
        ),
    ] {
        let replies = bash_complete(&script, "", function, words);
        assert!(
            has(
                &replies,
                &["--vcs", "--define", "--scaffold", "--yes", "--color"]
            ),
            "{words:?}: {replies:?}"
        );
        let mut value = words.to_vec();
        value.pop();
        value.extend(["--vcs", ""]);
        assert_eq!(
            bash_complete(&script, "", function, &value),
            ["git", "none"],
            "{value:?}"
        );
    }
    let subcommands = bash_complete(&script, "", "_cargo_nixcuda_direct", &["cargo-nixcuda", ""]);
    assert!(
        has(&subcommands, &["new", "update", "doctor"]),
        "{subcommands:?}"
    );
}

#[test]
fn bash_leaves_other_cargo_commands_to_cargos_completion() {
    if !prerequisite("bash", shell_available("bash"), "install bash") {
        return;
    }
    let (_dir, script) = script("bash");
    // Registered before the script is sourced.
    let earlier = "_cargo() { COMPREPLY=(build bench); }\ncomplete -F _cargo cargo";
    let replies = bash_complete(&script, earlier, "_cargo_nixcuda_cargo", &["cargo", "b"]);
    assert_eq!(replies, ["build", "bench"]);
    // Loaded lazily by bash-completion on first use.
    let lazy = "_completion_loader() { _cargo() { COMPREPLY=(lazy); }; complete -F _cargo cargo; return 124; }";
    let replies = bash_complete(&script, lazy, "_cargo_nixcuda_cargo", &["cargo", "b"]);
    assert_eq!(replies, ["lazy"]);
    let ours = bash_complete(
        &script,
        lazy,
        "_cargo_nixcuda_cargo",
        &["cargo", "nixcuda", "init", "--vcs", ""],
    );
    assert_eq!(ours, ["git", "none"]);
    // Sourcing twice does not make the wrapper call itself.
    let twice = format!("{earlier}\nsource '{}'", script.display());
    let replies = bash_complete(&script, &twice, "_cargo_nixcuda_cargo", &["cargo", "b"]);
    assert_eq!(replies, ["build", "bench"]);
}

#[test]
fn zsh_script_loads_and_registers_both_commands() {
    if !prerequisite(
        "zsh",
        shell_available("zsh"),
        "apt-get install zsh (.ci/setup)",
    ) {
        return;
    }
    let (_dir, script) = script("zsh");
    let program = format!(
        "autoload -U compinit && compinit -u -d \"$HOME/.zcompdump\" && source '{}' && print -r -- $_comps[cargo] $_comps[cargo-nixcuda]",
        script.display()
    );
    let home = tempfile::tempdir().unwrap();
    let (ok, text) = run(Command::new("zsh")
        .args(["-f", "-c", &program])
        .env("HOME", home.path()));
    assert!(ok, "zsh failed: {text}");
    assert_eq!(text.trim(), "_cargo_nixcuda_cargo _cargo-nixcuda", "{text}");
}

#[test]
fn fish_completes_options_and_values_in_both_forms() {
    if !prerequisite(
        "fish",
        shell_available("fish"),
        "apt-get install fish (.ci/setup)",
    ) {
        return;
    }
    let (_dir, script) = script("fish");
    let home = tempfile::tempdir().unwrap();
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let (ok, text) = run(Command::new("fish")
            .args(["--no-config", "-c", &program])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path()));
        assert!(ok, "fish failed: {text}");
        text.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    for prefix in ["cargo-nixcuda", "cargo nixcuda"] {
        let options = complete(&format!("{prefix} update --"));
        assert!(
            has(&options, &["--dry-run", "--allow-dirty", "--to"]),
            "{prefix}: {options:?}"
        );
        let values = complete(&format!("{prefix} nixos --prime "));
        assert!(
            has(&values, &["offload", "sync", "none"]),
            "{prefix}: {values:?}"
        );
    }
}

#[test]
fn man_pages_render_for_every_subcommand() {
    let env = Env::new();
    let out = env.cmd(&["man"]).output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") && page.contains(".TH cargo-nixcuda 1"),
        "{page}"
    );
    assert!(page.contains("\\-\\-color"), "the global options: {page}");
    let dir = env.path("man1");
    let out = env.cmd(&["man", "--dir", "man1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "cargo-nixcuda.1",
        "cargo-nixcuda-new.1",
        "cargo-nixcuda-scaffold-check.1",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect(name);
        assert!(text.contains(".SH SYNOPSIS"), "{name}: {text}");
    }
    let new = std::fs::read_to_string(dir.join("cargo-nixcuda-new.1")).unwrap();
    assert!(new.contains("\\-\\-vcs"), "{new}");
    let version = format!("\"cargo-nixcuda {}\"", env!("CARGO_PKG_VERSION"));
    assert!(new.contains(&version), "{new}");
}

#[test]
fn bash_offers_define_keys_values_and_scaffold_ids() {
    if !prerequisite("bash", shell_available("bash"), "install bash") {
        return;
    }
    let (_dir, script) = script("bash");
    let complete = |words: &[&str]| bash_complete(&script, "", "_cargo_nixcuda_direct", words);
    let keys = complete(&["cargo-nixcuda", "new", "x", "-d", "fr"]);
    assert!(
        has(&keys, &["frameworks=torch", "frameworks=both"]),
        "{keys:?}"
    );
    // bash splits `frameworks=t` at `=`: the value after it is completed.
    let values = complete(&["cargo-nixcuda", "new", "x", "-d", "frameworks", "=", "t"]);
    assert_eq!(values, ["torch", "tensorflow"]);
    let values = complete(&["cargo-nixcuda", "update", "--define", "notebook", "="]);
    assert_eq!(values, ["true", "false"]);
    let ids = complete(&["cargo-nixcuda", "init", "--scaffold", ""]);
    assert!(has(&ids, &["ml", "ml@1.0.0"]), "{ids:?}");
    // Not after -d: `=` is left to clap's own handling.
    let vcs = bash_complete(
        &script,
        "",
        "_cargo_nixcuda_cargo",
        &["cargo", "nixcuda", "new", "x", "--vcs", ""],
    );
    assert_eq!(vcs, ["git", "none"]);
}

#[test]
fn fish_offers_define_values_and_the_configs_favorites() {
    if !prerequisite(
        "fish",
        shell_available("fish"),
        "apt-get install fish (.ci/setup)",
    ) {
        return;
    }
    let env = Env::new();
    let config = env.home.path().join(".config/cargo-nixcuda");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.yaml"),
        "templates:\n  work: gh:acme/ml-template\n",
    )
    .unwrap();
    let out = env.cmd(&["completions", "fish"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("work\\t'gh:acme/ml-template'"),
        "the favorite is not in the script"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("completion.fish");
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let (ok, text) = run(Command::new("fish")
            .args(["--no-config", "-c", &program])
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path()));
        assert!(ok, "fish failed: {text}");
        text.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    for prefix in ["cargo-nixcuda", "cargo nixcuda"] {
        let values = complete(&format!("{prefix} new x -d frameworks="));
        assert!(
            has(&values, &["frameworks=torch", "frameworks=tensorflow"]),
            "{prefix}: {values:?}"
        );
        let favorites = complete(&format!("{prefix} new x --template "));
        assert!(has(&favorites, &["work"]), "{prefix}: {favorites:?}");
        let ids = complete(&format!("{prefix} init --scaffold "));
        assert!(has(&ids, &["ml", "ml@1.3.0"]), "{prefix}: {ids:?}");
    }
}
