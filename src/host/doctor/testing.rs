//! Hand-built `Facts` for the checks' unit tests: a healthy NixOS machine
//! and a healthy project, which each case changes in one place.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::super::data::{GpuTable, HostFacts};
use super::super::gpu::{Gpu, INTEL, NVIDIA, PciAddress};
use super::facts::{
    CudaSet, Direnv, Driver, DriverState, Facts, Nix, NixSettings, Project, ProjectCuda, RustCrate,
    StoreInfo,
};
use super::report::{Check, Status};
use crate::update::CheckReport;

/// A display controller at `address` (`01:00.0`), as `gpu::scan` builds it.
pub fn gpu(address: &str, vendor: u16, device: u16) -> Gpu {
    let table = GpuTable::embedded().unwrap();
    let mut gpu = Gpu::new(
        PciAddress::parse(address).unwrap(),
        vendor,
        device,
        0x030000,
        &table,
    );
    gpu.integrated = vendor != NVIDIA;
    gpu
}

pub fn settings(text: &str) -> NixSettings {
    let mut settings = NixSettings::default();
    settings.apply(text);
    settings.source = "`nix config show`".into();
    settings
}

const NIX_CONF: &str = "experimental-features = nix-command flakes\nsubstituters = https://cache.nixos.org https://cache.nixos-cuda.org\ntrusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY= cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M=\n";

/// The daemon's own settings, as read from /etc/nix/nix.conf.
pub fn daemon_settings(text: &str) -> NixSettings {
    let mut settings = NixSettings::default();
    settings.apply(text);
    settings.source = "/etc/nix/nix.conf".into();
    settings
}

/// NixOS with Nix 2.31 (flakes, the CUDA cache in the daemon's nix.conf, a
/// trusted user), x86_64, an RTX 4090 on driver
/// 580.95.05 (open), libcuda, nvidia_uvm, direnv hooked with nix-direnv;
/// not in a project.
pub fn machine() -> Facts {
    Facts {
        data: HostFacts::embedded().unwrap(),
        nix: Some(Nix {
            version_output: "nix (Nix) 2.31.2\n".into(),
            version: Some("2.31.2".into()),
            settings: settings(NIX_CONF),
            store: Some(StoreInfo {
                url: "daemon".into(),
                trusted: Some(true),
            }),
            daemon_settings: daemon_settings(NIX_CONF),
            daemon_predates_conf: None,
        }),
        nix_elsewhere: None,
        nixos: true,
        os_release: BTreeMap::from([
            ("ID".to_string(), "nixos".to_string()),
            (
                "PRETTY_NAME".to_string(),
                "NixOS 25.11 (Xantusia)".to_string(),
            ),
        ]),
        user: Some("ada".into()),
        groups: "wheel:x:1:ada\n".into(),
        gpus: vec![gpu("01:00.0", NVIDIA, 0x2684)],
        nvswitches: Vec::new(),
        smi: Vec::new(),
        driver: DriverState::Loaded(Driver {
            version: "580.95.05".into(),
            open: true,
        }),
        libcuda: vec!["libcuda.so.1".into()],
        uvm_loaded: true,
        direnv: Some(Direnv {
            version: "2.37.1".into(),
            active: false,
            shell_rc: vec!["eval \"$(direnv hook bash)\"\n".into()],
            direnvrc: vec!["source /run/current-system/sw/share/nix-direnv/direnvrc\n".into()],
        }),
        project: None,
        wsl: None,
        jetson: None,
        arch: "x86_64".into(),
    }
}

/// A project on cudaPackages_12_8 whose crate selects cudarc's cuda-12080,
/// on the newest scaffold, locked, Nix not yet asked.
pub fn project() -> Project {
    Project {
        root: PathBuf::from("/home/user/gpu-demo"),
        has_flake: true,
        has_lock: true,
        envrc: "use flake\n".into(),
        cuda: CudaSet::Selected(ProjectCuda {
            set: "cudaPackages_12_8".into(),
            version: "12.8".into(),
            source: "flake.nix".into(),
        }),
        capabilities: None,
        frameworks: Some("torch".into()),
        flake_caches: Vec::new(),
        rust: RustCrate::Read {
            cudarc: Some(vec!["std".into(), "cuda-12080".into()]),
        },
        scaffold: Ok(CheckReport {
            scaffold: "ml".into(),
            current: "1.2.0".into(),
            newest: "1.2.0".into(),
            up_to_date: true,
            newer: Vec::new(),
            unresolved: Vec::new(),
        }),
        build_plan: None,
        build_plan_timeout: Duration::from_secs(90),
    }
}

pub fn in_project(change: impl FnOnce(&mut Project)) -> Facts {
    let mut project = project();
    change(&mut project);
    Facts {
        project: Some(project),
        ..machine()
    }
}

/// A case of a check table: facts, the status expected and words the
/// message must hold.
pub type Case = (&'static str, Facts, Status, &'static str);

/// Runs `check` on every case; each non-ok result must carry a hint.
pub fn run_cases(check: fn(&Facts) -> Check, cases: Vec<Case>) {
    for (name, facts, status, needle) in cases {
        let c = check(&facts);
        assert_eq!(c.status, status, "{name}: {} ({:?})", c.message, c.hint);
        assert!(
            c.message.contains(needle),
            "{name}: `{needle}` not in {}",
            c.message
        );
        if matches!(status, Status::Warn | Status::Fail) {
            assert!(c.hint.as_deref().is_some_and(|h| !h.is_empty()), "{name}");
        }
    }
}

pub const INTEL_IGPU: (u16, u16) = (INTEL, 0x9bc4);
