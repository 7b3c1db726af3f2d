//! `scaffold.yaml`: the schema of a scaffold and its validation. Problems are
//! reported with the manifest's file name and line so authors can fix them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: semver::Version,
    pub description: String,
    #[serde(default)]
    pub min_tool_version: Option<semver::Version>,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub derived: Vec<Derived>,
    #[serde(default)]
    pub files: Vec<FileRule>,
    /// Globs of `.hbs` files to copy byte-for-byte instead of rendering.
    #[serde(default)]
    pub verbatim: Vec<String>,
    #[serde(default)]
    pub format: Format,
    /// Project names this scaffold refuses: they would shadow a dependency.
    #[serde(default)]
    pub reserved_names: Vec<String>,
    /// How `update` carries a project from an older version to this one.
    #[serde(default)]
    pub migrations: Vec<Migration>,
    /// How `init` treats files the directory already has.
    #[serde(default)]
    pub init: InitRules,
    /// Printed after `new` and `init`: a template over the answers and
    /// `path`; without it the tool says what the rendered files call for.
    #[serde(default)]
    pub next_steps: Option<String>,
}

/// Globs over output paths for `init` into a directory that has files:
/// `keep` leaves the user's file in place of the scaffold's (a README),
/// `merge_lines` appends the scaffold's missing lines to it (`.gitignore`).
/// Any other existing file that differs is a conflict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRules {
    #[serde(default)]
    pub keep: Vec<String>,
    #[serde(default)]
    pub merge_lines: Vec<String>,
}

/// Data-only steps for projects made with a version below `before`; applied
/// in order by `cargo nixcuda update`. Nothing here runs code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub before: semver::Version,
    /// Recorded answer keys that changed name: `{ old: new }`.
    #[serde(default)]
    pub rename_answers: BTreeMap<String, String>,
    /// New answers computed from old ones.
    #[serde(default)]
    pub set_answers: Vec<SetAnswer>,
    /// Output paths that moved: `{ "old/path": "new/path" }`; the user's
    /// edits follow the file.
    #[serde(default)]
    pub rename_paths: BTreeMap<String, String>,
    /// What the user must do by hand (outside the project, say): `update`
    /// and `update --dry-run` print it.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAnswer {
    pub key: String,
    pub from: String,
    pub map: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    String,
    Bool,
    Choice,
    Multichoice,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: QuestionKind,
    pub prompt: String,
    #[serde(default)]
    pub help: Option<String>,
    /// A literal, or for strings and choices a template over earlier answers.
    #[serde(default)]
    pub default: Option<serde_yaml::Value>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub validate: Option<Validation>,
    /// A condition over earlier answers; the question is skipped when false.
    #[serde(default)]
    pub when: Option<String>,
    /// Strings and bools: printed when the answer is set (a non-empty
    /// string, `true`). Choices warn per choice instead.
    #[serde(default)]
    pub warn: Option<String>,
    /// Strings: answers `scaffold check` tries when the hostile sample
    /// does not pass `validate` and there is no default.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Answers refused in combination with earlier ones (`validate` sees
    /// the answer alone).
    #[serde(default)]
    pub refuse: Vec<Refusal>,
}

/// An answer refused when `when` (over the answers so far, this one
/// included) holds and, for strings, `regex` finds a match in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub when: String,
    #[serde(default)]
    pub regex: Option<String>,
    /// Why, and what to answer instead.
    pub message: String,
}

