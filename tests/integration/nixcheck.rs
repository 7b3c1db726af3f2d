//! The project's Nix evaluation checker (tests/nixcheck) is itself tested:
//! its good cases pass and each bad case fails for its own reason, so a
//! green evaluation test means that the checker can fail.

use crate::support::{nixcheck, run};

#[test]
fn the_checker_passes_good_projects_and_fails_bad_ones() {
    let Some(check) = nixcheck() else { return };
    let (ok, report) = run(std::process::Command::new(check.with_file_name("selftest"))
        .env("NIXCHECK_REQUIRE_NIX", "1"));
    assert!(ok, "nixcheck's selftest failed:\n{report}");
    let cases = std::fs::read_dir(check.with_file_name("selftest-cases"))
        .unwrap()
        .count();
    assert!(
        report.contains(&format!("{cases} passed, 0 failed")),
        "{report}"
    );
}

/// The repository's own flake evaluates (package, checks, both dev
/// shells), and `nix develop` gives a contributor what the tests need.
#[test]
fn the_repositorys_flake_gives_the_test_prerequisites() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let flake = std::fs::read_to_string(root.join("flake.nix")).unwrap();
    for needed in [
        "pkgs.nix",
        "pkgs.zsh",
        "pkgs.fish",
        "pkgs.git",
        "pkgs.actionlint",
        "pkgs.maturin",
        "ps.nbclient",
        "ps.torch",
        "ps.tensorflow",
        "NIXCUDA_TEST_PYTHON",
        "NIXCUDA_TEST_TORCH_PYTHON",
        "NIXCUDA_TEST_TF_PYTHON",
    ] {
        assert!(
            flake.contains(needed),
            "flake.nix's dev shell lacks {needed}"
        );
    }
    let Some(check) = nixcheck() else { return };
    let copy = tempfile::tempdir().unwrap();
    for file in ["flake.nix", "Cargo.lock"] {
        std::fs::copy(root.join(file), copy.path().join(file)).unwrap();
    }
    let (ok, report) = run(std::process::Command::new(&check)
        .arg(copy.path())
        .env("NIXCHECK_REQUIRE_NIX", "1"));
    assert!(ok, "{report}");
    for output in [
        "devShells.x86_64-linux.default",
        "devShells.x86_64-linux.full",
        "packages.x86_64-linux.default",
    ] {
        assert!(
            report.contains(&format!("ok   eval {output}")),
            "{output}:\n{report}"
        );
    }
}
