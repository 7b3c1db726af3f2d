//! The GPU and its driver: `gpu`, `driver`, `driver-cuda`, `libcuda`,
//! `nvidia-uvm`.

use super::super::capability::{self, Capability, CudaTarget};
use super::super::data::{DriverKind, HostFacts};
use super::super::gpu::Gpu;
use super::facts::{DriverState, Facts, OPENGL_DRIVER_LIB, version_at_least};
use super::nix::NON_NIXOS_HINT;
use super::{Check, Status};

pub fn gpu(facts: &Facts) -> Check {
    let nvidia = facts.nvidia();
    if nvidia.is_empty() {
        let others: Vec<String> = facts
            .gpus
            .iter()
            .map(|g| format!("{} {}", g.address, g.description()))
            .collect();
        let seen = if others.is_empty() {
            "no GPU at all".to_string()
        } else {
            others.join(", ")
        };
        return Check::warn(
            "gpu",
            format!("no NVIDIA GPU in /sys/bus/pci/devices ({seen}): CUDA cannot run here"),
            "use the CPU shell (`nix develop .#cpu`; the GPU tests skip), or work on a machine with an NVIDIA GPU",
        );
    }
    let mut message = describe_gpus(facts, &nvidia);
    let (version, source) = facts.cuda_target();
    let target = CudaTarget {
        version: &version,
        source: &source,
        explicit: facts.capabilities(),
    };
    // The capability each GPU reports, else the one its PCI ID implies.
    let shown: Vec<(&str, &str)> = nvidia
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let cc = facts
                .smi
                .get(i)
                .map(|s| s.compute_cap.as_str())
                .filter(|cc| Capability::parse(cc).is_some())
                .or_else(|| {
                    g.generation
                        .as_ref()
                        .map(|generation| generation.compute_capability.as_str())
                })?;
            Some((g.address.as_str(), cc))
        })
        .collect();
    let summary = capability::summarize(&shown, &target, &facts.data);
    if let Some((status, reason, hint)) = summary.worst {
        let message = format!("{message}: {reason}");
        return match status {
            Status::Fail => Check::fail("gpu", message, hint),
            _ => Check::warn("gpu", message, hint),
        };
    }
    if !summary.built_by_project.is_empty() {
        message.push_str(&format!(
            "; the project builds its CUDA packages for compute capability {} itself (cudaCapabilities)",
            summary.built_by_project.join(", ")
        ));
    }
    if let Some(unknown) = nvidia.iter().find(|g| g.generation.is_none()) {
        return Check::warn(
            "gpu",
            message,
            format!(
                "10de:{} is not in cargo-nixcuda's GPU table (newer than it?): update cargo-nixcuda; `cargo nixcuda nixos` assumes open kernel modules for it",
                unknown.device_id
            ),
        );
    }
    Check::ok("gpu", message)
}

