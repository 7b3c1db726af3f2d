//! The GPU and driver checks on hand-built facts.

use super::super::Status::{Fail, Ok, Skip, Warn};
use super::super::facts::{CudaSet, Driver, SmiGpu};
use super::super::testing::{INTEL_IGPU, gpu as pci_gpu, in_project, machine, run_cases};
use super::*;
use crate::host::gpu::{INTEL, NVIDIA, NvSwitch};

fn with_gpus(gpus: &[(u16, u16)]) -> Facts {
    let gpus = gpus
        .iter()
        .enumerate()
        .map(|(i, (vendor, device))| pci_gpu(&format!("{:02x}:00.0", i + 1), *vendor, *device))
        .collect();
    Facts { gpus, ..machine() }
}

fn with_driver(version: &str, open: bool) -> Facts {
    Facts {
        driver: DriverState::Loaded(Driver {
            version: version.to_string(),
            open,
        }),
        ..machine()
    }
}

fn no_gpu() -> Facts {
    with_gpus(&[(INTEL, 0xa780)])
}

#[test]
fn the_gpu_is_named_and_its_capability_checked() {
    let smi = Facts {
        smi: vec![SmiGpu {
            name: "NVIDIA GeForce RTX 4090".into(),
            compute_cap: "8.9".into(),
        }],
        ..machine()
    };
    let hgx = Facts {
        nvswitches: vec![NvSwitch {
            address: "05:00.0".into(),
            device_id: "22a3".into(),
            name: None,
        }],
        ..with_gpus(&[(NVIDIA, 0x2330)])
    };
    let own_caps = in_project(|p| p.capabilities = Some(vec!["6.1".into()]));
    let own_caps = Facts {
        gpus: vec![pci_gpu("01:00.0", NVIDIA, 0x1b80)],
        ..own_caps
    };
    let cuda13 = in_project(|p| {
        p.cuda = CudaSet::Selected(super::super::facts::ProjectCuda {
            set: "cudaPackages_13".into(),
            version: "13.2".into(),
            source: "flake.nix".into(),
        })
    });
    let cuda13 = Facts {
        gpus: vec![pci_gpu("01:00.0", NVIDIA, 0x1b80)],
        ..cuda13
    };
    run_cases(
        gpu,
        vec![
            (
                "by PCI ID",
                machine(),
                Ok,
                "Ada Lovelace at 01:00.0 (10de:2684), compute capability 8.9 (from the PCI ID)",
            ),
            (
                "by nvidia-smi",
                smi,
                Ok,
                "NVIDIA GeForce RTX 4090 at 01:00.0, compute capability 8.9 (nvidia-smi), Ada Lovelace",
            ),
            (
                "none",
                no_gpu(),
                Warn,
                "no NVIDIA GPU in /sys/bus/pci/devices (01:00.0 Intel GPU)",
            ),
            ("nothing at all", with_gpus(&[]), Warn, "no GPU at all"),
            (
                "laptop",
                with_gpus(&[(NVIDIA, 0x1f15), INTEL_IGPU]),
                Ok,
                "integrated: Intel GPU at 02:00.0 (the processor's own GPU)",
            ),
            ("hgx", hgx, Ok, "1 NVSwitch(es), NVSwitch: an HGX board"),
            ("pascal", with_gpus(&[(NVIDIA, 0x1b80)]), Warn, "below 7.5"),
            (
                "pascal built by the project",
                own_caps,
                Ok,
                "builds its CUDA packages for compute capability 6.1 itself",
            ),
            (
                "pascal on CUDA 13",
                cuda13,
                Fail,
                "supports compute capability 7.5 and newer only",
            ),
            (
                "unknown",
                with_gpus(&[(NVIDIA, 0x3f00)]),
                Warn,
                "NVIDIA 10de:3f00 at 01:00.0",
            ),
        ],
    );
}

#[test]
fn the_driver_must_be_loaded_and_fit_the_gpu() {
    let unreadable = Facts {
        driver: DriverState::Unreadable {
            line: "NVRM version: ???".into(),
        },
        ..machine()
    };
    let blackwell_closed = Facts {
        gpus: vec![pci_gpu("01:00.0", NVIDIA, 0x2b85)],
        ..with_driver("595.45.04", false)
    };
    run_cases(
        driver,
        vec![
            (
                "open",
                machine(),
                Ok,
                "NVIDIA 580.95.05 (open kernel modules)",
            ),
            ("closed", with_driver("580.95.05", false), Ok, "proprietary"),
            (
                "missing",
                Facts {
                    driver: DriverState::Missing,
                    ..machine()
                },
                Fail,
                "no NVIDIA kernel driver loaded",
            ),
            ("unreadable", unreadable, Warn, "NVRM version: ???"),
            (
                "blackwell needs open",
                blackwell_closed,
                Fail,
                "works only with the open ones",
            ),
            (
                "no gpu",
                Facts {
                    driver: DriverState::Missing,
                    ..no_gpu()
                },
                Skip,
                "no NVIDIA GPU",
            ),
        ],
    );
}

