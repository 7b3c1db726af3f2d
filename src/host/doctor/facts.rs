//! Everything `doctor` reads, from the machine and from the project, gathered
//! once into one `Facts` value before any check runs: the checks are pure
//! functions of it. What one check's outcome used to decide for another
//! (no `nix`, no loaded driver, no direnv, Nix too old for the build plan)
//! is a fact here, read by both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::super::build_plan;
use super::super::capability;
use super::super::data::{GpuTable, HostFacts};
use super::super::gpu::{self, Gpu, NvSwitch};
use super::super::platform::{self, Wsl};
use super::super::probe::{Bounded, Host};
use crate::error::Result;
use crate::scaffold::registry::Registry;
use crate::update::CheckReport;

/// Where to look for a generated project (`.nixcuda.yaml` here or above).
pub struct DoctorOptions<'a> {
    pub start: PathBuf,
    pub registry: &'a Registry,
    /// Overrides the build-plan check's time limit from the host data.
    pub build_plan_timeout: Option<Duration>,
}

mod daemon;
mod parse;
#[cfg(test)]
mod tests;

pub use parse::{
    NixSettings, cuda_set, first_version, parse_driver, parse_os_release, parse_smi,
    parse_store_info, version_at_least,
};

/// Where NixOS puts the driver's user-space libraries for Nix-built programs.
pub const OPENGL_DRIVER_LIB: &str = "/run/opengl-driver/lib";

pub struct Facts {
    /// The embedded host data (host.yaml).
    pub data: HostFacts,
    /// `None`: no `nix` on PATH.
    pub nix: Option<Nix>,
    /// A `nix` that is installed but not on PATH (the profile's or the
    /// system's), when `nix` is not on PATH.
    pub nix_elsewhere: Option<String>,
    pub nixos: bool,
    /// /etc/os-release.
    pub os_release: BTreeMap<String, String>,
    pub user: Option<String>,
    /// /etc/group, for `@group` entries of trusted-users.
    pub groups: String,
    /// Every display controller, NVIDIA or not.
    pub gpus: Vec<Gpu>,
    pub nvswitches: Vec<NvSwitch>,
    /// One line per GPU from `nvidia-smi`, in its order; empty without it
    /// (not asked when there is no NVIDIA GPU).
    pub smi: Vec<SmiGpu>,
    pub driver: DriverState,
    /// The `libcuda.so*` names in OPENGL_DRIVER_LIB.
    pub libcuda: Vec<String>,
    /// /proc/modules lists nvidia_uvm, or /sys/module/nvidia_uvm exists.
    pub uvm_loaded: bool,
    /// `None`: no `direnv` on PATH.
    pub direnv: Option<Direnv>,
    /// `None`: not inside a generated project.
    pub project: Option<Project>,
    /// `Some` on a WSL2 kernel.
    pub wsl: Option<Wsl>,
    /// The model of an NVIDIA Jetson (Tegra SoC), if this is one.
    pub jetson: Option<String>,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
}

pub struct Nix {
    /// What `nix --version` printed.
    pub version_output: String,
    /// The version in it, when there is one.
    pub version: Option<String>,
    pub settings: NixSettings,
    /// `nix store info --json` (or `nix store ping --json`), when it answers.
    pub store: Option<StoreInfo>,
    /// The daemon's own settings: /etc/nix/nix.conf (and what it includes),
    /// which the daemon reads when it starts.
    pub daemon_settings: NixSettings,
    /// The running nix-daemon's pid when /etc/nix/nix.conf changed after it
    /// started (it still runs on the old settings).
    pub daemon_predates_conf: Option<u32>,
}

/// What the store (the daemon, normally) says about this client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// `daemon`, `local`, `unix://...`.
    pub url: String,
    /// Whether the daemon takes this user as trusted; `None` when it does
    /// not say (Nix before 2.19, or a store without a daemon).
    pub trusted: Option<bool>,
}

/// One GPU as `nvidia-smi --query-gpu=name,compute_cap` reports it.
pub struct SmiGpu {
    pub name: String,
    pub compute_cap: String,
}

/// The loaded kernel driver, from /proc/driver/nvidia/version.
pub struct Driver {
    pub version: String,
    pub open: bool,
}

pub enum DriverState {
    /// /proc/driver/nvidia/version is missing: no driver loaded.
    Missing,
    /// The file's NVRM line, which holds no version.
    Unreadable {
        line: String,
    },
    Loaded(Driver),
}

pub struct Direnv {
    /// What `direnv version` printed, trimmed.
    pub version: String,
    /// This process runs in a direnv-loaded directory (DIRENV_DIR).
    pub active: bool,
    /// The user's and the system's shell rc files that exist.
    pub shell_rc: Vec<String>,
    /// The user's and the system's direnvrc and direnv/lib files.
    pub direnvrc: Vec<String>,
}

