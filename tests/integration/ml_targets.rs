//! The `ml` scaffold against what its files meet: nixpkgs' CUDA sets and
//! closures (the stub), a GPU torch has no kernels for, Cargo's rustflags,
//! a laptop's host module, and the reader of the README.

use std::path::Path;
use std::process::Command;

use crate::ml::{generate, private_nix};
use crate::support::{Env, nixcheck, prerequisite, run, stderr_of, test_python};

/// `cargo nixcuda new NAME --yes` with `scaffold` (None: the newest).
fn new_with(env: &Env, name: &str, scaffold: Option<&str>, defines: &[&str]) -> (bool, String) {
    let mut args = vec!["new", name, "--yes", "--vcs", "none"];
    if let Some(scaffold) = scaffold {
        args.extend(["--scaffold", scaffold]);
    }
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    (out.status.success(), stderr_of(&out))
}

#[test]
fn cuda_13_with_a_capability_below_7_5_is_refused_with_the_reason() {
    let env = Env::new();
    for caps in ["6.1", "8.6,7.0", "7.2,8.6"] {
        let define = format!("cuda_capabilities={caps}");
        let (ok, stderr) = new_with(&env, "refused", None, &["cuda=cudaPackages_13", &define]);
        assert!(!ok, "{caps}: refused:\n{stderr}");
        for needle in [
            "cuda_capabilities",
            "7.5",
            "too old for CUDA 13.x",
            "cuda=cudaPackages",
        ] {
            assert!(stderr.contains(needle), "{caps}: names {needle}:\n{stderr}");
        }
        assert!(!env.path("refused").exists(), "{caps}: nothing is written");
    }
    // 7.5 and up, another CUDA set, or no crate asking for one: accepted.
    for (name, defines) in [
        (
            "turing",
            &["cuda=cudaPackages_13", "cuda_capabilities=7.5,8.6,12.0"][..],
        ),
        ("pascal-12", &["cuda=cudaPackages", "cuda_capabilities=6.1"]),
        (
            "pascal-no-crate",
            &["rust_crate=none", "cuda_capabilities=6.1"],
        ),
    ] {
        let (ok, stderr) = new_with(&env, name, None, defines);
        assert!(ok, "{name}: accepted:\n{stderr}");
    }
}

#[test]
fn the_cuda_13_refusal_is_what_nixpkgs_does() {
    let Some(check) = nixcheck() else { return };
    let env = Env::new();
    // What 1.2.0 accepted: the stub, like nixpkgs, refuses to evaluate it.
    let (ok, stderr) = new_with(
        &env,
        "old-refusal",
        Some("ml@1.2.0"),
        &[
            "cuda=cudaPackages_13",
            "cuda_capabilities=6.1",
            "example=minimal",
        ],
    );
    assert!(ok, "{stderr}");
    let (ok, report) = run(Command::new("bash")
        .arg(&check)
        .arg(env.path("old-refusal"))
        .env("NIXCHECK_REQUIRE_NIX", "1"));
    assert!(
        !ok && report.contains("too old for CUDA 13.x"),
        "nixpkgs refuses cudaPackages_13 for capability 6.1:\n{report}"
    );
}

/// The names of the derivations in the closure of `installable` (a flake
/// output of `project`), evaluated against the stub nixpkgs.
fn closure_names(project: &Path, output: &str, work: &Path) -> Option<Vec<String>> {
    let stub = nixcheck()?.parent()?.join("stub-nixpkgs");
    let installable = format!("git+file://{}#{output}", project.display());
    // `nix derivation show` since Nix 2.15, `nix show-derivation` before.
    for command in [&["derivation", "show"][..], &["show-derivation"]] {
        let out = private_nix("nix", work)
            .args(command)
            .args(["-r", "--no-write-lock-file", "--override-input", "nixpkgs"])
            .arg(format!("path:{}", stub.display()))
            .arg(&installable)
            .output()
            .unwrap();
        if let Ok(serde_json::Value::Object(drvs)) = serde_json::from_slice(&out.stdout) {
            let names = drvs
                .values()
                .filter_map(|d| d["env"]["name"].as_str().map(str::to_string))
                .collect();
            return Some(names);
        }
    }
    None
}

