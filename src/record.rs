//! `.nixcuda.yaml`: which scaffold made the project and with which answers.
//! It is the input of a later `cargo nixcuda update`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const RECORD_FILE: &str = ".nixcuda.yaml";

/// A record is a few hundred bytes; these bounds keep a hostile one from
/// costing more than reading it (YAML parsers are slow on deep nesting).
const MAX_RECORD_BYTES: u64 = 64 << 10;
const MAX_FLOW_DEPTH: usize = 32;

/// Reads the record at `path`, refusing one too large or too deeply nested.
pub fn read_limited(path: &std::path::Path) -> crate::error::Result<String> {
    use crate::error::Error;
    let bad = |message: String| Error::BadRecord {
        path: path.to_path_buf(),
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io("read", path, e))?
        .len();
    if size > MAX_RECORD_BYTES {
        return Err(bad(format!(
            "{size} bytes; a record is at most {MAX_RECORD_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    if flow_depth(&text) > MAX_FLOW_DEPTH {
        return Err(bad(format!(
            "nested more than {MAX_FLOW_DEPTH} levels deep"
        )));
    }
    Ok(text)
}

/// The deepest nesting of `[`/`{` outside quoted strings and comments.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for line in text.lines() {
        let mut quote = None;
        let mut after_space = true;
        for c in line.chars() {
            let comment = c == '#' && after_space;
            after_space = c.is_whitespace();
            match (quote, c) {
                (None, '#') if comment => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub tool_version: String,
    pub scaffold: ScaffoldRef,
    /// The git tree id of the scaffold's own output for this version and
    /// these answers, before any edit: `update`'s merge base when the
    /// repository still has it (`vcs::PRISTINE_REF` keeps it reachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pristine: Option<String>,
    pub project_name: String,
    pub answers: serde_yaml::Mapping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaffoldRef {
    pub id: String,
    pub version: String,
    /// `embedded` for scaffolds shipped in the binary; for team templates
    /// `dir:/abs/path` or `git+URL` (records without it are embedded).
    #[serde(default = "embedded_source")]
    pub source: String,
    /// The template commit a git team template was rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

fn embedded_source() -> String {
    "embedded".to_string()
}

impl ProjectRecord {
    /// The record of a project rendered from `scaffold`: the one place a
    /// scaffold's source and commit become what the project records.
    pub fn new(
        scaffold: &crate::scaffold::Scaffold,
        root: &std::path::Path,
        project_name: &str,
        answers: &[(String, Value)],
    ) -> Self {
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
                id: scaffold.manifest.id.clone(),
                version: scaffold.manifest.version.to_string(),
                source: scaffold.source.template.record_string_at(root),
                commit: scaffold.source.commit.clone(),
            },
            pristine: None,
            project_name: project_name.to_string(),
            answers,
        }
    }

    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).expect("a record always serializes");
        format!(
            "# Written by cargo-nixcuda. `cargo nixcuda update` reads it to move this\n# project to a newer scaffold version; keep it in version control.\n{body}"
        )
    }

    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings_and_comments() {
        assert_eq!(flow_depth("a: [1, {b: [2]}]\n"), 3);
        assert_eq!(flow_depth("a: \"[[[[\" # [[[[\n"), 0);
        assert_eq!(flow_depth("a: [x#, [[y]]]\n"), 3);
        assert_eq!(flow_depth(&"[".repeat(1000)), 1000);
    }

    #[test]
    fn round_trips_hostile_answers() {
        let answers = vec![
            (
                "description".to_string(),
                Value::String("a: \"b\" ${c}\n# not a comment".into()),
            ),
            ("notebook".to_string(), Value::Bool(true)),
            ("tags".to_string(), serde_json::json!(["x", "y"])),
        ];
        let registry = crate::scaffold::registry::Registry::embedded().unwrap();
        let scaffold = registry.resolve("ml@1.0.0").unwrap();
        let record = ProjectRecord::new(scaffold, std::path::Path::new("/demo"), "demo", &answers);
        assert_eq!(record.scaffold.source, "embedded");
        let text = record.to_yaml();
        assert_eq!(ProjectRecord::from_yaml(&text).unwrap(), record);
        let keys: Vec<_> = record.answers.keys().filter_map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            ["description", "notebook", "tags"],
            "question order is kept"
        );
    }
}
