//! Failures of the host commands: the embedded host data, machines a
//! module cannot be written for as asked, and what stops `lock` before it
//! has an answer (each leaves flake.lock as it was).

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

    #[error("`{}` has no flake.nix, so there is nothing to lock", root.display())]
    NoFlake { root: PathBuf },

    #[error("no `nix` on PATH; flake.lock was left as it was")]
    NixMissing,

    #[error(
        "{version} is too old for `cargo nixcuda lock` (it needs Nix {minimum} or newer); flake.lock was left as it was"
    )]
    NixTooOld { version: String, minimum: String },

    #[error("`{command}` did not finish within {seconds} s; flake.lock was left as it was")]
    NixTimedOut { command: String, seconds: u64 },

    #[error("`{command}` failed: {error}; flake.lock was left as it was")]
    NixFailed {
        command: String,
        error: String,
        /// The failure is the flake's evaluation at the candidate revision.
        evaluation: bool,
    },
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
            HostError::NoFlake { .. } => {
                "restore it from version control (`git checkout -- flake.nix`), or run `cargo nixcuda update` to have the scaffold's flake.nix again".into()
            }
            HostError::NixMissing => {
                "install Nix 2.18 or newer: on NixOS it is there already (`cargo nixcuda nixos` writes the module that enables flakes); elsewhere the multi-user installer from https://nixos.org/download (`sh <(curl -L https://nixos.org/nix/install) --daemon`) or your distribution's package (Debian and Ubuntu: `sudo apt install nix-bin`), then open a new shell and run `cargo nixcuda doctor`".into()
            }
            HostError::NixTooOld { .. } => {
                "upgrade Nix (`nix upgrade-nix` for an installer's Nix, a newer channel on NixOS), then run `cargo nixcuda lock` again".into()
            }
            HostError::NixTimedOut { .. } => {
                "the first run downloads nixpkgs and evaluates it, which can take minutes on a slow link: run it again with a longer `--timeout SECONDS`".into()
            }
            HostError::NixFailed {
                evaluation: true,
                ..
            } => {
                "the flake does not evaluate with the candidate nixpkgs: fix the attribute the error names in flake.nix (a package or CUDA set renamed or removed at that revision), or keep the current lock (`cargo nixcuda lock` without `--update`); `nix build --dry-run .#devShells.<system>.default` shows the whole error".into()
            }
            HostError::NixFailed { .. } => {
                "check that flake.nix is tracked by git (`git add flake.nix`: Nix reads only tracked files) and that its inputs can be fetched (network, `nix flake metadata`), then run `cargo nixcuda lock` again".into()
            }
        })
    }
}