#[test]
fn tensorflow_shells_hold_no_keras_3_dependencies() {
    if nixcheck().is_none() {
        return;
    }
    let env = Env::new();
    let work = assert_fs::TempDir::new().unwrap();
    for (name, defines, shells) in [
        (
            "tf",
            &["frameworks=tensorflow"][..],
            &["default", "cpu"][..],
        ),
        ("tf-both", &["frameworks=both"], &["default", "tensorflow"]),
        (
            "tf-both-313",
            &["frameworks=both", "python=python313"],
            &["default"],
        ),
    ] {
        let project = generate(&env, name, defines);
        for shell in shells {
            let output = format!("devShells.x86_64-linux.{shell}");
            let names = closure_names(&project, &output, work.path())
                .unwrap_or_else(|| panic!("{name}: {output} does not evaluate"));
            assert!(
                names.iter().any(|n| n.ends_with("-tensorflow")),
                "{name}: {output} has TensorFlow: {names:?}"
            );
            assert!(
                names.iter().any(|n| n.ends_with("-tf-keras")),
                "{name}: {output} has tf-keras: {names:?}"
            );
            // keras 3's dependencies (and what its tests need) are CUDA
            // builds no cache is bound to have.
            let mut unwanted = vec![
                "-onnxruntime",
                "-orbax-checkpoint",
                "-tf2onnx",
                "-jax",
                "-jaxlib",
            ];
            if *shell == "tensorflow" || defines == ["frameworks=tensorflow"] {
                unwanted.push("-torch");
            }
            let found: Vec<&String> = names
                .iter()
                .filter(|n| unwanted.iter().any(|u| n.ends_with(u)))
                .collect();
            assert!(found.is_empty(), "{name}: {output} holds {found:?}");
        }
    }
}

/// A `torch` package that reports a CUDA GPU of compute capability
/// $FAKE_CAPABILITY and the kernels of nixpkgs' default capabilities.
const FAKE_TORCH: &str = r#"import os

__version__ = "2.9.1"


class version:
    cuda = "12.9"


class cuda:
    @staticmethod
    def is_available():
        return True

    @staticmethod
    def get_device_capability(index=0):
        major, minor = os.environ["FAKE_CAPABILITY"].split(".")
        return int(major), int(minor)

    @staticmethod
    def get_arch_list():
        return ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120", "compute_120"]

    @staticmethod
    def get_device_name(index=0):
        return "Fake GPU"
"#;

#[test]
fn gpu_tests_fail_where_torch_has_no_kernels_for_the_gpu() {
    let Some(python) = test_python() else { return };
    let env = Env::new();
    let project = generate(&env, "kernels", &["example=minimal", "rust_crate=none"]);
    let fake = env.path("fake-torch");
    std::fs::create_dir_all(fake.join("torch")).unwrap();
    std::fs::write(fake.join("torch/__init__.py"), FAKE_TORCH).unwrap();
    let pytest = |capability: &str| {
        run(Command::new(&python)
            .args(["-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"])
            // test_gpu.py alone: the fake torch is no whole torch for the
            // other files' module-level imports (scipy asks it for Tensor).
            .args(["-m", "gpu", "-k", "kernels", "tests/test_gpu.py"])
            .current_dir(&project)
            .env(
                "PYTHONPATH",
                format!("{}:{}", fake.display(), project.join("src").display()),
            )
            .env("FAKE_CAPABILITY", capability)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("NIXCUDA_REQUIRE_GPU"))
    };
    // A GTX 1080: cuBLAS would multiply matrices, training would die.
    let (ok, out) = pytest("6.1");
    assert!(
        !ok && out.contains("no kernels for Fake GPU")
            && out.contains("compute capability 6.1")
            && out.contains("no kernel image is available")
            && out.contains("cudaCapabilities = [ \"6.1\" ]"),
        "6.1: the GPU test fails and says why:\n{out}"
    );
    let (ok, out) = pytest("8.6");
    assert!(
        ok && out.contains("PASSED tests/test_gpu.py::test_torch_has_kernels_for_this_gpu"),
        "8.6: torch has kernels:\n{out}"
    );
}

/// Builds a crate whose code compiles only when `needs` are set as cfgs,
/// with `config` as its .cargo/config.toml and the shell's variable set.
fn cargo_sees(dir: &Path, config: &str, needs: &[&str]) -> (bool, String) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"flags\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .unwrap();
    let mut code = String::new();
    for cfg in needs {
        code.push_str(&format!(
            "#[cfg(not({cfg}))]\ncompile_error!(\"{cfg} is not set\");\n"
        ));
    }
    code.push_str("fn main() {}\n");
    std::fs::write(dir.join("src/main.rs"), code).unwrap();
    std::fs::write(dir.join(".cargo/config.toml"), config).unwrap();
    run(Command::new(env!("CARGO"))
        .args(["build", "--offline", "-q"])
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "--cfg shell_rpath",
        ))
}

#[test]
fn the_readme_says_what_the_crates_rpath_variable_does_to_build_rustflags() {
    let env = Env::new();
    let project = generate(&env, "rustflags", &["example=minimal"]);
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(
        readme.contains("**replaces `build.rustflags`**")
            && readme.contains("`[target.x86_64-unknown-linux-gnu]\n  rustflags`"),
        "README.md: the variable replaces build.rustflags; target rustflags join it"
    );
    if !prerequisite(
        "an x86_64-unknown-linux-gnu host",
        cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )),
        "the experiment sets CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
    ) {
        return;
    }
    // What the README says, as Cargo does it.
    let work = tempfile::tempdir().unwrap();
    let (ok, out) = cargo_sees(
        &work.path().join("target-flags"),
        "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"--cfg\", \"user_flag\"]\n",
        &["shell_rpath", "user_flag"],
    );
    assert!(ok, "target rustflags join the variable:\n{out}");
    let (ok, out) = cargo_sees(
        &work.path().join("build-flags"),
        "[build]\nrustflags = [\"--cfg\", \"user_flag\"]\n",
        &["user_flag"],
    );
    assert!(
        !ok && out.contains("user_flag is not set"),
        "the variable replaces build.rustflags:\n{out}"
    );
}

