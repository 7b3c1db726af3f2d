//! The machine side of CUDA on NixOS: `cargo nixcuda doctor` diagnoses the
//! host, `cargo nixcuda nixos` writes its NixOS module.
//!
//! `probe` is the only way this module reads the machine (files under a root
//! that tests move with `__CARGO_NIXCUDA_TEST_HOST_ROOT`, commands found on PATH);
//! `data` embeds the facts and the module template beside it
//! (`src/host/data/`); `gpu` turns
//! PCI devices into GPUs, NVSwitches, bus IDs and generations; `capability`
//! compares compute capabilities with what nixpkgs' CUDA builds for;
//! `platform` tells WSL2, Jetson and the architecture;
//! `doctor` (facts gathered once, then a table of pure checks; `build_plan`
//! is its `nix build --dry-run` check) and `nixos` (decide, then render)
//! build their results without printing; `commands::{doctor, nixos}` print
//! them. `lock` moves flake.lock only to revisions that build plan passes.

pub mod build_plan;
pub mod capability;
pub mod chassis;
pub mod data;
pub mod doctor;
pub mod gpu;
pub mod lock;
pub mod nixos;
pub mod platform;
pub mod probe;