pub struct Project {
    pub root: PathBuf,
    pub has_flake: bool,
    pub has_lock: bool,
    /// .envrc, empty when there is none.
    pub envrc: String,
    pub cuda: CudaSet,
    /// The flake's explicit `cudaCapabilities`, if it sets them.
    pub capabilities: Option<Vec<String>>,
    /// The record's `frameworks` answer (`torch`, `tensorflow`, `both`,
    /// `none`); `None` when the record has none.
    pub frameworks: Option<String>,
    /// The CUDA caches (of the host data) that the flake's `nixConfig` names.
    pub flake_caches: Vec<String>,
    pub rust: RustCrate,
    /// `cargo nixcuda check`'s answer, or its error's message and hint.
    pub scaffold: std::result::Result<CheckReport, Problem>,
    /// `nix build --dry-run` of the dev shell; asked only when
    /// `build_plan::precondition` lets it (Nix fit and flake.nix; without
    /// flake.lock too, writing none).
    pub build_plan: Option<Bounded>,
    pub build_plan_timeout: Duration,
}

/// The CUDA package set the flake gives the Rust crate.
pub enum CudaSet {
    Selected(ProjectCuda),
    /// Neither flake.nix nor the record names one.
    None,
    /// flake.nix binds several.
    Several(Vec<String>),
    /// A set the host data has no CUDA version for.
    Unknown {
        set: String,
        source: String,
    },
}

pub struct ProjectCuda {
    pub set: String,
    pub version: String,
    /// From where the set was read.
    pub source: String,
}

pub enum RustCrate {
    /// No rust/Cargo.toml.
    Missing,
    /// `cargo metadata` failed: the first line of its error.
    Unreadable(String),
    /// The features of its cudarc dependency; `None` without cudarc.
    Read { cudarc: Option<Vec<String>> },
}

/// An error turned into what a check reports.
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

impl Facts {
    pub fn gather(host: &Host, opts: &DoctorOptions) -> Result<Facts> {
        let data = HostFacts::embedded()?;
        let table = GpuTable::embedded()?;
        let os_release = parse_os_release(&host.read("/etc/os-release").unwrap_or_default());
        let nixos =
            os_release.get("ID").is_some_and(|id| id == "nixos") || host.exists("/etc/NIXOS");
        let gpus = gpu::scan(host, &table);
        let any_nvidia = gpus.iter().any(Gpu::is_nvidia);
        let wsl = platform::wsl(host);
        let wsl_gpu = !any_nvidia && wsl.as_ref().is_some_and(Wsl::has_gpu);
        let nix = gather_nix(host);
        let nix_elsewhere = match nix {
            Some(_) => None,
            None => NIX_ELSEWHERE
                .iter()
                .find(|p| host.exists(p))
                .map(|p| p.to_string()),
        };
        let nix_fit = nix_is_fit(nix.as_ref(), &data);
        let project = crate::update::find_project(&opts.start)
            .ok()
            .map(|root| gather_project(host, root, opts, &data, nix_fit));
        let driver = match host.read("/proc/driver/nvidia/version") {
            None => DriverState::Missing,
            Some(text) => parse_driver(&text),
        };
        Ok(Facts {
            nix,
            nix_elsewhere,
            wsl,
            jetson: platform::jetson(host),
            arch: platform::arch(host),
            nixos,
            os_release,
            user: host.user().map(str::to_string),
            groups: host.read("/etc/group").unwrap_or_default(),
            nvswitches: gpu::nvswitches(host, &table),
            smi: if any_nvidia || wsl_gpu {
                nvidia_smi(host, wsl_gpu)
            } else {
                Vec::new()
            },
            gpus,
            driver,
            libcuda: host
                .list(OPENGL_DRIVER_LIB)
                .into_iter()
                .filter(|n| n.starts_with("libcuda.so"))
                .collect(),
            uvm_loaded: host
                .read("/proc/modules")
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("nvidia_uvm "))
                || host.exists("/sys/module/nvidia_uvm"),
            direnv: gather_direnv(host),
            project,
            data,
        })
    }

    pub fn nvidia(&self) -> Vec<&Gpu> {
        self.gpus.iter().filter(|g| g.is_nvidia()).collect()
    }

    /// The driver, when an NVIDIA GPU is there and its version was read.
    pub fn loaded_driver(&self) -> Option<&Driver> {
        match &self.driver {
            DriverState::Loaded(d) if self.gpus.iter().any(Gpu::is_nvidia) => Some(d),
            _ => None,
        }
    }

    /// Nix is there and new enough for current nixpkgs (the `nix` check's ok).
    pub fn nix_fit(&self) -> bool {
        nix_is_fit(self.nix.as_ref(), &self.data)
    }

    /// The CUDA version the GPU and driver are checked against, and whence:
    /// the project's set when it selects one, else the default.
    pub fn cuda_target(&self) -> (String, String) {
        match self.project.as_ref().map(|p| &p.cuda) {
            Some(CudaSet::Selected(c)) => (c.version.clone(), format!("the project's {}", c.set)),
            _ => (
                self.data.default_cuda.clone(),
                "the default cudaPackages".to_string(),
            ),
        }
    }

    /// Whether the project uses torch: `None` outside a project, or when its
    /// record does not say.
    pub fn uses_torch(&self) -> Option<bool> {
        let frameworks = self.project.as_ref()?.frameworks.as_deref()?;
        Some(matches!(frameworks, "torch" | "both"))
    }

    /// The project's explicit `cudaCapabilities`, if any.
    pub fn capabilities(&self) -> Option<&[String]> {
        self.project.as_ref()?.capabilities.as_deref()
    }
}

