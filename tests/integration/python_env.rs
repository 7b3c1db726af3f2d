//! Generated Python against the Nix environments that run it.
//!
//! 1. Imports: every `import` / `from` of the generated `.py` and `.ipynb`
//!    files must be provided by the `withPackages` environments of the
//!    combination's flake.nix, and of its shell.nix. What a nixpkgs attribute
//!    provides, and the standard library, are data:
//!    tests/fixtures/python-imports.yaml. The project's own package and
//!    relative imports are always fine. The rules:
//!    - every module imported anywhere, guarded or not, is provided by at
//!      least one environment: an optional import that no environment can
//!      satisfy is dead code hiding a missing package (TensorFlow without
//!      keras);
//!    - the unguarded module-level imports of a `.py` file, and those of a
//!      notebook's cells, are provided by every environment: the package, its
//!      tests and the notebooks run in each of them (`python-tf -m pytest`,
//!      the `pytest-tensorflow` check, the TensorFlow kernel);
//!    - the unguarded imports of one function are provided together by at
//!      least one environment (`tf.keras` needs `tensorflow` and `keras` in
//!      the same one).
//!
//!    An import is guarded when it is in the body of a `try:` whose `except`
//!    names ImportError or ModuleNotFoundError, or is `pytest.importorskip`.
//!    A broader `except Exception` does not count: optional modules are
//!    guarded explicitly. Conditional package lists (`lib.optionals ...`)
//!    count as present: the check sees the x86_64-linux environment.
//! 2. TensorFlow code paths: the generated pytest suites and notebooks of the
//!    TensorFlow combinations run in `.ci/venv-tf` (made by `.ci/setup`): the
//!    `tensorflow-cpu` wheel that nixpkgs' `tensorflow-bin` wraps, exactly the
//!    dependencies of nixpkgs' bin.nix (no keras), plus what the generated
//!    flake adds (keras among them). Without keras the Keras paths skip with
//!    the fix, where 1.1.0's failed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use serde::Deserialize;

use crate::support::{Env, fixture, nixcheck, prerequisite, run, stderr_of, test_python};

// ---------------------------------------------------------------------------
// The data: what nixpkgs attributes provide.

#[derive(Deserialize)]
struct ImportMap {
    provides: BTreeMap<String, Vec<String>>,
    attribute_imports: BTreeMap<String, Vec<String>>,
    stdlib: BTreeSet<String>,
}

