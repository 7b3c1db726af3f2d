//! GPUs from /sys/bus/pci/devices: vendor, device ID, class, the bus address
//! in NixOS's decimal `PCI:bus:device:function` form, and the generation.

use serde::Serialize;

use super::data::{Generation, GpuTable};
use super::probe::Host;

pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";

pub const NVIDIA: u16 = 0x10de;
pub const INTEL: u16 = 0x8086;
pub const AMD: u16 = 0x1002;

/// A PCI address as /sys and `lspci -D` print it: `0000:c1:00.0` (hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PciAddress {
    pub domain: u32,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl PciAddress {
    /// Parses `[domain:]bus:device.function` in hex (`c1:00.0`, `0001:02:03.4`).
    pub fn parse(text: &str) -> Option<PciAddress> {
        let (rest, function) = text.rsplit_once('.')?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [bus, device] => ("0", *bus, *device),
            [domain, bus, device] if domain.len() >= 4 => (*domain, *bus, *device),
            _ => return None,
        };
        let hex = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(s, 16).ok())
                .flatten()
        };
        let address = PciAddress {
            domain: hex(domain, 8)?,
            bus: u8::try_from(hex(bus, 2)?).ok()?,
            device: u8::try_from(hex(device, 2)?).ok().filter(|d| *d < 32)?,
            function: u8::try_from(hex(function, 1)?).ok().filter(|f| *f < 8)?,
        };
        Some(address)
    }

    /// The directory name under /sys/bus/pci/devices: `0000:c1:00.0`.
    pub fn sysfs_name(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }

    /// NixOS's bus-ID form: decimal, the domain after the bus when non-zero
    /// (`c1:00.0` -> `PCI:193:0:0`, `0001:02:03.4` -> `PCI:2@1:3:4`).
    pub fn nixos_bus_id(&self) -> String {
        let domain = if self.domain == 0 {
            String::new()
        } else {
            format!("@{}", self.domain)
        };
        format!("PCI:{}{domain}:{}:{}", self.bus, self.device, self.function)
    }

    /// How lspci prints it without `-D`: `c1:00.0` (with the domain if non-zero).
    pub fn short(&self) -> String {
        let base = format!("{:02x}:{:02x}.{:x}", self.bus, self.device, self.function);
        if self.domain == 0 {
            base
        } else {
            format!("{:04x}:{base}", self.domain)
        }
    }
}

/// A display controller (PCI class 0x03xxxx).
#[derive(Debug, Clone, Serialize)]
pub struct Gpu {
    /// As lspci prints it, e.g. `01:00.0`.
    pub address: String,
    /// `PCI:1:0:0`.
    pub bus_id: String,
    pub vendor: &'static str,
    pub vendor_id: String,
    pub device_id: String,
    /// The PCI class, e.g. `0x030000` (VGA) or `0x030200` (3D controller).
    pub class: String,
    /// The processor's own GPU beside an NVIDIA one: Intel's at 00:02.0, or
    /// an AMD APU's (by device ID). A discrete Intel or AMD card is not.
    pub integrated: bool,
    /// The firmware brought the display up on this GPU (`boot_vga`): the
    /// monitor is connected to it.
    pub boot_vga: bool,
    /// NVIDIA only: the generation from the device-ID table, when known.
    pub generation: Option<Generation>,
    #[serde(skip)]
    pub pci: PciAddress,
    #[serde(skip)]
    pub vendor_code: u16,
    #[serde(skip)]
    pub device_code: u16,
}

impl Gpu {
    pub fn is_nvidia(&self) -> bool {
        self.vendor_code == NVIDIA
    }

    /// `Ada Lovelace (AD102, ...)` or `unknown NVIDIA GPU` for the module
    /// comment and doctor's message.
    pub fn description(&self) -> String {
        match (&self.generation, self.vendor_code) {
            (Some(g), _) => format!("{} ({})", g.arch, g.chips),
            (None, NVIDIA) => "NVIDIA GPU not in cargo-nixcuda's table".into(),
            (None, INTEL) => "Intel GPU".into(),
            (None, AMD) => "AMD GPU".into(),
            (None, _) => "display controller".into(),
        }
    }
}

