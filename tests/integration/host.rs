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
    "non-nixos",
    "no-gpu",
    "broken",
];

/// The scenarios with an NVIDIA GPU, for which `nixos` writes a module.
const WITH_NVIDIA: &[&str] = &[
    "laptop-intel-nvidia",
    "desktop-nvidia",
    "non-nixos",
    "broken",
];

fn scenario(name: &str) -> PathBuf {
    fixture(&format!("hosts/{name}"))
}

/// `cargo-nixcuda nixcuda ARGS` on the machine `name`, run in `cwd`, with
/// nothing of the real machine's environment.
fn on_host(name: &str, cwd: &Path, args: &[&str]) -> Command {
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
        .env("CARGO_NIXCUDA_HOST_ROOT", dir.join("root"));
    cmd
}

fn doctor_json(name: &str, cwd: &Path) -> (Value, Option<i32>) {
    let out = on_host(name, cwd, &["doctor", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (json, out.status.code())
}

fn status_of<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {report:#}"))["status"]
        .as_str()
        .unwrap()
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
    ];
    for (name, checks) in expect {
        let (report, _) = doctor_json(name, cwd.path());
        for (id, status) in *checks {
            assert_eq!(status_of(&report, id), *status, "{name}/{id}: {report:#}");
        }
    }
}

#[test]
fn doctor_checks_the_project_cuda_set_against_cudarc() {
    let work = TempDir::new().unwrap();
    let project = work.path().join("gpu-demo");
    copy_tree(&scenario("project"), &project);
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

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
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
