//! The project's Python packages: one list in pyproject.toml, which Nix
//! reads (nix/python-packages.nix), `add` and `remove` edit, and `add --pypi`
//! extends with PyPI packages through uv.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ml::{MATRIX, generate};
use crate::support::Env;

/// PEP 503.
fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every requirement of pyproject.toml's lists, by distribution name: where
/// it is written (`dependencies`, `optional-dependencies.torch`, ...).
fn requirement_lists(project: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let mut lists: Vec<(String, &toml::Value)> =
        vec![("dependencies".into(), &doc["project"]["dependencies"])];
    let tables = [
        (
            "optional-dependencies",
            doc["project"].get("optional-dependencies"),
        ),
        ("dependency-groups", doc.get("dependency-groups")),
    ];
    for (table, value) in tables {
        for (key, list) in value.and_then(|v| v.as_table()).into_iter().flatten() {
            lists.push((format!("{table}.{key}"), list));
        }
    }
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (list, value) in lists {
        for item in value.as_array().unwrap().iter().filter_map(|v| v.as_str()) {
            let name: String = item
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            found
                .entry(normalise(&name))
                .or_default()
                .push(list.clone());
        }
    }
    found
}

/// The words of Nix code (comments and strings left out) that are no
/// attribute's name (`pytest = ...` names a check, not a package).
fn nix_words(text: &str) -> Vec<String> {
    let code = crate::python_env::nix_code(text);
    let mut words = Vec::new();
    for line in code.lines() {
        let mut rest = line;
        while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\'')))
                .unwrap_or(tail.len());
            let after = tail[end..].trim_start();
            if !after.starts_with('=') || after.starts_with("==") {
                words.push(tail[..end].to_string());
            }
            rest = &tail[end..];
        }
    }
    words
}

#[test]
fn every_package_name_is_written_once_in_pyproject_and_nowhere_in_nix() {
    let env = Env::new();
    for (name, defines) in MATRIX {
        let project = generate(&env, name, defines);
        let lists = requirement_lists(&project);
        assert!(
            lists.contains_key("numpy") && lists.contains_key("pytest"),
            "{name}: {lists:?}"
        );
        for (package, places) in &lists {
            assert_eq!(places.len(), 1, "{name}: {package} is in {places:?}");
        }
        for file in ["flake.nix", "shell.nix"] {
            let text = std::fs::read_to_string(project.join(file)).unwrap();
            let written: Vec<String> = nix_words(&text)
                .into_iter()
                .filter(|w| lists.contains_key(w.as_str()))
                .collect();
            assert!(
                written.is_empty(),
                "{name}/{file} names {written:?}: pyproject.toml lists them"
            );
        }
    }
}

#[test]
fn python_package_added_to_the_flake_conflicts_and_the_note_says_where_it_goes() {
    let env = Env::new();
    env.ok(&["new", "lab", "--yes", "--scaffold", "ml@1.3.0"]);
    let project = env.path("lab");
    crate::support::edit(
        &project,
        "flake.nix",
        "pytest\n",
        "pytest\n            rich\n",
    );
    crate::support::commit_all(&project, "rich");
    let out = env
        .cmd(&["update", "--yes"])
        .current_dir(&project)
        .output()
        .unwrap();
    let err = crate::support::stderr_of(&out);
    assert!(err.contains("flake.nix: conflicting edits"), "{err}");
    assert!(
        err.contains("the Python packages moved from flake.nix and shell.nix to pyproject.toml")
            && err.contains("`cargo nixcuda add NAME`"),
        "{err}"
    );
    let flake = std::fs::read_to_string(project.join("flake.nix")).unwrap();
    assert!(
        flake.contains("            rich\n") && flake.contains("packagesFor"),
        "{flake}"
    );
}
