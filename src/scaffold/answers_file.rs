//! `--answers-file FILE` (`new`, `init`, `update`): answers from a YAML
//! mapping, as cargo-generate's `--template-values-file` and copier's
//! `--data-file` take them; `-d` wins over the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `--answers-file FILE`: answers from a YAML mapping, which `-d` overrides.
#[derive(Debug, Default)]
pub struct AnswersFile {
    path: Option<PathBuf>,
    values: BTreeMap<String, String>,
}

impl AnswersFile {
    /// Reads `path` (none: an empty set of answers). Each value becomes the
    /// text `-d` would give, so it is checked exactly like one.
    pub fn load(path: Option<&Path>) -> Result<AnswersFile> {
        let Some(path) = path else {
            return Ok(AnswersFile::default());
        };
        let bad = |message: String| Error::AnswersFile {
            path: path.to_path_buf(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        crate::yaml::check_depth(&text).map_err(bad)?;
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mapping = match yaml {
            serde_yaml::Value::Null => serde_yaml::Mapping::new(),
            serde_yaml::Value::Mapping(m) => m,
            _ => return Err(bad("expected a mapping of question keys to answers".into())),
        };
        let mut values = BTreeMap::new();
        for (key, value) in mapping {
            let key = key
                .as_str()
                .ok_or_else(|| bad("every key must be a question key (text)".into()))?
                .to_string();
            let text = answer_text(&value).ok_or_else(|| {
                bad(format!(
                    "`{key}`: expected text, true/false, a number or a list of choices"
                ))
            })?;
            values.insert(key, text);
        }
        Ok(AnswersFile {
            path: Some(path.to_path_buf()),
            values,
        })
    }

    /// The file's answers with `defines` (`-d`, which win) over them.
    pub fn under(&self, defines: Vec<(String, String)>) -> BTreeMap<String, String> {
        let mut all = self.values.clone();
        all.extend(defines);
        all
    }

    /// Names the file in an answer error that a value from it caused
    /// (`provided`: the answers used, to tell a `-d` override apart).
    pub fn attribute(&self, error: Error, provided: &BTreeMap<String, String>) -> Error {
        let Some(path) = &self.path else {
            return error;
        };
        let from_file = |key: &str| {
            self.values
                .get(key)
                .is_some_and(|v| provided.get(key) == Some(v))
        };
        let message = match &error {
            Error::UnknownKey { key, known, .. } if from_file(key) => format!(
                "`{key}` is not a question of this scaffold (its questions: {})",
                known.join(", ")
            ),
            Error::InvalidAnswer {
                key, value, reason, ..
            } if from_file(key) => format!(
                "`{key}`: invalid answer `{}`: {reason}",
                crate::error::shorten(value)
            ),
            _ => return error,
        };
        Error::AnswersFile {
            path: path.clone(),
            message,
        }
    }
}

/// A YAML value as the `-d` text it stands for.
fn answer_text(value: &serde_yaml::Value) -> Option<String> {
    use serde_yaml::Value as Y;
    Some(match value {
        Y::Null => String::new(),
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::String(s) => s.clone(),
        Y::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => None,
                other => answer_text(other),
            })
            .collect::<Option<Vec<_>>>()?
            .join(","),
        Y::Mapping(_) | Y::Tagged(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_the_texts_d_would_give() {
        let cases = [
            ("a: x", Some("x")),
            ("a: true", Some("true")),
            ("a: 6.1", Some("6.1")),
            ("a: [torch, tensorflow]", Some("torch,tensorflow")),
            ("a:", Some("")),
            ("a: {b: c}", None),
        ];
        for (text, want) in cases {
            let value: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
            assert_eq!(answer_text(&value["a"]).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn d_wins_over_the_file() {
        let file = AnswersFile {
            path: Some("a.yaml".into()),
            values: [
                ("x".to_string(), "file".to_string()),
                ("y".into(), "file".into()),
            ]
            .into(),
        };
        let all = file.under(vec![("x".into(), "flag".into())]);
        assert_eq!(all["x"], "flag");
        assert_eq!(all["y"], "file");
    }
}
