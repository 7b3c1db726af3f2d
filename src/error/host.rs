//! Failures of the host commands: the embedded host data, and machines a
//! module cannot be written for as asked.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("embedded host data `{file}`: {message}")]
    HostData { file: String, message: String },

    #[error("no NVIDIA GPU found in `{}`", sys_dir.display())]
    NoNvidiaGpu { sys_dir: PathBuf },

    #[error("`--gpu {spec}` names no NVIDIA GPU: give its PCI ID (`10de:2684`) or a generation ({})", generations.join(", "))]
    UnknownGpu {
        spec: String,
        generations: Vec<String>,
    },

    #[error("WSL2 without a GPU: neither /dev/dxg nor /usr/lib/wsl/lib/libcuda.so.1 exists")]
    WslWithoutGpu,

    #[error(
        "{model} is an NVIDIA Jetson: its GPU is part of the Tegra chip, which NixOS' `hardware.nvidia` does not drive"
    )]
    Jetson { model: String },

    #[error("`--prime {mode}` needs an integrated Intel or AMD GPU; none was found")]
    PrimeNeedsIntegratedGpu { mode: String },

    #[error("GPUs that need different drivers: {legacy} (closed) and {open_only} (open)")]
    ConflictingGpus { legacy: String, open_only: String },
}

impl HostError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            HostError::HostData { .. } => {
                "this is a bug in cargo-nixcuda's embedded data; please report it".into()
            }
            HostError::NoNvidiaGpu { .. } => {
                "run this on the machine with the NVIDIA GPU, or name that GPU here: `cargo nixcuda nixos --gpu 10de:2684` (the ID `lspci -nn -d 10de::03xx` shows on that machine) or a generation, `--gpu ada`".into()
            }
            HostError::UnknownGpu { .. } => {
                "`lspci -nn -d 10de::03xx` on the machine with the GPU shows its ID in brackets, such as [10de:2684]".into()
            }
            HostError::WslWithoutGpu => {
                "install NVIDIA's Windows driver (its WSL2 support comes with it; no Linux driver goes inside WSL), run `wsl --update` in Windows, then `wsl --shutdown` and start the distribution again".into()
            }
            HostError::Jetson { .. } => {
                "use jetpack-nixos (https://github.com/anduril/jetpack-nixos): `hardware.nvidia-jetpack.enable = true;` with your `som` and `carrierBoard`; its CUDA packages are built for the Jetson (none of them is in the CUDA caches)".into()
            }
            HostError::PrimeNeedsIntegratedGpu { .. } => {
                "leave out `--prime` (or pass `--prime none`) on a machine with only NVIDIA graphics".into()
            }
            HostError::ConflictingGpus { .. } => {
                "no single NixOS driver setting serves both: pass `--open` (drops the older GPU) or `--no-open` (drops the newer one)".into()
            }
        })
    }
}
