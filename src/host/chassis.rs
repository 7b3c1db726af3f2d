//! Whether the machine is a laptop: PRIME offload and fine-grained power
//! management are notebook features, and a desktop keeps its GPU awake.

use serde::Serialize;

use super::probe::Host;

const CHASSIS_TYPE: &str = "/sys/class/dmi/id/chassis_type";
const POWER_SUPPLY: &str = "/sys/class/power_supply";

/// SMBIOS chassis types of portable machines (DMTF DSP0134, 7.4.1):
/// Portable, Laptop, Notebook, Sub Notebook, Convertible, Detachable.
const PORTABLE_CHASSIS: [u32; 6] = [8, 9, 10, 14, 31, 32];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "lowercase")]
pub enum Chassis {
    /// With the reason, for the module's comment.
    Laptop(String),
    Desktop(String),
}

impl Chassis {
    pub fn is_laptop(&self) -> bool {
        matches!(self, Chassis::Laptop(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Chassis::Laptop(r) | Chassis::Desktop(r) => r,
        }
    }
}

/// From the firmware's chassis type, else from a system battery (not a
/// mouse's or a UPS's: those are `Device`-scoped or of another type).
pub fn detect(host: &Host) -> Chassis {
    let chassis = host
        .read(CHASSIS_TYPE)
        .and_then(|t| t.trim().parse::<u32>().ok());
    if let Some(kind) = chassis.filter(|k| PORTABLE_CHASSIS.contains(k)) {
        return Chassis::Laptop(format!("DMI chassis type {kind}, a portable machine"));
    }
    for supply in host.list(POWER_SUPPLY) {
        let read = |file: &str| {
            host.read(&format!("{POWER_SUPPLY}/{supply}/{file}"))
                .map(|t| t.trim().to_string())
        };
        let is_battery = read("type").as_deref() == Some("Battery");
        let of_a_device = read("scope").as_deref() == Some("Device");
        if is_battery && !of_a_device {
            return Chassis::Laptop(format!("it runs on a battery ({supply})"));
        }
    }
    match chassis {
        Some(kind) => Chassis::Desktop(format!("DMI chassis type {kind}, not a portable one")),
        None => Chassis::Desktop("no battery, and no DMI chassis type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let host = Host::at(dir.path());
        (dir, host)
    }

    #[test]
    fn laptops_by_chassis_type_or_system_battery() {
        let (_d, host) = machine(&[("/sys/class/dmi/id/chassis_type", "10\n")]);
        assert!(detect(&host).is_laptop());
        let (_d, host) = machine(&[
            ("/sys/class/dmi/id/chassis_type", "3\n"),
            ("/sys/class/power_supply/BAT0/type", "Battery\n"),
        ]);
        assert!(detect(&host).is_laptop());
        // A wireless mouse's battery and a UPS do not make a laptop.
        let (_d, host) = machine(&[
            ("/sys/class/dmi/id/chassis_type", "3\n"),
            ("/sys/class/power_supply/hidpp_battery_0/type", "Battery\n"),
            ("/sys/class/power_supply/hidpp_battery_0/scope", "Device\n"),
            ("/sys/class/power_supply/ups/type", "UPS\n"),
        ]);
        assert_eq!(
            detect(&host),
            Chassis::Desktop("DMI chassis type 3, not a portable one".into())
        );
        let (_d, host) = machine(&[]);
        assert!(!detect(&host).is_laptop());
    }
}
