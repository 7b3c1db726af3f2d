//! `cargo nixcuda doctor` and `cargo nixcuda nixos` on the fake machines of
//! tests/fixtures/hosts (see its README): a root for /proc, /sys, /run and
//! /etc, command stubs as the whole PATH, and a HOME.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_fs::TempDir;
use serde_json::Value;

use crate::support::{fixture, nixcheck, run};

const SCENARIOS: &[&str] = &[
    "laptop-intel-nvidia",
    "desktop-nvidia",
    "ryzen-desktop-rtx",
    "intel-desktop-igpu",
    "workstation-radeon-a6000",
    "non-nixos",
    "no-gpu",
    "broken",
    "pascal-gtx1080",
    "volta-v100-pcie",
    "laptop-turing-intel",
    "blackwell-rtx5090",
    "hgx-h100",
    "pcie-l40s",
    "unknown-nvidia",
    "untrusted-user-cache",
    "wsl2-nixos",
    "jetson-orin",
    "gh200-aarch64",
];

/// One machine per GPU generation and kind (see tests/fixtures/hosts/README.md).
const GENERATIONS: &[&str] = &[
    "pascal-gtx1080",
    "volta-v100-pcie",
    "laptop-turing-intel",
    "blackwell-rtx5090",
    "hgx-h100",
    "pcie-l40s",
    "unknown-nvidia",
    "untrusted-user-cache",
    "gh200-aarch64",
];

/// The scenarios with an NVIDIA GPU, for which `nixos` writes a module.
const WITH_NVIDIA: &[&str] = &[
    "laptop-intel-nvidia",
    "desktop-nvidia",
    "ryzen-desktop-rtx",
    "intel-desktop-igpu",
    "workstation-radeon-a6000",
    "non-nixos",
    "broken",
    "pascal-gtx1080",
    "volta-v100-pcie",
    "laptop-turing-intel",
    "blackwell-rtx5090",
    "hgx-h100",
    "pcie-l40s",
    "unknown-nvidia",
    "untrusted-user-cache",
    "gh200-aarch64",
];

pub(crate) fn scenario(name: &str) -> PathBuf {
    fixture(&format!("hosts/{name}"))
}

/// `cargo-nixcuda nixcuda ARGS` on the machine `name`, run in `cwd`, with
/// nothing of the real machine's environment.
pub(crate) fn on_host(name: &str, cwd: &Path, args: &[&str]) -> Command {
    let dir = scenario(name);
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("cargo-nixcuda"));
    cmd.env_clear()
        .arg("nixcuda")
        .args(args)
        .current_dir(cwd)
        .env("PATH", dir.join("bin"))
        .env("HOME", dir.join("home"))
        .env("USER", "ada")
        .env("NO_COLOR", "1")
        // cargo_metadata runs the cargo named here (cargo is not on PATH).
        .env("CARGO", env!("CARGO"))
        .env("__CARGO_NIXCUDA_TEST_HOST_ROOT", dir.join("root"));
    cmd
}

pub(crate) fn doctor_json(name: &str, cwd: &Path) -> (Value, Option<i32>) {
    let out = on_host(name, cwd, &["doctor", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (json, out.status.code())
}

pub(crate) fn check_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {report:#}"))
}

pub(crate) fn status_of<'a>(report: &'a Value, id: &str) -> &'a str {
    check_of(report, id)["status"].as_str().unwrap()
}

pub(crate) fn text_of<'a>(report: &'a Value, id: &str, field: &str) -> &'a str {
    check_of(report, id)[field].as_str().unwrap_or_default()
}

