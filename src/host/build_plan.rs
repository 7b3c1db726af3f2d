//! The `build-plan` check of `doctor`: asks Nix what `nix develop` would do
//! for the project's dev shell (`nix build --dry-run`), and fails when torch,
//! tensorflow, triton, magma or the CUDA libraries would be compiled locally
//! instead of fetched from a binary cache: hours of building, often ending
//! out of memory, which nothing else announces. `ask` runs Nix (doctor's
//! facts call it only when `precondition` allows); `check` judges the answer.
//! `cargo nixcuda lock` asks the same question of a candidate lock file
//! (`host::lock`) and reads the answer with `parse_dry_run` and `heavy`.

use std::path::Path;
use std::time::Duration;

use super::data::HostFacts;
use super::doctor::report::Check;
use super::probe::{Bounded, Host};

const ID: &str = "build-plan";

/// What `nix build --dry-run` says it would do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Store names of the derivations to build (`…-python3.13-torch-2.9.0.drv`).
    pub built: Vec<String>,
    /// How many paths would be fetched from a substituter.
    pub fetched: usize,
}

/// Reads the "will be built" / "will be fetched" lists of `nix build
/// --dry-run` (Nix 2.18 and newer, Lix: "these N derivations will be built:",
/// "this derivation will be built:", "these N paths will be fetched (…):").
/// `None` when neither list is there.
pub fn parse_dry_run(text: &str) -> Option<Plan> {
    #[derive(PartialEq)]
    enum Section {
        None,
        Built,
        Fetched,
    }
    let mut plan = Plan::default();
    let mut section = Section::None;
    let mut seen = false;
    for line in text.lines() {
        let trimmed = line.trim();
        let header = |what: &str| {
            (trimmed.starts_with("these ") || trimmed.starts_with("this "))
                && trimmed.contains(what)
        };
        if header(" will be built") {
            section = Section::Built;
            seen = true;
        } else if header(" will be fetched") {
            section = Section::Fetched;
            seen = true;
        } else if line.starts_with(char::is_whitespace) && trimmed.starts_with('/') {
            match section {
                Section::Built => plan.built.push(store_name(trimmed).to_string()),
                Section::Fetched => plan.fetched += 1,
                Section::None => {}
            }
        } else {
            section = Section::None;
        }
    }
    seen.then_some(plan)
}

/// `/nix/store/<hash>-python3.13-torch-2.9.0.drv` -> `python3.13-torch-2.9.0.drv`
/// (also with an output suffix such as `^out`, as some Nix versions print).
fn store_name(path: &str) -> &str {
    let path = path.split('^').next().unwrap_or(path);
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.split_once('-') {
        Some((hash, rest)) if hash.len() == 32 => rest,
        _ => base,
    }
}

