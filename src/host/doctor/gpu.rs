//! The GPU and its driver: `gpu`, `driver`, `driver-cuda`, `libcuda`,
//! `nvidia-uvm`.

use super::super::capability::{self, Capability, CudaTarget};
use super::super::data::{DriverKind, Form, HostFacts};
use super::super::gpu::Gpu;
use super::super::platform::{WSL_DXG, WSL_LIB};
use super::facts::{DriverState, Facts, OPENGL_DRIVER_LIB, version_at_least};
use super::nix::non_nixos_hint;
use super::report::{Check, Status};

/// jetpack-nixos: NixOS modules, kernel and CUDA packages for Jetson.
const JETPACK_NIXOS: &str = "https://github.com/anduril/jetpack-nixos";

/// Where the GPU is not an NVIDIA PCI device: WSL2 and Jetson.
fn gpu_elsewhere(facts: &Facts) -> Option<Check> {
    if let Some(model) = &facts.jetson {
        return Some(Check::warn(
            "gpu",
            format!(
                "{model}: a Jetson, whose GPU is part of its Tegra chip (not a PCI device); nixpkgs' CUDA packages and the binary caches are for discrete GPUs, and the Jetson's CUDA comes with NVIDIA's JetPack"
            ),
            format!(
                "use jetpack-nixos ({JETPACK_NIXOS}): `hardware.nvidia-jetpack.enable = true;` with your `som` and `carrierBoard`, and its CUDA packages (built for the Jetson's capability; nothing of them is in the CUDA caches)"
            ),
        ));
    }
    let wsl = facts.wsl.as_ref()?;
    if !wsl.has_gpu() {
        return Some(Check::warn(
            "gpu",
            format!(
                "WSL2 without a GPU: neither {WSL_DXG} nor {WSL_LIB}/libcuda.so.1 exists, so CUDA cannot run here"
            ),
            "install NVIDIA's Windows driver (its WSL2 support comes with it; no Linux driver goes inside WSL), run `wsl --update` in Windows, then `wsl --shutdown` and start the distribution again",
        ));
    }
    let passthrough = if wsl.dxg {
        WSL_DXG.to_string()
    } else {
        format!("no {WSL_DXG}")
    };
    let names: Vec<String> = facts
        .smi
        .iter()
        .map(|s| {
            format!(
                "{}, compute capability {} (nvidia-smi)",
                s.name, s.compute_cap
            )
        })
        .collect();
    let message = format!(
        "WSL2: {} paravirtualised ({passthrough}; {} in {WSL_LIB}), run by the Windows NVIDIA driver",
        if names.is_empty() {
            "the GPU is".to_string()
        } else {
            format!("{} is", names.join("; "))
        },
        if wsl.libcuda.is_empty() {
            "no libcuda".to_string()
        } else {
            wsl.libcuda.join(", ")
        }
    );
    let shown: Vec<(&str, &str)> = facts
        .smi
        .iter()
        .map(|s| ("WSL2", s.compute_cap.as_str()))
        .collect();
    Some(match judge(facts, message, &shown) {
        Ok(message) => Check::ok("gpu", message),
        Err(check) => check,
    })
}

/// The GPUs' capabilities, as (where, capability shown), against the CUDA
/// in use: the check when one falls short, else `message` with what the
/// project builds for itself or does without.
fn judge(facts: &Facts, mut message: String, shown: &[(&str, &str)]) -> Result<String, Check> {
    let (version, source) = facts.cuda_target();
    let target = CudaTarget {
        version: &version,
        source: &source,
        explicit: facts.capabilities(),
        torch: facts.uses_torch(),
        datacenter: datacenter(facts),
    };
    let summary = capability::summarize(shown, &target, &facts.data);
    if let Some((status, reason, hint)) = summary.worst {
        let message = format!("{message}: {reason}");
        return Err(match status {
            Status::Fail => Check::fail("gpu", message, hint),
            _ => Check::warn("gpu", message, hint),
        });
    }
    if !summary.built_by_project.is_empty() {
        message.push_str(&format!(
            "; the project builds its CUDA packages for compute capability {} itself (cudaCapabilities)",
            summary.built_by_project.join(", ")
        ));
    }
    if !summary.no_torch.is_empty() {
        message.push_str(&format!(
            "; compute capability {} is below what nixpkgs' torch is built for, but this project uses no torch: TensorFlow's wheel and NVIDIA's CUDA libraries run on it",
            summary.no_torch.join(", ")
        ));
    }
    Ok(message)
}

