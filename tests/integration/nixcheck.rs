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
