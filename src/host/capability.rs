//! Compute capabilities against what nixpkgs' CUDA builds for: the cached
//! packages carry kernels only for nixpkgs' default `cudaCapabilities`, and
//! a CUDA release supports nothing below its own floor. Shared by `doctor`
//! (the `gpu` check) and `nixos` (the module's comment and a warning).

use std::fmt;

use super::data::HostFacts;
use super::doctor::report::Status;

/// A compute capability such as `6.1` or `12.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Capability {
    pub major: u32,
    pub minor: u32,
}

impl Capability {
    /// `6.1`; for a table range (`5.0-5.2`) its upper end, since the
    /// question asked is whether the whole range is below a floor.
    pub fn parse(text: &str) -> Option<Capability> {
        let text = text.rsplit('-').next()?.trim();
        let (major, minor) = text.split_once('.')?;
        Some(Capability {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The CUDA a check is about: its version, where that comes from, and the
/// capabilities the project builds for explicitly (if it does).
pub struct CudaTarget<'a> {
    pub version: &'a str,
    /// `the default cudaPackages`, `the project's cudaPackages_13`.
    pub source: &'a str,
    pub explicit: Option<&'a [String]>,
    /// Whether the project uses torch (`None`: no project, or its record
    /// does not say). Only torch needs kernels built for the GPU: TensorFlow's
    /// wheel and NVIDIA's CUDA libraries run below the default floor too.
    pub torch: Option<bool>,
    /// An HGX board, which keeps the data-centre driver whatever the GPU.
    pub datacenter: bool,
}

/// How one GPU fares with a CUDA target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// At or above the default floor: the cached packages run on it.
    Cached,
    /// Below the default floor, but the project lists its capability.
    BuiltByProject,
    /// Below the default floor, in a project without torch: what it uses
    /// runs there.
    NoTorch,
    /// Below a floor: what is wrong and what to do.
    Below {
        status: Status,
        message: String,
        hint: String,
    },
}

/// The `cudaCapabilities = [ "6.1" "7.0" ];` of a flake, if it sets one.
pub fn explicit_capabilities(flake: &str) -> Option<Vec<String>> {
    let re = regex::Regex::new(r"cudaCapabilities\s*=\s*\[([^\]]*)\]").expect("valid regex");
    let list = re.captures(flake)?;
    let quoted = regex::Regex::new(r#""([0-9]+\.[0-9]+[a-z]?)""#).expect("valid regex");
    Some(
        quoted
            .captures_iter(&list[1])
            .map(|c| c[1].to_string())
            .collect(),
    )
}

/// The lowest and highest capability of `6.1` or of a table range `5.0-5.2`.
fn bounds(text: &str) -> Option<(Capability, Capability)> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    Some((Capability::parse(low)?, Capability::parse(high)?))
}

/// How a hint names the capability to build for: exactly, or (for a range
/// from the PCI table) by the command that tells it.
pub fn capability_list(shown: &str) -> String {
    if shown.contains('-') {
        format!(
            "`cudaCapabilities = [ \"X.Y\" ];` (X.Y: this GPU's capability, one of {shown}; `nvidia-smi --query-gpu=compute_cap --format=csv` prints it)"
        )
    } else {
        format!("`cudaCapabilities = [ \"{shown}\" ];`")
    }
}

/// A GPU of compute capability `shown` (`6.1`, or a table range such as
/// `5.0-5.2`) against `target`. The message leaves out which GPU it is;
/// callers put it in front. `None` when `shown` is no capability.
pub fn assess(shown: &str, target: &CudaTarget, facts: &HostFacts) -> Option<Verdict> {
    let (low, cc) = bounds(shown.trim())?;
    Some(assess_bounds(low, cc, shown.trim(), target, facts))
}

fn assess_bounds(
    low: Capability,
    cc: Capability,
    shown: &str,
    target: &CudaTarget,
    facts: &HostFacts,
) -> Verdict {
    let major = target.version.split('.').next().unwrap_or_default();
    let Some(floor) = facts.cuda_capabilities.get(major) else {
        return Verdict::Cached;
    };
    let (Some(default_min), Some(supported_min)) = (
        Capability::parse(&floor.default_min),
        Capability::parse(&floor.supported_min),
    ) else {
        return Verdict::Cached;
    };
    let cpu_shell = "or use the CPU shell (`nix develop .#cpu`; the GPU tests skip)";
    if cc < supported_min {
        let hint = if major == "12" {
            format!(
                "no CUDA in nixpkgs (12.6 and newer) supports this GPU: use one with compute capability {supported_min} or newer (Maxwell and later), {cpu_shell}"
            )
        } else {
            format!(
                "use CUDA 12 (`cudaPackages`, 12.9) with {} in the project's nixpkgs config (flake.nix): every CUDA package then compiles locally, for hours; {cpu_shell}",
                capability_list(shown)
            )
        };
        return Verdict::Below {
            status: Status::Fail,
            message: format!(
                "CUDA {} ({}) supports compute capability {supported_min} and newer only",
                target.version, target.source
            ),
            hint,
        };
    }
    if cc >= default_min {
        return Verdict::Cached;
    }
    let listed = |c: &String| {
        Capability::parse(c.trim_end_matches(char::is_alphabetic))
            .is_some_and(|c| low <= c && c <= cc)
    };
    if target.explicit.is_some_and(|caps| caps.iter().any(listed)) {
        return Verdict::BuiltByProject;
    }
    if target.torch == Some(false) {
        return Verdict::NoTorch;
    }
    let (whose, also) = match target.torch {
        Some(_) => ("this project uses torch: ", ""),
        None => (
            "for torch: ",
            " (TensorFlow's wheel and NVIDIA's CUDA libraries run on this GPU as they are)",
        ),
    };
    Verdict::Below {
        status: Status::Warn,
        message: format!(
            "below {default_min}, the lowest compute capability that nixpkgs builds CUDA {} for by default ({}): the binary caches' torch has no kernels for it and fails with \"no kernel image is available\"",
            target.version, target.source
        ),
        hint: format!(
            "{whose}set {} in the project's nixpkgs config (flake.nix): every CUDA package then compiles locally, for hours{also}; {}; CUDA 13 (`cudaPackages_13`) does not support this GPU at all; {cpu_shell}",
            capability_list(shown),
            if target.datacenter {
                "keep the data-centre driver (`nvidiaPackages.dc`, the 580 series, with fabric manager; `cargo nixcuda nixos` writes it)"
            } else {
                "keep the driver at `nvidiaPackages.legacy_580` (the 580 series is NVIDIA's last for this GPU; `cargo nixcuda nixos` writes it)"
            }
        ),
    }
}

/// What `summarize` found for a machine's GPUs.
pub struct Summary {
    /// The worst finding (a failure before a warning), with every GPU's
    /// reason in the message when there are several.
    pub worst: Option<(Status, String, String)>,
    /// Capabilities below the default floor that the project builds for.
    pub built_by_project: Vec<String>,
    /// Capabilities below the default floor in a project without torch.
    pub no_torch: Vec<String>,
}

/// Each GPU, as (address, capability shown), against `target`.
pub fn summarize(gpus: &[(&str, &str)], target: &CudaTarget, facts: &HostFacts) -> Summary {
    let mut below: Vec<(Status, String, String)> = Vec::new();
    let mut built_by_project: Vec<String> = Vec::new();
    let mut no_torch: Vec<String> = Vec::new();
    for (address, shown) in gpus {
        match assess(shown, target, facts) {
            None | Some(Verdict::Cached) => {}
            Some(Verdict::BuiltByProject) => built_by_project.push(shown.to_string()),
            Some(Verdict::NoTorch) => no_torch.push(shown.to_string()),
            Some(Verdict::Below {
                status,
                message,
                hint,
            }) => {
                let message = if gpus.len() > 1 {
                    format!("the GPU at {address} ({shown}): {message}")
                } else {
                    message
                };
                below.push((status, message, hint));
            }
        }
    }
    built_by_project.dedup();
    no_torch.dedup();
    below.sort_by_key(|(status, _, _)| *status != Status::Fail);
    let worst = below.first().map(|(status, _, hint)| {
        let reasons: Vec<&str> = below.iter().map(|(_, m, _)| m.as_str()).collect();
        (*status, reasons.join("; "), hint.clone())
    });
    Summary {
        worst,
        built_by_project,
        no_torch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(text: &str) -> Capability {
        Capability::parse(text).unwrap()
    }

    #[test]
    fn capabilities_parse_and_order() {
        assert_eq!(cc("6.1"), Capability { major: 6, minor: 1 });
        assert_eq!(cc("5.0-5.2"), Capability { major: 5, minor: 2 });
        assert!(cc("7.0") < cc("7.5"));
        assert!(cc("12.0") > cc("9.0"));
        assert_eq!(cc("10.0").to_string(), "10.0");
        assert!(Capability::parse("sm_61").is_none());
    }

    #[test]
    fn several_gpus_are_summed_up_worst_first() {
        let facts = HostFacts::embedded().unwrap();
        let cuda13 = CudaTarget {
            version: "13.2",
            source: "the project's cudaPackages_13",
            explicit: None,
            torch: None,
            datacenter: false,
        };
        let s = summarize(&[("01:00.0", "8.9"), ("02:00.0", "6.1")], &cuda13, &facts);
        let (status, message, _) = s.worst.unwrap();
        assert_eq!(status, Status::Fail);
        assert!(
            message.starts_with("the GPU at 02:00.0 (6.1):"),
            "{message}"
        );
        assert!(
            summarize(&[("01:00.0", "8.9")], &cuda13, &facts)
                .worst
                .is_none()
        );
    }

    #[test]
    fn flakes_name_their_capabilities() {
        let flake = "config = { cudaSupport = true; cudaCapabilities = [ \"6.1\" \"8.6\" ]; };";
        assert_eq!(
            explicit_capabilities(flake),
            Some(vec!["6.1".to_string(), "8.6".to_string()])
        );
        assert_eq!(explicit_capabilities("config.cudaSupport = true;"), None);
    }

    #[test]
    fn gpus_below_the_floors_are_named() {
        let facts = HostFacts::embedded().unwrap();
        let cuda12 = CudaTarget {
            version: "12.9",
            source: "the default cudaPackages",
            explicit: None,
            torch: None,
            datacenter: false,
        };
        assert_eq!(assess("8.9", &cuda12, &facts).unwrap(), Verdict::Cached);
        assert_eq!(assess("7.5", &cuda12, &facts).unwrap(), Verdict::Cached);
        for old in ["7.0", "6.1", "5.2"] {
            let Verdict::Below {
                status,
                message,
                hint,
            } = assess(old, &cuda12, &facts).unwrap()
            else {
                panic!("{old} is below the default floor");
            };
            assert_eq!(status, Status::Warn, "{old}");
            assert!(message.contains("below 7.5"), "{message}");
            assert!(
                hint.contains(&format!("cudaCapabilities = [ \"{old}\" ]")),
                "{hint}"
            );
            assert!(hint.contains("legacy_580"), "{hint}");
        }
        // Kepler: not even CUDA 12 supports it.
        assert!(matches!(
            assess("3.0-3.7", &cuda12, &facts).unwrap(),
            Verdict::Below {
                status: Status::Fail,
                ..
            }
        ));

        let listed = ["6.1".to_string()];
        let built = CudaTarget {
            explicit: Some(&listed),
            ..cuda12
        };
        assert_eq!(
            assess("6.1", &built, &facts).unwrap(),
            Verdict::BuiltByProject
        );
        assert!(matches!(
            assess("7.0", &built, &facts).unwrap(),
            Verdict::Below { .. }
        ));

        let cuda13 = CudaTarget {
            version: "13.2",
            source: "the project's cudaPackages_13",
            explicit: Some(&listed),
            torch: None,
            datacenter: false,
        };
        let Verdict::Below { status, hint, .. } = assess("6.1", &cuda13, &facts).unwrap() else {
            panic!("CUDA 13 does not support 6.1");
        };
        assert_eq!(status, Status::Fail);
        assert!(hint.contains("CUDA 12"), "{hint}");
        assert_eq!(assess("7.5", &cuda13, &facts).unwrap(), Verdict::Cached);

        // A range from the PCI table: the hint says how to find the value.
        let Some(Verdict::Below { hint, .. }) = assess("5.0-5.2", &cuda12, &facts) else {
            panic!("Maxwell is below the default floor");
        };
        assert!(
            hint.contains("one of 5.0-5.2") && hint.contains("nvidia-smi"),
            "{hint}"
        );
        let maxwell = ["5.0".to_string()];
        let built = CudaTarget {
            explicit: Some(&maxwell),
            ..cuda12
        };
        assert_eq!(
            assess("5.0-5.2", &built, &facts),
            Some(Verdict::BuiltByProject)
        );
        assert_eq!(assess("n/a", &cuda12, &facts), None);
    }

    #[test]
    fn the_local_build_advice_is_for_torch_projects_only() {
        let facts = HostFacts::embedded().unwrap();
        let target = |torch| CudaTarget {
            version: "12.9",
            source: "the project's cudaPackages",
            explicit: None,
            torch,
            datacenter: false,
        };
        assert_eq!(
            assess("6.1", &target(Some(false)), &facts),
            Some(Verdict::NoTorch)
        );
        let hint = |torch| match assess("6.1", &target(torch), &facts) {
            Some(Verdict::Below { hint, .. }) => hint,
            other => panic!("{other:?}"),
        };
        assert!(hint(Some(true)).starts_with("this project uses torch: set `cudaCapabilities"));
        let anyone = hint(None);
        assert!(
            anyone.starts_with("for torch: set `cudaCapabilities"),
            "{anyone}"
        );
        assert!(anyone.contains("TensorFlow's wheel"), "{anyone}");
        let hgx = CudaTarget {
            datacenter: true,
            ..target(Some(true))
        };
        let Some(Verdict::Below { hint, .. }) = assess("7.0", &hgx, &facts) else {
            panic!("Volta is below the default floor");
        };
        assert!(
            hint.contains("nvidiaPackages.dc") && !hint.contains("legacy_580"),
            "{hint}"
        );
        // CUDA 13 supports nothing below 7.5, torch or not.
        let cuda13 = CudaTarget {
            version: "13.2",
            ..target(Some(false))
        };
        assert!(matches!(
            assess("6.1", &cuda13, &facts),
            Some(Verdict::Below {
                status: Status::Fail,
                ..
            })
        ));
    }
}
