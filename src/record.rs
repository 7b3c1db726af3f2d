//! `.nixcuda.yaml`: which scaffold made the project and with which answers.
//! It is the input of a later `cargo nixcuda update`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const RECORD_FILE: &str = ".nixcuda.yaml";

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
    pub fn new(id: &str, version: &str, project_name: &str, answers: &[(String, Value)]) -> Self {
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
                id: id.to_string(),
                version: version.to_string(),
                source: "embedded".to_string(),
                commit: None,
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
    fn round_trips_hostile_answers() {
        let answers = vec![
            (
                "description".to_string(),
                Value::String("a: \"b\" ${c}\n# not a comment".into()),
            ),
            ("notebook".to_string(), Value::Bool(true)),
            ("tags".to_string(), serde_json::json!(["x", "y"])),
        ];
        let record = ProjectRecord::new("ml", "1.0.0", "demo", &answers);
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