#[test]
fn doctor_report_of_each_machine() {
    let cwd = TempDir::new().unwrap();
    for name in SCENARIOS {
        let out = on_host(name, cwd.path(), &["doctor"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let failing = stdout.lines().any(|l| l.starts_with("fail "));
        assert_eq!(
            out.status.code(),
            Some(if failing { 1 } else { 0 }),
            "{name}:\n{stdout}{stderr}"
        );
        if failing {
            assert!(
                stderr.contains("doctor check(s) failed"),
                "{name}: {stderr}"
            );
        }
        insta::assert_snapshot!(format!("doctor_{name}"), stdout);
    }
}

#[test]
fn doctor_json_is_machine_readable_and_every_warning_has_a_hint() {
    let cwd = TempDir::new().unwrap();
    for name in SCENARIOS {
        let (report, code) = doctor_json(name, cwd.path());
        let checks = report["checks"].as_array().unwrap();
        assert!(checks.len() >= 13, "{name}: {report:#}");
        let mut fails = 0;
        for check in checks {
            let id = check["id"].as_str().unwrap();
            let status = check["status"].as_str().unwrap();
            assert!(
                !check["message"].as_str().unwrap().is_empty(),
                "{name}/{id}"
            );
            match status {
                "ok" | "skip" => {}
                "warn" | "fail" => {
                    let hint = check["hint"].as_str().unwrap_or_default();
                    assert!(
                        !hint.trim().is_empty(),
                        "{name}/{id} is {status} without a hint"
                    );
                    fails += usize::from(status == "fail");
                }
                other => panic!("{name}/{id}: unknown status {other}"),
            }
        }
        assert_eq!(report["summary"]["fail"], fails, "{name}");
        assert_eq!(code, Some(if fails > 0 { 1 } else { 0 }), "{name}");
    }
}

#[test]
fn doctor_finds_what_each_machine_lacks() {
    let cwd = TempDir::new().unwrap();
    let expect: &[(&str, &[(&str, &str)])] = &[
        (
            "laptop-intel-nvidia",
            &[
                ("nix-cache", "ok"),
                ("gpu", "ok"),
                ("libcuda", "ok"),
                ("nvidia-uvm", "ok"),
                ("direnv", "ok"),
                ("nix-direnv", "ok"),
            ],
        ),
        (
            "desktop-nvidia",
            &[
                ("nix-cache", "ok"),
                ("driver-cuda", "warn"),
                ("direnv", "ok"),
                ("nix-direnv", "ok"),
            ],
        ),
        (
            "non-nixos",
            &[
                ("os", "warn"),
                ("libcuda", "warn"),
                ("nix-cache", "fail"),
                ("direnv", "warn"),
            ],
        ),
        (
            "no-gpu",
            &[
                ("gpu", "warn"),
                ("driver", "skip"),
                ("libcuda", "skip"),
                ("nvidia-uvm", "skip"),
            ],
        ),
        (
            "broken",
            &[
                ("driver", "ok"),
                ("libcuda", "fail"),
                ("nvidia-uvm", "fail"),
                ("nix-cache", "fail"),
            ],
        ),
        // Below compute capability 7.5: no kernels in the cached packages.
        ("pascal-gtx1080", &[("gpu", "warn"), ("driver-cuda", "ok")]),
        ("volta-v100-pcie", &[("gpu", "warn"), ("driver", "ok")]),
        ("laptop-turing-intel", &[("gpu", "ok"), ("driver", "ok")]),
        (
            "blackwell-rtx5090",
            &[("gpu", "ok"), ("driver", "ok"), ("driver-cuda", "ok")],
        ),
        ("hgx-h100", &[("gpu", "ok"), ("driver-cuda", "ok")]),
        ("pcie-l40s", &[("gpu", "ok")]),
        ("unknown-nvidia", &[("gpu", "warn"), ("driver-cuda", "ok")]),
    ];
    for (name, checks) in expect {
        let (report, _) = doctor_json(name, cwd.path());
        for (id, status) in *checks {
            assert_eq!(status_of(&report, id), *status, "{name}/{id}: {report:#}");
        }
    }
}

#[test]
fn doctor_json_of_each_gpu_generation() {
    let cwd = TempDir::new().unwrap();
    for name in GENERATIONS {
        let (report, _) = doctor_json(name, cwd.path());
        insta::assert_snapshot!(
            format!("doctor_json_{name}"),
            serde_json::to_string_pretty(&report).unwrap()
        );
    }
}

#[test]
fn doctor_names_the_compute_capability_and_what_to_do() {
    let cwd = TempDir::new().unwrap();
    for (name, cc) in [("pascal-gtx1080", "6.1"), ("volta-v100-pcie", "7.0")] {
        let (report, code) = doctor_json(name, cwd.path());
        let (message, hint) = (
            text_of(&report, "gpu", "message"),
            text_of(&report, "gpu", "hint"),
        );
        assert!(
            message.contains(&format!("compute capability {cc}"))
                && message.contains("below 7.5")
                && message.contains("no kernel image is available"),
            "{name}: {message}"
        );
        assert!(
            hint.contains(&format!("cudaCapabilities = [ \"{cc}\" ]"))
                && hint.contains("compiles locally")
                && hint.contains("legacy_580"),
            "{name}: {hint}"
        );
        // A warning: the machine can still run CUDA, built for it locally.
        assert_eq!(code, Some(0), "{name}");
    }
    let (report, _) = doctor_json("hgx-h100", cwd.path());
    let message = text_of(&report, "gpu", "message");
    assert!(
        message.contains("4 NVSwitch(es)") && message.contains("fabric manager"),
        "{message}"
    );
}

/// A generated project in a temporary directory, with a flake.lock.
fn locked_project(work: &TempDir) -> PathBuf {
    let project = work.path().join("gpu-demo");
    crate::support::copy_dir(&scenario("project"), &project);
    std::fs::write(
        project.join("flake.lock"),
        "{ \"nodes\": {}, \"version\": 7 }\n",
    )
    .unwrap();
    project
}

/// `doctor --json` in `project` on machine `name`, with the build-plan stub
/// `nix` of tests/fixtures/hosts/build-plan/`plan` first on PATH.
fn doctor_with_plan(
    name: &str,
    plan: &str,
    project: &Path,
    timeout: Option<&str>,
) -> (Value, Option<i32>) {
    let path = std::env::join_paths([
        scenario(&format!("build-plan/{plan}")),
        scenario(name).join("bin"),
    ])
    .unwrap();
    let mut cmd = on_host(name, project, &["doctor", "--json"]);
    cmd.env("PATH", path);
    if let Some(secs) = timeout {
        cmd.env("__CARGO_NIXCUDA_TEST_BUILD_PLAN_TIMEOUT", secs);
    }
    let out = cmd.output().unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    (json, out.status.code())
}

#[test]
fn doctor_build_plan_passes_when_the_cache_has_everything() {
    let work = TempDir::new().unwrap();
    let project = locked_project(&work);
    let (report, code) = doctor_with_plan("laptop-intel-nvidia", "fetched", &project, None);
    assert_eq!(status_of(&report, "build-plan"), "ok", "{report:#}");
    let message = text_of(&report, "build-plan", "message");
    assert!(
        message.contains("fetches 5 path(s)") && message.contains("2 small"),
        "{message}"
    );
    assert_eq!(code, Some(0), "{report:#}");
}

#[test]
fn doctor_build_plan_fails_naming_what_would_compile() {
    let work = TempDir::new().unwrap();
    let project = locked_project(&work);
    let (report, code) = doctor_with_plan("laptop-intel-nvidia", "local-torch", &project, None);
    assert_eq!(status_of(&report, "build-plan"), "fail", "{report:#}");
    assert_eq!(code, Some(1));
    let message = text_of(&report, "build-plan", "message");
    for name in ["torch", "magma", "cuda_nvcc", "libcublas"] {
        assert!(message.contains(name), "{name}: {message}");
    }
    // The light derivations are not blamed.
    assert!(
        !message.contains("nix-shell-env") && !message.contains("python3,"),
        "{message}"
    );
    let hint = text_of(&report, "build-plan", "hint");
    for needle in [
        "not configured",
        "not built this nixpkgs revision",
        "cargo nixcuda nixos",
        "nixos-rebuild switch",
        "github:nixos-cuda/nixpkgs/nixos-unstable-cuda",
        "nix develop .#cpu",
    ] {
        assert!(hint.contains(needle), "{needle}: {hint}");
    }

    // Outside NixOS the fix is nix.conf, with both caches and keys.
    let (report, _) = doctor_with_plan("non-nixos", "local-torch", &project, None);
    let hint = text_of(&report, "build-plan", "hint");
    assert!(
        hint.contains("/etc/nix/nix.conf")
            && hint.contains("https://cache.flox.dev")
            && hint.contains("cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="),
        "{hint}"
    );
}

#[test]
fn doctor_build_plan_expects_local_builds_for_explicit_capabilities() {
    let work = TempDir::new().unwrap();
    let project = locked_project(&work);
    let flake = project.join("flake.nix");
    let text = std::fs::read_to_string(&flake).unwrap();
    std::fs::write(
        &flake,
        text.replace(
            "cudarcFeature",
            "cudaCapabilities = [ \"6.1\" ];\n      cudarcFeature",
        ),
    )
    .unwrap();
    let (report, _) = doctor_with_plan("pascal-gtx1080", "local-torch", &project, None);
    assert_eq!(status_of(&report, "build-plan"), "warn", "{report:#}");
    assert!(text_of(&report, "build-plan", "message").contains("expected"));
    // The GPU is covered by the project's own capability list.
    assert_eq!(status_of(&report, "gpu"), "ok", "{report:#}");
    assert!(text_of(&report, "gpu", "message").contains("6.1 itself"));
}

#[test]
fn doctor_build_plan_is_bounded_and_reports_nix_errors() {
    let work = TempDir::new().unwrap();
    let project = locked_project(&work);
    let started = std::time::Instant::now();
    let (report, _) = doctor_with_plan("laptop-intel-nvidia", "hangs", &project, Some("1"));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(status_of(&report, "build-plan"), "warn", "{report:#}");
    assert!(text_of(&report, "build-plan", "message").contains("did not finish within 1 s"));

    let (report, _) = doctor_with_plan("laptop-intel-nvidia", "eval-error", &project, None);
    assert_eq!(status_of(&report, "build-plan"), "warn", "{report:#}");
    assert!(
        text_of(&report, "build-plan", "message").contains("attribute 'cudaPackages_14' missing"),
        "{report:#}"
    );

    // Before the first lock Nix is asked too (about today's revisions),
    // and no flake.lock is written.
    std::fs::remove_file(project.join("flake.lock")).unwrap();
    let (report, _) = doctor_with_plan("laptop-intel-nvidia", "local-torch", &project, None);
    assert_eq!(status_of(&report, "build-plan"), "fail", "{report:#}");
    let message = text_of(&report, "build-plan", "message");
    assert!(
        message.contains("torch") && message.contains("no flake.lock yet"),
        "{message}"
    );
    assert!(text_of(&report, "build-plan", "hint").contains("cargo nixcuda lock --update"));
    assert!(!project.join("flake.lock").exists());
}

#[test]
fn doctor_compares_the_project_cuda_with_the_gpu_and_driver() {
    let work = TempDir::new().unwrap();
    let project = work.path().join("gpu-demo");
    crate::support::copy_dir(&scenario("project"), &project);
    let flake = project.join("flake.nix");
    let text = std::fs::read_to_string(&flake).unwrap();
    std::fs::write(&flake, text.replace("cudaPackages_12_8", "cudaPackages_13")).unwrap();
    // CUDA 13 on a GTX 1080: not supported at all.
    let (report, code) = doctor_json("pascal-gtx1080", &project);
    assert_eq!(status_of(&report, "gpu"), "fail", "{report:#}");
    assert!(text_of(&report, "gpu", "message").contains("CUDA 13.2"));
    assert!(text_of(&report, "gpu", "hint").contains("CUDA 12"));
    assert_eq!(code, Some(1));
    // Driver 580.95.05 runs CUDA 13.0; the project's 13.2 asks for 595.45.04.
    assert_eq!(status_of(&report, "driver-cuda"), "warn", "{report:#}");
    let message = text_of(&report, "driver-cuda", "message");
    assert!(
        message.contains("runs CUDA 13.0 and older") && message.contains("595.45.04"),
        "{message}"
    );
    // The RTX 5090 with driver 595.71.05 runs it.
    let (report, _) = doctor_json("blackwell-rtx5090", &project);
    assert_eq!(status_of(&report, "gpu"), "ok", "{report:#}");
    assert_eq!(status_of(&report, "driver-cuda"), "ok", "{report:#}");
    assert!(text_of(&report, "driver-cuda", "message").contains("CUDA 13.2"));
}

#[test]
fn doctor_checks_the_project_cuda_set_against_cudarc() {
    let work = TempDir::new().unwrap();
    let project = work.path().join("gpu-demo");
    crate::support::copy_dir(&scenario("project"), &project);
    let sub = project.join("rust/src");

    // flake: cudaPackages_12_8, crate: cuda-12080; doctor runs from a subdirectory.
    let (report, _) = doctor_json("laptop-intel-nvidia", &sub);
    assert_eq!(status_of(&report, "project-cuda"), "ok", "{report:#}");
    assert_ne!(status_of(&report, "scaffold-version"), "skip", "{report:#}");
    assert_eq!(status_of(&report, "nix-direnv"), "ok");
    let driver_cuda = &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "driver-cuda")
        .unwrap()["message"];
    assert!(
        driver_cuda.as_str().unwrap().contains("CUDA 12.8"),
        "{driver_cuda}"
    );

    let manifest = project.join("rust/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("cuda-12080", "cuda-12090")).unwrap();
    let (report, code) = doctor_json("laptop-intel-nvidia", &sub);
    assert_eq!(status_of(&report, "project-cuda"), "fail", "{report:#}");
    assert_eq!(code, Some(1));
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "project-cuda")
        .unwrap();
    assert!(
        check["hint"].as_str().unwrap().contains("cuda-12080"),
        "{check:#}"
    );
}

#[test]
fn nixos_module_of_each_machine_passes_the_module_checker() {
    let out_dir = TempDir::new().unwrap();
    let checker = nixcheck().map(|check| check.with_file_name("check-nixos-module.nix"));
    for name in WITH_NVIDIA {
        let out = on_host(name, out_dir.path(), &["nixos"]).output().unwrap();
        let module = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(format!("nixos_{name}"), module);
        // NixOS asserts this; the module checker does not model assertions.
        let code: String = module
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(
            !(code.contains("datacenter.enable = true") && code.contains("videoDrivers")),
            "{name}: both driver kinds:\n{module}"
        );

        let file = out_dir.path().join(format!("{name}.nix"));
        std::fs::write(&file, &module).unwrap();
        if let Some(checker) = &checker {
            let (ok, text) = run(std::process::Command::new("nix-instantiate")
                .args(["--eval", "--strict"])
                .arg(checker)
                .arg("--argstr")
                .arg("module")
                .arg(&file));
            assert!(ok, "{name}: the module checker failed:\n{text}\n{module}");
        }
    }
}

#[test]
fn nixos_choices_follow_the_hardware_and_the_options() {
    let cwd = TempDir::new().unwrap();
    let module = |name: &str, args: &[&str]| {
        let mut all = vec!["nixos"];
        all.extend_from_slice(args);
        let out = on_host(name, cwd.path(), &all).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Laptop: offload with decimal bus IDs; sync when asked.
    let (ok, text, _) = module("laptop-intel-nvidia", &[]);
    assert!(ok);
    assert!(
        text.contains("offload.enable = true;")
            && text.contains("offload.enableOffloadCmd = true;"),
        "{text}"
    );
    assert!(
        text.contains("intelBusId = \"PCI:0:2:0\";")
            && text.contains("nvidiaBusId = \"PCI:1:0:0\";"),
        "{text}"
    );
    assert!(!text.contains("nvidiaPersistenced"), "{text}");
    let (_, text, _) = module("laptop-intel-nvidia", &["--prime", "sync"]);
    assert!(
        text.contains("sync.enable = true;") && !text.contains("offload.enable"),
        "{text}"
    );
    let (_, text, _) = module("laptop-intel-nvidia", &["--prime", "none"]);
    assert!(!text.contains("prime"), "{text}");

    // Desktop at bus 0x2b: no PRIME, decimal 43 only in the comment, overrides.
    let (_, text, _) = module("desktop-nvidia", &[]);
    assert!(
        !text.contains("prime =") && text.contains("\"PCI:43:0:0\""),
        "{text}"
    );
    assert!(
        text.contains("open = true;") && text.contains("nvidiaPersistenced = true;"),
        "{text}"
    );
    let (_, text, _) = module("desktop-nvidia", &["--no-open", "--container-toolkit"]);
    assert!(
        text.contains("open = false;")
            && text.contains("\n  hardware.nvidia-container-toolkit.enable = true;"),
        "{text}"
    );
    let (ok, _, err) = module("desktop-nvidia", &["--prime", "offload"]);
    assert!(!ok && err.contains("integrated"), "{err}");

    // No NVIDIA GPU: an error that says what to do.
    let (ok, text, err) = module("no-gpu", &[]);
    assert!(
        !ok && text.is_empty() && err.contains("no NVIDIA GPU") && err.contains("help:"),
        "{err}"
    );

    // JSON: the detected GPUs and the choices.
    let (ok, text, _) = module("laptop-intel-nvidia", &["--json"]);
    assert!(ok);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["open"], true);
    assert_eq!(json["package"], "stable");
    assert_eq!(json["prime"]["mode"], "offload");
    let ids: Vec<&str> = json["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["bus_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["PCI:0:2:0", "PCI:1:0:0"]);
    assert!(json["text"].as_str().unwrap().contains("hardware.nvidia"));
}

#[test]
fn nixos_fits_each_gpu_generation() {
    let cwd = TempDir::new().unwrap();
    let module = |name: &str| {
        let out = on_host(name, cwd.path(), &["nixos"]).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let code: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        (
            text,
            code,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let has = |code: &[String], line: &str| code.iter().any(|l| l == line);
    // The comments as one line, so that a phrase may wrap.
    let prose = |text: &str| {
        text.split_whitespace()
            .filter(|w| *w != "#")
            .collect::<Vec<_>>()
            .join(" ")
    };

    // HGX H100: the data-centre driver, fabric manager, no X11 driver.
    let (text, code, _) = module("hgx-h100");
    assert!(has(&code, "datacenter.enable = true;"), "{text}");
    assert!(
        has(
            &code,
            "package = config.boot.kernelPackages.nvidiaPackages.dc;"
        ),
        "{text}"
    );
    assert!(
        has(&code, "nvidiaSettings = false;") && has(&code, "open = true;"),
        "{text}"
    );
    assert!(!code.iter().any(|l| l.contains("videoDrivers")), "{text}");
    assert!(has(&code, "nvidiaPersistenced = true;"), "{text}");
    assert!(prose(&text).contains("4 NVSwitch(es)"), "{text}");

    // A PCIe data-centre card keeps the normal driver and says why.
    for name in ["pcie-l40s", "volta-v100-pcie"] {
        let (text, code, _) = module(name);
        assert!(
            has(&code, "services.xserver.videoDrivers = [ \"nvidia\" ];"),
            "{text}"
        );
        assert!(!code.iter().any(|l| l.contains("datacenter")), "{text}");
        assert!(
            prose(&text).contains("data-centre PCIe card without"),
            "{text}"
        );
    }

    // Pascal and Volta: closed modules, the 580 driver, and the cache warning.
    for (name, cc) in [("pascal-gtx1080", "6.1"), ("volta-v100-pcie", "7.0")] {
        let (text, code, stderr) = module(name);
        assert!(has(&code, "open = false;"), "{text}");
        assert!(
            has(
                &code,
                "package = config.boot.kernelPackages.nvidiaPackages.legacy_580;"
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!("cudaCapabilities = [ \"{cc}\" ]")),
            "{text}"
        );
        assert!(
            stderr.contains("warning:") && stderr.contains(&format!("compute capability {cc}")),
            "{stderr}"
        );
    }

    // Turing laptop with an Intel iGPU: offload, fine-grained power
    // management, the GPU may sleep.
    let (text, code, stderr) = module("laptop-turing-intel");
    for line in [
        "offload.enable = true;",
        "intelBusId = \"PCI:0:2:0\";",
        "nvidiaBusId = \"PCI:1:0:0\";",
        "powerManagement.enable = true;",
        "powerManagement.finegrained = true;",
        "open = true;",
    ] {
        assert!(has(&code, line), "{line}:\n{text}");
    }
    assert!(
        !text.contains("nvidiaPersistenced") && !stderr.contains("warning"),
        "{text}{stderr}"
    );

    // Blackwell: open modules are required.
    let (text, code, _) = module("blackwell-rtx5090");
    assert!(
        has(&code, "open = true;") && prose(&text).contains("REQUIRED"),
        "{text}"
    );

    // An unknown device: taken as newer, and said so.
    let (text, code, _) = module("unknown-nvidia");
    assert!(
        has(&code, "open = true;") && prose(&text).contains("not in cargo-nixcuda's"),
        "{text}"
    );

    // Every module says what each cache is.
    for name in GENERATIONS {
        let (text, _, _) = module(name);
        assert!(
            prose(&text).contains("internal development purposes only")
                && prose(&text).contains("licensed redistribution"),
            "{name}: {text}"
        );
        assert!(!text.contains("conservative"), "{name}");
    }
}

#[test]
fn nixos_never_overwrites_a_different_file_without_force() {
    let cwd = TempDir::new().unwrap();
    let file = cwd.path().join("nvidia-host.nix");
    std::fs::write(&file, "{ ... }: { }\n").unwrap();
    let out = on_host(
        "broken",
        cwd.path(),
        &["nixos", "--output", "nvidia-host.nix"],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("-{ ... }: { }") && stdout.contains("+  hardware.graphics.enable = true;"),
        "{stdout}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ ... }: { }\n");

    on_host(
        "broken",
        cwd.path(),
        &["nixos", "--output", "nvidia-host.nix", "--force"],
    )
    .assert()
    .success();
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("hardware.graphics.enable = true;"));
    // The same module again: nothing to do.
    let out = on_host(
        "broken",
        cwd.path(),
        &["nixos", "--output", "nvidia-host.nix"],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Fresh"));
}
