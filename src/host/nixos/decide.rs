//! What the module sets, and why, from the machine's GPUs: a pure function,
//! so every GPU mix can be tested without a machine or a template.

use super::super::capability::{self, CudaTarget, Verdict};
use super::super::data::{Cache, DriverKind, Form, HostFacts};
use super::super::doctor::report::Status;
use super::super::gpu::{self, Gpu, NvSwitch};
use super::super::platform::AARCH64_CACHE;
use super::render::wrap;
use super::{Machine, NixosOptions, Prime, PrimeChoice};
use crate::error::{Error, HostError, Result};

/// Everything the module template needs.
#[derive(Debug, Clone)]
pub struct ModulePlan {
    pub gpus: Vec<Gpu>,
    pub nvswitches: Vec<NvSwitch>,
    /// `hardware.nvidia.datacenter.enable` (fabric manager) instead of
    /// `services.xserver.videoDrivers`.
    pub datacenter: bool,
    /// Why the data-centre driver (comment lines; empty without it).
    pub datacenter_reason: Vec<String>,
    /// Why the normal driver for a data-centre part (comment lines).
    pub driver_comment: Vec<String>,
    pub open: bool,
    /// Why `open` has its value (comment lines).
    pub open_reason: Vec<String>,
    /// `stable`, `legacy_580`, `legacy_470` or `dc`.
    pub package: &'static str,
    pub package_reason: Vec<String>,
    /// GPUs the cached CUDA packages have no kernels for (comment lines).
    pub cuda_note: Vec<String>,
    pub prime: Option<Prime>,
    /// PRIME left off beside an integrated GPU: why (comment lines), and
    /// the offload block the module shows commented out.
    pub prime_off: Option<PrimeOff>,
    /// `powerManagement.enable` and `.finegrained` (PRIME offload laptops).
    pub power_management: bool,
    pub persistenced: bool,
    pub container_toolkit: bool,
    pub caches: Vec<Cache>,
    /// WSL2: `wsl.useWindowsDriver = true;` instead of the driver.
    pub wsl: bool,
    /// What the caches hold for this architecture (comment lines; empty on
    /// x86_64).
    pub arch_note: Vec<String>,
    /// `--gpu`: the GPU the module is for, named on the command line.
    pub named_gpu: Option<String>,
    /// Things the user asked for, or the machine has, that will not work well.
    pub warnings: Vec<String>,
}

/// PRIME left off: the reason as comment lines, and the offload block.
pub type PrimeOff = (Vec<String>, Prime);

/// Which driver a GPU needs; an unknown GPU is taken as newer than the table.
fn kind_of(g: &Gpu) -> DriverKind {
    g.generation
        .as_ref()
        .map_or(DriverKind::Open, |generation| generation.driver)
}

fn is_legacy(g: &Gpu) -> bool {
    matches!(kind_of(g), DriverKind::Legacy580 | DriverKind::Legacy470)
}

fn form_of(g: &Gpu) -> Option<Form> {
    g.generation.as_ref().and_then(|generation| generation.form)
}

/// `Ada Lovelace GPU at 01:00.0 (10de:2684)`.
fn named(g: &Gpu) -> String {
    let arch = g
        .generation
        .as_ref()
        .map_or("NVIDIA", |generation| generation.arch.as_str());
    format!("{arch} GPU at {} (10de:{})", g.address, g.device_id)
}

/// The caches hold x86_64 builds only: what that means on ARM.
fn arch_note(machine: &Machine, warnings: &mut Vec<String>) -> Vec<String> {
    if machine.arch != "aarch64" {
        return Vec::new();
    }
    let text = format!("This machine is aarch64-linux: {AARCH64_CACHE}.");
    warnings.push(text.clone());
    wrap(&text)
}

/// WSL2 with the GPU passed through: the Windows driver runs it, and
/// NixOS-WSL links its libraries where Nix-built programs look.
fn wsl_plan(machine: &Machine, facts: &HostFacts, opts: &NixosOptions) -> ModulePlan {
    let mut warnings = Vec::new();
    if opts.prime != PrimeChoice::Auto && opts.prime != PrimeChoice::None {
        warnings.push("--prime: WSL2 has no PRIME; the Windows driver chooses the GPU".into());
    }
    if opts.open.is_some() {
        warnings.push(
            "--open/--no-open: WSL2 loads no Linux kernel modules; the Windows driver runs the GPU"
                .into(),
        );
    }
    let arch_note = arch_note(machine, &mut warnings);
    ModulePlan {
        gpus: machine.gpus.clone(),
        nvswitches: Vec::new(),
        datacenter: false,
        datacenter_reason: Vec::new(),
        driver_comment: Vec::new(),
        open: false,
        open_reason: Vec::new(),
        package: "stable",
        package_reason: Vec::new(),
        cuda_note: Vec::new(),
        prime: None,
        prime_off: None,
        power_management: false,
        persistenced: false,
        container_toolkit: opts.container_toolkit,
        caches: facts.caches.clone(),
        wsl: true,
        arch_note,
        named_gpu: opts.gpu.clone(),
        warnings,
    }
}

