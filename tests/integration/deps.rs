//! The project's Python packages: one list in pyproject.toml, which Nix
//! reads (nix/python-packages.nix), `add` and `remove` edit, and `add --pypi`
//! extends with PyPI packages through uv.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ml::{MATRIX, generate};
use crate::support::Env;

/// PEP 503.
fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every requirement of pyproject.toml's lists, by distribution name: where
/// it is written (`dependencies`, `optional-dependencies.torch`, ...).
fn requirement_lists(project: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let mut lists: Vec<(String, &toml::Value)> =
        vec![("dependencies".into(), &doc["project"]["dependencies"])];
    let tables = [
        (
            "optional-dependencies",
            doc["project"].get("optional-dependencies"),
        ),
        ("dependency-groups", doc.get("dependency-groups")),
    ];
    for (table, value) in tables {
        for (key, list) in value.and_then(|v| v.as_table()).into_iter().flatten() {
            lists.push((format!("{table}.{key}"), list));
        }
    }
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (list, value) in lists {
        for item in value.as_array().unwrap().iter().filter_map(|v| v.as_str()) {
            let name: String = item
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            found
                .entry(normalise(&name))
                .or_default()
                .push(list.clone());
        }
    }
    found
}

/// The words of Nix code (comments and strings left out) that are no
/// attribute's name (`pytest = ...` names a check, not a package).
fn nix_words(text: &str) -> Vec<String> {
    let code = crate::python_env::nix_code(text);
    let mut words = Vec::new();
    for line in code.lines() {
        let mut rest = line;
        while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\'')))
                .unwrap_or(tail.len());
            let after = tail[end..].trim_start();
            if !after.starts_with('=') || after.starts_with("==") {
                words.push(tail[..end].to_string());
            }
            rest = &tail[end..];
        }
    }
    words
}

#[test]
fn every_package_name_is_written_once_in_pyproject_and_nowhere_in_nix() {
    let env = Env::new();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        let lists = requirement_lists(&project);
        assert!(
            lists.contains_key("numpy") && lists.contains_key("pytest"),
            "{name}: {lists:?}"
        );
        for (package, places) in &lists {
            assert_eq!(places.len(), 1, "{name}: {package} is in {places:?}");
        }
        for file in ["flake.nix", "shell.nix"] {
            let text = std::fs::read_to_string(project.join(file)).unwrap();
            let written: Vec<String> = nix_words(&text)
                .into_iter()
                .filter(|w| lists.contains_key(w.as_str()))
                .collect();
            assert!(
                written.is_empty(),
                "{name}/{file} names {written:?}: pyproject.toml lists them"
            );
        }
    }
}

#[test]
fn python_package_added_to_the_flake_conflicts_and_the_note_says_where_it_goes() {
    let env = Env::new();
    env.ok(&["new", "lab", "--yes", "--scaffold", "ml@1.3.0"]);
    let project = env.path("lab");
    crate::support::edit(
        &project,
        "flake.nix",
        "pytest\n",
        "pytest\n            rich\n",
    );
    crate::support::commit_all(&project, "rich");
    let out = env
        .cmd(&["update", "--yes"])
        .current_dir(&project)
        .output()
        .unwrap();
    let err = crate::support::stderr_of(&out);
    assert!(err.contains("flake.nix: conflicting edits"), "{err}");
    assert!(
        err.contains("the Python packages moved from flake.nix and shell.nix to pyproject.toml")
            && err.contains("`cargo nixcuda add NAME`"),
        "{err}"
    );
    let flake = std::fs::read_to_string(project.join("flake.nix")).unwrap();
    assert!(
        flake.contains("            rich\n") && flake.contains("packagesFor"),
        "{flake}"
    );
}

// ---------------------------------------------------------------------------
// `add` and `remove`, with a stub `nix`.

/// A directory with a `nix` that answers `nix eval ... --apply` for the
/// Python attributes in `has` (and logs its arguments to `nix.log` beside
/// it); PATH for the tool: it first.
fn stub_nix(dir: &Path, has: &[&str]) -> std::ffi::OsString {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$@" > "{log}"
[ "$1" = eval ] || exit 1
apply=
prev=
for a in "$@"; do
  [ "$prev" = --apply ] && apply=$a
  prev=$a
done
out=
for name in $(printf '%s' "$apply" | grep -o '"[^"]*"' | tr -d '"'); do
  case " {has} " in
    *" $name "*) out="$out,true" ;;
    *) out="$out,false" ;;
  esac
