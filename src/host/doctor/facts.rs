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
use super::super::probe::{Bounded, Host};
use super::DoctorOptions;
use crate::error::Result;
use crate::record::RECORD_FILE;
use crate::update::CheckReport;

/// Where NixOS puts the driver's user-space libraries for Nix-built programs.
pub const OPENGL_DRIVER_LIB: &str = "/run/opengl-driver/lib";

pub struct Facts {
    /// The embedded host data (host.yaml).
    pub data: HostFacts,
    /// `None`: no `nix` on PATH.
    pub nix: Option<Nix>,
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
}

pub struct Nix {
    /// What `nix --version` printed.
    pub version_output: String,
    /// The version in it, when there is one.
    pub version: Option<String>,
    pub settings: NixSettings,
}

/// Nix settings as `nix config show` reports them, or from nix.conf files
/// when that command is unavailable (old Nix, nix-command disabled).
#[derive(Debug, Default)]
pub struct NixSettings {
    pub values: BTreeMap<String, Vec<String>>,
    /// `nix config show` or the files read.
    pub source: String,
}

impl NixSettings {
    pub fn get(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Parses nix.conf syntax (`key = v1 v2`, `extra-key = ...` appends).
    pub fn apply(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let words: Vec<String> = value.split_whitespace().map(str::to_string).collect();
            match key.strip_prefix("extra-") {
                Some(base) => self
                    .values
                    .entry(base.to_string())
                    .or_default()
                    .extend(words),
                None => {
                    self.values.insert(key.to_string(), words);
                }
            }
        }
    }
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
    pub rust: RustCrate,
    /// `cargo nixcuda check`'s answer, or its error's message and hint.
    pub scaffold: std::result::Result<CheckReport, Problem>,
    /// `nix build --dry-run` of the dev shell; asked only when
    /// `build_plan::precondition` lets it (Nix fit, flake.nix and flake.lock).
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
        let nix = gather_nix(host);
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
            nixos,
            os_release,
            user: host.user().map(str::to_string),
            groups: host.read("/etc/group").unwrap_or_default(),
            nvswitches: gpu::nvswitches(host, &table),
            smi: if any_nvidia {
                nvidia_smi(host)
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

    /// The project's explicit `cudaCapabilities`, if any.
    pub fn capabilities(&self) -> Option<&[String]> {
        self.project.as_ref()?.capabilities.as_deref()
    }
}

fn nix_is_fit(nix: Option<&Nix>, data: &HostFacts) -> bool {
    nix.and_then(|n| n.version.as_deref())
        .is_some_and(|v| version_at_least(v, &data.min_nix_version))
}

fn gather_nix(host: &Host) -> Option<Nix> {
    let out = host.run("nix", &["--version"])?;
    Some(Nix {
        version: first_version(&out.stdout),
        version_output: out.stdout,
        settings: nix_settings(host),
    })
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
    let build_plan = build_plan::precondition(nix_fit, has_flake, has_lock)
        .is_none()
        .then(|| build_plan::ask(host, &root, build_plan_timeout));
    let scaffold = crate::update::check(&root, opts.registry).map_err(|e| Problem {
        message: e.to_string(),
        hint: e.hint(),
    });
    Project {
        cuda: cuda_set(&flake, || recorded_cuda(&root), data),
        capabilities: capability::explicit_capabilities(&flake),
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

/// The record's `cuda` answer, when the record reads.
fn recorded_cuda(root: &std::path::Path) -> Option<String> {
    let record = crate::update::read_record(root).ok()?;
    record
        .answers
        .get(serde_yaml::Value::String("cuda".into()))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The CUDA package set the flake gives the Rust crate: a
/// `pkgs.cudaPackages...;` binding in flake.nix, else the recorded `cuda`
/// answer (read only when the flake binds none).
pub fn cuda_set(
    flake: &str,
    recorded: impl FnOnce() -> Option<String>,
    data: &HostFacts,
) -> CudaSet {
    let re = regex::Regex::new(r"pkgs\.(cudaPackages(?:_[0-9]+)*)\s*;").expect("valid regex");
    let mut sets: Vec<String> = re.captures_iter(flake).map(|c| c[1].to_string()).collect();
    sets.sort();
    sets.dedup();
    let (set, source) = match sets.as_slice() {
        [one] => (one.clone(), "flake.nix".to_string()),
        [] => match recorded() {
            Some(a) => (a, format!("{RECORD_FILE} (`cuda`)")),
            None => return CudaSet::None,
        },
        _ => return CudaSet::Several(sets),
    };
    match data.cuda_version_of_set(&set) {
        Some(v) => CudaSet::Selected(ProjectCuda {
            version: v.to_string(),
            set,
            source,
        }),
        None => CudaSet::Unknown { set, source },
    }
}

/// The cudarc features of rust/Cargo.toml, through `cargo metadata`.
fn rust_crate(root: &std::path::Path) -> RustCrate {
    let manifest = root.join("rust/Cargo.toml");
    if !manifest.is_file() {
        return RustCrate::Missing;
    }
    let metadata = cargo_metadata::MetadataCommand::new()
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

// ---- parsers -------------------------------------------------------------

/// Dotted numeric versions compared part by part (`2.8.0` < `2.18`).
pub fn version_at_least(have: &str, need: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map_while(|p| p.parse().ok())
            .collect()
    };
    let (have, need) = (parts(have), parts(need));
    for i in 0..have.len().max(need.len()) {
        let (h, n) = (
            have.get(i).copied().unwrap_or(0),
            need.get(i).copied().unwrap_or(0),
        );
        if h != n {
            return h > n;
        }
    }
    true
}

/// The first dotted version number in `text` (`nix (Nix) 2.24.9` -> `2.24.9`).
pub fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .find(|w| {
            w.contains('.')
                && w.split('.')
                    .next()
                    .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|w| w.trim_end_matches('.').to_string())
}

pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// /proc/driver/nvidia/version: the version on its NVRM line, and whether
/// that line names the open kernel modules.
pub fn parse_driver(text: &str) -> DriverState {
    let line = text
        .lines()
        .find(|l| l.contains("NVRM"))
        .unwrap_or_default();
    let version = line.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    });
    match version {
        Some(version) => DriverState::Loaded(Driver {
            version: version.to_string(),
            open: line.contains("Open Kernel Module"),
        }),
        None => DriverState::Unreadable {
            line: line.trim().to_string(),
        },
    }
}

/// `name, compute_cap` lines of `nvidia-smi --format=csv,noheader`.
pub fn parse_smi(stdout: &str) -> Vec<SmiGpu> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, cc) = l.rsplit_once(',')?;
            Some(SmiGpu {
                name: name.trim().to_string(),
                compute_cap: cc.trim().to_string(),
            })
        })
        .collect()
}

