//! `cargo nixcuda nixos`: the NixOS module for this machine's NVIDIA GPU,
//! from the GPUs in /sys/bus/pci/devices, rendered from
//! `scaffolds/_host/nixos-module.nix.hbs`.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::capability::{self, CudaTarget, Verdict};
use super::data::{self, DriverKind, Form, GpuTable, HostFacts};
use super::doctor::Status;
use super::gpu::{self, Gpu, NvSwitch};
use super::probe::Host;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimeChoice {
    /// Offload when an integrated GPU is present, else none.
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Prime {
    pub mode: &'static str,
    /// `intelBusId` or `amdgpuBusId`.
    pub igpu_option: &'static str,
    pub igpu_bus_id: String,
    pub nvidia_bus_id: String,
}

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
    /// `powerManagement.enable` and `.finegrained` (PRIME offload laptops).
    pub power_management: bool,
    pub persistenced: bool,
    pub container_toolkit: bool,
    /// Things the user asked for that will not work well.
    pub warnings: Vec<String>,
    /// The module, formatted with nixfmt.
    pub text: String,
}

pub fn generate(host: &Host, opts: &NixosOptions) -> Result<HostModule> {
    let facts = HostFacts::embedded()?;
    let table = GpuTable::embedded()?;
    let gpus = gpu::scan(host, &table);
    let switches = gpu::nvswitches(host, &table);
    let nvidia: Vec<&Gpu> = gpus.iter().filter(|g| g.is_nvidia()).collect();
    let Some(primary) = nvidia.first() else {
        return Err(Error::NoNvidiaGpu {
            sys_dir: host.path(gpu::PCI_DEVICES),
        });
    };
    let mut warnings = Vec::new();

    // Which driver the generations need; an unknown GPU is taken as newer
    // than the table.
    let kind_of = |g: &Gpu| {
        g.generation
            .as_ref()
            .map_or(DriverKind::Open, |generation| generation.driver)
    };
    let named = |g: &Gpu| {
        let arch = g
            .generation
            .as_ref()
            .map_or("NVIDIA", |generation| generation.arch.as_str());
        format!("{arch} GPU at {} (10de:{})", g.address, g.device_id)
    };
    let legacy = nvidia
        .iter()
        .find(|g| matches!(kind_of(g), DriverKind::Legacy580 | DriverKind::Legacy470));
    let open_only = nvidia
        .iter()
        .find(|g| kind_of(g) == DriverKind::OpenRequired);
    if let (Some(l), Some(o), None) = (legacy, open_only, opts.open) {
        return Err(Error::ConflictingGpus {
            legacy: named(l),
            open_only: named(o),
        });
    }
    let form_of = |g: &Gpu| g.generation.as_ref().and_then(|generation| generation.form);
    let nvlink5 = nvidia.iter().find(|g| form_of(g) == Some(Form::SxmNvlink5));
    let datacenter_reason: Option<Vec<String>> = if !switches.is_empty() {
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
        Some(wrap(&format!(
            "Data-centre driver: this HGX board has {} NVSwitch(es) at {} ({}). They need NVIDIA's fabric manager, which `datacenter.enable` runs, with the data-centre driver.",
            switches.len(),
            addresses.join(", "),
            kinds.join("; ")
        )))
    } else {
        nvlink5.map(|g| {
            wrap(&format!(
                "Data-centre driver: the {} is an HGX B200-class SXM module, whose NVSwitches are not PCI devices on the host (NVIDIA's Fabric Manager user guide), so none were found; the board needs fabric manager, which `datacenter.enable` runs, with the data-centre driver. These boards also need NVIDIA's NVLink subnet manager (NVLSM) next to fabric manager: check that `nvidia-smi -q | grep -A2 Fabric` says Completed after `nixos-rebuild switch`.",
                named(g)
            ))
        })
    };
    let datacenter = datacenter_reason.is_some();
    let package = match nvidia.iter().map(|g| kind_of(g)).max() {
        _ if datacenter => "dc",
        Some(DriverKind::Legacy470) => "legacy_470",
        Some(DriverKind::Legacy580) => "legacy_580",
        _ => "stable",
    };
    // Why the normal driver, for data-centre parts that might suggest otherwise.
    let mut driver_comment = Vec::new();
    if !datacenter {
        if let Some(g) = nvidia.iter().find(|g| form_of(g) == Some(Form::Sxm)) {
            let text = format!(
                "The {} is an SXM module, but no NVSwitch is on PCI, so the normal driver (without fabric manager) is used. Inside a VM of an HGX board the host runs fabric manager; CUDA fails with error 802 (\"system not yet initialized\") until it does.",
                named(g)
            );
            warnings.push(format!(
                "{} On a bare-metal HGX board with NVSwitch run `cargo nixcuda nixos` there; to force the data-centre driver, set `hardware.nvidia.datacenter.enable = true;` and remove `services.xserver.videoDrivers`.",
                text
            ));
            driver_comment.extend(wrap(&text));
        } else if let Some(g) = nvidia.iter().find(|g| form_of(g) == Some(Form::Pcie)) {
            driver_comment.extend(wrap(&format!(
                "The {} is a data-centre PCIe card without NVSwitch: the normal driver runs it. The data-centre driver (`hardware.nvidia.datacenter.enable`, fabric manager) is for HGX boards with NVSwitch.",
                named(g)
            )));
        }
    }
    let detected_open = legacy.is_none();
    let deciding = legacy.or(open_only).copied().unwrap_or(primary);
    let mut open_reason = Vec::new();
    match (legacy, open_only) {
        (Some(g), _) => {
            open_reason.push(format!(
                "Closed kernel modules: the {} is older than Turing;",
                named(g)
            ));
            open_reason.push(
                "NVIDIA's open modules support Turing (GTX 16xx, RTX 20xx) and newer only.".into(),
            );
        }
        (None, Some(g)) => {
            open_reason.push(format!(
                "Open kernel modules, REQUIRED: the {} is Blackwell,",
                named(g)
            ));
            open_reason.push("which NVIDIA supports with the open modules only.".into());
        }
        (None, None) if deciding.generation.is_none() => {
            open_reason.push(format!(
                "Open kernel modules: the {} is not in cargo-nixcuda's",
                named(deciding)
            ));
            open_reason.push("GPU table, so it is taken to be newer (Turing or later). Set false if it is older.".into());
        }
        (None, None) => {
            open_reason.push(format!(
                "Open kernel modules: the {} is Turing or newer,",
                named(deciding)
            ));
            open_reason.push("for which NVIDIA recommends them.".into());
        }
    }
    if datacenter {
        open_reason
            .push("Set explicitly, although NixOS asserts it only for the normal driver.".into());
    } else {
        open_reason.push("It must be set explicitly for drivers >= 560 (NixOS asserts it).".into());
    }
    let open = match opts.open {
        None => detected_open,
        Some(forced) => {
            open_reason.insert(
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
            forced
        }
    };
    let package_reason = match package {
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
    };

    // GPUs the binary caches' CUDA packages have no kernels for.
    let target = CudaTarget {
        version: &facts.default_cuda,
        source: "the default cudaPackages",
        explicit: None,
    };
    let mut cuda_note = Vec::new();
    for g in &nvidia {
        let Some(generation) = &g.generation else {
            continue;
        };
        let shown = generation.compute_capability.as_str();
        let Some(Verdict::Below {
            status,
            message,
            hint,
        }) = capability::assess(shown, &target, &facts)
        else {
            continue;
        };
        let floor = facts
            .cuda_capabilities
            .get(facts.default_cuda.split('.').next().unwrap_or_default())
            .map_or("7.5", |f| f.default_min.as_str());
        cuda_note.extend(wrap(&if status == Status::Fail {
            format!(
                "CUDA: the {} has compute capability {shown}, which no CUDA in nixpkgs supports any more ({message}): CUDA programs cannot use it.",
                named(g)
            )
        } else {
            format!(
                "CUDA: the {} has compute capability {shown}, below {floor}, the lowest that nixpkgs builds its CUDA packages (and so the binary caches) for: the cached torch fails with \"no kernel image is available\". In a project, set {} in its nixpkgs config: every CUDA package then compiles locally, for hours. CUDA 13 does not support this GPU at all.",
                named(g),
                capability::capability_list(shown)
            )
        }));
        warnings.push(format!(
            "the {}, compute capability {shown}: {message}; {hint}",
            named(g)
        ));
    }

    let integrated = gpus.iter().find(|g| g.integrated);
    let mode = match (opts.prime, integrated) {
        (PrimeChoice::None, _) | (PrimeChoice::Auto, None) => None,
        (PrimeChoice::Auto | PrimeChoice::Offload, Some(_)) => Some("offload"),
        (PrimeChoice::Sync, Some(_)) => Some("sync"),
        (PrimeChoice::Offload, None) => {
            return Err(Error::PrimeNeedsIntegratedGpu {
                mode: "offload".into(),
            });
        }
        (PrimeChoice::Sync, None) => {
            return Err(Error::PrimeNeedsIntegratedGpu {
                mode: "sync".into(),
            });
        }
    };
    let mode = mode.filter(|_| !datacenter);
    let prime = mode.zip(integrated).map(|(mode, igpu)| Prime {
        mode,
        igpu_option: if igpu.vendor_code == gpu::AMD {
            "amdgpuBusId"
        } else {
            "intelBusId"
        },
        igpu_bus_id: igpu.bus_id.clone(),
        nvidia_bus_id: primary.bus_id.clone(),
    });

    let gpu_rows: Vec<_> = gpus
        .iter()
        .map(|g| {
            json!({
                "address": g.address,
                "vendor": g.vendor,
                "device_id": format!("{}:{}", g.vendor_id, g.device_id),
                "description": g.description(),
                "bus_id": g.bus_id,
            })
        })
        .collect();
    // Fine-grained power management (RTD3) needs offload and Turing or newer.
    let power_management = prime.as_ref().is_some_and(|p| p.mode == "offload")
        && !matches!(
            kind_of(primary),
            DriverKind::Legacy580 | DriverKind::Legacy470
        );
    // A laptop's GPU should sleep; only desktops and servers keep it awake.
    let persistenced = integrated.is_none();
    let prime_data = prime.as_ref().map(|p| {
        json!({
            "offload": p.mode == "offload",
            "igpu_option": p.igpu_option,
            "igpu_bus_id": p.igpu_bus_id,
            "nvidia_bus_id": p.nvidia_bus_id,
            "igpu_address": integrated.map(|g| g.address.clone()),
            "nvidia_address": primary.address,
        })
    });
    let data = json!({
        "tool_version": env!("CARGO_PKG_VERSION"),
        "gpus": gpu_rows,
        "nvswitches": switches,
        "datacenter": datacenter,
        "datacenter_reason": datacenter_reason.unwrap_or_default(),
        "driver_comment": driver_comment,
        "open": open,
        "open_reason": open_reason,
        "package": package,
        "package_reason": package_reason,
        "cuda_note": cuda_note,
        "power_management": power_management,
        "persistenced": persistenced,
        "prime": prime_data,
        "container_toolkit": opts.container_toolkit,
        "caches": facts
            .caches
            .iter()
            .map(|c| json!({
                "url": c.url,
                "key": c.key,
                // Continuation lines are indented under the dash.
                "about_lines": wrap_at(&format!("- {}: {}.", c.url, c.about), 72)
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| if i == 0 { l } else { format!("  {l}") })
                    .collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>(),
    });
    let text = render(&data)?;
    Ok(HostModule {
        gpus,
        nvswitches: switches,
        datacenter,
        open,
        open_reason,
        package,
        prime,
        power_management,
        persistenced,
        container_toolkit: opts.container_toolkit,
        warnings,
        text,
    })
}

/// `text` as comment lines of at most 74 characters (the module's comments
/// sit at an indent of up to four).
fn wrap(text: &str) -> Vec<String> {
    wrap_at(text, 74)
}

fn wrap_at(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn render(data: &serde_json::Value) -> Result<String> {
    let template = data::read(data::MODULE_TEMPLATE)?;
    let render_error = |message: String| Error::Render {
        file: format!("scaffolds/{}", data::MODULE_TEMPLATE),
        message,
    };
    let rendered = crate::scaffold::helpers::registry()
        .render_template(template, data)
        .map_err(|e| render_error(e.to_string()))?;
    nixfmt_rs::format(&rendered).map_err(|e| {
        render_error(format!(
            "the rendered module is not valid Nix:\n{}",
            nixfmt_rs::format_error(&rendered, Some("nixos-module.nix"), &e)
        ))
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

/// Writes `text` to `path`, unless a different file is there and `force` is
/// not set (then returns its unified diff).
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
    std::fs::write(path, text).map_err(|e| Error::io("write", path, e))?;
    Ok(WriteOutcome::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(devices: &[(&str, &str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, vendor, device) in devices {
            let d = dir.path().join("sys/bus/pci/devices").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("0x{vendor}\n")).unwrap();
            std::fs::write(d.join("device"), format!("0x{device}\n")).unwrap();
            std::fs::write(d.join("class"), "0x030000\n").unwrap();
        }
        dir
    }

    fn opts() -> NixosOptions {
        NixosOptions {
            open: None,
            prime: PrimeChoice::Auto,
            container_toolkit: false,
        }
    }

    #[test]
    fn open_follows_the_generation() {
        for (device, open, package) in [
            ("2684", true, "stable"),      // RTX 4090
            ("2b85", true, "stable"),      // RTX 5090
            ("1b80", false, "legacy_580"), // GTX 1080
            ("ffff", true, "stable"),      // unknown
        ] {
            let dir = machine(&[("0000:01:00.0", "10de", device)]);
            let m = generate(&Host::at(dir.path()), &opts()).unwrap();
            assert_eq!((m.open, m.package), (open, package), "{device}");
            assert!(m.text.contains(&format!("open = {open};")), "{}", m.text);
            assert!(m.prime.is_none());
        }
    }

    #[test]
    fn prime_needs_an_integrated_gpu() {
        let dir = machine(&[("0000:01:00.0", "10de", "2684")]);
        let host = Host::at(dir.path());
        let o = NixosOptions {
            prime: PrimeChoice::Offload,
            ..opts()
        };
        assert!(matches!(
            generate(&host, &o),
            Err(Error::PrimeNeedsIntegratedGpu { .. })
        ));

        let dir = machine(&[
            ("0000:c1:00.0", "10de", "28a0"),
            ("0000:05:00.0", "1002", "15bf"),
        ]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        let p = m.prime.unwrap();
        assert_eq!(
            (
                p.mode,
                p.igpu_option,
                p.igpu_bus_id.as_str(),
                p.nvidia_bus_id.as_str()
            ),
            ("offload", "amdgpuBusId", "PCI:5:0:0", "PCI:193:0:0")
        );
        assert!(
            m.text.contains("nvidiaBusId = \"PCI:193:0:0\";"),
            "{}",
            m.text
        );
    }

    #[test]
    fn no_nvidia_gpu_is_an_error() {
        let dir = machine(&[("0000:00:02.0", "8086", "a780")]);
        assert!(matches!(
            generate(&Host::at(dir.path()), &opts()),
            Err(Error::NoNvidiaGpu { .. })
        ));
    }

    #[test]
    fn mixed_generations_need_a_choice() {
        let dir = machine(&[
            ("0000:01:00.0", "10de", "1b80"),
            ("0000:02:00.0", "10de", "2b85"),
        ]);
        let host = Host::at(dir.path());
        assert!(matches!(
            generate(&host, &opts()),
            Err(Error::ConflictingGpus { .. })
        ));
        let m = generate(
            &host,
            &NixosOptions {
                open: Some(true),
                ..opts()
            },
        )
        .unwrap();
        assert!(m.open);
        // The --open conflict, and the GTX 1080's compute capability.
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        assert!(m.warnings[0].starts_with("--open:"), "{:?}", m.warnings);
    }

    #[test]
    fn data_centre_boards_get_the_data_centre_driver() {
        let with_class = |devices: &[(&str, &str, &str)]| {
            let dir = machine(&[]);
            for (name, device, class) in devices {
                let d = dir.path().join("sys/bus/pci/devices").join(name);
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join("vendor"), "0x10de\n").unwrap();
                std::fs::write(d.join("device"), format!("0x{device}\n")).unwrap();
                std::fs::write(d.join("class"), format!("0x{class}\n")).unwrap();
            }
            dir
        };
        let nvidia_lines = |m: &HostModule| {
            m.text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        // H100 SXM with its NVSwitch.
        let dir = with_class(&[
            ("0000:18:00.0", "2330", "030200"),
            ("0000:05:00.0", "22a3", "068000"),
        ]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        let code = nvidia_lines(&m);
        assert!(m.datacenter && m.package == "dc" && m.open, "{}", m.text);
        assert!(code.contains("datacenter.enable = true;"), "{code}");
        assert!(!code.contains("videoDrivers"), "{code}");
        assert!(code.contains("nvidiaSettings = false;"), "{code}");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);

        // B200: no NVSwitch on PCI, the GPU ID decides.
        let dir = with_class(&[("0000:18:00.0", "2901", "030200")]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(m.datacenter && m.nvswitches.is_empty(), "{}", m.text);
        assert!(m.text.contains("NVLSM"), "{}", m.text);

        // An H100 SXM alone (a VM): the normal driver, and a warning.
        let dir = with_class(&[("0000:07:00.0", "2330", "030200")]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(!m.datacenter && m.package == "stable", "{}", m.text);
        assert!(nvidia_lines(&m).contains("videoDrivers = [ \"nvidia\" ];"));
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].contains("error 802"), "{:?}", m.warnings);

        // A PCIe data-centre card: the normal driver, with the reason.
        let dir = with_class(&[("0000:41:00.0", "26b9", "030200")]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(!m.datacenter && m.warnings.is_empty());
        assert!(m.text.contains("data-centre PCIe card"), "{}", m.text);
    }

    #[test]
    fn laptops_power_the_gpu_down_and_desktops_keep_it_up() {
        // Turing dGPU with an Intel iGPU: offload and fine-grained power
        // management, no persistenced.
        let dir = machine(&[
            ("0000:00:02.0", "8086", "9bc4"),
            ("0000:01:00.0", "10de", "1f15"),
        ]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(m.power_management && !m.persistenced);
        assert!(m.text.contains("powerManagement.finegrained = true;"));
        assert!(!m.text.contains("nvidiaPersistenced"));
        // Sync cannot power the GPU down; no fine-grained management.
        let sync = NixosOptions {
            prime: PrimeChoice::Sync,
            ..opts()
        };
        let m = generate(&Host::at(dir.path()), &sync).unwrap();
        assert!(!m.power_management && !m.text.contains("finegrained"));
        // A Pascal laptop: RTD3 needs Turing.
        let dir = machine(&[
            ("0000:00:02.0", "8086", "9bc4"),
            ("0000:01:00.0", "10de", "1c8d"),
        ]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(!m.power_management && !m.persistenced);
        // A desktop.
        let dir = machine(&[("0000:01:00.0", "10de", "2684")]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(!m.power_management && m.persistenced);
    }

    #[test]
    fn old_gpus_are_told_about_the_cache() {
        let dir = machine(&[("0000:01:00.0", "10de", "1b80")]); // GTX 1080
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert_eq!(m.package, "legacy_580");
        assert!(
            m.text.contains("cudaCapabilities = [ \"6.1\" ]"),
            "{}",
            m.text
        );
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("6.1") && m.warnings[0].contains("no kernel image"));
        let dir = machine(&[("0000:01:00.0", "10de", "1e07")]); // RTX 2080 Ti
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(m.warnings.is_empty() && !m.text.contains("cudaCapabilities"));
        // Maxwell: the table knows a range, the comment says how to pick.
        let dir = machine(&[("0000:01:00.0", "10de", "13c2")]); // GTX 970
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert!(m.text.contains("one of 5.0-5.2"), "{}", m.text);
        // Kepler: no CUDA in nixpkgs supports it.
        let dir = machine(&[("0000:01:00.0", "10de", "1180")]); // GTX 680
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert_eq!(m.package, "legacy_470");
        assert!(
            m.text.contains("cannot use it") && !m.text.contains("cudaCapabilities = ["),
            "{}",
            m.text
        );
    }

    #[test]
    fn comments_wrap() {
        let lines = wrap(&"word ".repeat(40));
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.len() <= 74),
            "{lines:?}"
        );
        assert_eq!(wrap("short text"), ["short text"]);
    }

    #[test]
    fn existing_files_are_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.nix");
        assert_eq!(
            write_module(&path, "a\n", false).unwrap(),
            WriteOutcome::Written
        );
        assert_eq!(
            write_module(&path, "a\n", false).unwrap(),
            WriteOutcome::Unchanged
        );
        let WriteOutcome::Differs { diff } = write_module(&path, "b\n", false).unwrap() else {
            panic!("expected a diff");
        };
        assert!(diff.contains("-a") && diff.contains("+b"), "{diff}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        assert_eq!(
            write_module(&path, "b\n", true).unwrap(),
            WriteOutcome::Written
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
    }
}
