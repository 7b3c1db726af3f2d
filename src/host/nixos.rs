//! `cargo nixcuda nixos`: the NixOS module for this machine's NVIDIA GPU,
//! from the GPUs in /sys/bus/pci/devices, rendered from
//! `scaffolds/_host/nixos-module.nix.hbs`.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::data::{self, DriverKind, GpuTable, HostFacts};
use super::gpu::{self, Gpu};
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
    pub open: bool,
    /// Why `open` has its value (the module's comment).
    pub open_reason: Vec<String>,
    /// `stable`, `legacy_580` or `legacy_470`.
    pub package: &'static str,
    pub prime: Option<Prime>,
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
    let package = match nvidia.iter().map(|g| kind_of(g)).max() {
        Some(DriverKind::Legacy470) => "legacy_470",
        Some(DriverKind::Legacy580) => "legacy_580",
        _ => "stable",
    };
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
    open_reason.push("It must be set explicitly for drivers >= 560 (NixOS asserts it).".into());
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
        _ => vec![
            "The driver series NixOS recommends (`production` is the more".to_string(),
            "conservative one).".to_string(),
        ],
    };

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
        "open": open,
        "open_reason": open_reason,
        "package": package,
        "package_reason": package_reason,
        "persistenced": prime.is_none(),
        "prime": prime_data,
        "container_toolkit": opts.container_toolkit,
        "caches": facts.caches,
    });
    let text = render(&data)?;
    Ok(HostModule {
        gpus,
        open,
        open_reason,
        package,
        prime,
        container_toolkit: opts.container_toolkit,
        warnings,
        text,
    })
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
        assert_eq!(m.warnings.len(), 1);
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
