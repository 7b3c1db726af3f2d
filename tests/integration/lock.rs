//! `cargo nixcuda lock` with a stub `nix` keyed by the nixpkgs revision in
//! the lock file asked about: `nix flake lock` keeps the locked revision
//! (or takes the newest when there is none), `nix flake update` takes the
//! newest, and `nix build --dry-run` answers per revision with the
//! build-plan stubs of tests/fixtures/hosts/build-plan.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_fs::TempDir;

use crate::host::{on_host, scenario};

/// The stub's answer per revision: cached* come from the cache, torch*
/// would compile torch, hang* never answer, broken* do not evaluate.
const STUB: &str = r#"#!/bin/sh
# Stub `nix` for `cargo nixcuda lock`, keyed by the nixpkgs revision.
hosts='@HOSTS@'
newest='@NEWEST@'
case "$1" in
  flake|build) ;;
  *) exec "$hosts/laptop-intel-nvidia/bin/nix" "$@" ;;
esac
output=
reference=
ifd=
accept=
prev2=
prev=
for a in "$@"; do
  [ "$prev" = --output-lock-file ] && output=$a
  [ "$prev" = --reference-lock-file ] && reference=$a
  case "$prev2 $prev $a" in
    '--option allow-import-from-derivation false') ifd=1 ;;
    '--option accept-flake-config false') accept=1 ;;
  esac
  prev2=$prev
  prev=$a
done
if [ -z "$ifd" ] || [ -z "$accept" ]; then
  echo "error: stub nix: the project's code could run: $*" >&2
  exit 1
