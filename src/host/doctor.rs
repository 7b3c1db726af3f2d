//! `cargo nixcuda doctor`: one check per thing CUDA on this machine needs,
//! each ok / warn / fail (or skip when it does not apply), every non-ok one
//! with a hint. Builds a `Report`; printing is the command layer's job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::build_plan::{self, PlanContext};
use super::capability::{self, Capability, CudaTarget};
use super::data::{DriverKind, GpuTable, HostFacts};
use super::gpu::{self, Gpu, NvSwitch};
use super::probe::Host;
use crate::error::Result;
use crate::record::RECORD_FILE;
use crate::scaffold::registry::Registry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Does not apply here (no NVIDIA GPU, not in a project, ...).
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do; always present for `warn` and `fail`.
    pub hint: Option<String>,
}

impl Check {
    pub(crate) fn ok(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            message: message.into(),
            hint: None,
        }
    }
    pub(crate) fn skip(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Skip,
            message: message.into(),
            hint: None,
        }
    }
    pub(crate) fn warn(
        id: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            id,
            status: Status::Warn,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
    pub(crate) fn fail(
        id: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            id,
            status: Status::Fail,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.summary.fail
    }
}

/// Where to look for a generated project (`.nixcuda.yaml` here or above).
pub struct DoctorOptions<'a> {
    pub start: PathBuf,
    pub registry: &'a Registry,
    /// Overrides the build-plan check's time limit from the host data.
    pub build_plan_timeout: Option<Duration>,
}

pub fn run(host: &Host, opts: &DoctorOptions) -> Result<Report> {
    let facts = HostFacts::embedded()?;
    let table = GpuTable::embedded()?;
    let nixos =
        os_release(host).get("ID").is_some_and(|id| id == "nixos") || host.exists("/etc/NIXOS");
    let project = Project::find(&opts.start);
    let project_cuda = project.as_ref().map(|p| p.cuda(&facts));
    let capabilities = project
        .as_ref()
        .and_then(|p| capability::explicit_capabilities(&p.flake()));

    let mut checks = Vec::new();
    let nix = check_nix(host, &facts, &mut checks);
    let settings = nix.then(|| nix_settings(host));
    checks.push(check_features(settings.as_ref(), nixos));
    checks.push(check_cache(host, settings.as_ref(), &facts, nixos));
    checks.push(check_os(host, nixos));

    let gpus = gpu::scan(host, &table);
    let nvidia: Vec<&Gpu> = gpus.iter().filter(|g| g.is_nvidia()).collect();
    let cuda_version = project_cuda
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .map(|c| (c.version.clone(), format!("the project's {}", c.set)))
        .unwrap_or_else(|| {
            (
                facts.default_cuda.clone(),
                "the default cudaPackages".to_string(),
            )
        });
    let target = CudaTarget {
        version: &cuda_version.0,
        source: &cuda_version.1,
        explicit: capabilities.as_deref(),
    };
    let switches = gpu::nvswitches(host, &table);
    checks.push(check_gpu(host, &gpus, &nvidia, &switches, &target, &facts));
    let driver = check_driver(host, &nvidia, nixos, &mut checks);
    checks.push(check_driver_cuda(driver.as_ref(), &cuda_version, &facts));
    checks.push(check_libcuda(host, &nvidia, nixos));
    checks.push(check_uvm(host, &nvidia, driver.is_some()));
    let direnv = check_direnv(host, &mut checks);
    checks.push(check_nix_direnv(host, direnv, project.as_ref()));
    match &project {
        None => {
            let here = "not inside a generated project (no .nixcuda.yaml here or above)";
            checks.push(Check::skip("project-cuda", here));
            checks.push(Check::skip("scaffold-version", here));
            checks.push(Check::skip("build-plan", here));
        }
        Some(p) => {
            checks.push(check_project_cuda(
                p,
                project_cuda.expect("computed for a project"),
            ));
            checks.push(check_scaffold_version(p, opts.registry));
            let nix_ok = checks
                .iter()
                .any(|c| c.id == "nix" && c.status == Status::Ok);
            let ctx = PlanContext {
                root: &p.root,
                nix_ok,
                nixos,
                explicit_capabilities: capabilities.as_deref(),
                timeout: opts
                    .build_plan_timeout
                    .unwrap_or(Duration::from_secs(facts.build_plan.timeout_seconds)),
            };
            checks.push(build_plan::check(host, &ctx, &facts));
        }
    }

    let mut summary = Summary::default();
    for c in &checks {
        match c.status {
            Status::Ok => summary.ok += 1,
            Status::Warn => summary.warn += 1,
            Status::Fail => summary.fail += 1,
            Status::Skip => summary.skip += 1,
        }
    }
    Ok(Report { checks, summary })
}

