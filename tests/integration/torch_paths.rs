//! The PyTorch code paths of generated projects, run for real on the CPU.
//!
//! `.ci/venv-torch` (made by `.ci/setup`; NIXCUDA_TEST_TORCH_PYTHON names
//! another) has PyPI's torch, whose Linux wheel is the CUDA build and runs on
//! the CPU, and whose `torchrun` has the libuv rendezvous store. In it a
//! generated project's whole pytest runs (the two-rank gloo test included;
//! the GPU tests skip with their reason), its notebook runs through nbclient,
//! and the training entrypoint runs as one process and under
//! `torchrun --standalone --nproc-per-node=2`, writing a checkpoint that a
//! second run resumes from. The default CPU virtualenv has no torch, so
//! elsewhere these paths only ever skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, prerequisite, read, run, stderr_of};

/// The Python of `.ci/venv-torch`, and its `torchrun`.
fn torch_python() -> Option<(PathBuf, PathBuf)> {
    let python = std::env::var_os("NIXCUDA_TEST_TORCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv-torch/bin/python"));
    let torchrun = python.with_file_name("torchrun");
    let ok = prerequisite(
        "the PyTorch test virtualenv",
        python.is_file() && torchrun.is_file(),
        "run `bash .ci/setup` (it makes .ci/venv-torch), or set NIXCUDA_TEST_TORCH_PYTHON to a Python with torch, whose bin/ has torchrun",
    );
    ok.then_some((python, torchrun))
}

fn generate(env: &Env, name: &str, defines: &[&str]) -> PathBuf {
    let mut args = vec!["new", name, "--yes", "--vcs", "none", "-q"];
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{name}: {}", stderr_of(&out));
    env.path(name)
}

