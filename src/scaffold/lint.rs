//! `cargo nixcuda scaffold check DIR`: lints a team template. It loads the
//! directory with the same reader and limits as `new --template` (manifest
//! schema, symbolic links, sizes), then renders every scaffold for every
//! combination of choices (strict mode: a missing variable is an error),
//! checks every output path, and parses every rendered `.nix` file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::Scaffold;
use super::manifest::{Question, QuestionKind};
use super::render::render_with;
use super::source::read_disk;
use super::template::Compiled;
use crate::error::{Error, Result, SourceError};

/// Above this many combinations, each value is tried at least once (and
/// with every other question at its first value) instead.
pub const MAX_COMBINATIONS: usize = 64;

/// A string answer that breaks any hand-quoted Nix, TOML or JSON literal,
/// so unescaped answers show up as parse errors.
const HOSTILE_STRING: &str = "Lint \"quoted \\ ${x} text";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// `file[:line]: message`
    pub text: String,
    /// The answers that trigger it, when it depends on them.
    pub answers: Option<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub scaffolds: Vec<String>,
    pub combinations: usize,
    pub rendered_files: usize,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

/// Lints the template in `dir` (a single scaffold at the root, or several
/// `<id>/` ones). Errors only for what prevents linting at all.
pub fn check_dir(dir: &Path) -> Result<Report> {
    let command = format!(
        "cargo nixcuda new lint-demo --template {} --yes",
        crate::shell::quote(&dir.display().to_string())
    );
    let mut report = Report::default();
    if !dir.is_dir() {
        return Err(Error::from(SourceError::TemplateSpec {
            spec: dir.display().to_string(),
            message: "not a directory".into(),
        }));
    }
    let scaffolds = match read_disk(dir) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(Problem {
                text: e.to_string(),
                answers: None,
            });
            return Ok(report);
        }
    };
    for scaffold in &scaffolds {
        report.scaffolds.push(scaffold.label());
        let scaffold_flag = if scaffolds.len() > 1 {
            format!(" --scaffold {}", scaffold.manifest.id)
        } else {
            String::new()
        };
        check_scaffold(scaffold, &format!("{command}{scaffold_flag}"), &mut report);
    }
    Ok(report)
}

/// `command`: what reproduces a render, to which the answers are added.
fn check_scaffold(scaffold: &Scaffold, command: &str, report: &mut Report) {
    if !check_static(scaffold, report) {
        return;
    }
    let manifest = &scaffold.manifest;
    let (sets, exhaustive) = answer_sets(&manifest.questions);
    if !exhaustive {
        report.notes.push(format!(
            "{}: more than {MAX_COMBINATIONS} combinations of answers; each value was tried at least once, alone and together ({} renders)",
            scaffold.label(),
            sets.len()
        ));
    }
    let mut found = Found {
        command,
        seen: BTreeSet::new(),
        parsed: BTreeSet::new(),
        compiled: Compiled::default(),
    };
    for provided in &sets {
        report.combinations += 1;
        found.check_combination(scaffold, provided, report);
    }
}

/// What is wrong whatever the answers: a tool too old, output paths and
/// migration paths that break the path rules. False when rendering cannot
/// even be tried.
fn check_static(scaffold: &Scaffold, report: &mut Report) -> bool {
    let manifest = &scaffold.manifest;
    let current = semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("valid version");
    if let Some(required) = &manifest.min_tool_version
        && *required > current
    {
        report.problems.push(Problem {
            text: format!(
                "{}/scaffold.yaml: min_tool_version {required} is newer than this cargo-nixcuda ({current})",
                scaffold.origin
            ),
            answers: None,
        });
        return false;
    }
    for file in &scaffold.files {
        let out = file.path.strip_suffix(".hbs").unwrap_or(&file.path);
        if let Err(reason) = crate::fs::check_output_path(out) {
            report.problems.push(Problem {
                text: format!("{}/template/{}: {reason}", scaffold.origin, file.path),
                answers: None,
            });
        }
    }
    for migration in &manifest.migrations {
        for (from, to) in &migration.rename_paths {
            for path in [from, to] {
                if let Err(reason) = crate::fs::check_output_path(path) {
                    report.problems.push(Problem {
                        text: format!(
                            "{}/scaffold.yaml: migration rename_paths: {reason}",
                            scaffold.origin
                        ),
                        answers: None,
                    });
                }
            }
        }
    }
    true
}

/// The problems found so far over the combinations: each reported once,
/// with the first command that reproduces it; each distinct `.nix` output
/// parsed once; each template compiled once.
struct Found<'a> {
    command: &'a str,
    seen: BTreeSet<String>,
    parsed: BTreeSet<(String, Vec<u8>)>,
    compiled: Compiled,
}