pub fn gpu(facts: &Facts) -> Check {
    let nvidia = facts.nvidia();
    if nvidia.is_empty()
        && let Some(check) = gpu_elsewhere(facts)
    {
        return check;
    }
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
    let message = describe_gpus(facts, &nvidia);
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
    let message = match judge(facts, message, &shown) {
        Ok(message) => message,
        Err(check) => return check,
    };
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

/// Why a driver check does not apply on WSL2 or a Jetson.
fn no_linux_driver(facts: &Facts) -> Option<&'static str> {
    if facts.jetson.is_some() {
        Some("a Jetson: JetPack's (L4T) driver, not the desktop one")
    } else if facts.wsl.as_ref().is_some_and(|w| w.has_gpu()) {
        Some(
            "WSL2: the Windows NVIDIA driver runs the GPU; no Linux kernel driver belongs inside WSL (`nvidia-smi` in Windows shows its version)",
        )
    } else {
        None
    }
}

pub fn driver(facts: &Facts) -> Check {
    let nvidia = facts.nvidia();
    if let Some(why) = no_linux_driver(facts).filter(|_| nvidia.is_empty()) {
        return Check::skip("driver", why);
    }
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
        let why = no_linux_driver(facts).unwrap_or("no NVIDIA driver loaded");
        return Check::skip("driver-cuda", why);
    };
    let (version, source) = &facts.cuda_target();
    let data = &facts.data;
    let major = version.split('.').next().unwrap_or_default();
    // A board with fabric manager stays on the data-centre series.
    let series = if datacenter(facts) {
        "`nvidiaPackages.dc`, the data-centre series with fabric manager"
    } else {
        "`nvidiaPackages.stable`"
    };
    let update_hint = format!(
        "update the driver: on NixOS a newer nixpkgs ({series}) and `sudo nixos-rebuild switch`, then reboot; elsewhere your distribution's newer driver"
    );
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
        update_hint
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

/// An HGX board: NVSwitches on PCI, or a B200-class module (whose switches
/// are not), as `cargo nixcuda nixos` decides it.
fn datacenter(facts: &Facts) -> bool {
    !facts.nvswitches.is_empty()
        || facts.nvidia().iter().any(|g| {
            g.generation
                .as_ref()
                .is_some_and(|generation| generation.form == Some(Form::SxmNvlink5))
        })
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

/// WSL2: the Windows driver's libcuda must be linked into
/// /run/opengl-driver/lib, which NixOS-WSL's `wsl.useWindowsDriver` does.
fn wsl_libcuda(facts: &Facts) -> Check {
    let dir = OPENGL_DRIVER_LIB;
    if !facts.libcuda.is_empty() {
        return Check::ok(
            "libcuda",
            format!(
                "{} in {dir} (the Windows driver's, from {WSL_LIB})",
                facts.libcuda.join(", ")
            ),
        );
    }
    if facts.nixos {
        Check::fail(
            "libcuda",
            format!(
                "no libcuda.so* in {dir}: the Windows driver's is in {WSL_LIB}, where Nix-built CUDA programs do not look"
            ),
            "set `wsl.useWindowsDriver = true;` (NixOS-WSL; it links the WSL libraries into /run/opengl-driver/lib, and `cargo nixcuda nixos` writes it), run `sudo nixos-rebuild switch`, then `wsl --shutdown` in Windows and start the distribution again",
        )
    } else {
        Check::warn(
            "libcuda",
            format!("no libcuda.so* in {dir} (normal outside NixOS; WSL's is in {WSL_LIB})"),
            "link the WSL libraries where Nix-built programs look: `sudo mkdir -p /run/opengl-driver/lib && sudo ln -sf /usr/lib/wsl/lib/libcuda.so* /run/opengl-driver/lib/` (again after each start of WSL: /run is a tmpfs), or run the programs through nix-gl-host (`nixglhost <program>`)",
        )
    }
}

pub fn libcuda(facts: &Facts) -> Check {
    if facts.nvidia().is_empty() && facts.wsl.as_ref().is_some_and(|w| w.has_gpu()) {
        return wsl_libcuda(facts);
    }
    if facts.nvidia().is_empty() {
        let why = match facts.jetson {
            Some(_) => "a Jetson: jetpack-nixos provides its libcuda",
            None => "no NVIDIA GPU",
        };
        return Check::skip("libcuda", why);
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
            non_nixos_hint(facts),
        )
    }
}

pub fn uvm(facts: &Facts) -> Check {
    if facts.loaded_driver().is_none() {
        let why = no_linux_driver(facts).unwrap_or("no NVIDIA driver loaded");
        return Check::skip("nvidia-uvm", why);
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
