//! Turning questions into answers: `-d key=value` first, then the prompt (on
//! a terminal) or the default, then derived values. The result is the
//! template context and the answers to record in `.nixcuda.yaml`.

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde_json::{Map, Value};

use super::manifest::{Derived, Manifest, Question, QuestionKind};
use super::render::{condition, render_string};
use crate::error::{Error, Result};

/// Asks one question interactively; `default` is pre-filled.
pub trait Asker {
    /// Called once before any question with those that have no answer
    /// yet (some may be skipped by their `when`).
    fn open(&mut self, _questions: &[&Question]) -> Result<()> {
        Ok(())
    }

    fn ask(&mut self, question: &Question, default: Option<&Value>) -> Result<Value>;
}

#[derive(Debug, Clone)]
pub struct Resolution {
    /// The answers in question order, as recorded in `.nixcuda.yaml`.
    pub answers: Vec<(String, Value)>,
    /// Built-ins, answers and derived values: what templates see.
    pub context: Value,
    /// Things the user should know about their choices (slow builds, ...).
    pub warnings: Vec<String>,
}

/// The values every template sees without declaring them (`BUILTIN_KEYS`).
pub fn builtins(scaffold: &super::Scaffold, project_name: &str) -> Map<String, Value> {
    let user = crate::vcs::GitUser::from_config();
    let mut m = Map::new();
    let mut put = |k: &str, v: String| m.insert(k.to_string(), Value::String(v));
    put("project_name", project_name.to_string());
    put("git_user", user.display());
    put("git_user_name", user.name.clone().unwrap_or_default());
    put("git_user_email", user.email.clone().unwrap_or_default());
    put("tool_version", env!("CARGO_PKG_VERSION").to_string());
    put("scaffold_id", scaffold.manifest.id.clone());
    put("scaffold_version", scaffold.manifest.version.to_string());
    m
}

/// Parses a command-line answer for `question`, checking it as a prompt would.
pub fn parse_answer(question: &Question, text: &str) -> std::result::Result<Value, String> {
    let value = match question.kind {
        QuestionKind::String => Value::String(text.to_string()),
        QuestionKind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Value::Bool(true),
            "false" | "no" | "n" | "0" | "off" => Value::Bool(false),
            _ => return Err("expected true or false (yes/no)".into()),
        },
        QuestionKind::Choice => Value::String(text.to_string()),
        QuestionKind::Multichoice => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
    };
    check_answer(question, &value)?;
    Ok(value)
}

/// A well-formed choice answer (a string, or a list of strings) that is not
/// among the question's choices.
fn is_retired_choice(question: &Question, value: &Value) -> bool {
    match (question.kind, value) {
        (QuestionKind::Choice, Value::String(_)) => true,
        (QuestionKind::Multichoice, Value::Array(items)) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// Checks a typed answer against the question's choices and validation.
pub fn check_answer(question: &Question, value: &Value) -> std::result::Result<(), String> {
    let choices: Vec<&str> = question.choices.iter().map(|c| c.value()).collect();
    let one_of = || format!("expected one of: {}", choices.join(", "));
    match (question.kind, value) {
        (QuestionKind::String, Value::String(s)) => {
            if let Some(v) = &question.validate
                && !v.accepts(s)
            {
                return Err(v.message.clone());
            }
            // Answers are one line of text: a NUL, escape or newline would
            // reach generated files raw through templates that quote by hand.
            if let Some(c) = s.chars().find(|c| c.is_control()) {
                return Err(format!(
                    "control characters are not allowed (found {:?})",
                    c
                ));
            }
            Ok(())
        }
        (QuestionKind::Bool, Value::Bool(_)) => Ok(()),
        (QuestionKind::Choice, Value::String(s)) if choices.contains(&s.as_str()) => Ok(()),
        (QuestionKind::Multichoice, Value::Array(items))
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| choices.contains(&s))) =>
        {
            Ok(())
        }
        (QuestionKind::Choice | QuestionKind::Multichoice, _) => Err(one_of()),
        _ => Err(format!("expected a {:?} answer", question.kind).to_lowercase()),
    }
}

/// The default of `question` given the answers so far (None: required).
/// Each question's default as the recommended setup gets it: rendered
/// with `builtins` and the defaults of the questions before it (None where
/// there is no default, or it cannot be rendered).
pub fn recommended_defaults(
    manifest: &Manifest,
    builtins: Map<String, Value>,
) -> Vec<Option<Value>> {
    let mut ctx = Value::Object(builtins);
    let mut out = Vec::new();
    for question in &manifest.questions {
        let default = default_value(question, &ctx).ok().flatten();
        ctx[&question.key] = default.clone().unwrap_or(Value::Null);
        out.push(default);
    }
    out
}