fn nix_is_fit(nix: Option<&Nix>, data: &HostFacts) -> bool {
    nix.and_then(|n| n.version.as_deref())
        .is_some_and(|v| version_at_least(v, &data.min_nix_version))
}

/// Where Nix lives when installed but not on PATH: the multi-user
/// installer's default profile, a single-user profile, NixOS' system.
const NIX_ELSEWHERE: &[&str] = &[
    "/nix/var/nix/profiles/default/bin/nix",
    "/run/current-system/sw/bin/nix",
];

fn gather_nix(host: &Host) -> Option<Nix> {
    let out = host.run("nix", &["--version"])?;
    Some(Nix {
        version: first_version(&out.stdout),
        version_output: out.stdout,
        settings: nix_settings(host),
        store: store_info(host),
        daemon_settings: daemon_settings(host),
        daemon_predates_conf: daemon::started_before_conf(host),
    })
}

/// `nix store info --json`, or `nix store ping --json` before Nix 2.19.
fn store_info(host: &Host) -> Option<StoreInfo> {
    ["info", "ping"].iter().find_map(|sub| {
        let out = host.run("nix", &["store", sub, "--json"])?;
        if !out.success {
            return None;
        }
        parse_store_info(&out.stdout)
    })
}

/// The daemon's nix.conf, with the files it includes (`include` and
/// `!include`, relative to /etc/nix), in the order Nix reads them.
fn daemon_settings(host: &Host) -> NixSettings {
    let mut settings = NixSettings::default();
    let mut pending = vec!["/etc/nix/nix.conf".to_string()];
    let mut read = Vec::new();
    while let Some(file) = pending.pop() {
        if read.contains(&file) || read.len() > 16 {
            continue;
        }
        let Some(text) = host.read(&file) else {
            continue;
        };
        settings.apply(&text);
        read.push(file);
        for line in text.lines().rev() {
            let line = line.trim();
            if let Some(included) = line
                .strip_prefix("!include ")
                .or_else(|| line.strip_prefix("include "))
            {
                let included = included.trim();
                pending.push(if included.starts_with('/') {
                    included.to_string()
                } else {
                    format!("/etc/nix/{included}")
                });
            }
        }
    }
    settings.source = if read.is_empty() {
        "no /etc/nix/nix.conf".into()
    } else {
        read.join(" and ")
    };
    settings
}

fn nix_settings(host: &Host) -> NixSettings {
    let mut settings = NixSettings::default();
    for args in [&["config", "show"][..], &["show-config"][..]] {
        if let Some(out) = host.run("nix", args)
            && out.success
            && !out.stdout.trim().is_empty()
        {
            settings.apply(&out.stdout);
            settings.source = format!("`nix {}`", args.join(" "));
            return settings;
        }
    }
    let mut read = Vec::new();
    if let Some(text) = host.read("/etc/nix/nix.conf") {
        settings.apply(&text);
        read.push("/etc/nix/nix.conf");
    }
    if let Some(text) = host.read_home(".config/nix/nix.conf") {
        settings.apply(&text);
        read.push("~/.config/nix/nix.conf");
    }
    settings.source = if read.is_empty() {
        "no nix.conf".into()
    } else {
        read.join(" and ")
    };
    settings
}