done
echo "[${{out#,}}]"
"#,
        log = dir.join("nix.log").display(),
        has = has.join(" ")
    );
    let nix = bin.join("nix");
    std::fs::write(&nix, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&nix, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

const REV: &str = "0123456789abcdef0123456789abcdef01234567";

/// A new project (git, committed) with a flake.lock pinning REV.
fn locked_project(env: &Env, name: &str, defines: &[&str]) -> std::path::PathBuf {
    let project = generate(env, name, defines);
    let lock = format!(
        r#"{{"nodes":{{"nixpkgs":{{"locked":{{"type":"github","owner":"nixos-cuda","repo":"nixpkgs","rev":"{REV}","narHash":"sha256-AAAA"}},"original":{{}}}},"root":{{"inputs":{{"nixpkgs":"nixpkgs"}}}}}},"root":"root","version":7}}"#
    );
    std::fs::write(project.join("flake.lock"), lock).unwrap();
    crate::support::commit_all(&project, "Lock nixpkgs");
    project
}

fn tool(env: &Env, project: &Path, path: &std::ffi::OsStr, args: &[&str]) -> std::process::Output {
    env.cmd(args)
        .current_dir(project)
        .env("PATH", path)
        .output()
        .unwrap()
}

fn staged(project: &Path) -> String {
    let out = crate::support::git(project, &["diff", "--cached", "--name-only"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn add_checks_the_locked_nixpkgs_then_lists_and_stages_the_package() {
    let env = Env::new();
    let project = locked_project(&env, "add", &[]);
    let path = stub_nix(env.work.path(), &["transformers", "einops"]);
    let before = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let out = tool(&env, &project, &path, &["add", "transformers", "Einops"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let system = format!("{}-linux", std::env::consts::ARCH);
    assert!(
        err.contains(&format!(
            "Checked python3Packages.transformers, python3Packages.einops in github:nixos-cuda/nixpkgs/{} (flake.lock)",
            &REV[..12]
        )),
        "{err}"
    );
    let log = std::fs::read_to_string(env.work.path().join("nix.log")).unwrap();
    for arg in [
        format!("github:nixos-cuda/nixpkgs/{REV}#legacyPackages.{system}.python3Packages"),
        "allow-import-from-derivation\nfalse".into(),
        "accept-flake-config\nfalse".into(),
    ] {
        assert!(log.contains(&arg), "nix was asked without {arg:?}:\n{log}");
    }
    let after = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    assert_eq!(
        after,
        before.replace(
            "    \"scikit-learn\",\n]",
            "    \"scikit-learn\",\n    \"transformers\",\n    \"Einops\",\n]"
        ),
        "only the two lines are new"
    );
    assert_eq!(staged(&project), "pyproject.toml\n");
    // Nix reads them: both environments of the file get the packages.
    if crate::support::nixcheck().is_some() {
        let attrs = crate::python_env::pyproject_attributes(&project, &[]);
        assert!(
            attrs.contains("transformers") && attrs.contains("einops"),
            "{attrs:?}"
        );
    }
    // Again: nothing to do, nothing written.
    let out = tool(&env, &project, &path, &["add", "einops"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("`einops` is in [project] dependencies already"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
        after
    );
}

#[test]
fn add_refuses_a_package_nixpkgs_lacks_and_names_pypi() {
    let env = Env::new();
    let project = locked_project(&env, "refuse", &["frameworks=tensorflow"]);
    let path = stub_nix(env.work.path(), &["transformers"]);
    let before = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let out = tool(
        &env,
        &project,
        &path,
        &["add", "transformers", "not-in-nix"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = crate::support::stderr_of(&out);
    // A TensorFlow project's environment is python313's.
    assert!(
        err.contains("nixpkgs has no `python313Packages.not-in-nix`"),
        "{err}"
    );
    assert!(err.contains("cargo nixcuda add --pypi not-in-nix"), "{err}");
    assert_eq!(
        std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
        before
    );
    assert_eq!(staged(&project), "");
}

#[test]
fn add_says_when_nixpkgs_was_not_asked() {
    let env = Env::new();
    let project = locked_project(&env, "unchecked", &[]);
    let empty = env.work.path().join("no-nix");
    std::fs::create_dir_all(&empty).unwrap();
    let out = tool(&env, &project, empty.as_os_str(), &["add", "einops"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("not checked against nixpkgs (no `nix` on PATH)"),
        "{err}"
    );
    let path = stub_nix(env.work.path(), &[]);
    let out = tool(&env, &project, &path, &["add", "--offline", "safetensors"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("not checked against nixpkgs (--offline)"),
        "{err}"
    );
    assert!(!env.work.path().join("nix.log").exists(), "nix was not run");
}

#[test]
fn add_maps_names_through_the_projects_table() {
    let env = Env::new();
    let project = generate(&env, "mapped", &[]);
    crate::support::edit(
        &project,
        "pyproject.toml",
        "[tool.nixcuda.nix-attributes]\n",
        "[tool.nixcuda.nix-attributes]\nopencv-python = \"opencv4\"\n",
    );
    crate::support::commit_all(&project, "map");
    let path = stub_nix(env.work.path(), &["opencv4"]);
    let out = tool(&env, &project, &path, &["add", "opencv_python"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Checked python3Packages.opencv4 in github:nixos-cuda/nixpkgs/nixos-unstable-cuda (no flake.lock yet"), "{err}");
}

#[test]
fn add_commit_commits_only_the_list() {
    let env = Env::new();
    let project = locked_project(&env, "commit", &[]);
    let path = stub_nix(env.work.path(), &["einops"]);
    // Something else staged: --commit would take it along, so it refuses.
    crate::support::write(&project.join("notes.txt"), "mine\n");
    crate::support::git(&project, &["add", "notes.txt"]);
    let before = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let out = tool(&env, &project, &path, &["add", "einops", "--commit"]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::support::stderr_of(&out);
    assert!(
        err.contains("other changes are staged in git (notes.txt)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
        before
    );
    crate::support::git(&project, &["reset", "-q", "notes.txt"]);
    let out = tool(&env, &project, &path, &["add", "einops", "--commit"]);
    assert!(out.status.success(), "{}", crate::support::stderr_of(&out));
    let log = crate::support::git(&project, &["log", "-1", "--format=%s", "--name-only"]);
    assert_eq!(
        String::from_utf8_lossy(&log.stdout),
        "Add einops\n\npyproject.toml\n"
    );
    assert_eq!(staged(&project), "");
}

#[test]
fn a_malformed_pyproject_is_an_error_and_stays_as_it_was() {
    let env = Env::new();
    let project = generate(&env, "broken", &[]);
    let path = stub_nix(env.work.path(), &["einops"]);
    for (text, reason) in [
        ("[project\nname = 1\n", "TOML parse error"),
        (
            "[project]\ndependencies = \"numpy\"\n",
            "[project] dependencies is not a list",
        ),
    ] {
        crate::support::write(&project.join("pyproject.toml"), text);
        for args in [&["add", "einops"][..], &["remove", "numpy"]] {
            let out = tool(&env, &project, &path, args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = crate::support::stderr_of(&out);
            assert!(
                err.contains("pyproject.toml` cannot be edited") && err.contains(reason),
                "{err}"
            );
            assert!(err.contains("nothing was written"), "{err}");
            assert_eq!(
                std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
                text
            );
        }
    }
    let out = tool(&env, &project, &path, &["add", "not a name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        crate::support::stderr_of(&out).contains("`not a name` is not a Python distribution name")
    );
}

#[test]
fn remove_takes_a_package_out_of_its_list_and_says_when_it_is_in_none() {
    let env = Env::new();
    let project = generate(&env, "remove", &[]);
    let path = stub_nix(env.work.path(), &[]);
    let before = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let out = tool(&env, &project, &path, &["remove", "Pandas", "seaborn"]);
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Removed pandas from [project] dependencies"),
        "{err}"
    );
    assert!(
        err.contains("Removed seaborn from the group `dev`"),
        "{err}"
    );
    let after = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    assert_eq!(
        after,
        before
            .replace("    \"pandas\",\n", "")
            .replace("    \"seaborn\",\n", ""),
        "only the two lines are gone; the comments stay"
    );
    assert_eq!(staged(&project), "pyproject.toml\n");
    let out = tool(&env, &project, &path, &["remove", "pandas"]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::support::stderr_of(&out);
    assert!(
        err.contains("`pandas` is in no list of pyproject.toml: nothing to remove"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
        after
    );
}

// ---------------------------------------------------------------------------
// `add --pypi`: uv, a local package index, and the base environment standing
// in for the Nix one (the test virtualenv, which has numpy).

/// Pure-Python wheels made here: `tinypkg` (which needs numpy and
/// `helperpkg`) and `helperpkg`.
fn wheels(python: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"
import base64, hashlib, sys, zipfile
def wheel(name, requires):
    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(f"{sys.argv[1]}/{name}-1.0-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
wheel("tinypkg", ["numpy>=1", "helperpkg"])
wheel("helperpkg", [])
"#;
    let (ok, out) = crate::support::run(
        std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(dir),
    );
    assert!(ok, "{out}");
}

#[test]
fn add_pypi_locks_only_what_nix_lacks_and_the_venv_imports_nix_numpy() {
    let Some(python) = crate::support::test_python() else {
        return;
    };
    let uv = python.with_file_name("uv");
    if !crate::support::prerequisite(
        "uv in the test virtualenv",
        uv.is_file(),
        "`.ci/setup` installs it",
    ) {
        return;
    }
    let env = Env::new();
    let project = generate(&env, "pypi", &["frameworks=none"]);
    let index = env.work.path().join("index");
    wheels(&python, &index);
    let mut paths = vec![uv.parent().unwrap().to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(paths).unwrap();
    let add = |args: &[&str], nix_python: Option<&Path>| {
        let mut cmd = env.cmd(args);
        cmd.current_dir(&project)
            .env("PATH", &path)
            .env("UV_FIND_LINKS", &index)
            .env("UV_NO_INDEX", "1")
            .env("UV_CACHE_DIR", env.work.path().join("uv-cache"));
        match nix_python {
            Some(p) => cmd.env("NIXCUDA_PYTHON", p),
            None => cmd.env_remove("NIXCUDA_PYTHON"),
        };
        cmd.output().unwrap()
    };
    // Outside the dev shell there is no Nix Python to keep out: refused.
    let before = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let out = add(&["add", "--pypi", "--offline", "tinypkg"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(crate::support::stderr_of(&out).contains("NIXCUDA_PYTHON is not set"));
    assert_eq!(
        std::fs::read_to_string(project.join("pyproject.toml")).unwrap(),
        before
    );

    let out = add(&["add", "--pypi", "--offline", "tinypkg"], Some(&python));
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Added tinypkg to the group `pypi`"), "{err}");
    let text = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        doc["dependency-groups"]["pypi"].to_string(),
        r#"["tinypkg"]"#
    );
    // The lock: tinypkg and what only PyPI has; numpy (Nix's) is not in it.
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(project.join("pylock.pypi.toml")).unwrap())
            .unwrap();
    let mut locked: Vec<String> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    locked.sort();
    assert_eq!(locked, ["helperpkg", "tinypkg"]);
    assert_eq!(staged(&project), "pylock.pypi.toml\npyproject.toml\n");
    if crate::support::nixcheck().is_some() {
        let attrs = crate::python_env::pyproject_attributes(&project, &[]);
        assert!(
            !attrs.contains("tinypkg"),
            "Nix never reads the pypi group: {attrs:?}"
        );
    }

    // The shell's step: .venv over the base environment, synced offline.
    let out = std::process::Command::new("bash")
        .arg("nix/pypi-venv.sh")
        .arg(&python)
        .arg(&uv)
        .current_dir(&project)
        .env("UV_OFFLINE", "1")
        .env("UV_CACHE_DIR", env.work.path().join("uv-cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr_of(&out));
    let venv_python = project.join(".venv/bin/python");
    let out = std::process::Command::new(&venv_python)
        .args(["-c", "import sys, numpy, tinypkg, helperpkg; print(numpy.__file__); print(tinypkg.__file__); print(sys.prefix)"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let base = std::process::Command::new(&python)
        .args(["-c", "import numpy; print(numpy.__file__)"])
        .output()
        .unwrap();
    let base_numpy = String::from_utf8_lossy(&base.stdout).trim().to_string();
    assert_eq!(lines[0], base_numpy, "numpy is the base environment's");
    let venv = project.join(".venv").canonicalize().unwrap();
    assert!(
        Path::new(lines[1]).starts_with(&venv),
        "tinypkg is the venv's: {stdout}"
    );
    assert!(
        !venv
            .join("lib")
            .read_dir()
            .unwrap()
            .any(|d| { d.unwrap().path().join("site-packages/numpy").exists() }),
        "no numpy of its own in .venv"
    );

    // Removed: the group is locked again, and the next sync takes it out.
    let out = add(&["remove", "tinypkg"], Some(&python));
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Removed tinypkg from the group `pypi`"),
        "{err}"
    );
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(project.join("pylock.pypi.toml")).unwrap())
            .unwrap();
    assert!(lock["packages"].as_array().unwrap().is_empty(), "{lock:?}");
}

#[test]
fn add_extra_keeps_a_torch_package_out_of_the_tensorflow_environment() {
    let env = Env::new();
    let project = locked_project(&env, "extra", &["frameworks=both"]);
    let path = stub_nix(env.work.path(), &["torchvision", "einops"]);
    let out = tool(
        &env,
        &project,
        &path,
        &["add", "--extra", "torch", "torchvision"],
    );
    let err = crate::support::stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Added torchvision to the extra `torch`"),
        "{err}"
    );
    let text = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    assert!(
        text.contains("torch = [\"torch\", \"torchvision\"]\n"),
        "{text}"
    );
    if crate::support::nixcheck().is_some() {
        let main = crate::python_env::pyproject_attributes(&project, &["tensorflow".into()]);
        let tf = crate::python_env::pyproject_attributes(&project, &["torch".into()]);
        assert!(main.contains("torchvision"), "{main:?}");
        assert!(
            !tf.contains("torchvision") && !tf.contains("torch"),
            "{tf:?}"
        );
    }
    let out = tool(
        &env,
        &project,
        &path,
        &["add", "--extra", "Torch_X", "einops"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::support::stderr_of(&out).contains("spell it `torch-x`"));
}