#[test]
fn the_driver_must_run_the_cuda_in_use() {
    let cuda = |version: &str| {
        in_project(|p| {
            p.cuda = CudaSet::Selected(super::super::facts::ProjectCuda {
                set: format!("set_{version}"),
                version: version.to_string(),
                source: "flake.nix".into(),
            })
        })
    };
    let new_cuda = |version: &str, driver: &str| Facts {
        driver: with_driver(driver, true).driver,
        ..cuda(version)
    };
    run_cases(
        driver_cuda,
        vec![
            (
                "default",
                machine(),
                Ok,
                "runs CUDA 12.9 (the default cudaPackages; needs 575.51.03",
            ),
            (
                "project",
                in_project(|_| {}),
                Ok,
                "CUDA 12.8 (the project's cudaPackages_12_8",
            ),
            (
                "minor compat",
                with_driver("570.86.16", true),
                Warn,
                "(which runs CUDA 12.8 and older) is older than CUDA 12.9",
            ),
            (
                "too old",
                with_driver("520.61.05", true),
                Fail,
                "cannot run CUDA 12.9",
            ),
            (
                "13 too old",
                new_cuda("13.2", "575.51.03"),
                Fail,
                "CUDA 13.x needs 580.65.06",
            ),
            (
                "13.3 unknown",
                new_cuda("13.3", "600.10"),
                Warn,
                "does not know the exact minimum for CUDA 13.3",
            ),
            (
                "14 unknown",
                new_cuda("14.0", "700.1"),
                Warn,
                "does not know which driver CUDA 14.0 needs",
            ),
            (
                "no driver",
                Facts {
                    driver: DriverState::Missing,
                    ..machine()
                },
                Skip,
                "no NVIDIA driver loaded",
            ),
            ("no gpu", no_gpu(), Skip, "no NVIDIA driver loaded"),
        ],
    );
    let hint = driver_cuda(&new_cuda("13.2", "575.51.03")).hint.unwrap();
    assert!(hint.contains("keep the project on CUDA 12"), "{hint}");
}

#[test]
fn drivers_map_to_the_newest_cuda_they_run() {
    let data = HostFacts::embedded().unwrap();
    assert_eq!(newest_cuda_for("570.86.16", &data), Some("12.8"));
    assert_eq!(newest_cuda_for("580.95.05", &data), Some("13.0"));
    assert_eq!(newest_cuda_for("595.45.04", &data), Some("13.2"));
    assert_eq!(newest_cuda_for("610.43.02", &data), Some("13.2"));
    assert_eq!(newest_cuda_for("550.163.01", &data), None);
}

#[test]
fn libcuda_is_where_nix_built_programs_look() {
    let empty = |nixos| Facts {
        libcuda: Vec::new(),
        nixos,
        ..machine()
    };
    run_cases(
        libcuda,
        vec![
            (
                "there",
                machine(),
                Ok,
                "libcuda.so.1 in /run/opengl-driver/lib",
            ),
            ("nixos without", empty(true), Fail, "cannot find the driver"),
            ("elsewhere", empty(false), Warn, "normal outside NixOS"),
            ("no gpu", no_gpu(), Skip, "no NVIDIA GPU"),
        ],
    );
}

#[test]
fn nvidia_uvm_must_be_loaded_with_the_driver() {
    run_cases(
        uvm,
        vec![
            ("loaded", machine(), Ok, "is loaded"),
            (
                "missing",
                Facts {
                    uvm_loaded: false,
                    ..machine()
                },
                Fail,
                "error 999",
            ),
            (
                "no driver",
                Facts {
                    driver: DriverState::Missing,
                    ..machine()
                },
                Skip,
                "no NVIDIA driver loaded",
            ),
            ("no gpu", no_gpu(), Skip, "no NVIDIA driver loaded"),
        ],
    );
}

fn on_wsl(libcuda_linked: bool, nixos: bool) -> Facts {
    Facts {
        // WSL2 shows the paravirtual GPU as a Microsoft 3D controller.
        gpus: vec![pci_gpu("00:00.0", 0x1414, 0x008e)],
        driver: DriverState::Missing,
        uvm_loaded: false,
        libcuda: if libcuda_linked {
            vec!["libcuda.so.1".into()]
        } else {
            Vec::new()
        },
        wsl: Some(crate::host::platform::Wsl {
            dxg: true,
            libcuda: vec!["libcuda.so.1".into(), "libcuda.so.1.1".into()],
        }),
        nixos,
        ..machine()
    }
}