fi
# Shell builtins only: PATH holds nothing but the stubs.
rev_of() {
  while IFS= read -r line; do
    case "$line" in *'"rev": "'*)
      r=${line#*'"rev": "'}
      echo "${r%%'"'*}"
      return ;;
    esac
  done < "$1"
}
lock_json() {
  printf '{\n  "nodes": {\n    "nixpkgs": {\n      "locked": {\n        "rev": "%s",\n        "type": "github"\n      }\n    },\n    "root": {\n      "inputs": {\n        "nixpkgs": "nixpkgs"\n      }\n    }\n  },\n  "root": "root",\n  "version": 7\n}\n' "$1"
}
if [ "$1" = flake ]; then
  # The candidate goes outside the project, and Nix runs in it.
  if [ -z "$output" ] || [ ! -f "$PWD/flake.nix" ]; then
    echo "error: stub nix: unexpected arguments in $PWD: $*" >&2
    exit 1
  fi
  case "$output" in "$PWD"/*)
    echo "error: stub nix: the candidate lock is inside the project: $output" >&2
    exit 1 ;;
  esac
  case "$2" in
    lock) rev=$newest; [ -n "$reference" ] && rev=$(rev_of "$reference") ;;
    update) rev=$newest ;;
    *) exit 1 ;;
  esac
  # As Nix: the output lock file is written only when the lock differs
  # (compared as locks, not as text).
  if [ -z "$reference" ] || [ "$(rev_of "$reference")" != "$rev" ]; then
    lock_json "$rev" > "$output"
  fi
  exit 0
fi
lock=$reference
[ -n "$lock" ] || { echo "error: stub nix: no --reference-lock-file: $*" >&2; exit 1; }
case "$(rev_of "$lock")" in
  cached*) plan=fetched ;;
  torch*) plan=local-torch ;;
  hang*) plan=hangs ;;
  *) plan=eval-error ;;
esac
exec "$hosts/build-plan/$plan/nix" "$@"
"#;

/// A bin directory whose `nix` is the stub with `newest` as the newest
/// revision, then the laptop's other commands.
fn stub_path(work: &TempDir, newest: &str) -> std::ffi::OsString {
    use std::os::unix::fs::PermissionsExt;
    let bin = work.path().join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let hosts = scenario("");
    let text = STUB
        .replace("@HOSTS@", hosts.to_str().unwrap().trim_end_matches('/'))
        .replace("@NEWEST@", newest);
    let nix = bin.join("nix");
    std::fs::write(&nix, text).unwrap();
    std::fs::set_permissions(&nix, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths([bin, scenario("laptop-intel-nvidia").join("bin")]).unwrap()
}

fn project(work: &TempDir, locked: Option<&str>) -> PathBuf {
    match locked {
        Some(rev) => project_dir_with(work, "gpu-demo", rev),
        None => {
            let project = work.path().join("gpu-demo");
            crate::support::copy_dir(&scenario("project"), &project);
            project
        }
    }
}

/// The fixture project as `name`, locked at `rev`.
fn project_dir_with(work: &TempDir, name: &str, rev: &str) -> PathBuf {
    let project = work.path().join(name);
    crate::support::copy_dir(&scenario("project"), &project);
    std::fs::write(project.join("flake.lock"), lock_text(rev)).unwrap();
    project
}

/// A lock file as the stub writes it, but with other whitespace: a lock
/// rewritten needlessly would differ from the one the test wrote.
fn lock_text(rev: &str) -> String {
    format!(
        "{{\"nodes\": {{\"nixpkgs\": {{\"locked\": {{\"rev\": \"{rev}\", \"type\": \"github\"}}}}, \"root\": {{\"inputs\": {{\"nixpkgs\": \"nixpkgs\"}}}}}}, \"root\": \"root\", \"version\": 7}}\n"
    )
}

struct Run {
    code: Option<i32>,
    stderr: String,
}

fn lock(work: &TempDir, project: &Path, newest: &str, args: &[&str]) -> Run {
    let mut all = vec!["lock"];
    all.extend(args);
    let out = on_host("laptop-intel-nvidia", project, &all)
        .env("PATH", stub_path(work, newest))
        .env("TMPDIR", work.path())
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn locked_rev(project: &Path) -> Option<String> {
    let text = std::fs::read_to_string(project.join("flake.lock")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(
        value["nodes"]["nixpkgs"]["locked"]["rev"]
            .as_str()?
            .to_string(),
    )
}

/// Nothing of the run's scratch directory is left behind.
fn assert_no_scratch(work: &TempDir) {
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cargo-nixcuda-lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_first_lock_is_written_when_the_cache_serves_it() {
    let work = TempDir::new().unwrap();
    let project = project(&work, None);
    let run = lock(&work, &project, "cached1", &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(locked_rev(&project).as_deref(), Some("cached1"));
    assert!(
        run.stderr.contains("Created flake.lock") && run.stderr.contains("fetches 5 path(s)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("git add flake.lock"), "{}", run.stderr);
    assert_no_scratch(&work);

    // Again: the current lock is re-checked and kept byte for byte.
    let before = std::fs::read(project.join("flake.lock")).unwrap();
    let run = lock(&work, &project, "cached2", &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("unchanged"), "{}", run.stderr);
    assert_eq!(std::fs::read(project.join("flake.lock")).unwrap(), before);
}

#[test]
fn update_moves_the_lock_only_to_a_revision_the_cache_serves() {
    let work = TempDir::new().unwrap();
    let project = project(&work, Some("cached1"));
    let before = std::fs::read(project.join("flake.lock")).unwrap();

    // The newest revision would compile torch: refused, lock untouched.
    let run = lock(&work, &project, "torch2", &["--update"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for needle in ["Refused", "torch", "magma", "flake.lock was left as it was"] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("error:"), "{}", run.stderr);
    assert_eq!(std::fs::read(project.join("flake.lock")).unwrap(), before);
    assert_no_scratch(&work);

    // Without --update the locked revision is kept and checked.
    let run = lock(&work, &project, "torch2", &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read(project.join("flake.lock")).unwrap(), before);

    // A current lock that fell out of the cache is named as such.
    let fallen = project_dir_with(&work, "fallen", "torch1");
    let run = lock(&work, &fallen, "cached2", &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Refused the current flake.lock: it would compile")
            && run.stderr.contains("cargo nixcuda lock --update"),
        "{}",
        run.stderr
    );
    assert_eq!(locked_rev(&fallen).as_deref(), Some("torch1"));

    // A newest revision the cache has built is taken.
    let run = lock(&work, &project, "cached3", &["--update"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Updated flake.lock"), "{}", run.stderr);
    assert_eq!(locked_rev(&project).as_deref(), Some("cached3"));
}

#[test]
fn a_first_lock_that_would_compile_is_not_written() {
    let work = TempDir::new().unwrap();
    let project = project(&work, None);
    let run = lock(&work, &project, "torch1", &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("torch") && run.stderr.contains("no flake.lock was written"),
        "{}",
        run.stderr
    );
    assert!(!project.join("flake.lock").exists());
}

#[test]
fn nix_that_hangs_is_stopped_and_nothing_is_written() {
    let work = TempDir::new().unwrap();
    let project = project(&work, Some("cached1"));
    let before = std::fs::read(project.join("flake.lock")).unwrap();
    let started = Instant::now();
    let run = lock(&work, &project, "hang2", &["--update", "--timeout", "1"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("did not finish within 1 s") && run.stderr.contains("--timeout"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(project.join("flake.lock")).unwrap(), before);
    assert_no_scratch(&work);
}

#[test]
fn an_evaluation_error_names_the_fix_and_writes_nothing() {
    let work = TempDir::new().unwrap();
    let project = project(&work, None);
    let run = lock(&work, &project, "broken1", &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for needle in [
        "attribute 'cudaPackages_14' missing",
        "flake.lock was left as it was",
        "fix the attribute the error names in flake.nix",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    assert!(!project.join("flake.lock").exists());
}

#[test]
fn lock_refuses_what_it_cannot_lock() {
    let work = TempDir::new().unwrap();
    // Not a project.
    let run = lock(&work, work.path(), "cached1", &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("no `.nixcuda.yaml`"), "{}", run.stderr);

    // No flake.nix.
    let project = project(&work, None);
    std::fs::remove_file(project.join("flake.nix")).unwrap();
    let run = lock(&work, &project, "cached1", &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("has no flake.nix") && run.stderr.contains("git checkout -- flake.nix"),
        "{}",
        run.stderr
    );

    // No nix at all.
    std::fs::write(project.join("flake.nix"), "{ }\n").unwrap();
    let empty = work.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = on_host("laptop-intel-nvidia", &project, &["lock"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no `nix` on PATH") && stderr.contains("https://nixos.org/download"),
        "{stderr}"
    );
    assert!(!project.join("flake.lock").exists());
}
