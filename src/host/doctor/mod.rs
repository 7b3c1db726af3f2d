//! `cargo nixcuda doctor`: one check per thing CUDA on this machine needs,
//! each ok / warn / fail (or skip when it does not apply), every non-ok one
//! with a hint. Builds a `Report`; printing is the command layer's job.
//!
//! `facts` reads the machine and the project once; each check is then a
//! pure function of those facts, grouped by topic (`nix`, `gpu` for the GPU,
//! driver, libcuda and nvidia_uvm, `direnv`, `project`) and listed in
//! `CHECKS` in the order the report shows them. A new check is a function
//! there and a line in `CHECKS`; what it needs to read goes into `Facts`.

mod direnv;
pub mod facts;
mod gpu;
mod nix;
mod project;
pub mod report;
#[cfg(test)]
mod testing;

use super::probe::Host;
use crate::error::Result;
pub use facts::{DoctorOptions, Facts};
pub use report::{Check, Report, Status, Summary};

/// Every check, in the order of the report.
pub const CHECKS: &[fn(&Facts) -> Check] = &[
    nix::nix,
    nix::features,
    nix::cache,
    nix::os,
    gpu::gpu,
    gpu::driver,
    gpu::driver_cuda,
    gpu::libcuda,
    gpu::uvm,
    direnv::direnv,
    direnv::nix_direnv,
    project::cuda,
    project::scaffold_version,
    project::build_plan,
];

pub fn run(host: &Host, opts: &DoctorOptions) -> Result<Report> {
    let facts = Facts::gather(host, opts)?;
    Ok(Report::new(
        CHECKS.iter().map(|check| check(&facts)).collect(),
    ))
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        let mut summary = Summary::default();
        for c in &checks {
            match c.status {
                Status::Ok => summary.ok += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        Report { checks, summary }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{in_project, machine};
    use super::*;

    #[test]
    fn the_table_reports_each_check_once_in_order() {
        let report = Report::new(CHECKS.iter().map(|check| check(&machine())).collect());
        let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "nix",
                "nix-features",
                "nix-cache",
                "os",
                "gpu",
                "driver",
                "driver-cuda",
                "libcuda",
                "nvidia-uvm",
                "direnv",
                "nix-direnv",
                "project-cuda",
                "scaffold-version",
                "build-plan",
            ]
        );
        let s = &report.summary;
        assert_eq!((s.ok, s.warn, s.fail, s.skip), (11, 0, 0, 3));
        let in_project = Report::new(
            CHECKS
                .iter()
                .map(|check| check(&in_project(|_| {})))
                .collect(),
        );
        assert_eq!(in_project.summary.ok, 13, "{:?}", in_project.checks);
        let broken = Facts {
            nix: None,
            uvm_loaded: false,
            ..machine()
        };
        let report = Report::new(CHECKS.iter().map(|check| check(&broken)).collect());
        assert_eq!(report.failed(), 2);
    }
}