// ---- Nix -------------------------------------------------------------------

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
fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .find(|w| {
            w.contains('.')
                && w.split('.')
                    .next()
                    .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|w| w.trim_end_matches('.').to_string())
}

fn check_nix(host: &Host, facts: &HostFacts, checks: &mut Vec<Check>) -> bool {
    let min = &facts.min_nix_version;
    let Some(out) = host.run("nix", &["--version"]) else {
        checks.push(Check::fail(
            "nix",
            "Nix is not installed (no `nix` on PATH)",
            "install Nix (https://nixos.org/download), open a new shell, then run `cargo nixcuda doctor` again",
        ));
        return false;
    };
    let version = first_version(&out.stdout);
    checks.push(match version {
        Some(v) if version_at_least(&v, min) => Check::ok("nix", format!("Nix {v}")),
        Some(v) => Check::fail(
            "nix",
            format!("Nix {v} is older than {min}, which current nixpkgs requires (lib/minfeatures.nix)"),
            "upgrade Nix: on NixOS `nix.package = pkgs.nixVersions.latest;`, elsewhere `sudo nix upgrade-nix` or the installer from https://nixos.org/download (Debian's nix-bin is too old)",
        ),
        None => Check::warn(
            "nix",
            format!("could not read Nix's version from `nix --version`: {}", out.stdout.trim()),
            format!("make sure `nix --version` reports Nix {min} or newer"),
        ),
    });
    true
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
    fn get(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Parses nix.conf syntax (`key = v1 v2`, `extra-key = ...` appends).
    fn apply(&mut self, text: &str) {
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

fn check_features(settings: Option<&NixSettings>, nixos: bool) -> Check {
    let Some(settings) = settings else {
        return Check::skip("nix-features", "no Nix");
    };
    let features = settings.get("experimental-features");
    let missing: Vec<&str> = ["nix-command", "flakes"]
        .into_iter()
        .filter(|f| !features.iter().any(|have| have == f))
        .collect();
    if missing.is_empty() {
        return Check::ok("nix-features", "flakes and nix-command are enabled");
    }
    let hint = if nixos {
        "add `nix.settings.experimental-features = [ \"nix-command\" \"flakes\" ];` to your NixOS configuration and run `sudo nixos-rebuild switch`"
    } else {
        "add `experimental-features = nix-command flakes` to ~/.config/nix/nix.conf (or /etc/nix/nix.conf, then restart nix-daemon)"
    };
    Check::fail(
        "nix-features",
        format!(
            "not enabled: {} (read from {})",
            missing.join(", "),
            settings.source
        ),
        hint,
    )
}

fn user_is_trusted(host: &Host, settings: &NixSettings) -> bool {
    let Some(user) = host.user() else {
        return false;
    };
    if user == "root" {
        return true;
    }
    let groups = host.read("/etc/group").unwrap_or_default();
    settings.get("trusted-users").iter().any(|t| {
        if t == "*" || t == user {
            return true;
        }
        let Some(group) = t.strip_prefix('@') else {
            return false;
        };
        groups.lines().any(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            fields.first() == Some(&group)
                && fields
                    .get(3)
                    .is_some_and(|members| members.split(',').any(|m| m.trim() == user))
        })
    })
}

fn check_cache(
    host: &Host,
    settings: Option<&NixSettings>,
    facts: &HostFacts,
    nixos: bool,
) -> Check {
    let Some(settings) = settings else {
        return Check::skip("nix-cache", "no Nix");
    };
    let norm = |u: &str| u.trim_end_matches('/').to_string();
    let substituters: Vec<String> = settings
        .get("substituters")
        .iter()
        .map(|s| norm(s))
        .collect();
    let keys = settings.get("trusted-public-keys");
    let configured: Vec<_> = facts
        .caches
        .iter()
        .filter(|c| substituters.contains(&norm(&c.url)))
        .collect();
    let setup_hint = if nixos {
        "`cargo nixcuda nixos --output nvidia-host.nix` writes a module with the caches in nix.settings; import it and run `sudo nixos-rebuild switch`".to_string()
    } else {
        let urls: Vec<&str> = facts.caches.iter().map(|c| c.url.as_str()).collect();
        let keys: Vec<&str> = facts.caches.iter().map(|c| c.key.as_str()).collect();
        let about: Vec<String> = facts
            .caches
            .iter()
            .map(|c| format!("# {}: {}", c.url, c.about))
            .collect();
        format!(
            "add to /etc/nix/nix.conf, then restart nix-daemon (`sudo systemctl restart nix-daemon`):\n{}\nextra-substituters = {}\nextra-trusted-public-keys = {}",
            about.join("\n"),
            urls.join(" "),
            keys.join(" ")
        )
    };
    if let Some(cache) = configured.iter().find(|c| keys.contains(&c.key)) {
        return Check::ok(
            "nix-cache",
            format!("{} is a substituter, with its key", cache.url),
        );
    }
    if let Some(cache) = configured.first() {
        return Check::fail(
            "nix-cache",
            format!(
                "{} is a substituter but its key is not trusted: Nix ignores its packages",
                cache.url
            ),
            format!("add `{}` to trusted-public-keys", cache.key),
        );
    }
    let user = host.user().unwrap_or("this user");
    if user_is_trusted(host, settings) {
        Check::warn(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters; {user} is a trusted user, so a flake's nixConfig could add one, but only with accept-flake-config (direnv never asks)"
            ),
            setup_hint,
        )
    } else {
        Check::fail(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters, and {user} is not a trusted user (so a flake's nixConfig cannot add one): torch and the CUDA libraries would compile locally, for hours"
            ),
            setup_hint,
        )
    }
}

// ---- the operating system -----------------------------------------------------

fn os_release(host: &Host) -> BTreeMap<String, String> {
    host.read("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

const NON_NIXOS_HINT: &str = "Nix-built CUDA programs look for libcuda in /run/opengl-driver/lib, which only NixOS fills: run them through nix-gl-host (`nixglhost <program>`, https://github.com/numtide/nix-gl-host) or nixGL, or with home-manager set `targets.genericLinux.gpu.enable`";

fn check_os(host: &Host, nixos: bool) -> Check {
    let release = os_release(host);
    let name = release
        .get("PRETTY_NAME")
        .or_else(|| release.get("NAME"))
        .cloned()
        .unwrap_or_else(|| "an unknown Linux (no /etc/os-release)".into());
    if nixos {
        Check::ok("os", name)
    } else {
        Check::warn("os", format!("{name}: not NixOS"), NON_NIXOS_HINT)
    }
}

// ---- the GPU and its driver -----------------------------------------------------

struct SmiGpu {
    name: String,
    compute_cap: String,
}

fn nvidia_smi(host: &Host) -> Vec<SmiGpu> {
    let Some(out) = host.run(
        "nvidia-smi",
        &["--query-gpu=name,compute_cap", "--format=csv,noheader"],
    ) else {
        return Vec::new();
    };
    if !out.success {
        return Vec::new();
    }
    out.stdout
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

fn check_gpu(
    host: &Host,
    gpus: &[Gpu],
    nvidia: &[&Gpu],
    switches: &[NvSwitch],
    target: &CudaTarget,
    facts: &HostFacts,
) -> Check {
    if nvidia.is_empty() {
        let others: Vec<String> = gpus
            .iter()
            .map(|g| format!("{} {}", g.address, g.description()))
            .collect();
        let seen = if others.is_empty() {
            "no GPU at all".to_string()
        } else {
            others.join(", ")
        };
        return Check::warn(
            "gpu",
            format!("no NVIDIA GPU in /sys/bus/pci/devices ({seen}): CUDA cannot run here"),
            "use the CPU shell (`nix develop .#cpu`; the GPU tests skip), or work on a machine with an NVIDIA GPU",
        );
    }
    let smi = nvidia_smi(host);
    let mut parts = Vec::new();
    for (i, g) in nvidia.iter().enumerate() {
        let text = match smi.get(i) {
            Some(s) => format!(
                "{} at {}, compute capability {} (nvidia-smi), {}",
                s.name,
                g.address,
                s.compute_cap,
                g.generation
                    .as_ref()
                    .map(|generation| generation.arch.as_str())
                    .unwrap_or("unknown generation")
            ),
            None => match &g.generation {
                Some(generation) => format!(
                    "NVIDIA {} at {} (10de:{}), compute capability {} (from the PCI ID)",
                    generation.arch, g.address, g.device_id, generation.compute_capability
                ),
                None => format!("NVIDIA 10de:{} at {}", g.device_id, g.address),
            },
        };
        parts.push(text);
    }
    let integrated: Vec<String> = gpus
        .iter()
        .filter(|g| g.integrated)
        .map(|g| format!("{} at {}", g.description(), g.address))
        .collect();
    let mut message = parts.join("; ");
    if !integrated.is_empty() {
        message.push_str(&format!(
            "; integrated: {} (PRIME offload)",
            integrated.join(", ")
        ));
    }
    if !switches.is_empty() {
        let kinds: Vec<&str> = switches
            .iter()
            .map(|s| s.name.as_deref().unwrap_or("NVSwitch"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        message.push_str(&format!(
            "; {} NVSwitch(es), {}: an HGX board, which runs on the data-centre driver with fabric manager (`cargo nixcuda nixos` writes it)",
            switches.len(),
            kinds.join(", ")
        ));
    }
    // The capability each GPU reports, else the one its PCI ID implies.
    let shown: Vec<(&str, &str)> = nvidia
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let cc = smi
                .get(i)
                .map(|s| s.compute_cap.as_str())
                .filter(|cc| Capability::parse(cc).is_some())
                .or_else(|| {
                    g.generation
                        .as_ref()
                        .map(|generation| generation.compute_capability.as_str())
                })?;
            Some((g.address.as_str(), cc))
        })
        .collect();
    let summary = capability::summarize(&shown, target, facts);
    if let Some((status, reason, hint)) = summary.worst {
        let message = format!("{message}: {reason}");
        return match status {
            Status::Fail => Check::fail("gpu", message, hint),
            _ => Check::warn("gpu", message, hint),
        };
    }
    if !summary.built_by_project.is_empty() {
        message.push_str(&format!(
            "; the project builds its CUDA packages for compute capability {} itself (cudaCapabilities)",
            summary.built_by_project.join(", ")
        ));
    }
    if let Some(unknown) = nvidia.iter().find(|g| g.generation.is_none()) {
        return Check::warn(
            "gpu",
            message,
            format!(
                "10de:{} is not in cargo-nixcuda's GPU table (newer than it?): update cargo-nixcuda; `cargo nixcuda nixos` assumes open kernel modules for it",
                unknown.device_id
            ),
        );
    }
    Check::ok("gpu", message)
}

/// The loaded kernel driver, from /proc/driver/nvidia/version.
pub struct Driver {
    pub version: String,
    pub open: bool,
}

fn check_driver(
    host: &Host,
    nvidia: &[&Gpu],
    nixos: bool,
    checks: &mut Vec<Check>,
) -> Option<Driver> {
    if nvidia.is_empty() {
        checks.push(Check::skip("driver", "no NVIDIA GPU"));
        return None;
    }
    let Some(text) = host.read("/proc/driver/nvidia/version") else {
        let hint = if nixos {
            "`cargo nixcuda nixos --output nvidia-host.nix` writes the driver module for this machine: import it in /etc/nixos/configuration.nix, run `sudo nixos-rebuild switch`, reboot"
        } else {
            "install your distribution's NVIDIA driver (e.g. `sudo ubuntu-drivers install`), then reboot"
        };
        checks.push(Check::fail(
            "driver",
            "no NVIDIA kernel driver loaded (/proc/driver/nvidia/version is missing)",
            hint,
        ));
        return None;
    };
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
    let Some(version) = version else {
        checks.push(Check::warn(
            "driver",
            format!(
                "could not read the driver version from /proc/driver/nvidia/version: {}",
                line.trim()
            ),
            "check `cat /proc/driver/nvidia/version` and `nvidia-smi` by hand",
        ));
        return None;
    };
    let driver = Driver {
        version: version.to_string(),
        open: line.contains("Open Kernel Module"),
    };
    let kind = if driver.open { "open" } else { "proprietary" };
    let needs_open = nvidia.iter().find(|g| {
        g.generation
            .as_ref()
            .is_some_and(|generation| generation.driver == DriverKind::OpenRequired)
    });
    checks.push(match needs_open {
        Some(g) if !driver.open => Check::fail(
            "driver",
            format!("NVIDIA {} with {kind} kernel modules, but the {} at {} works only with the open ones", driver.version, g.description(), g.address),
            "set `hardware.nvidia.open = true;` (`cargo nixcuda nixos` does), rebuild and reboot",
        ),
        _ => Check::ok("driver", format!("NVIDIA {} ({kind} kernel modules)", driver.version)),
    });
    Some(driver)
}

fn check_driver_cuda(driver: Option<&Driver>, cuda: &(String, String), facts: &HostFacts) -> Check {
    let (version, source) = cuda;
    let Some(driver) = driver else {
        return Check::skip("driver-cuda", "no NVIDIA driver loaded");
    };
    let major = version.split('.').next().unwrap_or_default();
    let update_hint = "update the driver: on NixOS a newer nixpkgs (`nvidiaPackages.stable`) and `sudo nixos-rebuild switch`, then reboot; elsewhere your distribution's newer driver";
    let exact = facts.cuda_drivers.get(version);
    let family = facts.cuda_family_drivers.get(major);
    let runs = newest_cuda_for(&driver.version, facts)
        .map(|v| format!(" (which runs CUDA {v} and older)"))
        .unwrap_or_default();
    let update_hint = if major == "13" {
        format!(
            "{update_hint}; or keep the project on CUDA 12 (`cudaPackages`, which this driver may run)"
        )
    } else {
        update_hint.to_string()
    };
    match (exact, family) {
        (Some(min), _) if version_at_least(&driver.version, min) => Check::ok(
            "driver-cuda",
            format!(
                "driver {} runs CUDA {version} ({source}; needs {min} or newer)",
                driver.version
            ),
        ),
        (_, Some(fam)) if !version_at_least(&driver.version, fam) => Check::fail(
            "driver-cuda",
            format!(
                "driver {}{runs} cannot run CUDA {version} ({source}): CUDA {major}.x needs {fam} or newer",
                driver.version
            ),
            update_hint,
        ),
        (Some(min), Some(_)) => Check::warn(
            "driver-cuda",
            format!(
                "driver {}{runs} is older than CUDA {version} asks for ({min}; {source}): minor version compatibility runs most programs, but PTX compiled for newer CUDA fails to load",
                driver.version
            ),
            update_hint,
        ),
        (None, Some(fam)) => Check::warn(
            "driver-cuda",
            format!(
                "driver {} is new enough for CUDA {major}.x ({fam} or newer), but cargo-nixcuda does not know the exact minimum for CUDA {version} ({source})",
                driver.version
            ),
            format!(
                "compare with NVIDIA's table in the CUDA {version} release notes (\"CUDA Toolkit and Corresponding Driver Versions\")"
            ),
        ),
        (_, None) => Check::warn(
            "driver-cuda",
            format!("cargo-nixcuda does not know which driver CUDA {version} needs ({source})"),
            format!(
                "compare driver {} with NVIDIA's table in the CUDA {version} release notes",
                driver.version
            ),
        ),
    }
}

/// The newest CUDA release in the host data whose minimum driver `driver`
/// meets: what the loaded driver supports, as far as cargo-nixcuda knows.
fn newest_cuda_for<'a>(driver: &str, facts: &'a HostFacts) -> Option<&'a str> {
    facts
        .cuda_drivers
        .iter()
        .filter(|(_, min)| version_at_least(driver, min))
        .map(|(cuda, _)| cuda.as_str())
        .max_by_key(|cuda| {
            cuda.split('.')
                .map(|p| p.parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
}

fn check_libcuda(host: &Host, nvidia: &[&Gpu], nixos: bool) -> Check {
    if nvidia.is_empty() {
        return Check::skip("libcuda", "no NVIDIA GPU");
    }
    let dir = "/run/opengl-driver/lib";
    let found: Vec<String> = host
        .list(dir)
        .into_iter()
        .filter(|n| n.starts_with("libcuda.so"))
        .collect();
    if !found.is_empty() {
        return Check::ok("libcuda", format!("{} in {dir}", found.join(", ")));
    }
    if nixos {
        Check::fail(
            "libcuda",
            format!("no libcuda.so* in {dir}: Nix-built CUDA programs cannot find the driver"),
            "set `hardware.graphics.enable = true;` with the NVIDIA driver (`cargo nixcuda nixos` writes both), run `sudo nixos-rebuild switch`, reboot",
        )
    } else {
        Check::warn(
            "libcuda",
            format!("no libcuda.so* in {dir} (normal outside NixOS)"),
            NON_NIXOS_HINT,
        )
    }
}

fn check_uvm(host: &Host, nvidia: &[&Gpu], driver: bool) -> Check {
    if nvidia.is_empty() || !driver {
        return Check::skip("nvidia-uvm", "no NVIDIA driver loaded");
    }
    let loaded = host
        .read("/proc/modules")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("nvidia_uvm "))
        || host.exists("/sys/module/nvidia_uvm");
    if loaded {
        Check::ok("nvidia-uvm", "the nvidia_uvm kernel module is loaded")
    } else {
        Check::fail(
            "nvidia-uvm",
            "the nvidia_uvm kernel module is not loaded: CUDA fails with error 999 (\"unknown error\")",
            "`sudo modprobe nvidia_uvm` now; on NixOS add `boot.kernelModules = [ \"nvidia_uvm\" ];` (NixOS loads it itself with `hardware.nvidia.open = true`)",
        )
    }
}

// ---- direnv -------------------------------------------------------------------------

fn check_direnv(host: &Host, checks: &mut Vec<Check>) -> bool {
    let Some(out) = host.run("direnv", &["version"]) else {
        checks.push(Check::warn(
            "direnv",
            "direnv is not installed: the project's shell does not load by itself when you cd into it",
            "on NixOS `programs.direnv.enable = true;` (it hooks bash, zsh and fish and brings nix-direnv); elsewhere install direnv and nix-direnv, then add `eval \"$(direnv hook bash)\"` to ~/.bashrc",
        ));
        return false;
    };
    let version = out.stdout.trim().to_string();
    let rc_files = [
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
    let hooked = host.direnv_active()
        || rc_files
            .iter()
            .filter_map(|f| host.read_home(f))
            .chain(system_rc.iter().filter_map(|f| host.read(f)))
            .any(|text| text.contains("direnv hook"));
    checks.push(if hooked {
        Check::ok("direnv", format!("direnv {version}, hooked into the shell"))
    } else {
        Check::warn(
            "direnv",
            format!("direnv {version} is installed but not hooked into your shell"),
            "add `eval \"$(direnv hook bash)\"` to ~/.bashrc (zsh: `direnv hook zsh` in ~/.zshrc; fish: `direnv hook fish | source`), or on NixOS `programs.direnv.enable = true;`",
        )
    });
    true
}

fn check_nix_direnv(host: &Host, direnv: bool, project: Option<&Project>) -> Check {
    if !direnv {
        return Check::skip("nix-direnv", "no direnv");
    }
    let mentions = |text: &str| text.contains("nix-direnv") || text.contains("nix_direnv");
    let home_files = [".direnvrc", ".config/direnv/direnvrc"]
        .iter()
        .filter_map(|f| host.read_home(f))
        .chain(
            host.list_home(".config/direnv/lib")
                .into_iter()
                .filter_map(|f| host.read_home(&format!(".config/direnv/lib/{f}"))),
        );
    let system_files = ["/etc/direnv/direnvrc", "/etc/direnvrc"]
        .iter()
        .filter_map(|f| host.read(f))
        .chain(
            host.list("/etc/direnv/lib")
                .into_iter()
                .filter_map(|f| host.read(&format!("/etc/direnv/lib/{f}"))),
        );
    if home_files.chain(system_files).any(|t| mentions(&t)) {
        return Check::ok("nix-direnv", "nix-direnv is installed for direnv");
    }
    if let Some(p) = project {
        let envrc = std::fs::read_to_string(p.root.join(".envrc")).unwrap_or_default();
        if envrc.contains("nix_direnv_version") {
            return Check::ok(
                "nix-direnv",
                "the project's .envrc fetches nix-direnv itself",
            );
        }
    }
    Check::warn(
        "nix-direnv",
        "nix-direnv is not installed: plain direnv re-evaluates the flake on every cd and lets the shell be garbage-collected",
        "on NixOS `programs.direnv.nix-direnv.enable = true;`; with home-manager `programs.direnv.nix-direnv.enable = true;`; or the `source_url` line of https://github.com/nix-community/nix-direnv in the .envrc",
    )
}

// ---- the generated project -------------------------------------------------------------

struct Project {
    root: PathBuf,
}

/// The project's CUDA set and what its Rust crate selects.
struct ProjectCuda {
    set: String,
    version: String,
    /// From where the set was read.
    set_source: String,
}

impl Project {
    /// flake.nix, or nothing when there is none.
    fn flake(&self) -> String {
        std::fs::read_to_string(self.root.join("flake.nix")).unwrap_or_default()
    }

    fn find(start: &Path) -> Option<Project> {
        let start = std::path::absolute(start).ok()?;
        start
            .ancestors()
            .find(|d| d.join(RECORD_FILE).is_file())
            .map(|d| Project {
                root: d.to_path_buf(),
            })
    }

    /// The CUDA package set the flake gives the Rust crate: a
    /// `pkgs.cudaPackages...;` binding in flake.nix, else the recorded
    /// `cuda` answer.
    fn cuda(&self, facts: &HostFacts) -> std::result::Result<ProjectCuda, Check> {
        let flake = self.flake();
        let re = regex::Regex::new(r"pkgs\.(cudaPackages(?:_[0-9]+)*)\s*;").expect("valid regex");
        let mut sets: Vec<String> = re.captures_iter(&flake).map(|c| c[1].to_string()).collect();
        sets.sort();
        sets.dedup();
        let (set, set_source) = match sets.as_slice() {
            [one] => (one.clone(), "flake.nix".to_string()),
            [] => {
                let record = crate::update::read_record(&self.root).ok();
                let answer = record.as_ref().and_then(|r| {
                    r.answers
                        .get(serde_yaml::Value::String("cuda".into()))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
                match answer {
                    Some(a) => (a, format!("{RECORD_FILE} (`cuda`)")),
                    None => {
                        return Err(Check::skip(
                            "project-cuda",
                            "the project selects no CUDA package set (no `pkgs.cudaPackages...;` in flake.nix)",
                        ));
                    }
                }
            }
            many => {
                return Err(Check::warn(
                    "project-cuda",
                    format!(
                        "flake.nix binds several CUDA package sets: {}",
                        many.join(", ")
                    ),
                    "use one set for the Rust crate, so its cudarc feature can match it",
                ));
            }
        };
        match facts.cuda_version_of_set(&set) {
            Some(v) => Ok(ProjectCuda {
                version: v.to_string(),
                set,
                set_source,
            }),
            None => Err(Check::warn(
                "project-cuda",
                format!(
                    "{set_source} uses `{set}`, whose CUDA version cargo-nixcuda does not know"
                ),
                format!(
                    "known sets: {}",
                    facts
                        .cuda_sets
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// `cuda-12090` -> `12.9`.
pub fn cudarc_feature_version(feature: &str) -> Option<String> {
    let n: u32 = feature.strip_prefix("cuda-")?.parse().ok()?;
    (n >= 10000).then(|| format!("{}.{}", n / 1000, (n % 1000) / 10))
}

fn check_project_cuda(project: &Project, cuda: std::result::Result<ProjectCuda, Check>) -> Check {
    let manifest = project.root.join("rust/Cargo.toml");
    if !manifest.is_file() {
        return Check::skip(
            "project-cuda",
            "the project has no Rust crate (rust/Cargo.toml)",
        );
    }
    let cuda = match cuda {
        Ok(c) => c,
        Err(check) => return check,
    };
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(&manifest)
        .no_deps()
        .other_options(vec!["--offline".to_string()])
        .exec();
    let metadata = match metadata {
        Ok(m) => m,
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            return Check::warn(
                "project-cuda",
                format!("could not read rust/Cargo.toml with `cargo metadata`: {first}"),
                "run doctor inside the dev shell (`nix develop`), where cargo is on PATH, and check that rust/Cargo.toml parses (`cargo metadata --manifest-path rust/Cargo.toml --no-deps`)",
            );
        }
    };
    let cudarc = metadata
        .packages
        .iter()
        .flat_map(|p| p.dependencies.iter())
        .find(|d| d.name == "cudarc");
    let Some(cudarc) = cudarc else {
        return Check::skip("project-cuda", "the Rust crate does not use cudarc");
    };
    let features: Vec<&String> = cudarc
        .features
        .iter()
        .filter(|f| f.starts_with("cuda-"))
        .collect();
    let set_text = format!(
        "{} selects {} (CUDA {})",
        cuda.set_source, cuda.set, cuda.version
    );
    let wanted = format!("cuda-{}0", cuda.version.replace('.', "0"));
    match features.as_slice() {
        [] => Check::warn(
            "project-cuda",
            format!("{set_text}, but rust/Cargo.toml selects no cudarc CUDA version feature"),
            format!("add \"{wanted}\" to cudarc's features in rust/Cargo.toml"),
        ),
        [f] if f.as_str() == "cuda-version-from-build-system" => Check::ok(
            "project-cuda",
            format!("{set_text}; cudarc takes the version from nvcc in the dev shell"),
        ),
        [f] if cudarc_feature_version(f).as_deref() == Some(cuda.version.as_str()) => Check::ok(
            "project-cuda",
            format!("{set_text}, and rust/Cargo.toml's cudarc feature {f} matches"),
        ),
        [f] => Check::fail(
            "project-cuda",
            format!(
                "{set_text}, but rust/Cargo.toml's cudarc feature {f} is CUDA {}: the crate's bindings do not match the libraries it loads",
                cudarc_feature_version(f).unwrap_or_else(|| "?".into())
            ),
            format!(
                "change the cudarc feature in rust/Cargo.toml to \"{wanted}\" (and CUDARC_CUDA_VERSION in flake.nix), or the flake's CUDA set to match {f}"
            ),
        ),
        many => Check::fail(
            "project-cuda",
            format!(
                "{set_text}, but rust/Cargo.toml selects several cudarc CUDA features: {}",
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("keep only \"{wanted}\""),
        ),
    }
}

fn check_scaffold_version(project: &Project, registry: &Registry) -> Check {
    match crate::update::check(&project.root, registry) {
        Ok(r) if r.up_to_date => Check::ok(
            "scaffold-version",
            format!(
                "{}@{} is the newest scaffold version",
                r.scaffold, r.current
            ),
        ),
        Ok(r) => Check::warn(
            "scaffold-version",
            format!(
                "{}@{}; newer: {}",
                r.scaffold,
                r.current,
                r.newer.join(", ")
            ),
            "run `cargo nixcuda update --dry-run` to see the changes, then `cargo nixcuda update`",
        ),
        Err(e) => Check::warn(
            "scaffold-version",
            e.to_string(),
            e.hint().unwrap_or_else(|| "check .nixcuda.yaml".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
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
    fn drivers_map_to_the_newest_cuda_they_run() {
        let facts = HostFacts::embedded().unwrap();
        assert_eq!(newest_cuda_for("570.86.16", &facts), Some("12.8"));
        assert_eq!(newest_cuda_for("580.95.05", &facts), Some("13.0"));
        assert_eq!(newest_cuda_for("595.45.04", &facts), Some("13.2"));
        assert_eq!(newest_cuda_for("610.43.02", &facts), Some("13.2"));
        assert_eq!(newest_cuda_for("550.163.01", &facts), None);
    }

    #[test]
    fn cudarc_features_name_cuda_versions() {
        assert_eq!(
            cudarc_feature_version("cuda-12090").as_deref(),
            Some("12.9")
        );
        assert_eq!(
            cudarc_feature_version("cuda-12080").as_deref(),
            Some("12.8")
        );
        assert_eq!(
            cudarc_feature_version("cuda-13020").as_deref(),
            Some("13.2")
        );
        assert_eq!(
            cudarc_feature_version("cuda-version-from-build-system"),
            None
        );
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
    }
}
