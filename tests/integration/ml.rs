//! The `ml` scaffold, proven for a matrix of answer combinations: Nix
//! evaluation (nixcheck), formatting, the generated Rust crate's tests, the
//! generated Python tests and notebook, `.envrc`, git.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, nixcheck, run, stderr_of, test_python, tree};

/// (name, -d answers)
const MATRIX: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("tensorflow", &["frameworks=tensorflow"]),
    ("both", &["frameworks=both"]),
    ("pyo3", &["rust_crate=pyo3"]),
    (
        "bare",
        &[
            "frameworks=none",
            "rust_crate=none",
            "example=minimal",
            "notebook=false",
        ],
    ),
    ("py312", &["python=python312"]),
    ("cuda13", &["cuda=cudaPackages_13", "example=minimal"]),
];

fn generate(env: &Env, name: &str, defines: &[&str]) -> PathBuf {
    // Combination names like `tensorflow` are reserved project names.
    let dir = format!("demo-{name}");
    let name = dir.as_str();
    let mut args = vec!["new", name, "--yes"];
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{name}: {}", stderr_of(&out));
    env.path(name)
}

fn has_rust(project: &Path) -> bool {
    project.join("rust/Cargo.toml").is_file()
}

#[test]
fn every_combination_evaluates_with_nixcheck() {
    let Some(check) = nixcheck() else { return };
    let env = Env::new();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        let (ok, report) = run(Command::new("bash")
            .arg(&check)
            .arg(&project)
            .env("NIXCHECK_REQUIRE_NIX", "1"));
        assert!(ok, "nixcheck failed for {name}:\n{report}");
        assert!(
            report.contains("eval devShells.x86_64-linux.default"),
            "{name}: {report}"
        );
        assert!(
            report.contains("eval devShells.x86_64-linux.cpu"),
            "{name}: {report}"
        );
        assert!(report.contains("module nix/"), "{name}: {report}");
    }
}

#[test]
fn nix_files_are_nixfmt_clean_and_envrc_is_nix_direnv() {
    let env = Env::new();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        for (path, bytes) in tree(&project) {
            if path.ends_with(".nix") {
                let text = String::from_utf8(bytes).unwrap();
                let formatted =
                    nixfmt_rs::format(&text).unwrap_or_else(|e| panic!("{name}/{path}: {e:?}"));
                assert_eq!(formatted, text, "{name}/{path} is not nixfmt-formatted");
            }
        }
        let envrc = std::fs::read_to_string(project.join(".envrc")).unwrap();
        assert!(envrc.contains("nix_direnv_version 3.2.0"), "{name}");
        assert!(
            envrc.contains("sha256-hW6NC1JHue3IjZN3uDM6l6I2PMaauqd2D7hXYJ1Zfr4="),
            "{name}"
        );
        assert!(envrc.lines().any(|l| l.trim() == "use flake"), "{name}");
        let (ok, out) = run(Command::new("bash").arg("-n").arg(project.join(".envrc")));
        assert!(ok, "{name}: .envrc: {out}");
    }
}

#[test]
fn answers_shape_the_project_coherently() {
    let env = Env::new();
    let read = |p: &Path, f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        let flake = read(&project, "flake.nix");
        let has = |d: &str| defines.contains(&d);
        assert!(
            flake.contains("github:NixOS/nixpkgs/nixos-unstable"),
            "{name}"
        );
        assert!(flake.contains("allowUnfree = true"), "{name}");
        assert!(flake.contains("cudaSupport = true"), "{name}");
        assert!(
            !flake.contains("pytorchWithCuda") && !flake.contains("WithCuda"),
            "{name}: no *WithCuda overrides"
        );
        assert!(!flake.contains("flake-utils"), "{name}");
        assert!(!flake.contains("lib/stubs"), "{name}: never a stub libcuda");
        let torch = !has("frameworks=tensorflow") && !has("frameworks=none");
        assert_eq!(flake.contains("torch"), torch, "{name}: torch in flake.nix");
        let rust = !has("rust_crate=none");
        assert_eq!(has_rust(&project), rust, "{name}: rust crate present");
        assert_eq!(
            project.join("notebooks").exists(),
            !has("notebook=false"),
            "{name}: notebooks"
        );
        if has("rust_crate=pyo3") {
            let cargo = read(&project, "rust/Cargo.toml");
            assert!(
                cargo.contains("pyo3") && !cargo.contains("cudarc"),
                "{name}"
            );
            let manifest: toml::Table = toml::from_str(&cargo).unwrap();
            let pyo3 = &manifest["dependencies"]["pyo3"];
            let features = pyo3
                .get("features")
                .and_then(|f| f.as_array())
                .cloned()
                .unwrap_or_default();
            assert!(
                !features
                    .iter()
                    .any(|f| f.as_str() == Some("extension-module")),
                "{name}: no extension-module feature"
            );
            assert!(
                read(&project, "pyproject.toml").contains("maturin"),
                "{name}"
            );
        } else if rust {
            let cargo = read(&project, "rust/Cargo.toml");
            let feature = if has("cuda=cudaPackages_13") {
                "cuda-13020"
            } else {
                "cuda-12090"
            };
            assert!(cargo.contains(feature), "{name}: cudarc feature {feature}");
            assert!(cargo.contains("dynamic-loading"), "{name}");
        }
        if has("frameworks=tensorflow") || has("frameworks=both") {
            assert!(
                flake.contains("python313"),
                "{name}: TensorFlow needs a <= 3.13 interpreter"
            );
        }
        let pyproject: toml::Table = toml::from_str(&read(&project, "pyproject.toml")).unwrap();
        assert!(pyproject.contains_key("project"), "{name}");
    }
}