#[test]
fn wsl2_runs_cuda_through_the_windows_driver() {
    run_cases(
        gpu,
        vec![
            (
                "wsl2",
                on_wsl(true, true),
                Ok,
                "WSL2: the GPU is paravirtualised",
            ),
            (
                "wsl2 without the GPU",
                Facts {
                    wsl: Some(crate::host::platform::Wsl {
                        dxg: false,
                        libcuda: Vec::new(),
                    }),
                    ..on_wsl(false, true)
                },
                Warn,
                "WSL2 without a GPU",
            ),
        ],
    );
    // nvidia-smi of the Windows driver names the GPU, whose capability is
    // checked as anywhere else.
    let pascal = Facts {
        smi: vec![SmiGpu {
            name: "NVIDIA GeForce GTX 1080".into(),
            compute_cap: "6.1".into(),
        }],
        ..on_wsl(true, true)
    };
    let c = gpu(&pascal);
    assert_eq!(c.status, Warn, "{}", c.message);
    assert!(
        c.message
            .contains("WSL2: NVIDIA GeForce GTX 1080, compute capability 6.1")
            && c.message.contains("below 7.5"),
        "{}",
        c.message
    );
    for check in [driver, driver_cuda, uvm] {
        let c = check(&on_wsl(true, true));
        assert_eq!(c.status, Skip, "{}", c.message);
        assert!(c.message.contains("Windows NVIDIA driver"), "{}", c.message);
    }
    run_cases(
        libcuda,
        vec![
            ("linked", on_wsl(true, true), Ok, "from /usr/lib/wsl/lib"),
            ("not linked", on_wsl(false, true), Fail, "/usr/lib/wsl/lib"),
            ("not NixOS", on_wsl(false, false), Warn, "outside NixOS"),
        ],
    );
    let hint = libcuda(&on_wsl(false, true)).hint.unwrap();
    assert!(hint.contains("wsl.useWindowsDriver = true;"), "{hint}");
}

#[test]
fn a_jetson_is_pointed_to_jetpack_nixos() {
    let jetson = Facts {
        gpus: Vec::new(),
        jetson: Some("NVIDIA Jetson AGX Orin Developer Kit".into()),
        driver: DriverState::Missing,
        ..machine()
    };
    let c = gpu(&jetson);
    assert_eq!(c.status, Warn);
    assert!(c.message.contains("Jetson") && !c.message.contains("CUDA cannot run"));
    assert!(c.hint.unwrap().contains("jetpack-nixos"));
    assert_eq!(driver(&jetson).status, Skip);
}

#[test]
fn the_local_build_advice_goes_to_torch_projects_only() {
    let pascal = |frameworks: &str| {
        let mut facts = in_project(|p| {
            p.frameworks = Some(frameworks.to_string());
            p.cuda = CudaSet::Selected(super::super::facts::ProjectCuda {
                set: "cudaPackages".into(),
                version: "12.9".into(),
                source: "flake.nix".into(),
            });
        });
        facts.gpus = vec![pci_gpu("01:00.0", NVIDIA, 0x1b80)];
        facts
    };
    let tf = gpu(&pascal("tensorflow"));
    assert_eq!(tf.status, Ok, "{}", tf.message);
    assert!(tf.message.contains("uses no torch"), "{}", tf.message);
    for torch in ["torch", "both"] {
        let c = gpu(&pascal(torch));
        assert_eq!(c.status, Warn, "{torch}");
        assert!(
            c.hint.unwrap().contains("this project uses torch"),
            "{torch}"
        );
    }
    // Outside a project the advice says whom it is for.
    let c = gpu(&with_gpus(&[(NVIDIA, 0x1b80)]));
    assert!(c.hint.unwrap().starts_with("for torch: set"));
}

#[test]
fn a_data_centre_board_keeps_the_data_centre_driver() {
    let hgx = Facts {
        nvswitches: vec![NvSwitch {
            address: "07:00.0".into(),
            device_id: "22a3".into(),
            name: Some("H100 NVSwitch".into()),
        }],
        ..with_driver("560.35.03", true)
    };
    let hint = driver_cuda(&hgx).hint.unwrap();
    assert!(hint.contains("nvidiaPackages.dc"), "{hint}");
    assert!(!hint.contains("nvidiaPackages.stable"), "{hint}");
    let desktop = driver_cuda(&with_driver("560.35.03", true)).hint.unwrap();
    assert!(desktop.contains("nvidiaPackages.stable"), "{desktop}");
}
