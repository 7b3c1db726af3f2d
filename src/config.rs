//! The user's configuration: `$XDG_CONFIG_HOME/cargo-nixcuda/config.yaml`
//! (or `~/.config/...`; `CARGO_NIXCUDA_CONFIG` names another file).
//!
//! ```yaml
//! defaults:                 # answers taken as if given with -d (-d wins)
//!   author: Ada Lovelace <ada@example.org>
//!   frameworks: both
//! templates:                # favorites: `--template work`
//!   work: gh:acme/ml-template
//!   lab: /srv/templates/lab
//! default_scaffold: ml      # `new` without --scaffold/--template
//! default_template: work    # `new` without --template (optional)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Names another config file (tests, or a team-wide one).
pub const CONFIG_ENV: &str = "CARGO_NIXCUDA_CONFIG";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Default answers, by question key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, serde_yaml::Value>,
    /// Favorite templates: name -> directory, URL or `gh:owner/repo`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scaffold: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the file is (or would be); None without HOME.
    pub path: Option<PathBuf>,
    /// Whether the file exists.
    pub exists: bool,
    /// How the path was chosen: `CARGO_NIXCUDA_CONFIG`, `XDG_CONFIG_HOME`, `HOME`.
    pub path_from: &'static str,
    pub file: ConfigFile,
}

/// The config file's path and what chose it.
pub fn config_path() -> (Option<PathBuf>, &'static str) {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(CONFIG_ENV) {
        return (Some(PathBuf::from(p)), CONFIG_ENV);
    }
    if let Some(p) = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return (
            Some(p.join("cargo-nixcuda").join("config.yaml")),
            "XDG_CONFIG_HOME",
        );
    }
    match var("HOME") {
        Some(home) => (
            Some(
                PathBuf::from(home)
                    .join(".config")
                    .join("cargo-nixcuda")
                    .join("config.yaml"),
            ),
            "HOME",
        ),
        None => (None, "nothing (no HOME)"),
    }
}

impl Config {
    /// Reads the config file; a missing file is an empty config.
    pub fn load() -> Result<Config> {
        let (path, path_from) = config_path();
        let Some(path) = path else {
            return Ok(Config {
                path_from,
                ..Config::default()
            });
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path: Some(path),
                    exists: false,
                    path_from,
                    file: ConfigFile::default(),
                });
            }
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let file = Config::parse(&path, &text)?;
        Ok(Config {
            path: Some(path),
            exists: true,
            path_from,
            file,
        })
    }

    pub fn parse(path: &std::path::Path, text: &str) -> Result<ConfigFile> {
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        crate::yaml::check_depth(text).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            line: None,
            message,
        })?;
        let file: ConfigFile = serde_yaml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        for (name, value) in &file.defaults {
            if answer_text(value).is_none() {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    line: text
                        .lines()
                        .position(|l| l.trim_start().starts_with(&format!("{name}:")))
                        .map(|i| i + 1),
                    message: format!(
                        "default `{name}` must be a string, a number, true/false or a list of strings"
                    ),
                });
            }
        }
        Ok(file)
    }

    /// `--template NAME[@VERSION][#REF]` with NAME a favorite becomes the
    /// favorite's location with the same suffix; anything else is kept.
    pub fn resolve_template(&self, text: &str) -> String {
        let cut = text.find(['@', '#']).unwrap_or(text.len());
        let (name, rest) = text.split_at(cut);
        match self.file.templates.get(name) {
            Some(target) if rest.is_empty() => target.clone(),
            Some(target) => {
                let base = target.split('#').next().unwrap_or(target);
                format!("{base}{rest}")
            }
            None => text.to_string(),
        }
    }

    /// A warning when `--template NAME` names both a favorite and a
    /// directory in `cwd`. The favorite wins (`resolve_template`), so that
    /// a favorite means the same wherever the command runs; `./NAME` names
    /// the directory.
    pub fn template_ambiguity(&self, text: &str, cwd: &std::path::Path) -> Option<String> {
        let cut = text.find(['@', '#']).unwrap_or(text.len());
        let name = &text[..cut];
        let target = self.file.templates.get(name)?;
        let place = match &self.path {
            Some(path) => format!(" in {}", path.display()),
            None => String::new(),
        };
        cwd.join(name).is_dir().then(|| {
            format!(
                "`{name}` is both a favorite{place} (`{target}`) and a directory here; using the favorite: write `./{name}` for the directory, or rename the favorite"
            )
        })
    }

    /// The default answers as `-d` texts.
    pub fn default_answers(&self) -> BTreeMap<String, String> {
        self.file
            .defaults
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), answer_text(v)?)))
            .collect()
    }
}

/// A YAML value as `-d` would write it (`true`, `a,b`, `text`).
fn answer_text(value: &serde_yaml::Value) -> Option<String> {
    use serde_yaml::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_and_resolves_favorites() {
        let file = Config::parse(
            Path::new("c.yaml"),
            "defaults:\n  author: Ada\n  notebook: false\n  frameworks: [torch]\ntemplates:\n  work: gh:acme/t\n  pinned: file:///t#v1.0.0\n",
        )
        .unwrap();
        let config = Config {
            file,
            ..Config::default()
        };
        assert_eq!(config.resolve_template("work"), "gh:acme/t");
        assert_eq!(config.resolve_template("work@1.0.0"), "gh:acme/t@1.0.0");
        assert_eq!(config.resolve_template("pinned"), "file:///t#v1.0.0");
        assert_eq!(config.resolve_template("pinned#main"), "file:///t#main");
        assert_eq!(config.resolve_template("./other"), "./other");
        let answers = config.default_answers();
        assert_eq!(answers["notebook"], "false");
        assert_eq!(answers["frameworks"], "torch");
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = Config::parse(Path::new("c.yaml"), "defaults: {}\nbogus: 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.yaml:"), "{err}");
        let err = Config::parse(Path::new("c.yaml"), "defaults:\n  x: {a: 1}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.yaml:2:"), "{err}");
    }
}
