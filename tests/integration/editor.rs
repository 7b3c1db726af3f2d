//! Editors and notebooks find the project's Nix Python: the VS Code files
//! and pyrightconfig.json per the `editor` answer, the dev shell's hook
//! that writes `.nixcuda/python` (run by bash, with the test virtualenv's
//! Python standing in for the Nix environment and a stub `nix-store`), and
//! `just kernel`'s recipe, whose kernel runs that Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Env, run, stderr_of, test_python};

fn generate(env: &Env, name: &str, defines: &[&str]) -> PathBuf {
    let mut args = vec!["new", name, "--yes", "--vcs", "none", "-q"];
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{defines:?}: {}", stderr_of(&out));
    env.path(name)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}\n{text}"))
}

#[test]
fn editor_files_follow_the_answer() {
    let env = Env::new();
    for (name, defines) in [
        ("vs-default", &[][..]),
        ("vs-plain", &["rust_crate=none", "frameworks=none"][..]),
    ] {
        let project = generate(&env, name, defines);
        let settings = json(&project.join(".vscode/settings.json"));
        assert_eq!(
            settings["python.defaultInterpreterPath"],
            "${workspaceFolder}/.nixcuda/python"
        );
        assert_eq!(settings["python.testing.pytestEnabled"], true);
        let rust = settings.get("rust-analyzer.linkedProjects").is_some();
        assert_eq!(rust, defines.is_empty(), "{name}: {settings:#}");
        let extensions = json(&project.join(".vscode/extensions.json"));
        let recommended: Vec<&str> = extensions["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for id in ["ms-python.python", "ms-toolsai.jupyter", "mkhl.direnv"] {
            assert!(recommended.contains(&id), "{name}: {recommended:?}");
        }
        let pyright = json(&project.join("pyrightconfig.json"));
        assert_eq!(
            (pyright["venvPath"].as_str(), pyright["venv"].as_str()),
            (Some(".nixcuda"), Some("python-env"))
        );
        let ignore = std::fs::read_to_string(project.join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "/.nixcuda/"), "{ignore}");
    }

    let project = generate(&env, "no-editor", &["editor=none"]);
    assert!(!project.join(".vscode").exists());
    // pyright's configuration serves every editor.
    json(&project.join("pyrightconfig.json"));
    let record = std::fs::read_to_string(project.join(".nixcuda.yaml")).unwrap();
    assert!(record.contains("editor: none"), "{record}");
}