fn read_hex(host: &Host, path: &str) -> Option<u32> {
    let text = host.read(path)?;
    let text = text.trim();
    u32::from_str_radix(text.strip_prefix("0x").unwrap_or(text), 16).ok()
}

/// Every readable device under /sys/bus/pci/devices: address, vendor,
/// device, class.
fn pci_devices(host: &Host) -> Vec<(PciAddress, u16, u16, u32)> {
    let mut devices = Vec::new();
    for name in host.list(PCI_DEVICES) {
        let Some(pci) = PciAddress::parse(&name) else {
            continue;
        };
        let dir = format!("{PCI_DEVICES}/{name}");
        let (Some(vendor), Some(device), Some(class)) = (
            read_hex(host, &format!("{dir}/vendor")),
            read_hex(host, &format!("{dir}/device")),
            read_hex(host, &format!("{dir}/class")),
        ) else {
            continue;
        };
        let (Ok(vendor), Ok(device)) = (u16::try_from(vendor), u16::try_from(device)) else {
            continue;
        };
        devices.push((pci, vendor, device, class));
    }
    devices.sort_by_key(|d| d.0);
    devices
}

/// An NVSwitch of an HGX/DGX board (an NVIDIA PCI bridge, class 0x0680).
#[derive(Debug, Clone, Serialize)]
pub struct NvSwitch {
    pub address: String,
    pub device_id: String,
    /// From the table, when the ID is known.
    pub name: Option<String>,
}

/// NVSwitches seen on PCI. Their presence is what makes a board need the
/// data-centre driver with fabric manager.
pub fn nvswitches(host: &Host, table: &GpuTable) -> Vec<NvSwitch> {
    pci_devices(host)
        .into_iter()
        .filter(|(_, vendor, _, class)| *vendor == NVIDIA && class >> 8 == 0x0680)
        .map(|(pci, _, device, _)| NvSwitch {
            address: pci.short(),
            device_id: format!("{device:04x}"),
            name: table.nvswitch_name(device).map(str::to_string),
        })
        .collect()
}

impl Gpu {
    /// The display controller at `pci`; `integrated` is left for the caller,
    /// who sees the other GPUs.
    pub fn new(pci: PciAddress, vendor: u16, device: u16, class: u32, table: &GpuTable) -> Gpu {
        Gpu {
            address: pci.short(),
            bus_id: pci.nixos_bus_id(),
            vendor: match vendor {
                NVIDIA => "nvidia",
                INTEL => "intel",
                AMD => "amd",
                _ => "other",
            },
            vendor_id: format!("{vendor:04x}"),
            device_id: format!("{device:04x}"),
            class: format!("0x{class:06x}"),
            integrated: false,
            boot_vga: false,
            generation: (vendor == NVIDIA)
                .then(|| table.lookup(device).cloned())
                .flatten(),
            pci,
            vendor_code: vendor,
            device_code: device,
        }
    }
}