/// A command in the project with its `src/` on PYTHONPATH, as the shell has
/// it, and none of torchrun's variables from the caller.
fn in_project(program: &Path, project: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(project)
        .env("PYTHONPATH", project.join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OMP_NUM_THREADS", "1")
        .env_remove("NIXCUDA_REQUIRE_GPU");
    for name in [
        "RANK",
        "LOCAL_RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

fn pytest_passes_with_torch(python: &Path, project: &Path, name: &str) {
    let (ok, out) = run(in_project(python, project).args([
        "-m",
        "pytest",
        "-q",
        "-rA",
        "-p",
        "no:cacheprovider",
    ]));
    assert!(ok, "{name}: pytest failed in .ci/venv-torch:\n{out}");
    for test in [
        "PASSED tests/test_pipeline.py::test_torch_network_learns_on_the_cpu",
        "PASSED tests/test_distributed.py::test_two_gloo_ranks_train_the_same_parameters",
        "PASSED tests/test_distributed.py::test_a_run_resumes_from_the_checkpoint_as_if_never_stopped",
        "PASSED tests/test_distributed.py::test_a_single_process_needs_no_process_group",
        "PASSED tests/test_distributed.py::test_the_entrypoint_runs_as_a_module",
        "PASSED tests/test_distributed.py::test_bad_input_is_refused_with_the_fix",
    ] {
        assert!(out.contains(test), "{name}: {test}:\n{out}");
    }
    assert!(
        !out.contains("torch is not installed"),
        "{name}: torch is there, nothing skips for its absence:\n{out}"
    );
    // Only the GPU tests skip, each with the reason, and TensorFlow's, which
    // is not in this virtualenv.
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIPPED")).collect();
    assert!(
        !skipped.is_empty(),
        "{name}: the GPU tests skip here:\n{out}"
    );
    for line in skipped {
        assert!(
            (line.contains("tests/test_gpu.py") && line.contains("NVIDIA"))
                || line.contains("tensorflow is not installed in this Python environment"),
            "{name}: only GPU tests skip, saying why: {line}"
        );
    }
}

fn notebook_trains_the_torch_model(python: &Path, project: &Path, name: &str) {
    let notebooks = project.join("notebooks");
    let notebook = crate::support::listing(&notebooks)
        .into_iter()
        .find(|n| n.ends_with(".ipynb"))
        .expect("a notebook");
    let (ok, out) = run(in_project(python, project)
        .arg("-c")
        .arg(crate::support::RUN_NOTEBOOK)
        .arg(notebooks.join(notebook))
        .arg(&notebooks));
    assert!(ok, "{name}: the notebook failed in .ci/venv-torch:\n{out}");
    assert!(
        out.contains("Training on the CPU") && !out.contains("Skipping the PyTorch model"),
        "{name}: the notebook trains the PyTorch model:\n{out}"
    );
}

/// `python -m <pkg>.train`, then `torchrun` with two processes, which
/// resumes from a checkpoint of its own.
fn entrypoint_trains_alone_and_under_torchrun(
    python: &Path,
    torchrun: &Path,
    project: &Path,
    module: &str,
) {
    let single = project.join("runs/single");
    let (ok, out) = run(in_project(python, project)
        .args(["-m", module, "--epochs", "2", "--output-dir"])
        .arg(&single));
    assert!(ok, "{module}: one process:\n{out}");
    assert!(
        out.contains("1 process(es), cpu (no process group)")
            && out.contains("epoch 2/2")
            && out.contains("samples/s"),
        "{module}: one process, no process group:\n{out}"
    );
    assert!(single.join("checkpoint.pt").is_file(), "{module}: {out}");

    let shared = project.join("runs/ddp");
    let torchrun_with = |epochs: &str| {
        run(in_project(torchrun, project)
            .args(["--standalone", "--nproc-per-node=2", "-m", module])
            .args(["--epochs", epochs, "--output-dir"])
            .arg(&shared))
    };
    let (ok, out) = torchrun_with("2");
    assert!(ok, "{module}: torchrun with 2 processes:\n{out}");
    assert!(
        out.contains("2 process(es), cpu (gloo)") && out.contains("epoch 2/2"),
        "{module}: two gloo processes trained:\n{out}"
    );
    assert_eq!(
        out.matches("epoch 2/2").count(),
        1,
        "{module}: rank 0 alone reports:\n{out}"
    );
    let checkpoint = shared.join("checkpoint.pt");
    assert!(
        checkpoint.is_file(),
        "{module}: rank 0 wrote the checkpoint"
    );
    let (ok, out) = torchrun_with("3");
    assert!(ok, "{module}: the second torchrun:\n{out}");
    assert!(
        out.contains("Resuming from") && out.contains("after epoch 2"),
        "{module}: the second run resumes:\n{out}"
    );
    assert!(
        out.contains("epoch 3/3") && !out.contains("epoch 1/3") && !out.contains("epoch 2/3"),
        "{module}: only the third epoch ran:\n{out}"
    );
}

#[test]
fn torch_projects_run_their_tests_notebook_and_training_on_the_cpu() {
    let Some((python, torchrun)) = torch_python() else {
        return;
    };
    let env = Env::new();
    for (name, defines) in [
        ("torch-ipsa", &[][..]),
        ("torch-minimal", &["example=minimal"]),
    ] {
        let project = generate(&env, name, defines);
        pytest_passes_with_torch(&python, &project, name);
        notebook_trains_the_torch_model(&python, &project, name);
        let module = format!("{}.train", name.replace('-', "_"));
        entrypoint_trains_alone_and_under_torchrun(&python, &torchrun, &project, &module);
    }
    // With TensorFlow beside torch the conftest loads torch's LLVM first and
    // the TensorFlow tests skip (they run in python-tf); torch's all pass.
    let project = generate(&env, "torch-both", &["frameworks=both", "rust_crate=none"]);
    pytest_passes_with_torch(&python, &project, "torch-both");
}

#[test]
fn without_a_cluster_there_is_no_entrypoint_no_ddp_test_and_no_recipes() {
    let env = Env::new();
    for (name, defines, expected) in [
        ("with-cluster", &[][..], true),
        ("no-cluster", &["cluster=none"][..], false),
        ("no-torch", &["frameworks=tensorflow"][..], false),
        (
            "only-slurm",
            &["cluster=slurm", "example=minimal"][..],
            true,
        ),
    ] {
        let project = generate(&env, name, defines);
        let module = name.replace('-', "_");
        let present = [
            project.join(format!("src/{module}/train.py")),
            project.join("tests/test_distributed.py"),
        ]
        .map(|p| p.is_file());
        assert_eq!(
            present, [expected; 2],
            "{name}: train.py, test_distributed.py"
        );
        let justfile = read(&project.join("justfile"));
        assert_eq!(
            justfile.contains("train *ARGS:") && justfile.contains("train-ddp N *ARGS:"),
            expected,
            "{name}:\n{justfile}"
        );
        if expected {
            assert!(
                justfile.contains(&format!(
                    "torchrun --standalone --nproc-per-node={{{{N}}}} -m {module}.train {{{{ARGS}}}}"
                )),
                "{name}: just's own braces survive the template:\n{justfile}"
            );
        }
        let readme = read(&project.join("README.md"));
        assert_eq!(
            readme.contains("## From this laptop to a cluster"),
            expected,
            "{name}"
        );
        let models = read(&project.join(format!("src/{module}/models.py")));
        assert_eq!(
            models.contains("train.py"),
            expected,
            "{name}: models.py names train.py only where it exists"
        );
    }
}