fn import_map() -> ImportMap {
    let path = fixture("python-imports.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Nix: the package lists of `withPackages` environments.

#[derive(Debug)]
struct NixEnv {
    /// `flake.nix:112`
    at: String,
    attrs: BTreeSet<String>,
}

/// Nix source with comments removed and string contents blanked (each
/// string becomes `""`), so that brackets and words in them do not count.
/// Line breaks are kept, for line numbers.
pub(crate) fn nix_code(text: &str) -> String {
    strip_nix(text, true)
}

/// Nix source with comments removed; `blank` blanks strings too.
fn strip_nix(text: &str, blank: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_newlines = |out: &mut String, from: &[char]| {
        out.extend(from.iter().filter(|c| **c == '\n'));
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
            keep_newlines(&mut out, &chars[start..i]);
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
            if blank {
                out.push_str("\"\"");
                keep_newlines(&mut out, &chars[start..i]);
            } else {
                out.extend(&chars[start..i]);
            }
        } else if c == '\'' && next == Some('\'') {
            // An indented string; `'''`, `''$` and `''\x` are escapes in it.
            let start = i;
            i += 2;
            while i < chars.len() {
                if chars[i] == '\'' && chars.get(i + 1) == Some(&'\'') {
                    match chars.get(i + 2) {
                        Some('\'') | Some('$') | Some('\\') => i += 3,
                        _ => {
                            i += 2;
                            break;
                        }
                    }
                } else {
                    i += 1;
                }
            }
            if blank {
                out.push_str("\"\"");
                keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
            } else {
                out.extend(&chars[start..i.min(chars.len())]);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every `withPackages (...)` of a Nix file: the attribute names in the
/// lists of its argument (`ps.numpy` and `numpy` alike), and those that
/// `pythonPackages.packagesFor [ EXTRAS ]` reads from the project's
/// pyproject.toml (evaluated by Nix: nix/python-packages.nix).
fn nix_envs(file: &str, text: &str, project: Option<&Path>) -> Vec<NixEnv> {
    let code = nix_code(text);
    let with_strings = strip_nix(text, false);
    let from_pyproject =
        Regex::new(r#"^withPackages\s*\(\s*pythonPackages\.packagesFor\s*\[([^\]]*)\]"#).unwrap();
    let quoted = Regex::new(r#""([^"]*)""#).unwrap();
    let mut calls = with_strings.match_indices("withPackages");
    let mut envs = Vec::new();
    for (start, _) in code.match_indices("withPackages") {
        let (at, _) = calls.next().expect("withPackages in strings");
        if let Some(call) = from_pyproject.captures(&with_strings[at..]) {
            let without: Vec<String> = quoted
                .captures_iter(&call[1])
                .map(|c| c[1].to_string())
                .collect();
            let project = project.unwrap_or_else(|| panic!("{file}: packagesFor needs a project"));
            let line = code[..start].matches('\n').count() + 1;
            envs.push(NixEnv {
                at: format!("{file}:{line}"),
                attrs: pyproject_attributes(project, &without),
            });
            continue;
        }
        let rest = &code[start + "withPackages".len()..];
        let open = rest.len() - rest.trim_start().len();
        assert!(
            rest[open..].starts_with('('),
            "{file}: this test reads `withPackages (ps: ...)` only; write the package list inline"
        );
        let mut depth = 0usize;
        let mut brackets = 0usize;
        let mut attrs = BTreeSet::new();
        let mut word = String::new();
        for c in rest[open..].chars() {
            let is_word = c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\'' | '.');
            if is_word {
                word.push(c);
                continue;
            }
            if brackets > 0 && !word.is_empty() {
                let name = word.rsplit('.').next().unwrap_or_default().to_string();
                if !name.is_empty() {
                    attrs.insert(name);
                }
            }
            word.clear();
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                _ => {}
            }
            if depth == 0 {
                break;
            }
        }
        let line = code[..start].matches('\n').count() + 1;
        envs.push(NixEnv {
            at: format!("{file}:{line}"),
            attrs,
        });
    }
    envs
}

/// What nix/python-packages.nix gives an environment that leaves out the
/// extras `without`, over the project's pyproject.toml.
pub(crate) fn pyproject_attributes(project: &Path, without: &[String]) -> BTreeSet<String> {
    let work = tempfile::tempdir().unwrap();
    let list: Vec<String> = without.iter().map(|w| format!("{w:?}")).collect();
    let expr = format!(
        "(import ./nix/python-packages.nix (builtins.fromTOML (builtins.readFile ./pyproject.toml))).attributesFor [ {} ]",
        list.join(" ")
    );
    let out = crate::ml::private_nix("nix-instantiate", work.path())
        .args(["--eval", "--strict", "--json", "-E", &expr])
        .current_dir(project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        project.display(),
        stderr_of(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// ---------------------------------------------------------------------------
// Python: the imports of a source file or a notebook.

#[derive(Debug, Clone)]
struct Import {
    /// Top-level module name: `sklearn` for `from sklearn.linear_model import ...`.
    module: String,
    /// `src/x/models.py`, or `notebooks/x.ipynb cell ipsa-03`
    file: String,
    line: usize,
    /// The function the import is in, with the line of its `def`; None at
    /// module level.
    function: Option<(String, usize)>,
    guarded: bool,
    /// How it was found when not an import statement (`tf.keras`).
    via: Option<String>,
}

/// One logical line: physical lines joined while brackets are open, with
/// string literals replaced by `"S<n>"` (their text is in `strings`) and
/// comments removed.
struct Logical {
    line: usize,
    indent: usize,
    code: String,
    strings: Vec<String>,
}

fn python_lines(source: &str) -> Vec<Logical> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut current: Option<Logical> = None;
    let mut depth = 0usize;
    while i < chars.len() {
        // Start of a physical line.
        let start_line = line;
        let mut indent = 0;
        while i < chars.len() && chars[i] == ' ' {
            indent += 1;
            i += 1;
        }
        let logical = current.get_or_insert_with(|| Logical {
            line: start_line,
            indent,
            code: String::new(),
            strings: Vec::new(),
        });
        while i < chars.len() && chars[i] != '\n' {
            let c = chars[i];
            if c == '#' {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                break;
            }
            if c == '"' || c == '\'' {
                let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                let quote = if triple { 3 } else { 1 };
                i += quote;
                let mut text = String::new();
                while i < chars.len() {
                    if chars[i] == '\\' {
                        text.extend(chars.get(i..i + 2).unwrap_or(&chars[i..]));
                        i += 2;
                        continue;
                    }
                    if chars[i] == c
                        && (!triple
                            || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c)))
                    {
                        i += quote;
                        break;
                    }
                    if chars[i] == '\n' {
                        if !triple {
                            break; // unterminated: leave the line to the outer loop
                        }
                        line += 1;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                logical
                    .code
                    .push_str(&format!("\"S{}\"", logical.strings.len()));
                logical.strings.push(text);
                continue;
            }
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            logical.code.push(c);
            i += 1;
        }
        let continued = logical.code.ends_with('\\');
        if continued {
            logical.code.pop();
        }
        logical.code.push(' ');
        i += 1; // the newline
        line += 1;
        if depth == 0 && !continued {
            let done = current.take().unwrap();
            if !done.code.trim().is_empty() {
                out.push(done);
            }
        }
    }
    if let Some(done) = current.filter(|l| !l.code.trim().is_empty()) {
        out.push(done);
    }
    out
}

struct Patterns {
    import: Regex,
    from: Regex,
    def: Regex,
    except: Regex,
    importorskip: Regex,
    attributes: Vec<(String, Regex, Vec<String>)>,
}

impl Patterns {
    fn new(map: &ImportMap) -> Patterns {
        Patterns {
            import: Regex::new(r"^import\s+(.+)$").unwrap(),
            from: Regex::new(r"^from\s+(\S+)\s+import\b").unwrap(),
            def: Regex::new(r"^(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap(),
            except: Regex::new(r"^except\b([^:]*):").unwrap(),
            importorskip: Regex::new(r#"importorskip\(\s*"S(\d+)""#).unwrap(),
            attributes: map
                .attribute_imports
                .iter()
                .map(|(path, modules)| {
                    let pattern = format!(r"(?:^|[^A-Za-z0-9_.]){}\b", regex::escape(path));
                    (path.clone(), Regex::new(&pattern).unwrap(), modules.clone())
                })
                .collect(),
        }
    }
}

enum Block {
    Def {
        indent: usize,
        name: String,
        line: usize,
    },
    Try {
        indent: usize,
        body: usize,
        end: Option<usize>,
    },
}

/// The imports of Python source. `file` names the file (and cell) in messages.
fn python_imports(source: &str, file: &str, patterns: &Patterns) -> Vec<Import> {
    let mut imports: Vec<Import> = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    for logical in python_lines(source) {
        let code = logical.code.trim();
        let indent = logical.indent;
        let clause = code.starts_with("except") || code == "else:" || code == "finally:";
        while let Some(block) = blocks.last() {
            let (block_indent, is_try) = match block {
                Block::Def { indent, .. } => (*indent, false),
                Block::Try { indent, .. } => (*indent, true),
            };
            if block_indent > indent || (block_indent == indent && !(clause && is_try)) {
                blocks.pop();
            } else {
                break;
            }
        }
        if clause
            && let Some(Block::Try {
                indent: i,
                body,
                end,
            }) = blocks.last_mut()
            && *i == indent
        {
            let body_end = *end.get_or_insert(imports.len());
            if let Some(caught) = patterns.except.captures(code) {
                let caught = caught[1].trim();
                if caught.is_empty()
                    || caught.contains("ImportError")
                    || caught.contains("ModuleNotFoundError")
                {
                    for import in &mut imports[*body..body_end] {
                        import.guarded = true;
                    }
                }
            }
            continue;
        }
        let function = blocks.iter().rev().find_map(|b| match b {
            Block::Def { name, line, .. } => Some((name.clone(), *line)),
            Block::Try { .. } => None,
        });
        let mut found = |module: &str, guarded: bool, via: Option<String>| {
            imports.push(Import {
                module: module.split('.').next().unwrap_or_default().to_string(),
                file: file.to_string(),
                line: logical.line,
                function: function.clone(),
                guarded,
                via,
            });
        };
        if let Some(names) = patterns.import.captures(code) {
            for item in names[1].split(',') {
                if let Some(module) = item.split_whitespace().next() {
                    found(module, false, None);
                }
            }
        } else if let Some(from) = patterns.from.captures(code)
            && !from[1].starts_with('.')
        {
            found(&from[1], false, None);
        }
        for (path, pattern, modules) in &patterns.attributes {
            if pattern.is_match(code) {
                for module in modules {
                    found(module, false, Some(path.clone()));
                }
            }
        }
        for skip in patterns.importorskip.captures_iter(code) {
            let index: usize = skip[1].parse().unwrap();
            found(
                &logical.strings[index],
                true,
                Some("pytest.importorskip".into()),
            );
        }
        if let Some(def) = patterns.def.captures(code) {
            blocks.push(Block::Def {
                indent,
                name: def[1].to_string(),
                line: logical.line,
            });
        } else if code == "try:" {
            blocks.push(Block::Try {
                indent,
                body: imports.len(),
                end: None,
            });
        }
    }
    imports
}

/// The code cells of a notebook, each as (cell label, source); IPython
/// magics and shell lines (`%...`, `!...`) are left out.
fn notebook_cells(text: &str) -> Vec<(String, String)> {
    let notebook: serde_json::Value = serde_json::from_str(text).unwrap();
    let cells = notebook["cells"].as_array().cloned().unwrap_or_default();
    cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| cell["cell_type"] == "code")
        .map(|(n, cell)| {
            let source = match &cell["source"] {
                serde_json::Value::Array(lines) => {
                    lines.iter().filter_map(|l| l.as_str()).collect::<String>()
                }
                other => other.as_str().unwrap_or_default().to_string(),
            };
            // Blank lines keep the line numbers of the cell.
            let source = source
                .lines()
                .map(|l| match l.trim_start().chars().next() {
                    Some('%' | '!') => "",
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            let id = cell["id"]
                .as_str()
                .map_or_else(|| n.to_string(), str::to_string);
            (format!("cell {id}"), source)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The check.

/// The problems of `imports` against `envs`; empty when the code imports
/// only what the environments provide. `own` is the project's package. One
/// message per file and problem, with the lines where it occurs.
fn check(envs: &[NixEnv], imports: &[Import], own: &str, map: &ImportMap) -> Vec<String> {
    let mut problems = BTreeSet::new();
    let mut provided: Vec<BTreeSet<&str>> = Vec::new();
    for env in envs {
        let mut modules = BTreeSet::new();
        for attr in &env.attrs {
            match map.provides.get(attr) {
                Some(names) => modules.extend(names.iter().map(String::as_str)),
                None => {
                    problems.insert(format!(
                        "{}: the nixpkgs attribute `{attr}` is not in tests/fixtures/python-imports.yaml: add it there with the modules it provides",
                        env.at
                    ));
                }
            }
        }
        provided.push(modules);
    }
    let where_envs = envs
        .iter()
        .map(|e| e.at.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let attr_for = |module: &str| {
        let attrs: Vec<&str> = map
            .provides
            .iter()
            .filter(|(_, modules)| modules.iter().any(|m| m == module))
            .map(|(attr, _)| attr.as_str())
            .collect();
        if attrs.is_empty() {
            "find the nixpkgs attribute that provides it, add it to the environment and to tests/fixtures/python-imports.yaml".to_string()
        } else {
            format!(
                "add `{}` to the environment's package list",
                attrs.join("` or `")
            )
        }
    };
    let third_party: Vec<&Import> = imports
        .iter()
        .filter(|i| i.module != own && !map.stdlib.contains(&i.module))
        .collect();
    // (file, what is wrong) -> the lines
    let mut found: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    for import in &third_party {
        let module = match &import.via {
            Some(via) => format!("`{}` (through {via})", import.module),
            None => format!("`{}`", import.module),
        };
        let having: Vec<usize> = (0..envs.len())
            .filter(|&n| provided[n].contains(import.module.as_str()))
            .collect();
        let problem = if having.is_empty() {
            format!(
                "imports {module}, which no Python environment provides ({where_envs}): {}",
                attr_for(&import.module)
            )
        } else if import.function.is_none() && !import.guarded && having.len() < envs.len() {
            let missing: Vec<&str> = (0..envs.len())
                .filter(|n| !having.contains(n))
                .map(|n| envs[n].at.as_str())
                .collect();
            format!(
                "imports {module} at module level, which the environment at {} lacks: {} there, or guard the import with `try:` / `except ImportError:`",
                missing.join(", "),
                attr_for(&import.module)
            )
        } else {
            continue;
        };
        found
            .entry((import.file.clone(), problem))
            .or_default()
            .insert(import.line);
    }
    let mut functions: BTreeMap<(&str, &(String, usize)), BTreeSet<&str>> = BTreeMap::new();
    for import in third_party.iter().filter(|i| !i.guarded) {
        if let Some(function) = &import.function {
            functions
                .entry((import.file.as_str(), function))
                .or_default()
                .insert(import.module.as_str());
        }
    }
    for ((file, (function, line)), modules) in functions {
        // One module, or one that no environment has (reported above).
        if modules.len() < 2
            || !modules
                .iter()
                .all(|m| provided.iter().any(|p| p.contains(m)))
        {
            continue;
        }
        if !provided
            .iter()
            .any(|p| modules.iter().all(|m| p.contains(m)))
        {
            let modules: Vec<String> = modules.iter().map(|m| format!("`{m}`")).collect();
            found
                .entry((
                    file.to_string(),
                    format!(
                        "{function}() needs {} together, but no single Python environment has them all ({where_envs}): put them in the same environment",
                        modules.join(", ")
                    ),
                ))
                .or_default()
                .insert(*line);
        }
    }
    for ((file, problem), lines) in found {
        let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
        problems.insert(format!("{file}:{}: {problem}", lines.join(",")));
    }
    problems.into_iter().collect()
}

/// The imports of a generated project's `.py` and `.ipynb` files, its
/// package name, and how many files were read.
fn project_imports(project: &Path, patterns: &Patterns) -> (Vec<Import>, String, usize) {
    let own = crate::support::listing(&project.join("src"))
        .into_iter()
        .find(|n| project.join("src").join(n).is_dir())
        .expect("a package under src/");
    let mut imports = Vec::new();
    let mut files = 0;
    for (path, bytes) in crate::support::tree(project) {
        let text = String::from_utf8_lossy(&bytes);
        if path.ends_with(".py") {
            imports.extend(python_imports(&text, &path, patterns));
            files += 1;
        } else if path.ends_with(".ipynb") {
            for (cell, source) in notebook_cells(&text) {
                // The cells share one namespace: what is not in a def is
                // module level, as in a `.py` file.
                imports.extend(python_imports(&source, &format!("{path} {cell}"), patterns));
            }
            files += 1;
        }
    }
    (imports, own, files)
}

/// The problems of a generated project: its code against flake.nix's
/// environments, then against shell.nix's.
fn project_problems(project: &Path, map: &ImportMap, patterns: &Patterns) -> Vec<String> {
    let (imports, own, files) = project_imports(project, patterns);
    assert!(files > 0, "{}: no Python files found", project.display());
    let mut problems = Vec::new();
    for nix in ["flake.nix", "shell.nix"] {
        let text = std::fs::read_to_string(project.join(nix)).unwrap();
        let envs = nix_envs(nix, &text, Some(project));
        assert!(!envs.is_empty(), "{nix}: no withPackages environment found");
        problems.extend(check(&envs, &legacy_keras(&imports, &text), &own, map));
    }
    problems
}

/// The imports as the Nix file's environments see them: where it sets
/// TF_USE_LEGACY_KERAS=1, TensorFlow routes `tf.keras` to `tf_keras`
/// (Keras 2) instead of `keras` (tensorflow/python/util/lazy_loader.py).
fn legacy_keras(imports: &[Import], nix: &str) -> Vec<Import> {
    let set = Regex::new(r#"TF_USE_LEGACY_KERAS\s*=\s*"1""#).unwrap();
    let legacy = set.is_match(nix);
    imports
        .iter()
        .cloned()
        .map(|mut import| {
            if legacy && import.module == "keras" && import.via.is_some() {
                import.module = "tf_keras".into();
            }
            import
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Unit-level cases on synthetic flakes and code.

fn synthetic(nix: &str, files: &[(&str, &str)]) -> Vec<String> {
    let map = import_map();
    let patterns = Patterns::new(&map);
    let envs = nix_envs("flake.nix", nix, None);
    let imports: Vec<Import> = files
        .iter()
        .flat_map(|(path, source)| python_imports(source, path, &patterns))
        .collect();
    check(&envs, &imports, "demo", &map)
}

const KERAS_CODE: &str = r#"
"""Models. ``import keras`` in a docstring is no import."""
from __future__ import annotations

import numpy as np


def train_keras_mlp(X):
    from .gpu import import_tensorflow

    tf = import_tensorflow()
    return tf.keras.Sequential([tf.keras.Input(shape=(X.shape[1],))])
"#;

#[test]
fn tensorflow_without_keras_in_the_flake_fails_the_check() {
    let without =
        r#"{ python = pkgs.python313.withPackages (ps: with ps; [ numpy tensorflow ]); }"#;
    let problems = synthetic(without, &[("src/demo/models.py", KERAS_CODE)]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("src/demo/models.py:12: imports `keras` (through tf.keras)")
            && problems[0].contains("add `keras` to the environment's package list"),
        "{problems:#?}"
    );
    let with =
        r#"{ python = pkgs.python313.withPackages (ps: with ps; [ numpy tensorflow keras ]); }"#;
    assert_eq!(
        synthetic(with, &[("src/demo/models.py", KERAS_CODE)]),
        Vec::<String>::new()
    );
    // keras in another environment than tensorflow does not help tf.keras.
    let apart = r#"{
      a = pkgs.python3.withPackages (ps: with ps; [ numpy keras ]);
      b = pkgs.python313.withPackages (ps: [ ps.numpy ps.tensorflow ]);
    }"#;
    let problems = synthetic(apart, &[("src/demo/models.py", KERAS_CODE)]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("train_keras_mlp() needs `keras`, `tensorflow` together"),
        "{problems:#?}"
    );
}

#[test]
fn guards_scopes_strings_and_exclusions_follow_the_rules() {
    let nix = r#"{
      # a comment with withPackages (ps: [ notapackage ]) in it
      torchEnv = pkgs.python3.withPackages (ps: with ps; [ numpy pytest torch ]);
      tfEnv = pkgs.python313.withPackages (
        ps: with ps; [ numpy pytest ] ++ lib.optionals pkgs.stdenv.hostPlatform.isx86_64 [ tensorflow keras ]
      );
      script = ''echo "[ nothing ]"'';
    }"#;
    let code = r#"import os, sys
import numpy as np
from collections.abc import Sequence
from . import sibling
from demo import models
import pandas  # in no environment

try:
    import torch._dynamo  # optional at module level: guarded
except ImportError:
    pass

try:
    import yfinance
except Exception:  # too broad to count as a guard
    yfinance = None

text = "import seaborn; tf.keras"
'''
import matplotlib
'''


def both(
    x,
):
    import torch
    import tensorflow as tf

    return torch, tf


def optional():
    try:
        import tensorflow
    except (ModuleNotFoundError, OSError):
        return None
    return tensorflow


def test_skips():
    import pytest

    pytest.importorskip("torch", reason="torch is missing")
"#;
    let problems = synthetic(nix, &[("tests/test_x.py", code)]);
    let expected = [
        "tests/test_x.py:14: imports `yfinance`, which no Python environment provides",
        "tests/test_x.py:24: both() needs `tensorflow`, `torch` together",
        "tests/test_x.py:6: imports `pandas`, which no Python environment provides",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, start) in problems.iter().zip(expected) {
        assert!(problem.starts_with(start), "{start}\n{problems:#?}");
    }
    // An unguarded module-level import must be in every environment.
    let problems = synthetic(nix, &[("src/demo/gpu.py", "import torch\n")]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("at module level, which the environment at flake.nix:4 lacks"),
        "{problems:#?}"
    );
    // An attribute the data map does not know is reported, not ignored.
    let problems = synthetic(
        r#"{ p = pkgs.python3.withPackages (ps: with ps; [ numpy polars ]); }"#,
        &[("a.py", "import numpy\n")],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("`polars` is not in tests/fixtures/python-imports.yaml"));
}

#[test]
fn notebooks_are_read_cell_by_cell() {
    let notebook = serde_json::json!({
        "cells": [
            {"cell_type": "markdown", "id": "m", "source": ["import markdown_is_no_code\n"]},
            {"cell_type": "code", "id": "c1", "source": ["%matplotlib inline\n", "import numpy as np\n", "import seaborn\n"]},
            {"cell_type": "code", "id": "c2", "source": "try:\n    import torch\nexcept ImportError:\n    torch = None\n"},
        ]
    })
    .to_string();
    let map = import_map();
    let patterns = Patterns::new(&map);
    let cells = notebook_cells(&notebook);
    assert_eq!(cells.len(), 2);
    let imports: Vec<Import> = cells
        .iter()
        .flat_map(|(cell, source)| python_imports(source, &format!("nb.ipynb {cell}"), &patterns))
        .collect();
    let seen: Vec<(&str, String, bool)> = imports
        .iter()
        .map(|i| {
            (
                i.module.as_str(),
                format!("{}:{}", i.file, i.line),
                i.guarded,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("numpy", "nb.ipynb cell c1:2".to_string(), false),
            ("seaborn", "nb.ipynb cell c1:3".to_string(), false),
            ("torch", "nb.ipynb cell c2:2".to_string(), true),
        ]
    );
}

#[test]
fn the_stdlib_list_names_real_modules() {
    let map = import_map();
    for removed in ["distutils", "imp", "cgi", "telnetlib", "tkinter", "winreg"] {
        assert!(
            !map.stdlib.contains(removed),
            "{removed} is not in the standard library of Python 3.12 to 3.14 on NixOS"
        );
    }
    let Some(python) = test_python() else { return };
    let (ok, out) = run(Command::new(python).args([
        "-c",
        "import sys; print('\\n'.join(sorted(sys.stdlib_module_names)))",
    ]));
    assert!(ok, "{out}");
    let real: BTreeSet<&str> = out.lines().collect();
    let unknown: Vec<&String> = map
        .stdlib
        .iter()
        .filter(|m| !real.contains(m.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "tests/fixtures/python-imports.yaml lists modules that are not in the standard library: {unknown:?}"
    );
}

// ---------------------------------------------------------------------------
// Generated projects.

fn generate(env: &Env, name: &str, defines: &[String], scaffold: Option<&str>) -> PathBuf {
    let mut args = vec!["new", name, "--yes", "--vcs", "none", "-q"];
    if let Some(scaffold) = scaffold {
        args.extend(["--scaffold", scaffold]);
    }
    for d in defines {
        args.extend(["-d", d.as_str()]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} {defines:?}: {}",
        stderr_of(&out)
    );
    env.path(name)
}

/// frameworks x rust_crate x example x notebook, and the interpreters that
/// change which environments exist.
fn matrix() -> Vec<Vec<String>> {
    let mut combinations = Vec::new();
    for frameworks in ["torch", "tensorflow", "both", "none"] {
        for rust_crate in ["cudarc", "pyo3", "none"] {
            for example in ["ipsa", "minimal"] {
                for notebook in ["true", "false"] {
                    combinations.push(vec![
                        format!("frameworks={frameworks}"),
                        format!("rust_crate={rust_crate}"),
                        format!("example={example}"),
                        format!("notebook={notebook}"),
                    ]);
                }
            }
        }
    }
    for (frameworks, python) in [
        ("both", "python313"),
        ("both", "python312"),
        ("tensorflow", "python312"),
        ("torch", "python313"),
    ] {
        combinations.push(vec![
            format!("frameworks={frameworks}"),
            format!("python={python}"),
        ]);
    }
    combinations
}

#[test]
fn every_combination_imports_only_what_its_nix_environments_provide() {
    // The package lists are pyproject.toml's, which Nix reads.
    if nixcheck().is_none() {
        return;
    }
    let env = Env::new();
    let map = import_map();
    let patterns = Patterns::new(&map);
    let mut failures = Vec::new();
    for (n, defines) in matrix().iter().enumerate() {
        let project = generate(&env, &format!("demo-{n}"), defines, None);
        let (imports, _, _) = project_imports(&project, &patterns);
        // The scanner must see what it checks: the data stack everywhere,
        // and Keras through tf.keras in every TensorFlow project.
        let modules: BTreeSet<&str> = imports.iter().map(|i| i.module.as_str()).collect();
        assert!(
            modules.contains("numpy") && modules.contains("pytest"),
            "{defines:?}: {modules:?}"
        );
        let tensorflow = defines
            .iter()
            .any(|d| d.ends_with("=tensorflow") || d.ends_with("=both"));
        assert_eq!(
            modules.contains("keras"),
            tensorflow,
            "{defines:?}: {modules:?}"
        );
        for problem in project_problems(&project, &map, &patterns) {
            failures.push(format!("{defines:?}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_1_1_0_tensorflow_project_fails_the_check_for_keras() {
    let env = Env::new();
    let map = import_map();
    let patterns = Patterns::new(&map);
    let defines = ["frameworks=tensorflow".to_string()];
    let project = generate(&env, "demo-old", &defines, Some("ml@1.1.0"));
    let problems = project_problems(&project, &map, &patterns);
    assert!(
        !problems.is_empty(),
        "1.1.0 lacks keras, the check must say so"
    );
    for problem in &problems {
        assert!(
            problem.contains(
                "imports `keras` (through tf.keras), which no Python environment provides"
            ),
            "{problems:#?}"
        );
    }
}

#[test]
fn a_package_dropped_from_pyproject_fails_the_check() {
    if nixcheck().is_none() {
        return;
    }
    let env = Env::new();
    let map = import_map();
    let patterns = Patterns::new(&map);
    let project = generate(&env, "demo-drop", &["frameworks=both".into()], None);
    // tf-keras from every environment; pandas moved to the `torch` extra,
    // which the TensorFlow environment leaves out.
    let path = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text
        .replace(
            r#"tensorflow = ["tensorflow", "tf-keras"]"#,
            r#"tensorflow = ["tensorflow"]"#,
        )
        .replace("    \"pandas\",\n", "")
        .replace(r#"torch = ["torch"]"#, r#"torch = ["torch", "pandas"]"#);
    assert_eq!(edited.matches("pandas").count(), 1, "{edited}");
    std::fs::write(&path, edited).unwrap();
    let problems = project_problems(&project, &map, &patterns);
    let keras = problems
        .iter()
        .filter(|p| {
            p.contains(
                "imports `tf_keras` (through tf.keras), which no Python environment provides",
            )
        })
        .count();
    let tf_env = |file: &str| {
        let text = std::fs::read_to_string(project.join(file)).unwrap();
        let line = text
            .lines()
            .position(|l| l.contains("packagesFor [ \"torch\" ]"))
            .unwrap()
            + 1;
        format!("{file}:{line}")
    };
    let pandas: Vec<&String> = problems
        .iter()
        .filter(|p| p.contains("imports `pandas` at module level, which the environment at "))
        .collect();
    assert!(keras > 0 && !pandas.is_empty(), "{problems:#?}");
    let (flake, shell) = (tf_env("flake.nix"), tf_env("shell.nix"));
    assert!(
        pandas
            .iter()
            .all(|p| p.contains(&flake) || p.contains(&shell)),
        "only the TensorFlow environments lack pandas ({flake}, {shell}): {pandas:#?}"
    );
}

// ---------------------------------------------------------------------------
// The TensorFlow code paths, in the venv with nixpkgs' TensorFlow wheel.

/// The Python of `.ci/venv-tf` (`.ci/setup` makes it).
fn tf_python() -> Option<PathBuf> {
    let path = std::env::var_os("NIXCUDA_TEST_TF_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv-tf/bin/python"));
    let ok = prerequisite(
        "the TensorFlow test virtualenv",
        path.is_file(),
        "run `bash .ci/setup` (it makes .ci/venv-tf), or set NIXCUDA_TEST_TF_PYTHON",
    );
    ok.then_some(path)
}

fn python_cmd(python: &Path, project: &Path, pythonpath: &str) -> Command {
    let mut cmd = Command::new(python);
    cmd.current_dir(project)
        .env("PYTHONPATH", pythonpath)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("TF_CPP_MIN_LOG_LEVEL", "2")
        .env_remove("NIXCUDA_REQUIRE_GPU");
    cmd
}

fn pytest_in(python: &Path, project: &Path, pythonpath: &str) -> (bool, String) {
    run(python_cmd(python, project, pythonpath).args([
        "-m",
        "pytest",
        "-q",
        "-rA",
        "-p",
        "no:cacheprovider",
    ]))
}

fn notebook_in(python: &Path, project: &Path, pythonpath: &str) -> (bool, String) {
    let notebooks = project.join("notebooks");
    let notebook = crate::support::listing(&notebooks)
        .into_iter()
        .find(|n| n.ends_with(".ipynb"))
        .expect("a notebook");
    run(python_cmd(python, project, pythonpath)
        .arg("-c")
        .arg(crate::support::RUN_NOTEBOOK)
        .arg(notebooks.join(notebook))
        .arg(&notebooks))
}

fn src_path(project: &Path) -> String {
    project.join("src").display().to_string()
}

#[test]
fn tensorflow_projects_pass_their_tests_and_notebooks_with_the_nixpkgs_wheel() {
    let Some(python) = tf_python() else { return };
    let env = Env::new();
    for (name, defines) in [
        ("tf-ipsa", &["frameworks=tensorflow"][..]),
        // torch is not in the venv: its tests must skip, TensorFlow's run.
        ("both-two-envs", &["frameworks=both", "rust_crate=pyo3"]),
        (
            "both-one-env",
            &["frameworks=both", "python=python313", "example=minimal"],
        ),
    ] {
        let defines: Vec<String> = defines.iter().map(|d| d.to_string()).collect();
        let project = generate(&env, name, &defines, None);
        let src = src_path(&project);
        let (ok, out) = pytest_in(&python, &project, &src);
        assert!(ok, "{name}: pytest failed in .ci/venv-tf:\n{out}");
        for test in [
            "PASSED tests/test_pipeline.py::test_keras_network_learns",
            "PASSED tests/test_pipeline.py::test_keras_training_without_keras_raises_the_fix",
        ] {
            assert!(out.contains(test), "{name}: {test}:\n{out}");
        }
        if name != "both-one-env" {
            assert!(
                out.contains("PASSED tests/test_pipeline.py::test_ipsa_says_why_keras_did_not_run"),
                "{name}:\n{out}"
            );
        }
        if name.starts_with("both") {
            assert!(
                out.contains("SKIPPED")
                    && out.contains("torch is not installed in this Python environment"),
                "{name}: the torch tests skip, naming torch:\n{out}"
            );
        }
        let (ok, out) = notebook_in(&python, &project, &src);
        assert!(ok, "{name}: the notebook failed in .ci/venv-tf:\n{out}");
        assert!(
            out.contains("TensorFlow GPUs:") && !out.contains("Skipping the Keras model"),
            "{name}: the notebook trains the Keras model:\n{out}"
        );
        if name == "tf-ipsa" {
            let (ok, out) = run(python_cmd(&python, &project, &src)
                .args([
                    "-m",
                    "pytest",
                    "-q",
                    "-rs",
                    "-p",
                    "no:cacheprovider",
                    "-m",
                    "gpu",
                ])
                .env("NIXCUDA_REQUIRE_GPU", "1"));
            assert!(
                !ok && out.contains("NIXCUDA_REQUIRE_GPU=1, but"),
                "{name}: with NIXCUDA_REQUIRE_GPU=1 the GPU tests fail without a GPU:\n{out}"
            );
        }
    }
}

#[test]
fn without_keras_the_keras_paths_skip_with_the_fix_where_1_1_0_failed() {
    let Some(python) = tf_python() else { return };
    let env = Env::new();
    // `keras` unimportable, as in a Nix environment that lists `tensorflow`
    // alone: None in sys.modules, set before anything runs.
    let blocker = env.path("no-keras");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(
        blocker.join("sitecustomize.py"),
        "import sys\nsys.modules[\"keras\"] = None\n",
    )
    .unwrap();

    let old = generate(
        &env,
        "tf-old",
        &["frameworks=tensorflow".into()],
        Some("ml@1.1.0"),
    );
    let path = format!("{}:{}", blocker.display(), src_path(&old));
    let (ok, out) = pytest_in(&python, &old, &path);
    assert!(
        !ok && out.contains("Keras cannot be imported"),
        "1.1.0 without keras fails (so keras really is hidden here):\n{out}"
    );

    let project = generate(&env, "tf-new", &["frameworks=tensorflow".into()], None);
    let path = format!("{}:{}", blocker.display(), src_path(&project));
    let (ok, out) = pytest_in(&python, &project, &path);
    assert!(ok, "without keras the tests skip, not fail:\n{out}");
    assert!(
        out.contains("SKIPPED")
            && out.contains("keras is not installed")
            && out.contains("add `keras` next to `tensorflow`"),
        "the Keras test skips with the fix:\n{out}"
    );
    let (ok, out) = notebook_in(&python, &project, &path);
    assert!(ok, "the notebook runs without keras:\n{out}");
    assert!(
        out.contains("Skipping the Keras model: keras is not installed")
            && out.contains("add `keras` next to `tensorflow`"),
        "the notebook says what to add:\n{out}"
    );
}

/// A directory that makes `tf_keras` importable in `.ci/venv-tf` (its own
/// site-packages, or NIXCUDA_TEST_TF_KERAS_PATH: `pip install --target DIR
/// --no-deps tf-keras==2.21.0`), or None, saying what is missing.
fn tf_keras_path(python: &Path) -> Option<String> {
    let extra = std::env::var("NIXCUDA_TEST_TF_KERAS_PATH").unwrap_or_default();
    let (ok, _) = run(Command::new(python)
        .args([
            "-c",
            "import importlib.util as u; assert u.find_spec('tf_keras')",
        ])
        .env("PYTHONPATH", &extra));
    prerequisite(
        "tf_keras in the TensorFlow test virtualenv",
        ok,
        "`pip install --no-deps tf-keras==2.21.0` into .ci/venv-tf, or into a directory named by NIXCUDA_TEST_TF_KERAS_PATH",
    )
    .then_some(extra)
}

#[test]
fn tensorflow_projects_pass_with_tf_keras_as_their_nix_shells_set_it() {
    let Some(python) = tf_python() else { return };
    let Some(extra) = tf_keras_path(&python) else {
        return;
    };
    let env = Env::new();
    let blocker = env.path("no-tf-keras");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(
        blocker.join("sitecustomize.py"),
        "import sys\nsys.modules[\"tf_keras\"] = None\n",
    )
    .unwrap();
    for (name, defines) in [
        ("tf-legacy", &["frameworks=tensorflow"][..]),
        ("both-legacy", &["frameworks=both", "example=minimal"]),
    ] {
        let defines: Vec<String> = defines.iter().map(|d| d.to_string()).collect();
        let project = generate(&env, name, &defines, None);
        let path = format!("{}:{extra}", src_path(&project));
        let legacy = |cmd: &mut Command| {
            cmd.env("TF_USE_LEGACY_KERAS", "1");
        };
        let mut cmd = python_cmd(&python, &project, &path);
        legacy(&mut cmd);
        let (ok, out) = run(cmd.args(["-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]));
        assert!(ok, "{name}: pytest failed with tf_keras:\n{out}");
        assert!(
            out.contains("PASSED tests/test_pipeline.py::test_keras_network_learns"),
            "{name}: Keras 2 trains the network:\n{out}"
        );
        let notebooks = project.join("notebooks");
        let notebook = crate::support::listing(&notebooks)
            .into_iter()
            .find(|n| n.ends_with(".ipynb"))
            .expect("a notebook");
        let mut cmd = python_cmd(&python, &project, &path);
        legacy(&mut cmd);
        let (ok, out) = run(cmd
            .arg("-c")
            .arg(crate::support::RUN_NOTEBOOK)
            .arg(notebooks.join(notebook))
            .arg(&notebooks));
        assert!(
            ok && out.contains("TensorFlow GPUs:") && !out.contains("Skipping the Keras model"),
            "{name}: the notebook trains the Keras 2 model:\n{out}"
        );
        // Without tf_keras the Keras test names the package to add.
        let mut cmd = python_cmd(&python, &project, &format!("{}:{path}", blocker.display()));
        legacy(&mut cmd);
        let (ok, out) = run(cmd.args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]));
        assert!(
            ok && out.contains("add `tf-keras` next to `tensorflow`"),
            "{name}: without tf_keras the Keras test skips with the fix:\n{out}"
        );
    }
}
