//! The generated project: `project-cuda`, `scaffold-version`, `build-plan`.
//! Each is a `skip` outside a project.

use super::super::build_plan::{self, PlanContext};
use super::Check;
use super::facts::{CudaSet, Facts, Project, ProjectCuda, RustCrate};
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
    if let Some(skip) =
        build_plan::precondition(facts.nix_fit(), project.has_flake, project.has_lock)
    {
        return skip;
    }
    let Some(asked) = &project.build_plan else {
        return not_asked(project);
    };
    let ctx = PlanContext {
        nixos: facts.nixos,
        explicit_capabilities: project.capabilities.as_deref(),
        timeout: project.build_plan_timeout,
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
