//! What a newcomer meets in the first minutes that is not a question:
//! `nixos` on a machine without the GPU, and the test suite's own report of
//! what it could not check.

use tempfile::TempDir;

use crate::host::on_host;

#[test]
fn nixos_without_a_gpu_writes_the_module_for_a_named_one() {
    let cwd = TempDir::new().unwrap();
    let run = |args: &[&str]| {
        let out = on_host("no-gpu", cwd.path(), args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Without --gpu: the error says how to name one.
    let (code, _, err) = run(&["nixos"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--gpu 10de:2684"), "{err}");
    // By PCI ID: an RTX 4090, open modules.
    let (code, module, err) = run(&["nixos", "--gpu", "10de:2684"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        module.contains("`cargo nixcuda nixos --gpu 10de:2684`"),
        "{module}"
    );
    assert!(module.contains("open = true;"), "{module}");
    assert!(!module.contains("/sys/bus/pci/devices"), "{module}");
    // By generation: a Pascal card (a GTX 10xx, compute capability 6.1)
    // gets the closed 580 driver and the capability warning.
    let (code, module, err) = run(&["nixos", "--gpu", "pascal"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(module.contains("open = false;"), "{module}");
    assert!(module.contains("legacy_580"), "{module}");
    assert!(err.contains("compute capability 6.1"), "{err}");
    // Nothing known by that name: a usage error naming the generations.
    let (code, _, err) = run(&["nixos", "--gpu", "rtx-banana"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("blackwell") && err.contains("lspci -nn"),
        "{err}"
    );
}

/// Run only by `a_missing_prerequisite_shows_in_the_test_run`, as a child.
#[test]
#[ignore = "run as a child by a_missing_prerequisite_shows_in_the_test_run"]
fn a_test_whose_prerequisite_is_missing() {
    // Run with --include-ignored but not as the child: nothing to show.
    if std::env::var_os("NIXCUDA_TEST_SKIP_CHILD").is_none() {
        return;
    }
    if !crate::support::prerequisite("a tool nobody has", false, "install it") {
        return;
    }
    unreachable!("the prerequisite is missing");
}

#[test]
fn a_missing_prerequisite_shows_in_the_test_run() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ux_first_minutes::a_test_whose_prerequisite_is_missing",
            "--include-ignored",
        ])
        .env_remove("CI")
        .env("NIXCUDA_TEST_SKIP_CHILD", "1")
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    // The test passes, so cargo shows none of what it printed with
    // eprintln!; the SKIPPED line is there all the same.
    assert!(
        shown.contains(
            "SKIPPED ux_first_minutes::a_test_whose_prerequisite_is_missing: a tool nobody has is not available (install it)"
        ),
        "{shown}"
    );
}