pub fn decide(machine: &Machine, facts: &HostFacts, opts: &NixosOptions) -> Result<ModulePlan> {
    let nvidia: Vec<&Gpu> = machine.gpus.iter().filter(|g| g.is_nvidia()).collect();
    if let Some(model) = &machine.jetson {
        return Err(Error::from(HostError::Jetson {
            model: model.clone(),
        }));
    }
    if let (true, Some(wsl)) = (nvidia.is_empty(), &machine.wsl) {
        if !wsl.has_gpu() {
            return Err(Error::from(HostError::WslWithoutGpu));
        }
        return Ok(wsl_plan(machine, facts, opts));
    }
    let Some(&primary) = nvidia.first() else {
        return Err(Error::from(HostError::NoNvidiaGpu {
            sys_dir: machine.pci_dir.clone(),
        }));
    };
    let legacy = nvidia.iter().copied().find(|g| is_legacy(g));
    let open_only = nvidia
        .iter()
        .copied()
        .find(|g| kind_of(g) == DriverKind::OpenRequired);
    if let (Some(l), Some(o), None) = (legacy, open_only, opts.open) {
        return Err(Error::from(HostError::ConflictingGpus {
            legacy: named(l),
            open_only: named(o),
        }));
    }
    let mut warnings = Vec::new();
    let datacenter_reason = datacenter_reason(&machine.nvswitches, &nvidia);
    let datacenter = datacenter_reason.is_some();
    let package = match nvidia.iter().map(|g| kind_of(g)).max() {
        _ if datacenter => "dc",
        Some(DriverKind::Legacy470) => "legacy_470",
        Some(DriverKind::Legacy580) => "legacy_580",
        _ => "stable",
    };
    let driver_comment = if datacenter {
        Vec::new()
    } else {
        normal_driver_comment(&nvidia, &mut warnings)
    };
    let (open, open_reason) =
        open_modules(primary, legacy, open_only, datacenter, opts, &mut warnings);
    let cuda_note = cuda_note(&nvidia, facts, datacenter, &mut warnings);
    let integrated = machine.gpus.iter().find(|g| g.integrated);
    let laptop = machine.chassis.is_laptop();
    let (prime, prime_off) = if datacenter {
        (None, None)
    } else {
        prime(opts.prime, integrated, primary, machine)?
    };
    // Fine-grained power management (RTD3) is a notebook feature; it needs
    // offload and Turing or newer.
    let power_management =
        laptop && prime.as_ref().is_some_and(|p| p.mode == "offload") && !is_legacy(primary);
    let arch_note = arch_note(machine, &mut warnings);
    Ok(ModulePlan {
        gpus: machine.gpus.clone(),
        nvswitches: machine.nvswitches.clone(),
        datacenter,
        datacenter_reason: datacenter_reason.unwrap_or_default(),
        driver_comment,
        open,
        open_reason,
        package,
        package_reason: package_reason(package),
        cuda_note,
        prime,
        prime_off,
        power_management,
        // A laptop's GPU should sleep; only desktops and servers keep it awake.
        persistenced: !laptop,
        container_toolkit: opts.container_toolkit,
        caches: facts.caches.clone(),
        wsl: false,
        arch_note,
        named_gpu: opts.gpu.clone(),
        warnings,
    })
}

/// Why the data-centre driver, when the board needs it: NVSwitches on PCI,
/// or an HGX B200-class module whose NVSwitches are not.
fn datacenter_reason(switches: &[NvSwitch], nvidia: &[&Gpu]) -> Option<Vec<String>> {
    if !switches.is_empty() {
        let addresses: Vec<&str> = switches.iter().map(|s| s.address.as_str()).collect();
        let mut kinds: Vec<String> = switches
            .iter()
            .map(|s| {
                s.name
                    .clone()
                    .unwrap_or_else(|| format!("10de:{}", s.device_id))
            })
            .collect();
        kinds.dedup();
        return Some(wrap(&format!(
            "Data-centre driver: this HGX board has {} NVSwitch(es) at {} ({}). They need NVIDIA's fabric manager, which `datacenter.enable` runs, with the data-centre driver.",
            switches.len(),
            addresses.join(", "),
            kinds.join("; ")
        )));
    }
    let nvlink5 = nvidia
        .iter()
        .find(|g| form_of(g) == Some(Form::SxmNvlink5))?;
    Some(wrap(&format!(
        "Data-centre driver: the {} is an HGX B200-class SXM module, whose NVSwitches are not PCI devices on the host (NVIDIA's Fabric Manager user guide), so none were found; the board needs fabric manager, which `datacenter.enable` runs, with the data-centre driver. These boards also need NVIDIA's NVLink subnet manager (NVLSM) next to fabric manager: check that `nvidia-smi -q | grep -A2 Fabric` says Completed after `nixos-rebuild switch`.",
        named(nvlink5)
    )))
}