fn gather_direnv(host: &Host) -> Option<Direnv> {
    let out = host.run("direnv", &["version"])?;
    let home_rc = [
        ".bashrc",
        ".bash_profile",
        ".zshrc",
        ".config/fish/config.fish",
    ];
    let system_rc = [
        "/etc/bashrc",
        "/etc/bash.bashrc",
        "/etc/zshrc",
        "/etc/zsh/zshrc",
        "/etc/fish/config.fish",
    ];
    let shell_rc = home_rc
        .iter()
        .filter_map(|f| host.read_home(f))
        .chain(system_rc.iter().filter_map(|f| host.read(f)))
        .collect();
    let home_lib = host
        .list_home(".config/direnv/lib")
        .into_iter()
        .map(|f| format!(".config/direnv/lib/{f}"));
    let system_lib = host
        .list("/etc/direnv/lib")
        .into_iter()
        .map(|f| format!("/etc/direnv/lib/{f}"));
    let direnvrc = [".direnvrc", ".config/direnv/direnvrc"]
        .iter()
        .map(|f| f.to_string())
        .chain(home_lib)
        .filter_map(|f| host.read_home(&f))
        .chain(
            ["/etc/direnv/direnvrc", "/etc/direnvrc"]
                .iter()
                .map(|f| f.to_string())
                .chain(system_lib)
                .filter_map(|f| host.read(&f)),
        )
        .collect();
    Some(Direnv {
        version: out.stdout.trim().to_string(),
        active: host.direnv_active(),
        shell_rc,
        direnvrc,
    })
}

fn gather_project(
    host: &Host,
    root: PathBuf,
    opts: &DoctorOptions,
    data: &HostFacts,
    nix_fit: bool,
) -> Project {
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    let flake = read("flake.nix");
    let has_flake = root.join("flake.nix").is_file();
    let has_lock = root.join("flake.lock").is_file();
    let build_plan_timeout = opts
        .build_plan_timeout
        .unwrap_or(Duration::from_secs(data.build_plan.timeout_seconds));
    let build_plan = build_plan::precondition(nix_fit, has_flake)
        .is_none()
        .then(|| build_plan::ask(host, &root, None, build_plan_timeout));
    let scaffold = crate::update::check(&root, opts.registry).map_err(|e| Problem {
        message: e.to_string(),
        hint: e.hint(),
    });
    Project {
        cuda: cuda_set(&flake, || recorded_answer(&root, "cuda"), data),
        capabilities: capability::explicit_capabilities(&flake),
        frameworks: recorded_answer(&root, "frameworks"),
        flake_caches: flake_caches(&flake, data),
        rust: rust_crate(&root),
        envrc: read(".envrc"),
        scaffold,
        build_plan,
        build_plan_timeout,
        has_flake,
        has_lock,
        root,
    }
}

/// The CUDA caches of the host data that the flake's `nixConfig` names
/// (which serve a trusted user with `accept-flake-config`).
fn flake_caches(flake: &str, data: &HostFacts) -> Vec<String> {
    let Some(at) = flake.find("nixConfig") else {
        return Vec::new();
    };
    let config = &flake[at..];
    data.caches
        .iter()
        .filter(|c| config.contains(c.url.as_str()) && config.contains(c.key.as_str()))
        .map(|c| c.url.clone())
        .collect()
}

/// A string answer of the record, when the record reads.
fn recorded_answer(root: &std::path::Path, key: &str) -> Option<String> {
    let record = crate::update::read_record(root).ok()?;
    record
        .answers
        .get(serde_yaml::Value::String(key.into()))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The cudarc features of rust/Cargo.toml, through `cargo metadata`.
/// Cargo runs from `/`, not from the project: rustup takes the toolchain
/// (`rust-toolchain.toml`, whose `path` may name any program) and cargo
/// its configuration (`.cargo/config.toml`, which may name a `rustc`) from
/// the directory it runs in, and a cloned project must not choose either.
fn rust_crate(root: &std::path::Path) -> RustCrate {
    let manifest = root.join("rust/Cargo.toml");
    if !manifest.is_file() {
        return RustCrate::Missing;
    }
    let manifest = std::path::absolute(&manifest).unwrap_or(manifest);
    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir("/")
        .manifest_path(&manifest)
        .no_deps()
        .other_options(vec!["--offline".to_string()])
        .exec();
    match metadata {
        Ok(m) => RustCrate::Read {
            cudarc: m
                .packages
                .iter()
                .flat_map(|p| p.dependencies.iter())
                .find(|d| d.name == "cudarc")
                .map(|d| d.features.clone()),
        },
        Err(e) => {
            RustCrate::Unreadable(e.to_string().lines().next().unwrap_or_default().to_string())
        }
    }
}

/// `nvidia-smi` on PATH; on WSL2 also the Windows driver's, which WSL puts
/// beside its libcuda rather than on PATH.
fn nvidia_smi(host: &Host, wsl: bool) -> Vec<SmiGpu> {
    let args = ["--query-gpu=name,compute_cap", "--format=csv,noheader"];
    let wsl_smi = host.path(&format!("{}/nvidia-smi", platform::WSL_LIB));
    let out = host.run("nvidia-smi", &args).or_else(|| {
        wsl.then(|| host.run(&wsl_smi.to_string_lossy(), &args))
            .flatten()
    });
    match out {
        Some(out) if out.success => parse_smi(&out.stdout),
        _ => Vec::new(),
    }
}
