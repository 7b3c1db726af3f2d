//! The facts the host commands check against, embedded from the files
//! beside this one: `host.yaml` (Nix, caches, CUDA sets and drivers),
//! `nvidia-gpus.yaml` (GPU generations by PCI ID) and the NixOS module
//! template `nixos-module.nix.hbs`. They are data, each citing its sources;
//! the host code reads them here, not through the scaffold registry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, HostError, Result};

/// One embedded data file: where it lives in the source tree (for error
/// messages) and its text.
pub struct DataFile {
    pub path: &'static str,
    pub text: &'static str,
}

pub const HOST_FACTS: DataFile = DataFile {
    path: "src/host/data/host.yaml",
    text: include_str!("host.yaml"),
};
pub const GPU_TABLE: DataFile = DataFile {
    path: "src/host/data/nvidia-gpus.yaml",
    text: include_str!("nvidia-gpus.yaml"),
};
pub const MODULE_TEMPLATE: DataFile = DataFile {
    path: "src/host/data/nixos-module.nix.hbs",
    text: include_str!("nixos-module.nix.hbs"),
};

#[derive(Debug, Clone, Deserialize)]
pub struct HostFacts {
    pub min_nix_version: String,
    pub caches: Vec<Cache>,
    pub cuda_sets: BTreeMap<String, String>,
    pub default_cuda: String,
    pub cuda_drivers: BTreeMap<String, String>,
    pub cuda_family_drivers: BTreeMap<String, String>,
    /// By CUDA major version (`12`).
    pub cuda_capabilities: BTreeMap<String, CapabilityFloor>,
    pub build_plan: BuildPlanFacts,
}

/// The lowest compute capabilities of one CUDA major version.
#[derive(Debug, Clone, Deserialize)]
pub struct CapabilityFloor {
    /// The lowest one nixpkgs builds by default, i.e. the caches have.
    pub default_min: String,
    /// The lowest one the release can build for at all.
    pub supported_min: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BuildPlanFacts {
    pub timeout_seconds: u64,
    pub heavy_names: Vec<String>,
    pub heavy_prefixes: Vec<String>,
    pub cuda_branch: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cache {
    pub url: String,
    pub key: String,
    pub about: String,
}

/// Which kernel modules and driver series a GPU generation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverKind {
    /// Open modules, recommended (Turing and newer).
    Open,
    /// Open modules, the only ones that support it (Blackwell).
    OpenRequired,
    /// Closed modules with `nvidiaPackages.legacy_580` (Maxwell–Volta).
    #[serde(rename = "legacy_580")]
    Legacy580,
    /// Closed modules with `nvidiaPackages.legacy_470` (Kepler).
    #[serde(rename = "legacy_470")]
    Legacy470,
}

/// What kind of data-centre part a device ID is (none for the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// An SXM module; its board's NVSwitches are PCI devices.
    Sxm,
    /// HGX B200/B300: NVSwitches invisible on PCI.
    #[serde(rename = "sxm_nvlink5")]
    SxmNvlink5,
    /// A data-centre PCIe card.
    Pcie,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    pub arch: String,
    pub chips: String,
    pub compute_capability: String,
    pub driver: DriverKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Form>,
}

#[derive(Debug, Clone, Deserialize)]
struct GpuEntry {
    from: String,
    to: String,
    #[serde(flatten)]
    generation: Generation,
}

#[derive(Debug, Deserialize)]
struct GpuFile {
    gpus: Vec<GpuEntry>,
    #[serde(default)]
    nvswitches: Vec<NamedId>,
    #[serde(default)]
    amd_integrated: Vec<NamedId>,
}

/// A device ID with its name.
#[derive(Debug, Deserialize)]
struct NamedId {
    id: String,
    name: String,
}

/// PCI device-ID ranges of NVIDIA GPUs, first match wins.
#[derive(Debug, Clone)]
pub struct GpuTable {
    ranges: Vec<(u16, u16, Generation)>,
    nvswitch_names: BTreeMap<u16, String>,
    amd_integrated: BTreeMap<u16, String>,
}