/// Why the normal driver, for data-centre parts that might suggest otherwise
/// (an SXM module without NVSwitch also gets a warning).
fn normal_driver_comment(nvidia: &[&Gpu], warnings: &mut Vec<String>) -> Vec<String> {
    if let Some(g) = nvidia.iter().find(|g| form_of(g) == Some(Form::Sxm)) {
        let text = format!(
            "The {} is an SXM module, but no NVSwitch is on PCI, so the normal driver (without fabric manager) is used. Inside a VM of an HGX board the host runs fabric manager; CUDA fails with error 802 (\"system not yet initialized\") until it does.",
            named(g)
        );
        warnings.push(format!(
            "{} On a bare-metal HGX board with NVSwitch run `cargo nixcuda nixos` there; to force the data-centre driver, set `hardware.nvidia.datacenter.enable = true;` and remove `services.xserver.videoDrivers`.",
            text
        ));
        return wrap(&text);
    }
    match nvidia.iter().find(|g| form_of(g) == Some(Form::Pcie)) {
        Some(g) => wrap(&format!(
            "The {} is a data-centre PCIe card without NVSwitch: the normal driver runs it. The data-centre driver (`hardware.nvidia.datacenter.enable`, fabric manager) is for HGX boards with NVSwitch.",
            named(g)
        )),
        None => Vec::new(),
    }
}

/// `hardware.nvidia.open` and its comment: by generation, unless forced.
fn open_modules(
    primary: &Gpu,
    legacy: Option<&Gpu>,
    open_only: Option<&Gpu>,
    datacenter: bool,
    opts: &NixosOptions,
    warnings: &mut Vec<String>,
) -> (bool, Vec<String>) {
    let deciding = legacy.or(open_only).unwrap_or(primary);
    let mut reason: Vec<String> = match (legacy, open_only) {
        (Some(g), _) => vec![
            format!(
                "Closed kernel modules: the {} is older than Turing;",
                named(g)
            ),
            "NVIDIA's open modules support Turing (GTX 16xx, RTX 20xx) and newer only.".into(),
        ],
        (None, Some(g)) => vec![
            format!(
                "Open kernel modules, REQUIRED: the {} is Blackwell,",
                named(g)
            ),
            "which NVIDIA supports with the open modules only.".into(),
        ],
        (None, None) if deciding.generation.is_none() => vec![
            format!(
                "Open kernel modules: the {} is not in cargo-nixcuda's",
                named(deciding)
            ),
            "GPU table, so it is taken to be newer (Turing or later). Set false if it is older."
                .into(),
        ],
        (None, None) => vec![
            format!(
                "Open kernel modules: the {} is Turing or newer,",
                named(deciding)
            ),
            "for which NVIDIA recommends them.".into(),
        ],
    };
    reason.push(if datacenter {
        "Set explicitly, although NixOS asserts it only for the normal driver.".into()
    } else {
        "It must be set explicitly for drivers >= 560 (NixOS asserts it).".into()
    });
    let Some(forced) = opts.open else {
        return (legacy.is_none(), reason);
    };
    reason.insert(
        0,
        format!(
            "Set to {forced} by `--{}open`; detected:",
            if forced { "" } else { "no-" }
        ),
    );
    match (forced, legacy, open_only) {
        (true, Some(g), _) => warnings.push(format!(
            "--open: the open kernel modules do not support the {}",
            named(g)
        )),
        (false, _, Some(g)) => warnings.push(format!(
            "--no-open: the {} works only with the open kernel modules",
            named(g)
        )),
        _ => {}
    }
    (forced, reason)
}

fn package_reason(package: &str) -> Vec<String> {
    match package {
        "legacy_580" => vec![
            "The 580 series is the last NVIDIA driver for Maxwell, Pascal and Volta;".to_string(),
            "`stable` no longer supports them.".to_string(),
        ],
        "legacy_470" => vec![
            "The 470 series is the last NVIDIA driver for Kepler; the CUDA versions".to_string(),
            "in nixpkgs do not support Kepler any more.".to_string(),
        ],
        "dc" => wrap(
            "The data-centre driver series with fabric manager (`dc`, which nixpkgs keeps compatible with its default cudaPackages); `datacenter.enable` would choose it too.",
        ),
        _ => wrap(
            "The driver series NixOS recommends; `stable` is the same driver as `production` (except on i686).",
        ),
    }
}