#[test]
fn generated_rust_crates_build_and_pass_cpu_tests() {
    if !crate::support::prerequisite("cargo", true, "") {
        return;
    }
    let env = Env::new();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/generated-crates");
    for (name, defines) in [
        ("gpu-kernels", &["example=minimal"][..]),
        ("py-native", &["rust_crate=pyo3", "example=minimal"]),
    ] {
        let project = generate(&env, name, defines);
        let cargo = || {
            let mut c = Command::new(env!("CARGO"));
            c.current_dir(project.join("rust"))
                .env("CARGO_TARGET_DIR", &target)
                .env_remove("RUSTFLAGS")
                .env_remove("NIXCUDA_REQUIRE_GPU");
            c
        };
        let (ok, out) = run(cargo().args(["test", "--offline", "--locked", "--", "--nocapture"]));
        assert!(
            ok,
            "{name}: cargo test failed (run `bash .ci/setup` to fetch crates):\n{out}"
        );
        if name == "gpu-kernels" {
            // No GPU here: the GPU test must skip, and fail when a GPU is required.
            assert!(
                out.to_lowercase().contains("skipped"),
                "{name}: the GPU test says it skipped:\n{out}"
            );
            let (ok, out) = run(cargo()
                .args(["test", "--offline", "--locked"])
                .env("NIXCUDA_REQUIRE_GPU", "1"));
            assert!(
                !ok,
                "{name}: with NIXCUDA_REQUIRE_GPU=1 the GPU test must fail without a GPU:\n{out}"
            );
        }
    }
}

fn pytest(python: &Path, project: &Path, pythonpath: &Path, extra: &[&str]) -> (bool, String) {
    run(Command::new(python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .args(extra)
        .current_dir(project)
        .env("PYTHONPATH", pythonpath)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("NIXCUDA_REQUIRE_GPU"))
}

#[test]
fn generated_python_tests_pass_on_cpu_and_gpu_tests_skip_with_a_reason() {
    let Some(python) = test_python() else { return };
    let env = Env::new();
    for (name, defines) in MATRIX.iter().filter(|(n, _)| *n != "pyo3") {
        let project = generate(&env, name, defines);
        let src = project.join("src");
        let (ok, out) = pytest(&python, &project, &src, &[]);
        assert!(ok, "{name}: pytest failed:\n{out}");
        assert!(out.contains("passed"), "{name}:\n{out}");
        assert!(
            out.contains("SKIPPED"),
            "{name}: GPU tests are reported as skipped:\n{out}"
        );
        let (ok, out) = run(Command::new(&python)
            .args([
                "-m",
                "pytest",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
                "-m",
                "gpu",
            ])
            .current_dir(&project)
            .env("PYTHONPATH", &src)
            .env("NIXCUDA_REQUIRE_GPU", "1"));
        assert!(
            !ok,
            "{name}: NIXCUDA_REQUIRE_GPU=1 must turn the skip into a failure:\n{out}"
        );
    }
}

#[test]
fn pyo3_extension_builds_with_maturin_and_imports_from_python() {
    let Some(python) = test_python() else { return };
    let env = Env::new();
    let project = generate(&env, "native-demo", &["rust_crate=pyo3", "example=minimal"]);
    let bin = python.parent().unwrap();
    let dist = project.join("dist");
    let (ok, out) = run(Command::new(bin.join("maturin"))
        .args(["build", "--release", "--offline", "--out"])
        .arg(&dist)
        .arg("--interpreter")
        .arg(&python)
        .current_dir(&project)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/generated-crates"),
        ));
    assert!(ok, "maturin build failed:\n{out}");
    let site = project.join("site");
    let wheel = std::fs::read_dir(&dist)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (ok, out) = run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--target",
        ])
        .arg(&site)
        .arg(&wheel));
    assert!(ok, "pip install of the wheel failed:\n{out}");
    let (ok, out) = pytest(
        &python,
        &project,
        &site,
        &["tests/test_native.py", "tests/test_pipeline.py"],
    );
    assert!(ok, "pytest with the built extension failed:\n{out}");
    assert!(
        !out.contains("SKIPPED") || !out.contains("test_native"),
        "the native tests ran:\n{out}"
    );
}

#[test]
fn notebooks_are_valid_and_execute_offline_on_cpu() {
    let Some(python) = test_python() else { return };
    let env = Env::new();
    for (name, defines) in [("nb-ipsa", &[][..]), ("nb-minimal", &["example=minimal"])] {
        let project = generate(&env, name, defines);
        let notebook = std::fs::read_dir(project.join("notebooks"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "ipynb"))
            .expect("a notebook");
        let script = r#"
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                 resources={"metadata": {"path": sys.argv[2]}})
client.execute()
outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
print(outputs)
"#;
        let (ok, out) = run(Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(&notebook)
            .arg(notebook.parent().unwrap())
            .env("PYTHONDONTWRITEBYTECODE", "1"));
        assert!(ok, "{name}: the notebook did not run top to bottom:\n{out}");
        if name == "nb-ipsa" {
            assert!(
                out.to_lowercase().contains("synthetic"),
                "{name}: offline data is announced:\n{out}"
            );
        }
    }
}
