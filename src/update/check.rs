//! `check`: the project's scaffold version against the newest.

use std::path::Path;

use super::{find_project, read_record};
use crate::error::{Error, Result};
use crate::record::RECORD_FILE;
use crate::scaffold::registry::Registry;

#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    pub scaffold: String,
    pub current: String,
    pub newest: String,
    pub up_to_date: bool,
    pub newer: Vec<String>,
    /// Files an update left in conflict that are still unmerged in git's
    /// index.
    pub unresolved: Vec<std::path::PathBuf>,
}

pub fn check(start: &Path, registry: &Registry) -> Result<CheckReport> {
    let root = find_project(start)?;
    let record = read_record(&root)?;
    let versions = registry.versions(&record.scaffold.id);
    let newest = registry.resolve(&record.scaffold.id)?;
    let current =
        semver::Version::parse(&record.scaffold.version).map_err(|e| Error::BadRecord {
            path: root.join(RECORD_FILE),
            message: format!("scaffold version: {e}"),
        })?;
    Ok(CheckReport {
        scaffold: record.scaffold.id.clone(),
        current: current.to_string(),
        newest: newest.manifest.version.to_string(),
        up_to_date: newest.manifest.version <= current,
        newer: versions
            .iter()
            .filter(|s| s.manifest.version > current)
            .map(|s| s.manifest.version.to_string())
            .collect(),
        unresolved: crate::vcs::unmerged_paths(&root),
    })
}
