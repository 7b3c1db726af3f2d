//! Machines whose GPU is not an NVIDIA PCI device next to a Linux driver:
//! WSL2 (the GPU is paravirtualised, the Windows driver serves it), NVIDIA
//! Jetson (a Tegra system-on-chip), and the processor architecture, which
//! decides whether a binary cache has CUDA builds at all.

use serde::Serialize;

use super::probe::Host;

/// Where WSL puts the Windows driver's Linux libraries (libcuda among them).
pub const WSL_LIB: &str = "/usr/lib/wsl/lib";
/// The paravirtualised GPU's device node.
pub const WSL_DXG: &str = "/dev/dxg";

/// A WSL2 kernel, and what of the GPU passthrough it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wsl {
    /// /dev/dxg exists.
    pub dxg: bool,
    /// The `libcuda.so*` names in WSL_LIB.
    pub libcuda: Vec<String>,
}

impl Wsl {
    /// The GPU is passed through: the device node or the driver's libcuda.
    pub fn has_gpu(&self) -> bool {
        self.dxg || self.libcuda.iter().any(|n| n == "libcuda.so.1")
    }
}

/// WSL2, from the kernel's release string (`...-microsoft-standard-WSL2`)
/// or /proc/version (which names Microsoft on WSL kernels).
pub fn wsl(host: &Host) -> Option<Wsl> {
    let release = host.read("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = host.read("/proc/version").unwrap_or_default();
    let is_wsl = release.contains("microsoft-standard-WSL2")
        || version.to_ascii_lowercase().contains("microsoft");
    is_wsl.then(|| Wsl {
        dxg: host.exists(WSL_DXG),
        libcuda: host
            .list(WSL_LIB)
            .into_iter()
            .filter(|n| n.starts_with("libcuda.so"))
            .collect(),
    })
}

/// An NVIDIA Jetson: the device tree names a Tegra SoC. Its model, as the
/// device tree gives it, or `None` when this is no Jetson.
pub fn jetson(host: &Host) -> Option<String> {
    let compatible = host.read("/proc/device-tree/compatible")?;
    // The file holds NUL-separated strings.
    if !compatible
        .split('\0')
        .any(|c| c.starts_with("nvidia,tegra"))
    {
        return None;
    }
    let model = host
        .read("/proc/device-tree/model")
        .map(|m| m.trim_end_matches('\0').trim().to_string())
        .filter(|m| !m.is_empty());
    Some(model.unwrap_or_else(|| "NVIDIA Jetson".to_string()))
}

/// The processor architecture (`x86_64`, `aarch64`): `uname -m`, else the
/// one this program was built for.
pub fn arch(host: &Host) -> String {
    host.run("uname", &["-m"])
        .filter(|out| out.success && !out.stdout.trim().is_empty())
        .map(|out| out.stdout.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The sentence both commands say about ARM machines (GH200, DGX Spark):
/// what the binary caches hold for them, and what that costs.
pub const AARCH64_CACHE: &str = "on aarch64-linux no CUDA binary cache can be relied on: the nixos-cuda Hydra (cache.nixos-cuda.org) builds x86_64-linux only, and which aarch64 revisions Flox's cache holds is not published; expect torch and the CUDA libraries to compile locally (hours, with tens of GB of memory), and there is no TensorFlow GPU wheel for aarch64";

#[cfg(test)]
mod tests {
    use super::*;

    fn root(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn wsl2_is_told_by_its_kernel_and_its_gpu_by_dxg_or_libcuda() {
        let plain = root(&[("proc/version", "Linux version 6.12.1 (nixbld@localhost)\n")]);
        assert_eq!(wsl(&Host::at(plain.path())), None);
        let bare = root(&[(
            "proc/sys/kernel/osrelease",
            "6.6.87.2-microsoft-standard-WSL2\n",
        )]);
        let found = wsl(&Host::at(bare.path())).unwrap();
        assert!(!found.has_gpu());
        let gpu = root(&[
            (
                "proc/version",
                "Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f)\n",
            ),
            ("usr/lib/wsl/lib/libcuda.so.1", ""),
            ("usr/lib/wsl/lib/libcuda.so.1.1", ""),
            ("usr/lib/wsl/lib/libd3d12.so", ""),
        ]);
        let found = wsl(&Host::at(gpu.path())).unwrap();
        assert!(found.has_gpu() && !found.dxg);
        assert_eq!(found.libcuda, ["libcuda.so.1", "libcuda.so.1.1"]);
        let dxg = root(&[("proc/version", "Microsoft"), ("dev/dxg", "")]);
        assert!(wsl(&Host::at(dxg.path())).unwrap().has_gpu());
    }

    #[test]
    fn a_jetson_is_told_by_its_device_tree() {
        let orin = root(&[
            (
                "proc/device-tree/compatible",
                "nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0",
            ),
            (
                "proc/device-tree/model",
                "NVIDIA Jetson AGX Orin Developer Kit\0",
            ),
        ]);
        assert_eq!(
            jetson(&Host::at(orin.path())).as_deref(),
            Some("NVIDIA Jetson AGX Orin Developer Kit")
        );
        let pi = root(&[(
            "proc/device-tree/compatible",
            "raspberrypi,5-model-b\0brcm,bcm2712\0",
        )]);
        assert_eq!(jetson(&Host::at(pi.path())), None);
        assert_eq!(jetson(&Host::at(root(&[]).path())), None);
    }
}
