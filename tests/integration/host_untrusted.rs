//! `doctor` in a project that someone else wrote (a clone): it reads the
//! project, and runs nothing the project chose.

use std::path::{Path, PathBuf};

use assert_fs::TempDir;

use crate::host::{on_host, status_of};
use crate::support::fixture;

/// A directory on the test's own PATH holding `name`, if any.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A program at `dir/bin/NAME` for each name that, when run, leaves
/// `marker` behind.
fn trap_toolchain(dir: &Path, marker: &Path, names: &[&str]) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in names {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn doctor_runs_no_toolchain_or_compiler_the_project_names() {
    // rustup's `cargo` proxy reads rust-toolchain.toml; without rustup
    // there is nothing to choose a toolchain and nothing to test.
    let Some(rustup) = on_path("rustup") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs rustup on PATH for this test"
        );
        eprintln!(
            "SKIPPED doctor_runs_no_toolchain_or_compiler_the_project_names: no rustup on PATH"
        );
        return;
    };
    let work = TempDir::new().unwrap();
    let project = work.path().join("gpu-demo");
    crate::support::copy_dir(&fixture("hosts/project"), &project);
    let marker = work.path().join("ran-project-code");
    let toolchain = work.path().join("their-toolchain");
    trap_toolchain(&toolchain, &marker, &["cargo", "rustc"]);
    let toolchain_file = format!("[toolchain]\npath = \"{}\"\n", toolchain.display());
    // Where rustup and cargo would look when run in the project or in its
    // crate: the toolchain file, and a cargo config naming another rustc.
    for dir in [project.clone(), project.join("rust")] {
        std::fs::write(dir.join("rust-toolchain.toml"), &toolchain_file).unwrap();
        std::fs::create_dir_all(dir.join(".cargo")).unwrap();
        std::fs::write(
            dir.join(".cargo/config.toml"),
            format!(
                "[build]\nrustc = \"{}\"\nrustc-wrapper = \"{}\"\n",
                toolchain.join("bin/rustc").display(),
                toolchain.join("bin/rustc").display()
            ),
        )
        .unwrap();
    }
    // `cargo` on PATH is rustup's proxy, as on a developer's machine.
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(rustup.with_file_name("cargo"), bin.join("cargo")).unwrap();
    let host = crate::host::scenario("laptop-intel-nvidia");
    let path = std::env::join_paths([bin, host.join("bin")]).unwrap();
    let home = std::env::var_os("HOME").unwrap();
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .unwrap_or_else(|| Path::new(&home).join(".rustup").into_os_string());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .unwrap_or_else(|| Path::new(&home).join(".cargo").into_os_string());
    for cwd in [project.clone(), project.join("rust")] {
        // The fake machine, with the proxy first on PATH instead of the
        // cargo the test run names.
        let out = on_host("laptop-intel-nvidia", &cwd, &["doctor", "--json"])
            .env_remove("CARGO")
            .env("PATH", &path)
            .env("RUSTUP_HOME", &rustup_home)
            .env("CARGO_HOME", &cargo_home)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        assert!(
            !marker.exists(),
            "doctor in {} ran the project's toolchain",
            cwd.display()
        );
        // The crate was still read, by the user's own cargo.
        assert_eq!(status_of(&report, "project-cuda"), "ok", "{report:#}");
    }
}