/// The body of the Nix indented string that starts after `start` and ends
/// at the first line that is `end` (trimmed), as Nix reads it: the common
/// indentation removed and `''${` unescaped.
fn nix_indented_string(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no `{start}`")) + start.len();
    let lines: Vec<&str> = text[from..]
        .lines()
        .skip(1)
        .take_while(|l| l.trim() != end)
        .collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").replace("''${", "${"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The editor part of a shell hook, from `if [ -f FILE ]; then` to its
/// `fi`, with the environment `env` for `${python}`.
fn hook_block(text: &str, file: &str, env: &Path) -> String {
    let opener = format!("if [ -f {file} ]; then");
    let from = text
        .find(&format!("{opener}\n"))
        .unwrap_or_else(|| panic!("no editor hook `{opener}`"));
    let mut block: Vec<&str> = Vec::new();
    for line in text[from..].lines() {
        block.push(line.trim());
        if line.trim() == "fi" {
            break;
        }
    }
    block.join("\n").replace("${python}", env.to_str().unwrap())
}

/// The editor part of the flake's shell hook with the environment `env`.
fn editor_hook(project: &Path, env: &Path) -> String {
    let flake = std::fs::read_to_string(project.join("flake.nix")).unwrap();
    hook_block(&flake, "flake.nix", env)
}

#[test]
fn shell_nix_writes_the_same_interpreter_as_the_flake() {
    let env = Env::new();
    let project = generate(&env, "both-shells", &[]);
    let flake = editor_hook(&project, Path::new("/nix/store/env"));
    let shell = std::fs::read_to_string(project.join("shell.nix")).unwrap();
    let shell_hook = hook_block(&shell, "shell.nix", Path::new("/nix/store/env"));
    assert_eq!(shell_hook.replace("shell.nix", "flake.nix"), flake);
    assert!(
        flake.contains("bash nix/editor-python.sh /nix/store/env flake.nix"),
        "{flake}"
    );
}

const STUB_NIX_STORE: &str = r#"#!/bin/sh
# Stub nix-store: records its arguments, and makes the root link as
# `nix-store --realise PATH --add-root LINK` does.
echo "$*" >> "${0%/*}/calls"
[ "$1" = --realise ] && [ "$3" = --add-root ] || exit 1
ln -sfn "$2" "$4"
"#;

const START_KERNEL: &str = r#"
import sys, jupyter_client
km, kc = jupyter_client.manager.start_new_kernel(kernel_name=sys.argv[1], cwd=sys.argv[2])
out = []
def hook(msg):
    if msg["msg_type"] == "stream":
        out.append(msg["content"]["text"])
try:
    kc.execute_interactive(sys.argv[3], timeout=120, output_hook=hook)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print("".join(out))
"#;

#[test]
fn the_shell_hook_writes_the_interpreter_that_editors_and_the_kernel_run() {
    use std::os::unix::fs::PermissionsExt;
    let Some(python) = test_python() else { return };
    let env = Env::new();
    let project = generate(&env, "kernel-demo", &[]);
    // The Nix environment: its bin/python runs the test virtualenv's.
    let nix_env = env.path("python3-env");
    std::fs::create_dir_all(nix_env.join("bin")).unwrap();
    let script = format!("#!/bin/sh\nexec {} \"$@\"\n", python.display());
    std::fs::write(nix_env.join("bin/python"), script).unwrap();
    let bin = env.path("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("nix-store"), STUB_NIX_STORE).unwrap();
    for f in [nix_env.join("bin/python"), bin.join("nix-store")] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hook = editor_hook(&project, &nix_env);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let enter = || {
        let (ok, out) = run(Command::new("bash")
            .arg("-c")
            .arg(&hook)
            .current_dir(&project)
            .env("PATH", &path)
            .env("TF_USE_LEGACY_KERAS", "1"));
        assert!(ok, "{out}");
    };
    enter();
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert_eq!(
        calls.trim(),
        format!(
            "--realise {} --add-root {}/.nixcuda/python-env",
            nix_env.display(),
            project.display()
        )
    );
    // Entering again with the same environment asks Nix nothing.
    enter();
    assert_eq!(std::fs::read_to_string(bin.join("calls")).unwrap(), calls);

    let interpreter = project.join(".nixcuda/python");
    let (ok, out) = run(Command::new(&interpreter)
        .arg("-c")
        .arg("import os, sys, kernel_demo; print(kernel_demo.__file__, os.environ['TF_USE_LEGACY_KERAS'])")
        .current_dir(env.path("")));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("{}/src/kernel_demo/", project.display())) && out.contains(" 1"),
        "{out}"
    );

    // `just kernel`: its recipe, run by the (stand-in) Nix Python.
    let justfile = std::fs::read_to_string(project.join("justfile")).unwrap();
    let recipe = nix_indented_string(&justfile, "\nkernel:", "");
    assert!(recipe.starts_with("#!/usr/bin/env python3"), "{recipe}");
    let data = env.path("jupyter-data");
    let (ok, out) = run(Command::new(&python)
        .arg("-c")
        .arg(&recipe)
        .current_dir(&project)
        .env("JUPYTER_DATA_DIR", &data));
    assert!(ok, "{out}");
    let spec = json(&data.join("kernels/kernel-demo/kernel.json"));
    assert_eq!(spec["argv"][0], interpreter.to_str().unwrap());
    let (ok, out) = run(Command::new(&python)
        .arg("-c")
        .arg(START_KERNEL)
        .arg("kernel-demo")
        .arg(project.join("notebooks"))
        .arg("import sys, kernel_demo; print(sys.prefix); print(kernel_demo.__name__)")
        .env("JUPYTER_DATA_DIR", &data));
    assert!(ok, "{out}");
    let prefix = python.parent().unwrap().parent().unwrap();
    assert!(
        out.contains(prefix.to_str().unwrap()) && out.contains("kernel_demo"),
        "{out}"
    );
}

#[test]
fn update_from_1_3_0_brings_the_editor_files_and_keeps_edits() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "old", "--yes", "--scaffold", "ml@1.3.0", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("old");
    assert!(!project.join(".vscode").exists());
    // The user's edits to the files 1.4.0 changes.
    let edit = |rel: &str, from: &str, to: &str| {
        let path = project.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel}: {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(".gitignore", "# Jupyter\n", "# Jupyter\nscratch/\n");
    edit(
        "justfile",
        "# List the recipes\n",
        "# List the recipes (ours)\n",
    );
    edit(
        "flake.nix",
        "# Make the project's Python package importable (src/ layout).\n",
        "# Make the project's Python package importable (src/ layout).\n            export OUR_LAB=1\n",
    );
    crate::support::commit_all(&project, "tune");
    let out = env
        .cmd(&["update", "--yes", "--commit"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let read = |rel: &str| std::fs::read_to_string(project.join(rel)).unwrap();
    assert!(
        read(".gitignore").contains("scratch/\n") && read(".gitignore").contains("/.nixcuda/\n")
    );
    assert!(read("justfile").contains("(ours)") && read("justfile").contains("\nkernel:\n"));
    let flake = read("flake.nix");
    assert!(
        flake.contains("export OUR_LAB=1")
            && flake.contains("bash nix/editor-python.sh ${python} flake.nix"),
        "{flake}"
    );
    json(&project.join(".vscode/settings.json"));
    json(&project.join("pyrightconfig.json"));
    let record = read(".nixcuda.yaml");
    assert!(record.contains("editor: vscode"), "{record}");
}

/// The shell hooks as Nix evaluates them (the flake's CUDA and CPU shells
/// and shell.nix, against the stub nixpkgs), run by bash in the project:
/// each asks `nix-store` for a root to its Python environment and writes
/// `.nixcuda/python` running it.
#[test]
fn the_evaluated_shell_hooks_write_the_interpreter() {
    use std::os::unix::fs::PermissionsExt;
    let Some(check) = crate::support::nixcheck() else {
        return;
    };
    let stub = check.parent().unwrap().join("stub-nixpkgs");
    let env = Env::new();
    let out = env.cmd(&["new", "hooked", "--yes", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("hooked");
    let work = assert_fs::TempDir::new().unwrap();
    let nix = |program: &str| crate::ml::private_nix(program, work.path());
    let text = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{what}: {}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let mut hooks = Vec::new();
    for shell in ["default", "cpu"] {
        let hook = text(
            nix("nix")
                .args([
                    "eval",
                    "--raw",
                    "--no-write-lock-file",
                    "--override-input",
                    "nixpkgs",
                ])
                .arg(format!("path:{}", stub.display()))
                .arg(format!(
                    "git+file://{}#devShells.x86_64-linux.{shell}.shellHook",
                    project.display()
                )),
            shell,
        );
        hooks.push((format!("flake {shell}"), hook));
    }
    let expr = format!(
        "(import {}/shell.nix {{ pkgs = import {} {{ system = \"x86_64-linux\"; config = {{ allowUnfree = true; cudaSupport = true; }}; }}; }}).shellHook",
        project.display(),
        stub.display()
    );
    let hook = text(
        nix("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E"])
            .arg(&expr),
        "shell.nix",
    );
    hooks.push(("shell.nix".into(), serde_json::from_str(&hook).unwrap()));

    let bin = work.path().join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("nix-store"), STUB_NIX_STORE).unwrap();
    std::fs::set_permissions(
        bin.join("nix-store"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for (what, hook) in hooks {
        let _ = std::fs::remove_dir_all(project.join(".nixcuda"));
        let _ = std::fs::remove_file(bin.join("calls"));
        // direnv's stdlib runs it under `set -euo pipefail`.
        let (ok, out) = run(Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{hook}"))
            .current_dir(&project)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display())));
        assert!(ok, "{what}: {out}");
        let calls = std::fs::read_to_string(bin.join("calls"))
            .unwrap_or_else(|e| panic!("{what}: nix-store was not asked for a root ({e}): {out}"));
        let root = format!("--add-root {}/.nixcuda/python-env", project.display());
        assert!(
            calls.starts_with("--realise /nix/store/")
                && calls.contains("-env ")
                && calls.trim_end().ends_with(&root),
            "{what}: {calls}"
        );
        let script = std::fs::read_to_string(project.join(".nixcuda/python")).unwrap();
        assert!(
            script.starts_with("#!/bin/sh\n")
                && script.contains(&format!("export PYTHONPATH={}/src\n", project.display()))
                && script.contains(&format!(
                    "exec {}/.nixcuda/python-env/bin/python \"$@\"",
                    project.display()
                )),
            "{what}: {script}"
        );
    }
}