/// The package name in a store name: without `.drv`, the version and a
/// `pythonX.Y-` or `cudaX.Y-` prefix (`python3.13-torch-2.9.0.drv` ->
/// `torch`, `cuda12.9-cuda_cudart-12.9.79` -> `cuda_cudart`).
pub fn package_name(store_name: &str) -> String {
    let name = store_name.trim_end_matches(".drv");
    let mut parts: Vec<&str> = name
        .split('-')
        .take_while(|p| !p.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let versioned_prefix = |p: &str, prefix: &str| {
        p.strip_prefix(prefix)
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    if parts.len() > 1
        && (versioned_prefix(parts[0], "python") || versioned_prefix(parts[0], "cuda"))
    {
        parts.remove(0);
    }
    if parts.is_empty() {
        name.to_string()
    } else {
        parts.join("-")
    }
}

/// Whether building `name` locally is the hours-long kind.
pub fn is_heavy(name: &str, facts: &HostFacts) -> bool {
    let plan = &facts.build_plan;
    plan.heavy_names.iter().any(|n| n == name)
        || plan
            .heavy_prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
}

/// What the check needs to know besides Nix's answer.
pub struct PlanContext<'a> {
    pub nixos: bool,
    /// The project's explicit `cudaCapabilities`, if any.
    pub explicit_capabilities: Option<&'a [String]>,
    pub timeout: Duration,
    /// Whether the project has a flake.lock (without one, Nix resolved
    /// today's revisions for the answer, and wrote nothing).
    pub has_lock: bool,
}

/// `x86_64-linux`, the system whose dev shell `nix develop` would use.
pub fn nix_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// The `skip` when Nix cannot be asked: Nix missing or too old, or no
/// flake. `None` when it can; doctor asks only then. A project without
/// flake.lock is asked too: the dry run writes no lock, so doctor still
/// changes nothing, and the answer is about today's revisions, the ones
/// the first `nix develop` would lock.
pub fn precondition(nix_fit: bool, has_flake: bool) -> Option<Check> {
    if !nix_fit {
        return Some(Check::skip(
            ID,
            "Nix is missing or too old to evaluate current nixpkgs (see the `nix` check)",
        ));
    }
    if !has_flake {
        return Some(Check::skip(ID, "the project has no flake.nix"));
    }
    None
}

/// The options every Nix command run on a project gets. The project may be
/// a clone of anyone's: evaluating it must run nothing it chose, so
/// import-from-derivation (which builds during evaluation) is off, and its
/// `nixConfig` (which could turn it back on, or add substituters) is not
/// accepted.
pub const SAFE_OPTIONS: [&str; 8] = [
    "--extra-experimental-features",
    "nix-command flakes",
    "--option",
    "allow-import-from-derivation",
    "false",
    "--option",
    "accept-flake-config",
    "false",
];

/// Asks Nix what `nix develop` in `root` would build, for at most `timeout`,
/// with the lock file `lock` instead of the project's flake.lock when given
/// (`--reference-lock-file`, Nix 2.15 and newer). No lock file is written.
pub fn ask(host: &Host, root: &Path, lock: Option<&Path>, timeout: Duration) -> Bounded {
    let installable = format!("{}#devShells.{}.default", root.display(), nix_system());
    let lock = lock.map(|p| p.to_string_lossy().into_owned());
    let mut args = vec!["build", "--dry-run", "--no-write-lock-file"];
    args.extend(SAFE_OPTIONS);
    if let Some(lock) = &lock {
        args.extend(["--reference-lock-file", lock.as_str()]);
    }
    args.push(installable.as_str());
    host.run_bounded("nix", &args, timeout)
}

/// The first `error:` line of Nix's output (else its last line).
pub fn nix_error(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output")
        .trim()
        .to_string()
}

/// The packages of `plan` that would compile for hours, by name, sorted.
pub fn heavy(plan: &Plan, facts: &HostFacts) -> Vec<String> {
    let mut heavy: Vec<String> = plan
        .built
        .iter()
        .map(|n| package_name(n))
        .filter(|n| is_heavy(n, facts))
        .collect();
    heavy.sort();
    heavy.dedup();
    heavy
}

/// At most eight names, then how many more.
pub fn list_names(names: &[String]) -> String {
    match names.len() {
        n if n <= 8 => names.join(", "),
        n => format!("{} and {} more", names[..8].join(", "), n - 8),
    }
}

/// The check from what `ask` got.
pub fn check(asked: &Bounded, ctx: &PlanContext, facts: &HostFacts) -> Check {
    let command = format!("nix build --dry-run .#devShells.{}.default", nix_system());
    let out = match asked {
        Bounded::Finished(out) => out,
        Bounded::NotFound => return Check::skip(ID, "no `nix` on PATH"),
        Bounded::TimedOut => {
            return Check::warn(
                ID,
                format!(
                    "`{command}` did not finish within {} s (it evaluates nixpkgs, and first downloads the flake inputs)",
                    ctx.timeout.as_secs()
                ),
                format!(
                    "run `{command}` in the project yourself and look for torch, magma, triton or cuda_* under \"will be built\"; those would compile locally"
                ),
            );
        }
    };
    let text = format!("{}\n{}", out.stderr, out.stdout);
    let plan = match parse_dry_run(&text) {
        Some(plan) => plan,
        None if out.success => Plan::default(),
        None => {
            let error = nix_error(&text);
            return Check::warn(
                ID,
                format!("could not ask Nix what `nix develop` would build: {error}"),
                format!(
                    "run `{command}` in the project and fix the error it shows (`nix develop` fails the same way)"
                ),
            );
        }
    };
    verdict(&plan, ctx, facts)
}

/// Said of an answer for a project without flake.lock.
const NO_LOCK_YET: &str = " (no flake.lock yet: this is today's nixpkgs; `cargo nixcuda lock` pins a revision the caches serve)";

/// What a readable plan means: ok unless something heavy would compile.
fn verdict(plan: &Plan, ctx: &PlanContext, facts: &HostFacts) -> Check {
    let heavy = heavy(plan, facts);
    if heavy.is_empty() {
        let mut message = match (plan.built.len(), plan.fetched) {
            (0, 0) => "the dev shell is already in the Nix store: `nix develop` builds and fetches nothing".to_string(),
            (built, fetched) => format!(
                "`nix develop` fetches {fetched} path(s) from the caches and builds {built} small derivation(s) locally; torch and the CUDA libraries come prebuilt"
            ),
        };
        if !ctx.has_lock {
            message.push_str(NO_LOCK_YET);
        }
        return Check::ok(ID, message);
    }
    let named = list_names(&heavy);
    let mut message = format!(
        "`nix develop` would compile {} derivation(s) locally, among them {named}: hours of building, often ending out of memory",
        plan.built.len()
    );
    if !ctx.has_lock {
        message.push_str(NO_LOCK_YET);
    }
    if let Some(caps) = ctx.explicit_capabilities {
        return Check::warn(
            ID,
            format!(
                "{message}; expected, because the project sets cudaCapabilities = [ {} ], which no binary cache builds",
                caps.iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "let it compile once (the result stays until garbage collection; keep it with a GC root such as nix-direnv's), or remove cudaCapabilities when this machine's GPU has compute capability 7.5 or newer",
        );
    }
    let cache = if ctx.nixos {
        "the caches for every user: `cargo nixcuda nixos --output nvidia-host.nix`, import it in your NixOS configuration, `sudo nixos-rebuild switch`".to_string()
    } else {
        let urls: Vec<&str> = facts.caches.iter().map(|c| c.url.as_str()).collect();
        let keys: Vec<&str> = facts.caches.iter().map(|c| c.key.as_str()).collect();
        format!(
            "the caches in /etc/nix/nix.conf, then `sudo systemctl restart nix-daemon`: `extra-substituters = {}` and `extra-trusted-public-keys = {}`",
            urls.join(" "),
            keys.join(" ")
        )
    };
    Check::fail(
        ID,
        message,
        format!(
            "likely causes: the CUDA binary cache is not configured for this user (see `nix-cache`), or the CUDA Hydra has not built this nixpkgs revision yet\n\
             1. add {cache}\n\
             2. follow the revision the CUDA cache has built: `inputs.nixpkgs.url = \"{}\";` in flake.nix, then `cargo nixcuda lock --update` (it moves flake.lock only to a revision the caches serve)\n\
             3. meanwhile the CPU shell needs no CUDA: `nix develop .#cpu`",
            facts.build_plan.cuda_branch
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::doctor::Status;
    use crate::host::probe::Output;

    const DRY_RUN: &str = "\
these 3 derivations will be built:
  /nix/store/0123456789abcdfghijklmnpqrsvwxyz-python3.13-torch-2.9.0.drv
  /nix/store/1123456789abcdfghijklmnpqrsvwxyz-cuda12.9-magma-2.9.0.drv
  /nix/store/2123456789abcdfghijklmnpqrsvwxyz-nix-shell-env.drv
these 2 paths will be fetched (1.5 GiB download, 6.1 GiB unpacked):
  /nix/store/3123456789abcdfghijklmnpqrsvwxyz-cuda_cudart-12.9.79
  /nix/store/4123456789abcdfghijklmnpqrsvwxyz-python3.13-numpy-2.3.1
";

    #[test]
    fn dry_run_lists_are_read() {
        let plan = parse_dry_run(DRY_RUN).unwrap();
        assert_eq!(
            plan.built,
            [
                "python3.13-torch-2.9.0.drv",
                "cuda12.9-magma-2.9.0.drv",
                "nix-shell-env.drv"
            ]
        );
        assert_eq!(plan.fetched, 2);
        let one = "this derivation will be built:\n  /nix/store/0123456789abcdfghijklmnpqrsvwxyz-nix-shell-env.drv\nthis path will be fetched (0.1 MiB download, 0.4 MiB unpacked):\n  /nix/store/4123456789abcdfghijklmnpqrsvwxyz-hello-2.12\n";
        assert_eq!(
            parse_dry_run(one),
            Some(Plan {
                built: vec!["nix-shell-env.drv".into()],
                fetched: 1
            })
        );
        assert_eq!(parse_dry_run("warning: Git tree is dirty\n"), None);
        let outputs = "warning: Git tree '/p' is dirty\nthis derivation will be built:\n  /nix/store/0123456789abcdfghijklmnpqrsvwxyz-python3.13-torch-2.9.0.drv^out,lib\n";
        assert_eq!(
            parse_dry_run(outputs).unwrap().built,
            ["python3.13-torch-2.9.0.drv"]
        );
    }

    #[test]
    fn package_names_drop_prefix_and_version() {
        for (store, name) in [
            ("python3.13-torch-2.9.0.drv", "torch"),
            ("python3.14-triton-3.4.0.drv", "triton"),
            ("cuda12.9-cuda_cudart-12.9.79.drv", "cuda_cudart"),
            ("cuda13.2-libcublas-13.1.0.3.drv", "libcublas"),
            ("magma-2.9.0.drv", "magma"),
            ("nix-shell-env.drv", "nix-shell-env"),
            ("python3-3.13.5-env.drv", "python3"),
            ("python3.13-tensorflow-bin-2.21.0.drv", "tensorflow-bin"),
        ] {
            assert_eq!(package_name(store), name, "{store}");
        }
    }

    #[test]
    fn nothing_is_asked_without_nix_or_a_locked_flake() {
        let message = |c: Option<Check>| c.map(|c| (c.status, c.message));
        let (s, m) = message(precondition(false, true)).unwrap();
        assert_eq!(s, Status::Skip);
        assert!(m.contains("too old"), "{m}");
        let (s, m) = message(precondition(true, false)).unwrap();
        assert_eq!(s, Status::Skip);
        assert!(m.contains("no flake.nix"), "{m}");
        assert!(precondition(true, true).is_none());
    }

    #[test]
    fn nix_answers_become_verdicts() {
        let facts = HostFacts::embedded().unwrap();
        let ctx = PlanContext {
            nixos: true,
            explicit_capabilities: None,
            timeout: Duration::from_secs(7),
            has_lock: true,
        };
        let finished = |success: bool, stderr: &str| {
            Bounded::Finished(Output {
                success,
                stdout: String::new(),
                stderr: stderr.to_string(),
            })
        };
        let cases: &[(Bounded, Status, &str)] = &[
            (Bounded::NotFound, Status::Skip, "no `nix`"),
            (Bounded::TimedOut, Status::Warn, "within 7 s"),
            (finished(true, ""), Status::Ok, "already in the Nix store"),
            (
                finished(false, "error: attribute missing\n"),
                Status::Warn,
                "attribute missing",
            ),
            (finished(true, DRY_RUN), Status::Fail, "magma, torch"),
        ];
        for (asked, status, needle) in cases {
            let c = check(asked, &ctx, &facts);
            assert_eq!(c.status, *status, "{}", c.message);
            assert!(c.message.contains(needle), "{}", c.message);
        }
        let caps = ["6.1".to_string()];
        let own = PlanContext {
            explicit_capabilities: Some(&caps),
            ..ctx
        };
        let c = check(&finished(true, DRY_RUN), &own, &facts);
        assert_eq!(c.status, Status::Warn);
        let unlocked = PlanContext {
            nixos: true,
            explicit_capabilities: None,
            timeout: Duration::from_secs(7),
            has_lock: false,
        };
        for (answer, status) in [("", Status::Ok), (DRY_RUN, Status::Fail)] {
            let c = check(&finished(true, answer), &unlocked, &facts);
            assert_eq!(c.status, status, "{}", c.message);
            assert!(c.message.contains("no flake.lock yet"), "{}", c.message);
            assert!(c.message.contains("cargo nixcuda lock"), "{}", c.message);
        }
        assert!(
            c.message.contains("cudaCapabilities = [ \"6.1\" ]"),
            "{}",
            c.message
        );
    }

    #[test]
    fn heavy_packages_are_the_cuda_ones() {
        let facts = HostFacts::embedded().unwrap();
        for heavy in [
            "torch",
            "magma",
            "triton",
            "cuda_nvcc",
            "libcublas",
            "cudnn",
            "nccl",
        ] {
            assert!(is_heavy(heavy, &facts), "{heavy}");
        }
        for light in ["nix-shell-env", "python3", "numpy", "pandas", "cudarc-demo"] {
            assert!(!is_heavy(light, &facts), "{light}");
        }
    }
}