impl GpuTable {
    pub fn embedded() -> Result<GpuTable> {
        GpuTable::parse(GPU_TABLE.path, GPU_TABLE.text)
    }

    pub fn parse(file: &str, text: &str) -> Result<GpuTable> {
        let bad = |message: String| {
            Error::from(HostError::HostData {
                file: file.to_string(),
                message,
            })
        };
        let parsed: GpuFile = serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut ranges = Vec::new();
        for entry in parsed.gpus {
            let hex = |s: &str| {
                u16::from_str_radix(s, 16).map_err(|_| bad(format!("`{s}` is not a hex device ID")))
            };
            let (from, to) = (hex(&entry.from)?, hex(&entry.to)?);
            if from > to {
                return Err(bad(format!("range {} > {}", entry.from, entry.to)));
            }
            ranges.push((from, to, entry.generation));
        }
        let by_id = |entries: Vec<NamedId>| {
            entries
                .into_iter()
                .map(|entry| {
                    let id = u16::from_str_radix(&entry.id, 16)
                        .map_err(|_| bad(format!("`{}` is not a hex device ID", entry.id)))?;
                    Ok((id, entry.name))
                })
                .collect::<Result<BTreeMap<u16, String>>>()
        };
        Ok(GpuTable {
            ranges,
            nvswitch_names: by_id(parsed.nvswitches)?,
            amd_integrated: by_id(parsed.amd_integrated)?,
        })
    }

    /// The name of a known NVSwitch device ID.
    pub fn nvswitch_name(&self, device_id: u16) -> Option<&str> {
        self.nvswitch_names.get(&device_id).map(String::as_str)
    }

    /// Whether an AMD (1002) device ID is a processor's integrated GPU.
    pub fn is_amd_integrated(&self, device_id: u16) -> bool {
        self.amd_integrated.contains_key(&device_id)
    }

    /// The device ID `spec` names: a PCI ID (`10de:2684`, `2684`) or a
    /// generation (`ada`, `Ada Lovelace`, `pascal`: its first chip family).
    pub fn device_named(&self, spec: &str) -> Option<u16> {
        let spec = spec.trim().to_ascii_lowercase();
        let id = spec.strip_prefix("10de:").unwrap_or(&spec);
        if id.len() == 4
            && let Ok(device) = u16::from_str_radix(id, 16)
        {
            return Some(device);
        }
        let squashed = |s: &str| s.replace([' ', '-', '_'], "").to_ascii_lowercase();
        let wanted = squashed(&spec);
        if wanted.len() < 3 {
            return None;
        }
        // The widest range of the generation: its consumer chips (a
        // GTX 1080 for Pascal, not a Tesla P100).
        self.ranges
            .iter()
            .filter(|(_, _, g)| squashed(&g.arch).starts_with(&wanted))
            .max_by_key(|(from, to, _)| (to - from, std::cmp::Reverse(*from)))
            .map(|(from, _, _)| *from)
    }

    /// The generations the table knows, oldest first, in lower case.
    pub fn generations(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, _, g) in &self.ranges {
            let name = g.arch.to_ascii_lowercase();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    pub fn lookup(&self, device_id: u16) -> Option<&Generation> {
        self.ranges
            .iter()
            .find(|(from, to, _)| (*from..=*to).contains(&device_id))
            .map(|(_, _, g)| g)
    }
}

impl HostFacts {
    pub fn embedded() -> Result<HostFacts> {
        serde_yaml::from_str(HOST_FACTS.text).map_err(|e| {
            Error::from(HostError::HostData {
                file: HOST_FACTS.path.to_string(),
                message: e.to_string(),
            })
        })
    }