/// Each NVIDIA GPU (by nvidia-smi when it answers, else by PCI ID), the
/// integrated GPU and the NVSwitches.
fn describe_gpus(facts: &Facts, nvidia: &[&Gpu]) -> String {
    let mut parts = Vec::new();
    for (i, g) in nvidia.iter().enumerate() {
        let text = match facts.smi.get(i) {
            Some(s) => format!(
                "{} at {}, compute capability {} (nvidia-smi), {}",
                s.name,
                g.address,
                s.compute_cap,
                g.generation
                    .as_ref()
                    .map(|generation| generation.arch.as_str())
                    .unwrap_or("unknown generation")
            ),
            None => match &g.generation {
                Some(generation) => format!(
                    "NVIDIA {} at {} (10de:{}), compute capability {} (from the PCI ID)",
                    generation.arch, g.address, g.device_id, generation.compute_capability
                ),
                None => format!("NVIDIA 10de:{} at {}", g.device_id, g.address),
            },
        };
        parts.push(text);
    }
    let integrated: Vec<String> = facts
        .gpus
        .iter()
        .filter(|g| g.integrated)
        .map(|g| format!("{} at {}", g.description(), g.address))
        .collect();
    let mut message = parts.join("; ");
    if !integrated.is_empty() {
        message.push_str(&format!(
            "; integrated: {} (the processor's own GPU)",
            integrated.join(", ")
        ));
    }
    let switches = &facts.nvswitches;
    if !switches.is_empty() {
        let kinds: Vec<&str> = switches
            .iter()
            .map(|s| s.name.as_deref().unwrap_or("NVSwitch"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        message.push_str(&format!(
            "; {} NVSwitch(es), {}: an HGX board, which runs on the data-centre driver with fabric manager (`cargo nixcuda nixos` writes it)",
            switches.len(),
            kinds.join(", ")
        ));
    }
    message
}

pub fn driver(facts: &Facts) -> Check {
    let nvidia = facts.nvidia();
    if nvidia.is_empty() {
        return Check::skip("driver", "no NVIDIA GPU");
    }
    let driver = match &facts.driver {
        DriverState::Missing => {
            let hint = if facts.nixos {
                "`cargo nixcuda nixos --output nvidia-host.nix` writes the driver module for this machine: import it in /etc/nixos/configuration.nix, run `sudo nixos-rebuild switch`, reboot"
            } else {
                "install your distribution's NVIDIA driver (e.g. `sudo ubuntu-drivers install`), then reboot"
            };
            return Check::fail(
                "driver",
                "no NVIDIA kernel driver loaded (/proc/driver/nvidia/version is missing)",
                hint,
            );
        }
        DriverState::Unreadable { line } => {
            return Check::warn(
                "driver",
                format!(
                    "could not read the driver version from /proc/driver/nvidia/version: {line}"
                ),
                "check `cat /proc/driver/nvidia/version` and `nvidia-smi` by hand",
            );
        }
        DriverState::Loaded(driver) => driver,
    };
    let kind = if driver.open { "open" } else { "proprietary" };
    let needs_open = nvidia.iter().find(|g| {
        g.generation
            .as_ref()
            .is_some_and(|generation| generation.driver == DriverKind::OpenRequired)
    });
    match needs_open {
        Some(g) if !driver.open => Check::fail(
            "driver",
            format!(
                "NVIDIA {} with {kind} kernel modules, but the {} at {} works only with the open ones",
                driver.version,
                g.description(),
                g.address
            ),
            "set `hardware.nvidia.open = true;` (`cargo nixcuda nixos` does), rebuild and reboot",
        ),
        _ => Check::ok(
            "driver",
            format!("NVIDIA {} ({kind} kernel modules)", driver.version),
        ),
    }
}

pub fn driver_cuda(facts: &Facts) -> Check {
    let Some(driver) = facts.loaded_driver() else {
        return Check::skip("driver-cuda", "no NVIDIA driver loaded");
    };
    let (version, source) = &facts.cuda_target();
    let data = &facts.data;
    let major = version.split('.').next().unwrap_or_default();
    let update_hint = "update the driver: on NixOS a newer nixpkgs (`nvidiaPackages.stable`) and `sudo nixos-rebuild switch`, then reboot; elsewhere your distribution's newer driver";
    let exact = data.cuda_drivers.get(version);
    let family = data.cuda_family_drivers.get(major);
    let runs = newest_cuda_for(&driver.version, data)
        .map(|v| format!(" (which runs CUDA {v} and older)"))
        .unwrap_or_default();
    let update_hint = if major == "13" {
        format!(
            "{update_hint}; or keep the project on CUDA 12 (`cudaPackages`, which this driver may run)"
        )
    } else {
        update_hint.to_string()
    };
    match (exact, family) {
        (Some(min), _) if version_at_least(&driver.version, min) => Check::ok(
            "driver-cuda",
            format!(
                "driver {} runs CUDA {version} ({source}; needs {min} or newer)",
                driver.version
            ),
        ),
        (_, Some(fam)) if !version_at_least(&driver.version, fam) => Check::fail(
            "driver-cuda",
            format!(
                "driver {}{runs} cannot run CUDA {version} ({source}): CUDA {major}.x needs {fam} or newer",
                driver.version
            ),
            update_hint,
        ),
        (Some(min), Some(_)) => Check::warn(
            "driver-cuda",
            format!(
                "driver {}{runs} is older than CUDA {version} asks for ({min}; {source}): minor version compatibility runs most programs, but PTX compiled for newer CUDA fails to load",
                driver.version
            ),
            update_hint,
        ),
        (None, Some(fam)) => Check::warn(
            "driver-cuda",
            format!(
                "driver {} is new enough for CUDA {major}.x ({fam} or newer), but cargo-nixcuda does not know the exact minimum for CUDA {version} ({source})",
                driver.version
            ),
            format!(
                "compare with NVIDIA's table in the CUDA {version} release notes (\"CUDA Toolkit and Corresponding Driver Versions\")"
            ),
        ),
        (_, None) => Check::warn(
            "driver-cuda",
            format!("cargo-nixcuda does not know which driver CUDA {version} needs ({source})"),
            format!(
                "compare driver {} with NVIDIA's table in the CUDA {version} release notes",
                driver.version
            ),
        ),
    }
}

/// The newest CUDA release in the host data whose minimum driver `driver`
/// meets: what the loaded driver supports, as far as cargo-nixcuda knows.
pub(super) fn newest_cuda_for<'a>(driver: &str, data: &'a HostFacts) -> Option<&'a str> {
    data.cuda_drivers
        .iter()
        .filter(|(_, min)| version_at_least(driver, min))
        .map(|(cuda, _)| cuda.as_str())
        .max_by_key(|cuda| {
            cuda.split('.')
                .map(|p| p.parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
}

pub fn libcuda(facts: &Facts) -> Check {
    if facts.nvidia().is_empty() {
        return Check::skip("libcuda", "no NVIDIA GPU");
    }
    let dir = OPENGL_DRIVER_LIB;
    if !facts.libcuda.is_empty() {
        return Check::ok("libcuda", format!("{} in {dir}", facts.libcuda.join(", ")));
    }
    if facts.nixos {
        Check::fail(
            "libcuda",
            format!("no libcuda.so* in {dir}: Nix-built CUDA programs cannot find the driver"),
            "set `hardware.graphics.enable = true;` with the NVIDIA driver (`cargo nixcuda nixos` writes both), run `sudo nixos-rebuild switch`, reboot",
        )
    } else {
        Check::warn(
            "libcuda",
            format!("no libcuda.so* in {dir} (normal outside NixOS)"),
            NON_NIXOS_HINT,
        )
    }
}

pub fn uvm(facts: &Facts) -> Check {
    if facts.loaded_driver().is_none() {
        return Check::skip("nvidia-uvm", "no NVIDIA driver loaded");
    }
    if facts.uvm_loaded {
        Check::ok("nvidia-uvm", "the nvidia_uvm kernel module is loaded")
    } else {
        Check::fail(
            "nvidia-uvm",
            "the nvidia_uvm kernel module is not loaded: CUDA fails with error 999 (\"unknown error\")",
            "`sudo modprobe nvidia_uvm` now; on NixOS add `boot.kernelModules = [ \"nvidia_uvm\" ];` (NixOS loads it itself with `hardware.nvidia.open = true`)",
        )
    }
}

#[cfg(test)]
mod tests;
