//! `cargo nixcuda nixos`: the NixOS module for this machine's NVIDIA GPU.
//! `Machine::scan` reads the GPUs in /sys/bus/pci/devices, `decide` (pure)
//! turns them and the options into a `ModulePlan` (driver, PRIME, data-centre
//! mode, power management, the comments and the warnings), and `render`
//! writes that plan through `data/nixos-module.nix.hbs`.

mod decide;
mod render;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chassis::{self, Chassis};
use super::data::{GpuTable, HostFacts};
use super::gpu::{self, Gpu, NvSwitch};
use super::platform::{self, Wsl};
use super::probe::Host;
use crate::error::{Error, HostError, Result};
pub use decide::{ModulePlan, decide};
pub use render::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimeChoice {
    /// Offload on a laptop whose screen is on an integrated GPU, else none.
    Auto,
    Offload,
    Sync,
    None,
}

#[derive(Debug, Clone)]
pub struct NixosOptions {
    /// `--open` / `--no-open`; `None` chooses by GPU generation.
    pub open: Option<bool>,
    pub prime: PrimeChoice,
    pub container_toolkit: bool,
    /// `--gpu`: the module for this GPU (a PCI ID or a generation) on a
    /// desktop, in place of the machine's.
    pub gpu: Option<String>,
}

/// What the module is decided from: the machine's display controllers and
/// NVSwitches.
#[derive(Debug, Clone)]
pub struct Machine {
    pub gpus: Vec<Gpu>,
    pub nvswitches: Vec<NvSwitch>,
    /// Where the GPUs were looked for, for the error when none is NVIDIA.
    pub pci_dir: PathBuf,
    /// Laptop or not: PRIME offload and fine-grained power management are
    /// for laptops.
    pub chassis: Chassis,
    /// `Some` on WSL2: a module without `hardware.nvidia`.
    pub wsl: Option<Wsl>,
    /// A Jetson's model: refused, with jetpack-nixos named.
    pub jetson: Option<String>,
    /// `x86_64`, `aarch64`: the CUDA caches build x86_64 only.
    pub arch: String,
}

impl Machine {
    pub fn scan(host: &Host, table: &GpuTable) -> Machine {
        Machine {
            gpus: gpu::scan(host, table),
            nvswitches: gpu::nvswitches(host, table),
            pci_dir: host.path(gpu::PCI_DEVICES),
            chassis: chassis::detect(host),
            wsl: platform::wsl(host),
            jetson: platform::jetson(host),
            arch: platform::arch(host),
        }
    }

    /// A desktop with one NVIDIA GPU, named by `spec` (`--gpu`): a PCI ID
    /// (`10de:2684`, `2684`) or a generation (`ada`, `pascal`).
    pub fn named(spec: &str, table: &GpuTable) -> Result<Machine> {
        let device = table
            .device_named(spec)
            .ok_or_else(|| HostError::UnknownGpu {
                spec: spec.to_string(),
                generations: table.generations(),
            })?;
        let pci = gpu::PciAddress::parse("01:00.0").expect("a valid PCI address");
        Ok(Machine {
            gpus: vec![Gpu::new(pci, gpu::NVIDIA, device, 0x030000, table)],
            nvswitches: Vec::new(),
            pci_dir: PathBuf::from("--gpu"),
            chassis: Chassis::Desktop(format!("--gpu {spec}: a desktop is assumed")),
            wsl: None,
            jetson: None,
            arch: "x86_64".to_string(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Prime {
    pub mode: &'static str,
    /// `intelBusId` or `amdgpuBusId`.
    pub igpu_option: &'static str,
    pub igpu_bus_id: String,
    pub nvidia_bus_id: String,
    /// The two GPUs as lspci prints them, for the module's comment.
    #[serde(skip)]
    pub igpu_address: String,
    #[serde(skip)]
    pub nvidia_address: String,
}

/// The module and what it was made of (`nixos --json`).
#[derive(Debug, Clone, Serialize)]
pub struct HostModule {
    pub gpus: Vec<Gpu>,
    pub nvswitches: Vec<NvSwitch>,
    /// `hardware.nvidia.datacenter.enable` (fabric manager) instead of
    /// `services.xserver.videoDrivers`.
    pub datacenter: bool,
    pub open: bool,
    /// Why `open` has its value (the module's comment).
    pub open_reason: Vec<String>,
    /// `stable`, `legacy_580`, `legacy_470` or `dc`.
    pub package: &'static str,
    pub prime: Option<Prime>,
    /// Laptop or desktop, and why.
    pub chassis: Chassis,
    /// WSL2: `wsl.useWindowsDriver` and no `hardware.nvidia`.
    pub wsl: bool,
    /// `powerManagement.enable` and `.finegrained` (PRIME offload laptops).
    pub power_management: bool,
    pub persistenced: bool,
    pub container_toolkit: bool,
    /// Things the user asked for that will not work well.
    pub warnings: Vec<String>,
    /// The module, formatted with nixfmt.
    pub text: String,
}

/// Scans the machine, decides and renders.
pub fn generate(host: &Host, opts: &NixosOptions) -> Result<HostModule> {
    let facts = HostFacts::embedded()?;
    let table = GpuTable::embedded()?;
    let machine = match &opts.gpu {
        Some(spec) => Machine::named(spec, &table)?,
        None => Machine::scan(host, &table),
    };
    let plan = decide(&machine, &facts, opts)?;
    let text = render(&plan)?;
    let chassis = machine.chassis;
    Ok(HostModule {
        gpus: plan.gpus,
        nvswitches: plan.nvswitches,
        datacenter: plan.datacenter,
        open: plan.open,
        open_reason: plan.open_reason,
        package: plan.package,
        prime: plan.prime,
        chassis,
        wsl: plan.wsl,
        power_management: plan.power_management,
        persistenced: plan.persistenced,
        container_toolkit: plan.container_toolkit,
        warnings: plan.warnings,
        text,
    })
}

/// What `write_module` did.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The file already holds exactly this module.
    Unchanged,
    /// The file exists with other content; nothing was written.
    Differs {
        diff: String,
    },
}

/// Writes `text` to `path` atomically (a kill or a full disk leaves the old
/// module whole, never half a new one, in the system's configuration),
/// unless a different file is there and `force` is not set (then returns
/// its unified diff).
pub fn write_module(path: &Path, text: &str, force: bool) -> Result<WriteOutcome> {
    match std::fs::read(path) {
        Ok(old) if old == text.as_bytes() => return Ok(WriteOutcome::Unchanged),
        Ok(old) if !force => {
            let mut patch =
                git2::Patch::from_buffers(&old, Some(path), text.as_bytes(), Some(path), None)
                    .map_err(Error::git("diff the module"))?;
            let buf = patch.to_buf().map_err(Error::git("format a diff"))?;
            return Ok(WriteOutcome::Differs {
                diff: String::from_utf8_lossy(&buf).into_owned(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", path, e)),
    }
    crate::fs::write_atomic(path, text.as_bytes())?;
    Ok(WriteOutcome::Written)
}