impl Question {
    /// The question-level warning that `value` triggers, if any.
    pub fn warning_for(&self, value: &serde_json::Value) -> Option<&str> {
        let set = match value {
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Bool(b) => *b,
            _ => false,
        };
        self.warn.as_deref().filter(|_| set)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Choice {
    Plain(String),
    Described {
        value: String,
        #[serde(default)]
        label: Option<String>,
        /// Printed when this choice is taken (e.g. "compiles for hours").
        #[serde(default)]
        warn: Option<String>,
    },
}

impl Choice {
    pub fn value(&self) -> &str {
        match self {
            Choice::Plain(v) | Choice::Described { value: v, .. } => v,
        }
    }
    pub fn label(&self) -> &str {
        match self {
            Choice::Described {
                label: Some(label), ..
            } => label,
            _ => self.value(),
        }
    }
    pub fn warning(&self) -> Option<&str> {
        match self {
            Choice::Described { warn, .. } => warn.as_deref(),
            Choice::Plain(_) => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    #[serde(default)]
    pub regex: Option<String>,
    /// Longest answer in characters; cheaper and clearer than `{0,200}` in
    /// a regex, whose compiled automaton grows with the count.
    #[serde(default)]
    pub max_length: Option<usize>,
    pub message: String,
    #[serde(skip)]
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl Validation {
    /// The compiled regex, built once (None: no regex, or an invalid one,
    /// which `Manifest::parse` has already rejected).
    pub fn regex(&self) -> Option<&regex::Regex> {
        self.compiled
            .get_or_init(|| {
                self.regex
                    .as_deref()
                    .and_then(|r| regex::Regex::new(r).ok())
            })
            .as_ref()
    }

    pub fn accepts(&self, answer: &str) -> bool {
        self.max_length
            .is_none_or(|max| answer.chars().count() <= max)
            && self.regex.is_none() == self.regex().is_none()
            && self.regex().is_none_or(|re| re.is_match(answer))
    }
}

/// A value computed from answers; exactly one of the forms is set:
/// `helper` + `of`, `when` (a bool), `value` (a template), `from` + `map`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    pub key: String,
    #[serde(default)]
    pub helper: Option<String>,
    #[serde(default)]
    pub of: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub map: Option<BTreeMap<String, String>>,
}

/// Built-in helpers a derived value may name.
pub const DERIVE_HELPERS: &[&str] = &[
    "snake_case",
    "kebab_case",
    "lower",
    "upper",
    "person_name",
    "person_email",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    /// Matched against the output path (path templates rendered, `.hbs` dropped).
    pub glob: String,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub rename: Option<Rename>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// Globs of rendered files to pass through nixfmt (RFC 166 style).
    #[serde(default)]
    pub nixfmt: Vec<String>,
}

/// Names every scaffold gets without declaring them.
pub const BUILTIN_KEYS: &[&str] = &[
    "project_name",
    "git_user",
    "git_user_name",
    "git_user_email",
    "tool_version",
    "scaffold_id",
    "scaffold_version",
];

impl Manifest {
    /// Parses and validates `text`; `file` names the manifest in errors.
    pub fn parse(file: &str, text: &str) -> Result<Manifest> {
        crate::yaml::check_depth(text).map_err(|message| Error::Manifest {
            file: file.to_string(),
            line: None,
            message,
        })?;
        let manifest = Manifest::parse_unchecked(file, text)?;
        manifest.validate(file, text)?;
        Ok(manifest)
    }

    /// `parse` without the checks, for the manifests embedded in the binary:
    /// a unit test (`every_embedded_manifest_parses_and_names_its_directory`)
    /// runs every check on each of them, and checking them again on every
    /// run cost more than reading them.
    pub(crate) fn parse_unchecked(file: &str, text: &str) -> Result<Manifest> {
        serde_yaml::from_str(text).map_err(|e| Error::Manifest {
            file: file.to_string(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })
    }

    fn validate(&self, file: &str, text: &str) -> Result<()> {
        let fail = |needle: &str, message: String| Error::Manifest {
            file: file.to_string(),
            line: line_of(text, needle),
            message,
        };
        if !is_name(&self.id, '-') {
            return Err(fail(
                "id:",
                format!(
                    "scaffold id `{}` must be lower-case letters, digits and `-`",
                    self.id
                ),
            ));
        }
        let mut seen: Vec<&str> = BUILTIN_KEYS.to_vec();
        for q in &self.questions {
            let at = format!("key: {}", q.key);
            if !is_name(&q.key, '_') {
                return Err(fail(
                    &at,
                    format!("question key `{}` must be snake_case", q.key),
                ));
            }
            if seen.contains(&q.key.as_str()) {
                return Err(fail(
                    &at,
                    format!("key `{}` is defined twice or is built in", q.key),
                ));
            }
            seen.push(&q.key);
            check_question(q).map_err(|message| fail(&at, message))?;
        }
        for d in &self.derived {
            let at = format!("key: {}", d.key);
            if !is_name(&d.key, '_') || seen.contains(&d.key.as_str()) {
                return Err(fail(
                    &at,
                    format!("derived key `{}` must be a new snake_case name", d.key),
                ));
            }
            let forms = [
                d.helper.is_some() && d.of.is_some(),
                d.when.is_some(),
                d.value.is_some(),
                d.from.is_some() && d.map.is_some(),
            ];
            let partial =
                (d.helper.is_some() != d.of.is_some()) || (d.from.is_some() != d.map.is_some());
            if partial || forms.iter().filter(|f| **f).count() != 1 {
                return Err(fail(
                    &at,
                    format!(
                        "derived `{}` needs exactly one of `helper`+`of`, `when`, `value`, `from`+`map`",
                        d.key
                    ),
                ));
            }
            for source in [&d.of, &d.from].into_iter().flatten() {
                if !seen.contains(&source.as_str()) {
                    return Err(fail(
                        &at,
                        format!(
                            "derived `{}` refers to `{source}`, which is not defined before it",
                            d.key
                        ),
                    ));
                }
            }
            if let Some(h) = &d.helper
                && !DERIVE_HELPERS.contains(&h.as_str())
            {
                return Err(fail(
                    &at,
                    format!("unknown helper `{h}`; known: {}", DERIVE_HELPERS.join(", ")),
                ));
            }
            seen.push(&d.key);
        }
        for rule in &self.files {
            let at = format!("glob: \"{}\"", rule.glob);
            if let Err(e) = crate::scaffold::render::compile_glob(&rule.glob) {
                return Err(fail(&at, format!("invalid glob `{}`: {e}", rule.glob)));
            }
        }
        let init_globs = self.init.keep.iter().chain(&self.init.merge_lines);
        for glob in self
            .verbatim
            .iter()
            .chain(&self.format.nixfmt)
            .chain(init_globs)
        {
            if let Err(e) = crate::scaffold::render::compile_glob(glob) {
                return Err(fail(glob, format!("invalid glob `{glob}`: {e}")));
            }
        }
        self.validate_renames()
            .map_err(|(needle, message)| fail(&needle, message))
    }

    /// A rename must have one source per target: two files moved onto one
    /// path would merge one user's edits away. Within a migration a target
    /// may not be another rename's source either (a swap or a chain that
    /// depends on the order renames are applied in).
    fn validate_renames(&self) -> std::result::Result<(), (String, String)> {
        let mut target_of: BTreeMap<&str, &str> = BTreeMap::new();
        for m in &self.migrations {
            for (from, to) in &m.rename_paths {
                if from == to {
                    return Err((
                        format!("\"{from}\""),
                        format!("rename_paths renames `{from}` onto itself"),
                    ));
                }
                if m.rename_paths.contains_key(to) {
                    return Err((
                        format!("\"{to}\""),
                        format!(
                            "rename_paths moves `{from}` onto `{to}`, which the same migration moves away; split the renames into two migrations"
                        ),
                    ));
                }
                if let Some(other) = target_of.insert(to, from)
                    && other != from
                {
                    return Err((
                        format!("\"{to}\""),
                        format!(
                            "rename_paths moves both `{other}` and `{from}` onto `{to}`; one of them would lose its edits"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }
}

/// The rules one question must follow on its own.
fn check_question(q: &Question) -> std::result::Result<(), String> {
    let is_choice = matches!(q.kind, QuestionKind::Choice | QuestionKind::Multichoice);
    if is_choice && q.warn.is_some() {
        return Err(format!(
            "question `{}`: `warn` is for string and bool questions; give each choice its own `warn`",
            q.key
        ));
    }
    if is_choice && q.choices.is_empty() {
        return Err(format!("question `{}` needs `choices`", q.key));
    }
    if !is_choice && !q.choices.is_empty() {
        return Err(format!(
            "question `{}` has `choices` but is not a choice",
            q.key
        ));
    }
    if let Some(v) = &q.validate
        && let Some(Err(e)) = v.regex.as_deref().map(regex::Regex::new)
    {
        return Err(format!("question `{}`: invalid regex: {e}", q.key));
    }
    for rule in &q.refuse {
        if let Some(Err(e)) = rule.regex.as_deref().map(regex::Regex::new) {
            return Err(format!("question `{}`: invalid `refuse` regex: {e}", q.key));
        }
    }
    if let Some(bad) = q.examples.iter().find(|e| {
        q.kind != QuestionKind::String || q.validate.as_ref().is_some_and(|v| !v.accepts(e))
    }) {
        return Err(format!(
            "question `{}`: example `{bad}` is not an answer it accepts (`examples` are for string questions and must pass `validate`)",
            q.key
        ));
    }
    if let (QuestionKind::Choice, Some(serde_yaml::Value::String(d))) = (q.kind, &q.default)
        && !d.contains("{{")
        && !q.choices.iter().any(|c| c.value() == d)
    {
        return Err(format!(
            "question `{}`: default `{d}` is not one of its choices",
            q.key
        ));
    }
    Ok(())
}

/// `[a-z][a-z0-9<sep>]*`: scaffold ids use `-`, keys `_`.
fn is_name(s: &str, sep: char) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Manifest::parse("scaffold.yaml", text)
            .unwrap_err()
            .to_string()
    }

    const HEAD: &str = "id: t\nversion: 1.0.0\ndescription: test\n";

    #[test]
    fn yaml_errors_name_file_and_line() {
        let msg = err(&format!(
            "{HEAD}questions:\n  - key: a\n    type: string\n    prompt: A\n    bogus: 1\n"
        ));
        assert!(msg.starts_with("scaffold.yaml:"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn semantic_errors_name_the_line() {
        let msg = err(&format!(
            "{HEAD}questions:\n  - key: pick\n    type: choice\n    prompt: P\n"
        ));
        assert!(msg.starts_with("scaffold.yaml:5:"), "{msg}");
        let msg = err(&format!(
            "{HEAD}derived:\n  - key: x\n    helper: shout\n    of: project_name\n"
        ));
        assert!(msg.contains("unknown helper `shout`"), "{msg}");
        let msg = err(&format!(
            "{HEAD}derived:\n  - key: x\n    from: nothing\n    map: {{a: b}}\n"
        ));
        assert!(msg.contains("not defined before"), "{msg}");
        let msg = err(&format!(
            "{HEAD}questions:\n  - key: c\n    type: choice\n    prompt: P\n    default: z\n    choices: [a, b]\n"
        ));
        assert!(msg.contains("not one of its choices"), "{msg}");
    }

    #[test]
    fn a_valid_manifest_parses() {
        let m = Manifest::parse("m", &format!("{HEAD}questions:\n  - key: c\n    type: choice\n    prompt: P\n    default: a\n    choices: [a, {{value: b, warn: slow}}]\n")).unwrap();
        assert_eq!(m.questions[0].choices[1].warning(), Some("slow"));
    }
}
