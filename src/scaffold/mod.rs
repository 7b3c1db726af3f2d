//! Scaffolds: a manifest plus a template tree, wherever they come from.

pub mod answers;
pub mod answers_file;
pub mod helpers;
pub mod lint;
pub mod manifest;
pub mod partials;
pub mod registry;
pub mod render;
pub mod render_error;
pub mod sample;
pub mod source;
pub mod starter;
pub mod template;

use std::borrow::Cow;

use crate::record::{ProjectRecord, ScaffoldRef};

pub use manifest::Manifest;

/// One file of a scaffold's `template/` tree; `path` uses `/` separators.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    pub path: String,
    pub contents: Cow<'static, [u8]>,
    /// Mode 755 in the template: the generated file is executable too.
    pub executable: bool,
}

#[derive(Debug, Clone)]
pub struct Scaffold {
    pub manifest: Manifest,
    /// Where the scaffold lives, for error messages (`scaffolds/ml/1.0.0`).
    pub origin: String,
    pub files: Vec<TemplateFile>,
    /// What `.nixcuda.yaml` records as where it came from.
    pub source: ScaffoldSource,
}

/// Where a scaffold came from: the embedded set, a directory, or a git
/// repository at a commit (with the tag that named the version, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldSource {
    pub template: source::TemplateSource,
    pub commit: Option<String>,
    pub tag: Option<String>,
}

impl Default for ScaffoldSource {
    /// The scaffolds shipped in the binary (and the tests' stand-ins for them).
    fn default() -> ScaffoldSource {
        ScaffoldSource {
            template: source::TemplateSource::Embedded,
            commit: None,
            tag: None,
        }
    }
}

impl Scaffold {
    /// `ml@1.0.0`
    pub fn label(&self) -> String {
        format!("{}@{}", self.manifest.id, self.manifest.version)
    }

    /// The record of a project rendered from this scaffold: the one place a
    /// scaffold's source and commit become what the project records.
    pub fn project_record(
        &self,
        root: &std::path::Path,
        project_name: &str,
        answers: &[(String, serde_json::Value)],
    ) -> ProjectRecord {
        let answers = answers
            .iter()
            .map(|(k, v)| {
                let value = serde_yaml::to_value(v).expect("JSON values convert to YAML");
                (serde_yaml::Value::String(k.clone()), value)
            })
            .collect();
        ProjectRecord {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            scaffold: ScaffoldRef {
                id: self.manifest.id.clone(),
                version: self.manifest.version.to_string(),
                source: self.source.template.record_string_at(root),
                commit: self.source.commit.clone(),
            },
            pristine: None,
            project_name: project_name.to_string(),
            answers,
        }
    }
}
