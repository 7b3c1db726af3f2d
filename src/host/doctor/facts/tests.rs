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
