//! The generated project: `project-cuda`, `scaffold-version`, `build-plan`.
//! Each is a `skip` outside a project.

use super::super::build_plan::{self, PlanContext};
use super::facts::{CudaSet, Facts, Project, ProjectCuda, RustCrate};
use super::report::Check;
use crate::record::RECORD_FILE;

const NOT_A_PROJECT: &str = "not inside a generated project (no .nixcuda.yaml here or above)";

/// `cuda-12090` -> `12.9`.
pub fn cudarc_feature_version(feature: &str) -> Option<String> {
    let n: u32 = feature.strip_prefix("cuda-")?.parse().ok()?;
    (n >= 10000).then(|| format!("{}.{}", n / 1000, (n % 1000) / 10))
}

/// Whether the Rust crate's cudarc feature matches the flake's CUDA set.
pub fn cuda(facts: &Facts) -> Check {
    let Some(project) = &facts.project else {
        return Check::skip("project-cuda", NOT_A_PROJECT);
    };
    if matches!(project.rust, RustCrate::Missing) {
        return no_crate();
    }
    let cuda = match selected(&project.cuda, facts) {
        Ok(c) => c,
        Err(check) => return check,
    };
    let features = match &project.rust {
        RustCrate::Missing => return no_crate(),
        RustCrate::Unreadable(first) => {
            return Check::warn(
                "project-cuda",
                format!("could not read rust/Cargo.toml with `cargo metadata`: {first}"),
                "run doctor inside the dev shell (`nix develop`), where cargo is on PATH, and check that rust/Cargo.toml parses (`cargo metadata --manifest-path rust/Cargo.toml --no-deps`)",
            );
        }
        RustCrate::Read { cudarc: None } => {
            return Check::skip("project-cuda", "the Rust crate does not use cudarc");
        }
        RustCrate::Read {
            cudarc: Some(features),
        } => features,
    };
    let features: Vec<&String> = features.iter().filter(|f| f.starts_with("cuda-")).collect();
    let set_text = format!(
        "{} selects {} (CUDA {})",
        cuda.source, cuda.set, cuda.version
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

fn no_crate() -> Check {
    Check::skip(
        "project-cuda",
        "the project has no Rust crate (rust/Cargo.toml)",
    )
}

/// The project's one known CUDA set, or the check saying why there is none.
fn selected<'a>(cuda: &'a CudaSet, facts: &Facts) -> Result<&'a ProjectCuda, Check> {
    Err(match cuda {
        CudaSet::Selected(c) => return Ok(c),
        CudaSet::None => Check::skip(
            "project-cuda",
            "the project selects no CUDA package set (no `pkgs.cudaPackages...;` in flake.nix)",
        ),
        CudaSet::Several(sets) => Check::warn(
            "project-cuda",
            format!(
                "flake.nix binds several CUDA package sets: {}",
                sets.join(", ")
            ),
            "use one set for the Rust crate, so its cudarc feature can match it",
        ),
        CudaSet::Unknown { set, source } => Check::warn(
            "project-cuda",
            format!("{source} uses `{set}`, whose CUDA version cargo-nixcuda does not know"),
            format!(
                "known sets: {}",
                facts
                    .data
                    .cuda_sets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    })
}

pub fn scaffold_version(facts: &Facts) -> Check {
    let Some(project) = &facts.project else {
        return Check::skip("scaffold-version", NOT_A_PROJECT);
    };
    match &project.scaffold {
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
        Err(problem) => Check::warn(
            "scaffold-version",
            problem.message.clone(),
            problem
                .hint
                .clone()
                .unwrap_or_else(|| format!("check {RECORD_FILE}")),
        ),
    }
}

pub fn build_plan(facts: &Facts) -> Check {
    let Some(project) = &facts.project else {
        return Check::skip("build-plan", NOT_A_PROJECT);
    };
    if let Some(skip) = build_plan::precondition(facts.nix_fit(), project.has_flake) {
        return skip;
    }
    let Some(asked) = &project.build_plan else {
        return not_asked(project);
    };
    let ctx = PlanContext {
        nixos: facts.nixos,
        explicit_capabilities: project.capabilities.as_deref(),
        timeout: project.build_plan_timeout,
        has_lock: project.has_lock,
    };
    build_plan::check(asked, &ctx, &facts.data)
}

/// Facts gathered without asking Nix although the precondition holds: they
/// were built by hand (tests) rather than by `Facts::gather`.
fn not_asked(project: &Project) -> Check {
    Check::skip(
        "build-plan",
        format!(
            "Nix was not asked what `nix develop` in {} would build",
            project.root.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status::{Fail, Ok, Skip, Warn};
    use super::super::facts::Problem;
    use super::super::testing::{in_project, machine, run_cases};
    use super::*;
    use crate::host::probe::Bounded;
    use crate::update::CheckReport;

    fn features(features: &[&str]) -> Facts {
        in_project(|p| {
            p.rust = RustCrate::Read {
                cudarc: Some(features.iter().map(|f| f.to_string()).collect()),
            }
        })
    }

    #[test]
    fn cudarc_features_name_cuda_versions() {
        for (feature, version) in [
            ("cuda-12090", Some("12.9")),
            ("cuda-12080", Some("12.8")),
            ("cuda-13020", Some("13.2")),
            ("cuda-version-from-build-system", None),
            ("cuda-9", None),
        ] {
            assert_eq!(
                cudarc_feature_version(feature).as_deref(),
                version,
                "{feature}"
            );
        }
    }

    #[test]
    fn the_crate_selects_the_flakes_cuda() {
        let set = |cuda: CudaSet| in_project(|p| p.cuda = cuda);
        run_cases(
            cuda,
            vec![
                (
                    "match",
                    in_project(|_| {}),
                    Ok,
                    "flake.nix selects cudaPackages_12_8 (CUDA 12.8), and rust/Cargo.toml's cudarc feature cuda-12080 matches",
                ),
                (
                    "from nvcc",
                    features(&["cuda-version-from-build-system"]),
                    Ok,
                    "takes the version from nvcc",
                ),
                (
                    "mismatch",
                    features(&["cuda-12090"]),
                    Fail,
                    "cuda-12090 is CUDA 12.9",
                ),
                (
                    "none",
                    features(&["std"]),
                    Warn,
                    "selects no cudarc CUDA version feature",
                ),
                (
                    "several",
                    features(&["cuda-12080", "cuda-12090"]),
                    Fail,
                    "several cudarc CUDA features: cuda-12080, cuda-12090",
                ),
                (
                    "no cudarc",
                    in_project(|p| p.rust = RustCrate::Read { cudarc: None }),
                    Skip,
                    "does not use cudarc",
                ),
                (
                    "no crate",
                    in_project(|p| p.rust = RustCrate::Missing),
                    Skip,
                    "no Rust crate",
                ),
                (
                    "unreadable",
                    in_project(|p| p.rust = RustCrate::Unreadable("boom".into())),
                    Warn,
                    "`cargo metadata`: boom",
                ),
                (
                    "no set",
                    set(CudaSet::None),
                    Skip,
                    "selects no CUDA package set",
                ),
                (
                    "two sets",
                    set(CudaSet::Several(vec!["a".into(), "b".into()])),
                    Warn,
                    "several CUDA package sets: a, b",
                ),
                (
                    "unknown set",
                    set(CudaSet::Unknown {
                        set: "cudaPackages_99".into(),
                        source: "flake.nix".into(),
                    }),
                    Warn,
                    "`cudaPackages_99`, whose CUDA version cargo-nixcuda does not know",
                ),
                ("outside", machine(), Skip, "not inside a generated project"),
            ],
        );
        let hint = cuda(&features(&["cuda-12090"])).hint.unwrap();
        assert!(hint.contains("\"cuda-12080\""), "{hint}");
    }

    #[test]
    fn the_scaffold_should_be_the_newest() {
        let newer = in_project(|p| {
            p.scaffold = std::result::Result::Ok(CheckReport {
                scaffold: "ml".into(),
                current: "1.0.0".into(),
                newest: "1.2.0".into(),
                up_to_date: false,
                newer: vec!["1.1.0".into(), "1.2.0".into()],
                unresolved: Vec::new(),
            })
        });
        let broken = |hint: Option<&str>| {
            in_project(|p| {
                p.scaffold = Err(Problem {
                    message: "bad record".into(),
                    hint: hint.map(str::to_string),
                })
            })
        };
        run_cases(
            scaffold_version,
            vec![
                ("newest", in_project(|_| {}), Ok, "ml@1.2.0 is the newest"),
                ("older", newer, Warn, "ml@1.0.0; newer: 1.1.0, 1.2.0"),
                ("error", broken(Some("restore it")), Warn, "bad record"),
                ("outside", machine(), Skip, "not inside a generated project"),
            ],
        );
        let hint = |h| scaffold_version(&broken(h)).hint.unwrap();
        assert_eq!(hint(Some("restore it")), "restore it");
        assert_eq!(hint(None), "check .nixcuda.yaml");
    }

    #[test]
    fn the_build_plan_is_asked_only_when_it_can_be() {
        let old_nix = {
            let mut facts = in_project(|_| {});
            facts.nix.as_mut().unwrap().version = Some("2.8.0".into());
            facts
        };
        run_cases(
            build_plan,
            vec![
                ("old nix", old_nix, Skip, "too old"),
                (
                    "no nix",
                    Facts {
                        nix: None,
                        ..in_project(|_| {})
                    },
                    Skip,
                    "too old",
                ),
                (
                    "no flake",
                    in_project(|p| p.has_flake = false),
                    Skip,
                    "no flake.nix",
                ),
                (
                    "no lock yet",
                    in_project(|p| {
                        p.has_lock = false;
                        p.build_plan = Some(Bounded::TimedOut);
                    }),
                    Warn,
                    "did not finish",
                ),
                (
                    "asked",
                    in_project(|p| p.build_plan = Some(Bounded::TimedOut)),
                    Warn,
                    "did not finish within 90 s",
                ),
                ("not asked", in_project(|_| {}), Skip, "was not asked"),
                ("outside", machine(), Skip, "not inside a generated project"),
            ],
        );
    }
}