#[test]
fn the_host_module_done_as_its_comments_say_for_a_laptop_evaluates() {
    let env = Env::new();
    let project = generate(&env, "laptop", &["rust_crate=none"]);
    let host = std::fs::read_to_string(project.join("nix/host.nix")).unwrap();
    let persistenced = host.find("nvidiaPersistenced = true;").unwrap();
    let comment = &host[host[..persistenced].rfind("\n\n").unwrap()..persistenced];
    assert!(
        comment.contains("On a laptop set it to false"),
        "the comment above nvidiaPersistenced tells laptops to turn it off:\n{comment}"
    );
    // Follow the laptop instructions: persistenced off, then uncomment the
    // Nix lines of the block that starts at "Laptops".
    let block = host.find("# Laptops").expect("a laptop block");
    let end = block + host[block..].find("\n  };").unwrap();
    let mut laptop =
        host[..block].replace("nvidiaPersistenced = true;", "nvidiaPersistenced = false;");
    let mut uncommented = Vec::new();
    for line in host[block..end].lines() {
        let code = line.trim_start().strip_prefix("# ").unwrap_or("");
        let nix = code.starts_with("powerManagement.")
            || code.starts_with("prime = {")
            || code.starts_with("  ")
            || code == "};";
        if nix {
            uncommented.push(code.to_string());
            laptop.push_str(&format!("    {code}\n"));
        } else {
            laptop.push_str(line);
            laptop.push('\n');
        }
    }
    laptop.push_str(&host[end..]);
    for needle in [
        "powerManagement.enable = true;",
        "powerManagement.finegrained = true;",
        "offload.enable = true;",
    ] {
        assert!(
            uncommented
                .iter()
                .any(|l| l == needle || l.trim() == needle),
            "the laptop block sets {needle}: {uncommented:#?}"
        );
    }
    std::fs::write(project.join("nix/host.nix"), &laptop).unwrap();
    let Some(check) = nixcheck() else { return };
    let (ok, report) = run(Command::new("bash")
        .arg(&check)
        .arg(&project)
        .env("NIXCHECK_REQUIRE_NIX", "1"));
    assert!(ok, "the laptop module evaluates:\n{report}\n{laptop}");
}

#[test]
fn the_readme_names_doctor_check_and_update_on_its_first_screen() {
    let env = Env::new();
    for (name, defines) in [
        ("first-screen", &[][..]),
        (
            "first-screen-bare",
            &["frameworks=none", "rust_crate=none", "author="],
        ),
    ] {
        let project = generate(&env, name, defines);
        let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
        // A terminal's first screen: 24 lines.
        let first: String = readme.lines().take(24).collect::<Vec<_>>().join("\n");
        for command in [
            "`cargo nixcuda doctor`",
            "`cargo nixcuda check`",
            "`cargo nixcuda update`",
        ] {
            assert!(first.contains(command), "{name}: {command} in:\n{first}");
        }
    }
}

#[test]
fn update_from_1_2_0_refuses_cuda_13_below_7_5_until_an_answer_changes() {
    let env = Env::new();
    let defines = [
        "cuda=cudaPackages_13",
        "cuda_capabilities=6.1",
        "example=minimal",
    ];
    let mut args = vec!["new", "old-cuda13", "--yes", "--scaffold", "ml@1.2.0"];
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("old-cuda13");
    let readme = project.join("README.md");
    let edited = format!("{}\nMy notes.\n", std::fs::read_to_string(&readme).unwrap());
    std::fs::write(&readme, &edited).unwrap();
    crate::support::git(&project, &["commit", "-qam", "My notes"]);
    let update = |extra: &[&str]| {
        let mut args = vec!["update", "--yes"];
        args.extend(extra);
        let out = env.cmd(&args).current_dir(&project).output().unwrap();
        (out.status.success(), stderr_of(&out))
    };
    let (ok, stderr) = update(&[]);
    assert!(
        !ok && stderr.contains("too old for CUDA 13.x") && stderr.contains("cuda_capabilities"),
        "the recorded combination is refused with the reason:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        edited,
        "nothing is touched"
    );
    let (ok, stderr) = update(&["-d", "cuda=cudaPackages"]);
    assert!(ok, "another CUDA set for the crate moves it on:\n{stderr}");
    let record = std::fs::read_to_string(project.join(".nixcuda.yaml")).unwrap();
    let newest = format!("version: {}", crate::support::newest_ml());
    assert!(record.contains(&newest), "{record}");
    assert!(
        std::fs::read_to_string(&readme)
            .unwrap()
            .contains("My notes."),
        "the edit is kept"
    );
}