/// The display controllers under /sys/bus/pci/devices, by address.
pub fn scan(host: &Host, table: &GpuTable) -> Vec<Gpu> {
    let mut gpus: Vec<Gpu> = pci_devices(host)
        .into_iter()
        .filter(|(_, _, _, class)| class >> 16 == 0x03)
        .map(|(pci, vendor, device, class)| Gpu::new(pci, vendor, device, class, table))
        .collect();
    let has_nvidia = gpus.iter().any(Gpu::is_nvidia);
    for gpu in &mut gpus {
        let in_package = match gpu.vendor_code {
            // Intel's processor graphics always sit at 00:02.0; its Arc
            // cards are on a bus of their own.
            INTEL => gpu.pci.domain == 0 && gpu.address == "00:02.0",
            AMD => table.is_amd_integrated(gpu.device_code),
            _ => false,
        };
        gpu.integrated = has_nvidia && in_package;
        gpu.boot_vga = host
            .read(&format!("{PCI_DEVICES}/{}/boot_vga", gpu.pci.sysfs_name()))
            .is_some_and(|v| v.trim() == "1");
    }
    gpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_ids_are_decimal() {
        // nix-cuda-facts.md §3.3.
        let cases = [
            ("01:00.0", "PCI:1:0:0"),
            ("00:02.0", "PCI:0:2:0"),
            ("c1:00.0", "PCI:193:0:0"),
            ("0000:c1:00.0", "PCI:193:0:0"),
            ("0001:02:03.4", "PCI:2@1:3:4"),
            ("00:1f.3", "PCI:0:31:3"),
            ("0000:ff:1f.7", "PCI:255:31:7"),
        ];
        for (lspci, nixos) in cases {
            let address = PciAddress::parse(lspci).unwrap_or_else(|| panic!("{lspci}"));
            assert_eq!(address.nixos_bus_id(), nixos, "{lspci}");
        }
        assert_eq!(
            PciAddress::parse("0000:c1:00.0").unwrap().short(),
            "c1:00.0"
        );
        assert_eq!(
            PciAddress::parse("0001:02:03.4").unwrap().short(),
            "0001:02:03.4"
        );
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for bad in [
            "",
            "01:00",
            "1:00.0.0",
            "zz:00.0",
            "00:20.0",
            "00:00.8",
            "000:01:00.0",
            "01:000.0",
        ] {
            assert!(PciAddress::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scan_reads_display_devices_only() {
        let dir = tempfile::tempdir().unwrap();
        let dev = |name: &str, vendor: &str, device: &str, class: &str| {
            let d = dir.path().join("sys/bus/pci/devices").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("device"), format!("{device}\n")).unwrap();
            std::fs::write(d.join("class"), format!("{class}\n")).unwrap();
        };
        dev("0000:01:00.0", "0x10de", "0x2684", "0x030000");
        dev("0000:01:00.1", "0x10de", "0x22ba", "0x040300"); // its audio function
        dev("0000:00:02.0", "0x8086", "0xa780", "0x030000");
        dev("0000:00:1f.3", "0x8086", "0x7a50", "0x040380");
        let host = Host::at(dir.path());
        let gpus = scan(&host, &GpuTable::embedded().unwrap());
        let got: Vec<(&str, &str, bool)> = gpus
            .iter()
            .map(|g| (g.address.as_str(), g.bus_id.as_str(), g.integrated))
            .collect();
        assert_eq!(
            got,
            [
                ("00:02.0", "PCI:0:2:0", true),
                ("01:00.0", "PCI:1:0:0", false)
            ]
        );
        assert_eq!(gpus[1].generation.as_ref().unwrap().arch, "Ada Lovelace");
    }

    #[test]
    fn nvswitches_are_nvidia_bridges() {
        let dir = tempfile::tempdir().unwrap();
        let dev = |name: &str, vendor: &str, device: &str, class: &str| {
            let d = dir.path().join("sys/bus/pci/devices").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("device"), format!("{device}\n")).unwrap();
            std::fs::write(d.join("class"), format!("{class}\n")).unwrap();
        };
        dev("0000:18:00.0", "0x10de", "0x2330", "0x030200"); // H100 SXM5
        dev("0000:06:00.0", "0x10de", "0x22a3", "0x068000"); // its NVSwitch
        dev("0000:05:00.0", "0x10de", "0x22a3", "0x068000");
        dev("0000:07:00.0", "0x10de", "0x9999", "0x068000"); // an unknown one
        dev("0000:00:1f.4", "0x8086", "0x1bc9", "0x068000"); // not NVIDIA
        dev("0000:01:00.0", "0x10de", "0x1ad9", "0x060400"); // a PCI-PCI bridge
        let host = Host::at(dir.path());
        let table = GpuTable::embedded().unwrap();
        let found: Vec<(String, Option<String>)> = nvswitches(&host, &table)
            .into_iter()
            .map(|s| (s.address, s.name))
            .collect();
        let gen3 = Some("gen3 NVSwitch of HGX H100/H200".to_string());
        assert_eq!(
            found,
            [
                ("05:00.0".to_string(), gen3.clone()),
                ("06:00.0".to_string(), gen3),
                ("07:00.0".to_string(), None)
            ]
        );
        assert_eq!(scan(&host, &table).len(), 1);
    }
}