impl Found<'_> {
    fn add(&mut self, report: &mut Report, text: String, answers: &BTreeMap<String, String>) {
        if self.seen.insert(text.clone()) {
            report.problems.push(Problem {
                text,
                answers: Some(describe(self.command, answers)),
            });
        }
    }

    /// Renders `scaffold` with one set of answers and checks what it gives.
    fn check_combination(
        &mut self,
        scaffold: &Scaffold,
        provided: &BTreeMap<String, String>,
        report: &mut Report,
    ) {
        let manifest = &scaffold.manifest;
        let resolution = match super::answers::resolve(manifest, builtins(scaffold), provided, None)
        {
            Ok(r) => r,
            // The answers tried are each valid alone: an invalid one is a
            // combination the scaffold refuses (`refuse`), not a problem.
            Err(crate::error::Error::InvalidAnswer { .. }) => return,
            Err(e) => {
                let text = format!("{}/scaffold.yaml: {e}", scaffold.origin);
                return self.add(report, text, provided);
            }
        };
        let files = match render_with(scaffold, &resolution.context, &self.compiled) {
            Ok(files) => files,
            Err(_) => {
                return self.every_failing_file(scaffold, &resolution.context, provided, report);
            }
        };
        for file in files {
            report.rendered_files += 1;
            let path = file.path.to_string_lossy().into_owned();
            if path.ends_with(".nix") && self.parsed.insert((path.clone(), file.contents.clone())) {
                self.check_nix(scaffold, path, file.contents, provided, report);
            }
        }
    }

    /// Render stops at the first error: find every failing file.
    fn every_failing_file(
        &mut self,
        scaffold: &Scaffold,
        context: &serde_json::Value,
        provided: &BTreeMap<String, String>,
        report: &mut Report,
    ) {
        for file in &scaffold.files {
            let one = Scaffold {
                manifest: scaffold.manifest.clone(),
                origin: scaffold.origin.clone(),
                files: vec![file.clone()],
                source: scaffold.source.clone(),
            };
            if let Err(e) = render_with(&one, context, &self.compiled) {
                let mut text = e.to_string();
                if text.contains("not valid Nix") {
                    text.push_str("\n(put answers into Nix with {{nix_str ...}})");
                }
                self.add(report, text, provided);
            }
        }
    }

    /// A rendered `.nix` file must be UTF-8 and parse.
    fn check_nix(
        &mut self,
        scaffold: &Scaffold,
        path: String,
        contents: Vec<u8>,
        provided: &BTreeMap<String, String>,
        report: &mut Report,
    ) {
        let Ok(text) = String::from_utf8(contents) else {
            let text = format!("{path}: a `.nix` file must be UTF-8");
            return self.add(report, text, provided);
        };
        if let Err(e) = nixfmt_rs::format(&text) {
            let source = source_of(scaffold, &path);
            let message = format!(
                "{source}: renders to Nix that does not parse (use {{{{nix_str ...}}}} for answers):\n{}",
                nixfmt_rs::format_error(&text, Some(&path), &e)
            );
            self.add(report, message, provided);
        }
    }
}

/// The template file that most likely produced `out` (for messages).
fn source_of(scaffold: &Scaffold, out: &str) -> String {
    let name = out.rsplit('/').next().unwrap_or(out);
    scaffold
        .files
        .iter()
        .find(|f| {
            f.path.strip_suffix(".hbs").unwrap_or(&f.path) == out
                || f.path.ends_with(&format!("/{name}.hbs"))
                || f.path.ends_with(&format!("/{name}"))
                || f.path == format!("{name}.hbs")
        })
        .map(|f| format!("{}/template/{}", scaffold.origin, f.path))
        .unwrap_or_else(|| format!("{} (rendered `{out}`)", scaffold.origin))
}

/// The command that renders `answers`, ready to paste into a shell.
fn describe(command: &str, answers: &BTreeMap<String, String>) -> String {
    let mut line = command.to_string();
    for (k, v) in answers {
        line.push_str(" -d ");
        line.push_str(&crate::shell::quote(&format!("{k}={v}")));
    }
    line
}

fn builtins(scaffold: &Scaffold) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| m.insert(k.to_string(), Value::String(v.to_string()));
    put("project_name", "lint-demo");
    put("git_user", "Ada Lovelace <ada@example.org>");
    put("git_user_name", "Ada Lovelace");
    put("git_user_email", "ada@example.org");
    put("tool_version", env!("CARGO_PKG_VERSION"));
    put("scaffold_id", &scaffold.manifest.id);
    put("scaffold_version", &scaffold.manifest.version.to_string());
    m
}