fn default_value(question: &Question, ctx: &Value) -> Result<Option<Value>> {
    let Some(raw) = &question.default else {
        return Ok(None);
    };
    let bad = |message: String| Error::InvalidDefault {
        key: question.key.clone(),
        message,
    };
    let value = match (question.kind, raw) {
        (QuestionKind::Bool, serde_yaml::Value::Bool(b)) => Value::Bool(*b),
        (QuestionKind::String | QuestionKind::Choice, serde_yaml::Value::String(s)) => {
            Value::String(if s.contains("{{") {
                render_string(s, ctx).map_err(bad)?
            } else {
                s.clone()
            })
        }
        (QuestionKind::Multichoice, serde_yaml::Value::Sequence(items)) => Value::Array(
            items
                .iter()
                .map(|i| i.as_str().map(|s| Value::String(s.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("a multichoice default is a list of choice values".into()))?,
        ),
        _ => {
            return Err(bad(format!(
                "a default of the wrong type for a {:?} question",
                question.kind
            )));
        }
    };
    check_answer(question, &value).map_err(bad)?;
    Ok(Some(value))
}

/// Resolves every question of `manifest`. `provided` holds `-d` answers; with
/// no `asker`, unanswered questions take their default or fail naming the
/// `-d key=...` to pass.
pub fn resolve(
    manifest: &Manifest,
    builtins: Map<String, Value>,
    provided: &BTreeMap<String, String>,
    asker: Option<&mut dyn Asker>,
) -> Result<Resolution> {
    resolve_with_recorded(manifest, builtins, provided, &Map::new(), asker)
}

/// Like `resolve`, for a project that already has answers (`update`): a
/// recorded answer is kept unless `-d` changes it; questions new in this
/// scaffold version are asked or defaulted like `new` does.
pub fn resolve_with_recorded(
    manifest: &Manifest,
    builtins: Map<String, Value>,
    provided: &BTreeMap<String, String>,
    recorded: &Map<String, Value>,
    mut asker: Option<&mut dyn Asker>,
) -> Result<Resolution> {
    for key in provided.keys() {
        if manifest.question(key).is_none() {
            return Err(Error::UnknownKey {
                key: key.clone(),
                known: manifest.questions.iter().map(|q| q.key.clone()).collect(),
                template: None,
            });
        }
    }
    if let Some(asker) = asker.as_deref_mut() {
        let open: Vec<&Question> = manifest
            .questions
            .iter()
            .filter(|q| !provided.contains_key(&q.key) && !recorded.contains_key(&q.key))
            .collect();
        asker.open(&open)?;
    }
    let hb = super::helpers::registry();
    let mut ctx = Value::Object(builtins);
    let mut answers = Vec::new();
    let mut warnings = Vec::new();
    for question in &manifest.questions {
        let asked = match &question.when {
            Some(expr) => condition(&hb, expr, &ctx).map_err(|message| Error::InvalidDefault {
                key: question.key.clone(),
                message,
            })?,
            None => true,
        };
        let default = default_value(question, &ctx)?;
        let superseded = !asked || provided.contains_key(&question.key);
        let kept = match recorded.get(&question.key).filter(|_| !superseded) {
            Some(v) => kept_answer(question, v, &mut warnings)?,
            None => None,
        };
        if let (false, Some(text), Some(expr)) =
            (asked, provided.get(&question.key), &question.when)
        {
            warnings.push(format!(
                "the answer {}={} is ignored: `{}` is asked only when `{expr}`, which the other answers make false",
                question.key,
                crate::error::shorten(text),
                question.key
            ));
        }
        let value = if !asked {
            default.unwrap_or(Value::Null)
        } else if let Some(text) = provided.get(&question.key) {
            parse_answer(question, text).map_err(|reason| Error::InvalidAnswer {
                key: question.key.clone(),
                value: text.clone(),
                reason,
                template: None,
            })?
        } else if let Some(value) = kept {
            value.clone()
        } else if let Some(asker) = asker.as_deref_mut() {
            asker.ask(question, default.as_ref())?
        } else {
            default.ok_or_else(|| Error::MissingAnswer {
                key: question.key.clone(),
                prompt: question.prompt.clone(),
            })?
        };
        if let Value::String(s) = &value
            && let Some(w) = question
                .choices
                .iter()
                .find(|c| c.value() == s)
                .and_then(|c| c.warning())
        {
            warnings.push(w.to_string());
        }
        if let Some(w) = question.warning_for(&value) {
            warnings.push(w.to_string());
        }
        ctx[&question.key] = value.clone();
        if asked {
            refusal(&hb, question, &value, &ctx)?;
            answers.push((question.key.clone(), value));
        }
    }
    for derived in &manifest.derived {
        let value = derive(&hb, derived, &ctx)?;
        ctx[&derived.key] = value;
    }
    Ok(Resolution {
        answers,
        context: ctx,
        warnings,
    })
}

/// The first of the question's `refuse` rules that `value` meets, in the
/// context of the answers so far, as the error that names its reason.
fn refusal(hb: &Handlebars, question: &Question, value: &Value, ctx: &Value) -> Result<()> {
    for rule in &question.refuse {
        let holds = condition(hb, &rule.when, ctx).map_err(|message| Error::InvalidDefault {
            key: question.key.clone(),
            message,
        })?;
        let matches = match (&rule.regex, value.as_str()) {
            (None, _) => true,
            (Some(re), Some(text)) => regex::Regex::new(re).is_ok_and(|re| re.is_match(text)),
            (Some(_), None) => false,
        };
        if holds && matches {
            return Err(Error::InvalidAnswer {
                key: question.key.clone(),
                value: value_text(value),
                reason: rule.message.clone(),
                template: None,
            });
        }
    }
    Ok(())
}

fn value_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// A recorded answer, checked against this version's question: kept when
/// valid, `None` (asked again) for a retired choice, an error otherwise.
fn kept_answer<'v>(
    question: &Question,
    value: &'v Value,
    warnings: &mut Vec<String>,
) -> Result<Option<&'v Value>> {
    match check_answer(question, value) {
        Ok(()) => Ok(Some(value)),
        // A choice the new version no longer offers: asked again.
        Err(_) if is_retired_choice(question, value) => {
            warnings.push(format!(
                "the recorded answer {} = {} is no longer a choice of this scaffold version; it is asked again (or defaulted)",
                question.key,
                crate::error::shorten(&value.to_string())
            ));
            Ok(None)
        }
        // Anything else was not written by `new`: the record is refused
        // rather than rendered into files.
        Err(reason) => Err(Error::RecordedAnswer {
            key: question.key.clone(),
            value: crate::error::shorten(&value.to_string()),
            reason,
        }),
    }
}