    /// The CUDA version (`12.9`) of a package set (`cudaPackages_12_9`).
    pub fn cuda_version_of_set(&self, set: &str) -> Option<&str> {
        self.cuda_sets.get(set).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses() {
        let facts = HostFacts::embedded().unwrap();
        assert_eq!(facts.cuda_version_of_set("cudaPackages_12_8"), Some("12.8"));
        assert!(facts.cuda_sets.contains_key("cudaPackages"));
        assert!(!facts.caches.is_empty());
        let table = GpuTable::embedded().unwrap();
        assert!(table.lookup(0x2684).is_some());
    }

    #[test]
    fn known_cards_map_to_their_generation() {
        // IDs from pci.ids 2026.08.22.
        let table = GpuTable::embedded().unwrap();
        let cases = [
            (0x13c2, "Maxwell", DriverKind::Legacy580),      // GTX 970
            (0x1b80, "Pascal", DriverKind::Legacy580),       // GTX 1080
            (0x1d81, "Volta", DriverKind::Legacy580),        // TITAN V
            (0x1e07, "Turing", DriverKind::Open),            // RTX 2080 Ti
            (0x2184, "Turing", DriverKind::Open),            // GTX 1660
            (0x20b0, "Ampere", DriverKind::Open),            // A100
            (0x2204, "Ampere", DriverKind::Open),            // RTX 3090
            (0x2331, "Hopper", DriverKind::Open),            // H100 PCIe
            (0x2684, "Ada Lovelace", DriverKind::Open),      // RTX 4090
            (0x2901, "Blackwell", DriverKind::OpenRequired), // B200
            (0x2b85, "Blackwell", DriverKind::OpenRequired), // RTX 5090
            (0x2f04, "Blackwell", DriverKind::OpenRequired), // RTX 5070
            (0x1180, "Kepler", DriverKind::Legacy470),       // GTX 680
        ];
        for (id, arch, driver) in cases {
            let g = table.lookup(id).unwrap_or_else(|| panic!("{id:04x}"));
            assert_eq!((g.arch.as_str(), g.driver), (arch, driver), "{id:04x}");
        }
        assert!(table.lookup(0xffff).is_none());
    }

    #[test]
    fn data_centre_parts_have_their_form() {
        let table = GpuTable::embedded().unwrap();
        let form = |id: u16| table.lookup(id).and_then(|g| g.form);
        assert_eq!(form(0x2330), Some(Form::Sxm)); // H100 SXM5
        assert_eq!(form(0x20b2), Some(Form::Sxm)); // A100 SXM4 80GB
        assert_eq!(form(0x2335), Some(Form::Sxm)); // H200 SXM
        assert_eq!(form(0x2901), Some(Form::SxmNvlink5)); // B200
        assert_eq!(form(0x2331), Some(Form::Pcie)); // H100 PCIe
        assert_eq!(form(0x26b9), Some(Form::Pcie)); // L40S
        assert_eq!(form(0x1db4), Some(Form::Pcie)); // V100 PCIe
        assert_eq!(form(0x2684), None); // RTX 4090
        // The single IDs keep the generation of their family.
        assert_eq!(table.lookup(0x1db4).unwrap().driver, DriverKind::Legacy580);
        assert_eq!(table.lookup(0x2331).unwrap().arch, "Hopper");
        assert_eq!(
            table.nvswitch_name(0x22a3),
            Some("gen3 NVSwitch of HGX H100/H200")
        );
        assert_eq!(table.nvswitch_name(0x2330), None);
    }

    #[test]
    fn every_cuda_set_has_capability_floors() {
        let facts = HostFacts::embedded().unwrap();
        for version in facts.cuda_sets.values() {
            let major = version.split('.').next().unwrap();
            assert!(facts.cuda_capabilities.contains_key(major), "{version}");
        }
        assert!(facts.cuda_drivers.contains_key("13.2"));
        assert!(!facts.build_plan.heavy_names.is_empty());
    }

    #[test]
    fn bad_tables_are_errors() {
        assert!(GpuTable::parse("t", "gpus: [{from: zz, to: '10', arch: a, chips: b, compute_capability: c, driver: open}]").is_err());
        assert!(GpuTable::parse("t", "gpus: [{from: '20', to: '10', arch: a, chips: b, compute_capability: c, driver: open}]").is_err());
        assert!(GpuTable::parse("t", "gpus: [{from: '10', to: '20', arch: a, chips: b, compute_capability: c, driver: closed}]").is_err());
    }
}
