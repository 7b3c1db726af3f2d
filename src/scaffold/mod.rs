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
}
