//! `doctor` and `nixos` where the GPU is not a PCI NVIDIA card beside a Linux
//! driver (WSL2, Jetson), on ARM, and where the daemon, not the client,
//! decides which binary cache counts (tests/fixtures/hosts/README.md).

use assert_fs::TempDir;

use crate::host::{doctor_json, on_host, status_of, text_of};
use crate::support::{nixcheck, run};

#[test]
fn doctor_on_wsl2_checks_the_windows_driver_and_its_link() {
    let cwd = TempDir::new().unwrap();
    let (report, code) = doctor_json("wsl2-nixos", cwd.path());
    assert_eq!(status_of(&report, "gpu"), "ok", "{report:#}");
    assert!(text_of(&report, "gpu", "message").contains("WSL2"));
    for id in ["driver", "driver-cuda", "nvidia-uvm"] {
        assert_eq!(status_of(&report, id), "skip", "{id}: {report:#}");
    }
    assert_eq!(status_of(&report, "libcuda"), "ok", "{report:#}");
    assert_eq!(code, Some(0), "{report:#}");
}

#[test]
fn doctor_on_wsl2_without_the_link_names_use_windows_driver() {
    let work = TempDir::new().unwrap();
    let copy = work.path().join("wsl2-nixos");
    crate::support::copy_dir(&crate::host::scenario("wsl2-nixos"), &copy);
    std::fs::remove_dir_all(copy.join("root/run")).unwrap();
    let out = on_host("wsl2-nixos", work.path(), &["doctor", "--json"])
        .env("__CARGO_NIXCUDA_TEST_HOST_ROOT", copy.join("root"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&report, "libcuda"), "fail", "{report:#}");
    assert!(
        text_of(&report, "libcuda", "hint").contains("wsl.useWindowsDriver = true;"),
        "{report:#}"
    );
}

#[test]
fn nixos_on_wsl2_writes_use_windows_driver_and_no_nvidia_driver() {
    let cwd = TempDir::new().unwrap();
    let out = on_host("wsl2-nixos", cwd.path(), &["nixos"])
        .output()
        .unwrap();
    let module = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("nixos_wsl2-nixos", module);
    let code: String = module
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(code.contains("wsl.useWindowsDriver = true;"), "{module}");
    assert!(code.contains("https://cache.nixos-cuda.org"), "{module}");
    assert!(
        !code.contains("hardware.nvidia") && !code.contains("videoDrivers"),
        "{module}"
    );
    if let Some(checker) = nixcheck().map(|c| c.with_file_name("check-nixos-module.nix")) {
        let file = cwd.path().join("wsl.nix");
        std::fs::write(&file, &module).unwrap();
        let (ok, text) = run(std::process::Command::new("nix-instantiate")
            .args(["--eval", "--strict"])
            .arg(checker)
            .arg("--argstr")
            .arg("module")
            .arg(&file));
        assert!(ok, "the module checker failed:\n{text}\n{module}");
    }
}

#[test]
fn a_jetson_is_no_machine_without_a_gpu() {
    let cwd = TempDir::new().unwrap();
    let (report, _) = doctor_json("jetson-orin", cwd.path());
    let message = text_of(&report, "gpu", "message");
    assert!(
        message.contains("Jetson") && !message.contains("CUDA cannot run"),
        "{message}"
    );
    assert!(text_of(&report, "gpu", "hint").contains("jetpack-nixos"));
    let out = on_host("jetson-orin", cwd.path(), &["nixos"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Jetson") && stderr.contains("jetpack-nixos"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn aarch64_is_told_that_no_cuda_cache_covers_it() {
    let cwd = TempDir::new().unwrap();
    let (report, _) = doctor_json("gh200-aarch64", cwd.path());
    assert_eq!(status_of(&report, "nix-cache"), "warn", "{report:#}");
    let message = text_of(&report, "nix-cache", "message");
    assert!(
        message.contains("aarch64-linux") && message.contains("hours"),
        "{message}"
    );
    let out = on_host("gh200-aarch64", cwd.path(), &["nixos"])
        .output()
        .unwrap();
    let module = String::from_utf8_lossy(&out.stdout);
    assert!(
        module.contains("# This machine is aarch64-linux"),
        "{module}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("aarch64-linux"),
        "the warning"
    );
}

#[test]
fn a_cache_only_the_client_sees_is_not_counted() {
    let cwd = TempDir::new().unwrap();
    let (report, code) = doctor_json("untrusted-user-cache", cwd.path());
    assert_eq!(status_of(&report, "nix-cache"), "fail", "{report:#}");
    let message = text_of(&report, "nix-cache", "message");
    assert!(
        message.contains("the daemon ignores it") && message.contains("not a trusted user"),
        "{message}"
    );
    assert_eq!(code, Some(1));
}

#[test]
fn the_home_manager_hint_names_the_nvidia_options() {
    let cwd = TempDir::new().unwrap();
    let (report, _) = doctor_json("non-nixos", cwd.path());
    let hint = text_of(&report, "os", "hint");
    assert!(
        hint.contains("targets.genericLinux.gpu.nvidia")
            && hint.contains("non-nixos-gpu-setup")
            && hint.contains("sha256"),
        "{hint}"
    );
}

#[test]
fn the_local_build_advice_for_old_gpus_is_for_torch_projects() {
    let work = TempDir::new().unwrap();
    let doctor_in = |frameworks: &str| {
        let project = work.path().join(frameworks);
        crate::support::copy_dir(&crate::host::scenario("project"), &project);
        let record = project.join(".nixcuda.yaml");
        let text = std::fs::read_to_string(&record).unwrap();
        std::fs::write(
            &record,
            text.replace("frameworks: torch", &format!("frameworks: {frameworks}")),
        )
        .unwrap();
        doctor_json("pascal-gtx1080", &project).0
    };
    let tf = doctor_in("tensorflow");
    assert_eq!(status_of(&tf, "gpu"), "ok", "{tf:#}");
    assert!(text_of(&tf, "gpu", "message").contains("uses no torch"));
    let torch = doctor_in("torch");
    assert_eq!(status_of(&torch, "gpu"), "warn", "{torch:#}");
    assert!(
        text_of(&torch, "gpu", "hint")
            .starts_with("this project uses torch: set `cudaCapabilities")
    );
    // Outside a project the advice says that it is torch's.
    let (outside, _) = doctor_json("pascal-gtx1080", work.path());
    assert!(text_of(&outside, "gpu", "hint").starts_with("for torch: set"));
}