/// GPUs the binary caches' CUDA packages have no kernels for: a comment
/// each, and a warning.
fn cuda_note(
    nvidia: &[&Gpu],
    facts: &HostFacts,
    datacenter: bool,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let target = CudaTarget {
        version: &facts.default_cuda,
        source: "the default cudaPackages",
        explicit: None,
        torch: None,
        datacenter,
    };
    let floor = facts
        .cuda_capabilities
        .get(facts.default_cuda.split('.').next().unwrap_or_default())
        .map_or("7.5", |f| f.default_min.as_str());
    let mut note = Vec::new();
    for g in nvidia {
        let Some(generation) = &g.generation else {
            continue;
        };
        let shown = generation.compute_capability.as_str();
        let Some(Verdict::Below {
            status,
            message,
            hint,
        }) = capability::assess(shown, &target, facts)
        else {
            continue;
        };
        note.extend(wrap(&if status == Status::Fail {
            format!(
                "CUDA: the {} has compute capability {shown}, which no CUDA in nixpkgs supports any more ({message}): CUDA programs cannot use it.",
                named(g)
            )
        } else {
            format!(
                "CUDA: the {} has compute capability {shown}, below {floor}, the lowest that nixpkgs builds its CUDA packages (and so the binary caches) for: the cached torch fails with \"no kernel image is available\" (TensorFlow's wheel and NVIDIA's CUDA libraries still run on it). A project with torch must set {} in its nixpkgs config: every CUDA package then compiles locally, for hours. CUDA 13 does not support this GPU at all.",
                named(g),
                capability::capability_list(shown)
            )
        }));
        warnings.push(format!(
            "the {}, compute capability {shown}: {message}; {hint}",
            named(g)
        ));
    }
    note
}

/// PRIME between the integrated GPU and the primary NVIDIA one. By default
/// offload, on a laptop whose screen is on the integrated GPU; on a desktop,
/// or when the monitor is on the NVIDIA GPU (`boot_vga`), it stays off and
/// the module shows the block commented out with the reason. A mode asked
/// for is written as asked; asking for one without an integrated GPU is an
/// error.
fn prime(
    choice: PrimeChoice,
    integrated: Option<&Gpu>,
    primary: &Gpu,
    machine: &Machine,
) -> Result<(Option<Prime>, Option<PrimeOff>)> {
    let Some(igpu) = integrated else {
        return match choice {
            PrimeChoice::None | PrimeChoice::Auto => Ok((None, None)),
            PrimeChoice::Offload | PrimeChoice::Sync => {
                Err(Error::from(HostError::PrimeNeedsIntegratedGpu {
                    mode: if choice == PrimeChoice::Sync {
                        "sync"
                    } else {
                        "offload"
                    }
                    .into(),
                }))
            }
        };
    };
    let pair = |mode| Prime {
        mode,
        igpu_option: if igpu.vendor_code == gpu::AMD {
            "amdgpuBusId"
        } else {
            "intelBusId"
        },
        igpu_bus_id: igpu.bus_id.clone(),
        nvidia_bus_id: primary.bus_id.clone(),
        igpu_address: igpu.address.clone(),
        nvidia_address: primary.address.clone(),
    };
    let off_because = if primary.boot_vga {
        Some(format!(
            "the monitor is on the NVIDIA GPU ({}: the firmware showed its boot screen there), and with offload NixOS would make the integrated GPU ({}), which has no monitor, the display device.",
            primary.address, igpu.address
        ))
    } else if !machine.chassis.is_laptop() {
        Some(format!(
            "this is not a laptop ({}). PRIME offload and its power management are notebook features; here the NVIDIA GPU stays awake and drives its own outputs.",
            machine.chassis.reason()
        ))
    } else {
        None
    };
    Ok(match (choice, off_because) {
        (PrimeChoice::None, _) => (None, None),
        (PrimeChoice::Offload, _) => (Some(pair("offload")), None),
        (PrimeChoice::Sync, _) => (Some(pair("sync")), None),
        (PrimeChoice::Auto, None) => (Some(pair("offload")), None),
        (PrimeChoice::Auto, Some(reason)) => {
            let text = format!(
                "PRIME is off: {reason} If your monitor is connected to the processor's graphics output and the NVIDIA GPU should only compute, uncomment this block (or run `cargo nixcuda nixos --prime offload`):"
            );
            (None, Some((wrap(&text), pair("offload"))))
        }
    })
}