/// The values tried for one question, as `-d` texts.
pub(crate) fn values_of(q: &Question) -> Vec<String> {
    match q.kind {
        QuestionKind::Bool => vec!["true".into(), "false".into()],
        QuestionKind::Choice => q.choices.iter().map(|c| c.value().to_string()).collect(),
        QuestionKind::Multichoice => {
            let all: Vec<&str> = q.choices.iter().map(|c| c.value()).collect();
            let mut v = vec![String::new()];
            v.extend(all.iter().map(|s| s.to_string()));
            if all.len() > 1 {
                v.push(all.join(","));
            }
            v
        }
        QuestionKind::String => {
            let accepts =
                |s: &str| super::answers::check_answer(q, &Value::String(s.into())).is_ok();
            if accepts(HOSTILE_STRING) {
                vec![HOSTILE_STRING.to_string()]
            } else if !q.examples.is_empty() {
                q.examples.clone()
            } else if q.default.is_some() {
                // The default (rendered by `resolve`) is the sample.
                vec![]
            } else if accepts("example") {
                vec!["example".into()]
            } else {
                // One that the regex matches; when none is found, the
                // failing render asks for `examples`.
                let derived = q
                    .validate
                    .as_ref()
                    .and_then(|v| v.regex.as_deref())
                    .and_then(super::sample::matching)
                    .filter(|s| accepts(s));
                vec![derived.unwrap_or_else(|| "x".into())]
            }
        }
    }
}

/// Every combination of values, or (when there are too many) enough sets
/// that each value is tried at least once. The bool says which.
pub(crate) fn answer_sets(questions: &[Question]) -> (Vec<BTreeMap<String, String>>, bool) {
    let axes: Vec<(&str, Vec<String>)> = questions
        .iter()
        .map(|q| (q.key.as_str(), values_of(q)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let total = axes
        .iter()
        .try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()));
    match total {
        Some(total) if total <= MAX_COMBINATIONS => {
            let mut sets = vec![BTreeMap::new()];
            for (key, values) in &axes {
                sets = sets
                    .into_iter()
                    .flat_map(|set| {
                        values.iter().map(move |v| {
                            let mut s = set.clone();
                            s.insert(key.to_string(), v.clone());
                            s
                        })
                    })
                    .collect();
            }
            (sets, true)
        }
        _ => {
            let rounds = axes.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
            let mut sets: Vec<BTreeMap<String, String>> = (0..rounds)
                .map(|i| {
                    axes.iter()
                        .map(|(k, v)| (k.to_string(), v[i % v.len()].clone()))
                        .collect()
                })
                .collect();
            let first: BTreeMap<String, String> = axes
                .iter()
                .map(|(k, v)| (k.to_string(), v[0].clone()))
                .collect();
            for (key, values) in &axes {
                for value in values.iter().skip(1) {
                    let mut set = first.clone();
                    set.insert(key.to_string(), value.clone());
                    if !sets.contains(&set) {
                        sets.push(set);
                    }
                }
            }
            (sets, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::Manifest;

    #[test]
    fn combinations_cover_every_value() {
        let m = Manifest::parse(
            "m",
            "id: t\nversion: 1.0.0\ndescription: d\nquestions:\n  - key: a\n    type: bool\n    prompt: A\n  - key: b\n    type: choice\n    prompt: B\n    choices: [x, y, z]\n  - key: s\n    type: string\n    prompt: S\n",
        )
        .unwrap();
        let (sets, exhaustive) = answer_sets(&m.questions);
        assert!(exhaustive);
        assert_eq!(sets.len(), 6);
        assert!(sets.iter().all(|s| s["s"] == HOSTILE_STRING));
    }

    #[test]
    fn a_validated_string_gets_its_examples_or_a_matching_sample() {
        let m = Manifest::parse(
            "m",
            "id: t\nversion: 1.0.0\ndescription: d\nquestions:\n  - key: ticket\n    type: string\n    prompt: T\n    validate: { regex: '^[A-Z]{3}-[0-9]{4}$', message: m }\n  - key: env\n    type: string\n    prompt: E\n    examples: [prod, staging]\n    validate: { regex: '^[a-z]+$', message: m }\n",
        )
        .unwrap();
        let ticket = values_of(&m.questions[0]);
        assert_eq!(ticket.len(), 1);
        assert!(
            m.questions[0]
                .validate
                .as_ref()
                .unwrap()
                .accepts(&ticket[0]),
            "{ticket:?}"
        );
        assert_eq!(values_of(&m.questions[1]), ["prod", "staging"]);
    }

    #[test]
    fn a_failing_combination_is_a_command_to_paste() {
        let answers: BTreeMap<String, String> = [
            ("flavor".into(), "fancy".into()),
            ("title".into(), "it's".into()),
        ]
        .into();
        assert_eq!(
            describe("cargo nixcuda new lint-demo --yes", &answers),
            r"cargo nixcuda new lint-demo --yes -d flavor=fancy -d 'title=it'\''s'"
        );
    }
}
