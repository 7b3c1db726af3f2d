//! `.nixcuda.yaml`: which scaffold made the project and with which answers.
//! It is the input of a later `cargo nixcuda update`.

use serde::{Deserialize, Serialize};

pub const RECORD_FILE: &str = ".nixcuda.yaml";

/// A record is a few hundred bytes; these bounds keep a hostile one from
/// costing more than reading it (YAML parsers are slow on deep nesting).
const MAX_RECORD_BYTES: u64 = 64 << 10;

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
    crate::yaml::check_depth(&text).map_err(bad)?;
    Ok(text)
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
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).expect("a record always serializes");
        format!(
            "# Written by cargo-nixcuda. `cargo nixcuda update` reads it to move this\n# project to a newer scaffold version; keep it in version control.\n{body}"
        )
    }

    /// Refuses answers that would make a record `read_limited` then
    /// refuses, naming the longest answer: without this check `new` would
    /// write a project that `check` and `update` cannot open.
    pub fn check_size(&self) -> crate::error::Result<()> {
        let size = self.to_yaml().len();
        if size as u64 <= MAX_RECORD_BYTES {
            return Ok(());
        }
        let longest = self
            .answers
            .iter()
            .map(|(k, v)| (k, serde_yaml::to_string(v).unwrap_or_default()))
            .max_by_key(|(_, text)| text.len());
        let (key, value) = match longest {
            Some((k, text)) => (k.as_str().unwrap_or_default().to_string(), text),
            None => (String::new(), String::new()),
        };
        Err(crate::error::Error::InvalidAnswer {
            key,
            value: value.trim_end().to_string(),
            reason: format!(
                "the project's record ({RECORD_FILE}) would be {size} bytes, and a record holds at most {MAX_RECORD_BYTES}: give a shorter answer, and keep long text in a file of the project"
            ),
            template: None,
        })
    }

    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_record_over_the_limit_is_refused_naming_the_longest_answer() {
        let registry = crate::scaffold::registry::Registry::embedded().unwrap();
        let scaffold = registry.resolve("ml@1.0.0").unwrap();
        let answers = |n: usize| {
            vec![
                ("notebook".to_string(), Value::Bool(true)),
                ("description".to_string(), Value::String("d".repeat(n))),
            ]
        };
        let fits = scaffold.project_record(std::path::Path::new("/d"), "d", &answers(60_000));
        fits.check_size().unwrap();
        let limit = MAX_RECORD_BYTES as usize;
        let over = scaffold.project_record(std::path::Path::new("/d"), "d", &answers(limit));
        match over.check_size() {
            Err(crate::error::Error::InvalidAnswer { key, reason, .. }) => {
                assert_eq!(key, "description");
                assert!(reason.contains(".nixcuda.yaml"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
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
        let record = scaffold.project_record(std::path::Path::new("/demo"), "demo", &answers);
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
