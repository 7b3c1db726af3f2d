//! What `Facts` derives for several checks, and a whole fake machine
//! gathered.

use super::super::testing::{in_project, machine};
use super::*;
#[test]
fn what_one_check_decides_for_another_is_a_fact() {
    let facts = machine();
    assert!(facts.nix_fit() && facts.loaded_driver().is_some());
    assert_eq!(facts.cuda_target().0, facts.data.default_cuda);
    let project = in_project(|p| p.capabilities = Some(vec!["8.9".into()]));
    assert_eq!(
        project.cuda_target(),
        (
            "12.8".to_string(),
            "the project's cudaPackages_12_8".to_string()
        )
    );
    assert_eq!(project.capabilities(), Some(&["8.9".to_string()][..]));
    let mut old = machine();
    old.nix.as_mut().unwrap().version = Some("2.17".into());
    assert!(!old.nix_fit());
    old.nix.as_mut().unwrap().version = None;
    assert!(!old.nix_fit());
    // A driver file without an NVIDIA GPU is no loaded driver.
    let no_gpu = Facts {
        gpus: Vec::new(),
        ..machine()
    };
    assert!(no_gpu.loaded_driver().is_none());
}

#[test]
fn a_fake_machine_is_gathered_whole() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/broken/root");
    let registry = crate::scaffold::registry::Registry::embedded().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let opts = DoctorOptions {
        start: cwd.path().to_path_buf(),
        registry: &registry,
        build_plan_timeout: None,
    };
    let facts = Facts::gather(&Host::at(&root), &opts).unwrap();
    assert!(facts.nixos);
    assert_eq!(facts.nvidia().len(), 1);
    assert!(matches!(facts.driver, DriverState::Loaded(_)));
    assert!(facts.libcuda.is_empty() && !facts.uvm_loaded);
    assert!(facts.project.is_none());
}

#[test]
fn the_daemons_nix_conf_is_read_with_what_it_includes() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/nix");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("nix.conf"),
        "substituters = https://cache.nixos.org/\n!include nix.custom.conf\ninclude /etc/nix/missing.conf\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("nix.custom.conf"),
        "extra-substituters = https://cache.nixos-cuda.org\ntrusted-users = root @wheel\n",
    )
    .unwrap();
    let settings = daemon_settings(&Host::at(dir.path()));
    assert_eq!(
        settings.get("substituters"),
        ["https://cache.nixos.org/", "https://cache.nixos-cuda.org"]
    );
    assert_eq!(settings.get("trusted-users"), ["root", "@wheel"]);
    assert_eq!(
        settings.source,
        "/etc/nix/nix.conf and /etc/nix/nix.custom.conf"
    );
    let none = daemon_settings(&Host::at(&dir.path().join("nowhere")));
    assert!(none.values.is_empty());
}

#[test]
fn a_flakes_nix_config_counts_with_url_and_key() {
    let data = HostFacts::embedded().unwrap();
    let cache = &data.caches[0];
    let flake = format!(
        "{{ nixConfig = {{ extra-substituters = [ \"{}\" ]; extra-trusted-public-keys = [ \"{}\" ]; }}; }}",
        cache.url, cache.key
    );
    assert_eq!(flake_caches(&flake, &data), vec![cache.url.as_str()]);
    let no_key = format!(
        "{{ nixConfig.extra-substituters = [ \"{}\" ]; }}",
        cache.url
    );
    assert!(flake_caches(&no_key, &data).is_empty());
    // The URL elsewhere in the flake is no nixConfig.
    let elsewhere = format!("{{ description = \"{} {}\"; }}", cache.url, cache.key);
    assert!(flake_caches(&elsewhere, &data).is_empty());
}