fn nvidia_smi(host: &Host) -> Vec<SmiGpu> {
    match host.run(
        "nvidia-smi",
        &["--query-gpu=name,compute_cap", "--format=csv,noheader"],
    ) {
        Some(out) if out.success => parse_smi(&out.stdout),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{in_project, machine};
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("2.18", "2.18"));
        assert!(version_at_least("2.24.9", "2.18"));
        assert!(!version_at_least("2.8.0", "2.18"));
        assert!(version_at_least("575.51.03", "575.51.03"));
        assert!(!version_at_least("570.86.16", "575.51.03"));
        assert!(version_at_least("2.91.1-lix", "2.18"));
    }

    #[test]
    fn versions_are_found_in_command_output() {
        assert_eq!(
            first_version("nix (Nix) 2.24.9\n").as_deref(),
            Some("2.24.9")
        );
        assert_eq!(
            first_version("nix (Lix, like Nix) 2.91.1\n").as_deref(),
            Some("2.91.1")
        );
        assert_eq!(first_version("nothing here"), None);
    }

    #[test]
    fn nix_conf_extra_settings_append() {
        let mut s = NixSettings::default();
        s.apply("substituters = https://cache.nixos.org/\n# comment\nextra-substituters = https://cache.nixos-cuda.org # why\ntrusted-users = root @wheel\n");
        assert_eq!(
            s.get("substituters"),
            ["https://cache.nixos.org/", "https://cache.nixos-cuda.org"]
        );
        assert_eq!(s.get("trusted-users"), ["root", "@wheel"]);
        assert!(s.get("nope").is_empty());
    }

    #[test]
    fn the_driver_version_file_is_read() {
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (nixbld@localhost)\nGCC version:  gcc version 14.3.0 (GCC)\n";
        let closed = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.16  Tue Jan  1 2026\n";
        let cases = [
            (open, Some(("580.95.05", true))),
            (closed, Some(("570.86.16", false))),
            ("NVRM version: something else\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = match parse_driver(text) {
                DriverState::Loaded(d) => Some((d.version, d.open)),
                _ => None,
            };
            assert_eq!(got, want.map(|(v, o)| (v.to_string(), o)), "{text}");
        }
        let DriverState::Unreadable { line } = parse_driver("  NVRM version: ???  \n") else {
            panic!("expected an unreadable driver");
        };
        assert_eq!(line, "NVRM version: ???");
    }

    #[test]
    fn nvidia_smi_and_os_release_lines_are_split() {
        let gpus = parse_smi("NVIDIA H200, 9.0\nNVIDIA GeForce RTX 4090, Laptop, 8.9\nno comma\n");
        let got: Vec<(&str, &str)> = gpus
            .iter()
            .map(|g| (g.name.as_str(), g.compute_cap.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("NVIDIA H200", "9.0"),
                ("NVIDIA GeForce RTX 4090, Laptop", "8.9")
            ]
        );
        let release = parse_os_release("ID=nixos\nPRETTY_NAME=\"NixOS 25.11 (Xantusia)\"\n# x\n");
        assert_eq!(release["ID"], "nixos");
        assert_eq!(release["PRETTY_NAME"], "NixOS 25.11 (Xantusia)");
        assert_eq!(release.len(), 2);
    }

    #[test]
    fn the_cuda_set_comes_from_the_flake_else_the_record() {
        let data = HostFacts::embedded().unwrap();
        let asked = std::cell::Cell::new(false);
        let set = |flake: &str, answer: Option<&str>| {
            asked.set(false);
            let recorded = || {
                asked.set(true);
                answer.map(str::to_string)
            };
            match cuda_set(flake, recorded, &data) {
                CudaSet::Selected(c) => format!("{} {} {}", c.set, c.version, c.source),
                CudaSet::None => "none".into(),
                CudaSet::Several(s) => format!("several {}", s.join(" ")),
                CudaSet::Unknown { set, source } => format!("unknown {set} {source}"),
            }
        };
        assert_eq!(
            set("x = pkgs.cudaPackages_12_8;", Some("cudaPackages_13")),
            "cudaPackages_12_8 12.8 flake.nix"
        );
        assert!(
            !asked.get(),
            "the record is read only when the flake names no set"
        );
        assert_eq!(
            set("x = 1;", Some("cudaPackages_13")),
            "cudaPackages_13 13.2 .nixcuda.yaml (`cuda`)"
        );
        assert!(asked.get());
        assert_eq!(set("", None), "none");
        assert_eq!(
            set(
                "a = pkgs.cudaPackages_13 ; b = pkgs.cudaPackages;  c = pkgs.cudaPackages;",
                None
            ),
            "several cudaPackages cudaPackages_13"
        );
        assert_eq!(
            set("a = pkgs.cudaPackages_99;", None),
            "unknown cudaPackages_99 flake.nix"
        );
    }

    #[test]
    fn what_one_check_decides_for_another_is_a_fact() {
        let facts = machine();
        assert!(facts.nix_fit() && facts.loaded_driver().is_some());
        assert_eq!(facts.cuda_target().0, facts.data.default_cuda);
        let project = in_project(|p| p.capabilities = Some(vec!["8.9".into()]));
        assert_eq!(
            project.cuda_target(),
            (
                "12.8".to_string(),
                "the project's cudaPackages_12_8".to_string()
            )
        );
        assert_eq!(project.capabilities(), Some(&["8.9".to_string()][..]));
        let mut old = machine();
        old.nix.as_mut().unwrap().version = Some("2.17".into());
        assert!(!old.nix_fit());
        old.nix.as_mut().unwrap().version = None;
        assert!(!old.nix_fit());
        // A driver file without an NVIDIA GPU is no loaded driver.
        let no_gpu = Facts {
            gpus: Vec::new(),
            ..machine()
        };
        assert!(no_gpu.loaded_driver().is_none());
    }

    #[test]
    fn a_fake_machine_is_gathered_whole() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts/broken/root");
        let registry = crate::scaffold::registry::Registry::embedded().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        let opts = DoctorOptions {
            start: cwd.path().to_path_buf(),
            registry: &registry,
            build_plan_timeout: None,
        };
        let facts = Facts::gather(&Host::at(&root), &opts).unwrap();
        assert!(facts.nixos);
        assert_eq!(facts.nvidia().len(), 1);
        assert!(matches!(facts.driver, DriverState::Loaded(_)));
        assert!(facts.libcuda.is_empty() && !facts.uvm_loaded);
        assert!(facts.project.is_none());
    }
}