/// `Name <email>` -> (name, email); a text without `<...>` at its end is
/// all name, `<email>` alone is all email. Both are trimmed.
fn split_person(text: &str) -> (String, String) {
    let text = text.trim();
    if let Some(inner) = text.strip_suffix('>')
        && let Some((name, email)) = inner.rsplit_once('<')
        && !email.contains('>')
    {
        return (name.trim().to_string(), email.trim().to_string());
    }
    (text.to_string(), String::new())
}

fn derive(hb: &Handlebars, d: &Derived, ctx: &Value) -> Result<Value> {
    let bad = |message: String| Error::InvalidDefault {
        key: d.key.clone(),
        message,
    };
    let text_of = |key: &str| -> Result<String> {
        match &ctx[key] {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(bad(format!("`{key}` is {other}, not text"))),
        }
    };
    if let (Some(helper), Some(of)) = (&d.helper, &d.of) {
        let source = text_of(of)?;
        return Ok(Value::String(match helper.as_str() {
            "snake_case" => crate::names::snake_case(&source),
            "kebab_case" => source.replace('_', "-").to_ascii_lowercase(),
            "lower" => source.to_lowercase(),
            "upper" => source.to_uppercase(),
            "person_name" => split_person(&source).0,
            "person_email" => split_person(&source).1,
            other => return Err(bad(format!("unknown helper `{other}`"))),
        }));
    }
    if let Some(expr) = &d.when {
        return condition(hb, expr, ctx).map(Value::Bool).map_err(bad);
    }
    if let Some(template) = &d.value {
        return render_string(template, ctx).map(Value::String).map_err(bad);
    }
    if let (Some(from), Some(map)) = (&d.from, &d.map) {
        let key = text_of(from)?;
        return map
            .get(&key)
            .map(|v| Value::String(v.clone()))
            .ok_or_else(|| bad(format!("no entry in `map` for {from} = `{key}`")));
    }
    Err(bad("no form given".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "m",
            r#"id: t
version: 1.0.0
description: d
questions:
  - key: title
    type: string
    prompt: Title
    default: "{{project_name}} app"
    validate: { regex: '^[^\n]*$', message: one line }
  - key: fw
    type: choice
    prompt: FW
    default: a
    choices: [a, { value: b, warn: b is slow }]
  - key: gpu
    type: bool
    prompt: GPU?
    default: true
  - key: extra
    type: string
    prompt: Extra
    when: gpu
    refuse:
      - when: (eq fw "b")
        regex: '(^|,)[0-6]\.'
        message: b needs 7.0 and up
  - key: tags
    type: multichoice
    prompt: Tags
    default: [x]
    choices: [x, y]
derived:
  - key: module
    helper: snake_case
    of: project_name
  - key: is_b
    when: (eq fw "b")
  - key: label
    from: fw
    map: { a: Alpha, b: Beta }
"#,
        )
        .unwrap()
    }

    fn builtins() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("project_name".into(), Value::String("my-app".into()));
        m
    }

    fn provided(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_templates_and_derived() {
        let p = provided(&[("extra", "e"), ("fw", "b"), ("tags", "x,y")]);
        let r = resolve(&manifest(), builtins(), &p, None).unwrap();
        assert_eq!(r.context["title"], "my-app app");
        assert_eq!(r.context["module"], "my_app");
        assert_eq!(r.context["is_b"], true);
        assert_eq!(r.context["label"], "Beta");
        assert_eq!(r.context["tags"], serde_json::json!(["x", "y"]));
        assert_eq!(r.warnings, ["b is slow"]);
        assert_eq!(r.answers.len(), 5);
    }

    #[test]
    fn people_split_into_name_and_email() {
        for (text, name, email) in [
            (
                "Ada Lovelace <ada@example.org>",
                "Ada Lovelace",
                "ada@example.org",
            ),
            ("  Ada Lovelace  ", "Ada Lovelace", ""),
            ("<ada@example.org>", "", "ada@example.org"),
            ("", "", ""),
            ("Ada <a@b> Lovelace", "Ada <a@b> Lovelace", ""),
            ("Ada > Byron <ada@x.org>", "Ada > Byron", "ada@x.org"),
        ] {
            assert_eq!(split_person(text), (name.into(), email.into()), "{text:?}");
        }
    }

    #[test]
    fn a_set_string_answer_prints_its_warning() {
        let m = Manifest::parse(
            "m",
            "id: t\nversion: 1.0.0\ndescription: d\nquestions:\n  - key: caps\n    type: string\n    prompt: C\n    default: \"\"\n    warn: slow builds\n",
        )
        .unwrap();
        let r = resolve(&m, builtins(), &provided(&[]), None).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let r = resolve(&m, builtins(), &provided(&[("caps", "6.1")]), None).unwrap();
        assert_eq!(r.warnings, ["slow builds"]);
    }

    #[test]
    fn required_question_without_default_names_the_flag() {
        let err = resolve(&manifest(), builtins(), &provided(&[]), None).unwrap_err();
        assert!(
            matches!(err, Error::MissingAnswer { ref key, .. } if key == "extra"),
            "{err}"
        );
        // Not asked when its condition is false.
        let r = resolve(&manifest(), builtins(), &provided(&[("gpu", "no")]), None).unwrap();
        assert!(r.answers.iter().all(|(k, _)| k != "extra"));
    }

    #[test]
    fn bad_keys_and_values_are_rejected() {
        let m = manifest();
        for (k, v, want) in [
            ("nope", "1", "unknown"),
            ("fw", "c", "one of: a, b"),
            ("gpu", "maybe", "true or false"),
            ("title", "two\nlines", "one line"),
            ("tags", "x,z", "one of: x, y"),
        ] {
            let err =
                resolve(&m, builtins(), &provided(&[(k, v), ("extra", "e")]), None).unwrap_err();
            let text = format!("{err} {}", err.hint().unwrap_or_default());
            assert!(text.contains(want), "{k}={v}: {text}");
        }
    }

    #[test]
    fn an_answer_to_a_skipped_question_warns_naming_the_condition() {
        let p = provided(&[("gpu", "no"), ("extra", "e")]);
        let r = resolve(&manifest(), builtins(), &p, None).unwrap();
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("extra=e is ignored") && w.contains("`gpu`")),
            "{:?}",
            r.warnings
        );
        let p = provided(&[("gpu", "yes"), ("extra", "e")]);
        let r = resolve(&manifest(), builtins(), &p, None).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn an_answer_is_refused_in_combination_with_an_earlier_one() {
        let m = manifest();
        for (fw, extra, refused) in [
            ("b", "8.6,6.1", true),
            ("b", "8.6", false),
            ("a", "6.1", false),
        ] {
            let p = provided(&[("fw", fw), ("extra", extra)]);
            match resolve(&m, builtins(), &p, None) {
                Err(Error::InvalidAnswer { key, reason, .. }) => {
                    assert!(refused, "{fw} {extra}");
                    assert_eq!(
                        (key.as_str(), reason.as_str()),
                        ("extra", "b needs 7.0 and up")
                    );
                }
                Ok(_) => assert!(!refused, "{fw} {extra} must be refused"),
                Err(e) => panic!("{e}"),
            }
        }
    }
}
