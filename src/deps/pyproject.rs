//! pyproject.toml's package lists, edited in place (toml_edit): the user's
//! comments, order and layout stay; only the one requirement changes.

use std::fmt;

use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// One list of requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List {
    /// `[project] dependencies`
    Dependencies,
    /// `[project.optional-dependencies] NAME`
    Extra(String),
    /// `[dependency-groups] NAME` (PEP 735)
    Group(String),
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            List::Dependencies => write!(f, "[project] dependencies"),
            List::Extra(name) => write!(f, "the extra `{name}` ([project.optional-dependencies])"),
            List::Group(name) => write!(f, "the group `{name}` ([dependency-groups])"),
        }
    }
}

/// PEP 503: lower case, every run of `-`, `_` and `.` one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
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

/// The distribution name a PEP 508 requirement starts with, when it is one:
/// ASCII letters and digits, with `-`, `_` and `.` inside.
pub fn requirement_name(requirement: &str) -> Option<&str> {
    let text = requirement.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(text.len());
    let name = &text[..end];
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (edge_ok(name.chars().next()) && edge_ok(name.chars().last())).then_some(name)
}

/// A parsed pyproject.toml whose lists can be edited.
#[derive(Debug)]
pub struct Pyproject {
    doc: DocumentMut,
}

impl Pyproject {
    /// Parses `text`; the error says what is wrong with the file (TOML
    /// syntax, or a list that is not a list of strings).
    pub fn parse(text: &str) -> Result<Pyproject, String> {
        let doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| e.to_string().trim_end().replace('\n', "\n  "))?;
        let project = doc
            .get("project")
            .ok_or("it has no [project] table (PEP 621)")?;
        if !project.is_table_like() {
            return Err("`project` is not a table".into());
        }
        let pyproject = Pyproject { doc };
        for (list, item) in pyproject.lists() {
            let Some(array) = item.as_array() else {
                return Err(format!("{list} is not a list"));
            };
            if array
                .iter()
                .any(|v| !v.is_str() && !matches!(list, List::Group(_)))
            {
                return Err(format!(
                    "{list} holds something other than requirement strings"
                ));
            }
        }
        for key in ["optional-dependencies"] {
            if let Some(item) = pyproject.doc["project"].get(key)
                && !item.is_table_like()
            {
                return Err(format!("[project] `{key}` is not a table"));
            }
        }
        if let Some(item) = pyproject.doc.get("dependency-groups")
            && !item.is_table_like()
        {
            return Err("`dependency-groups` is not a table".into());
        }
        Ok(pyproject)
    }

    /// Every list of the file, with its item.
    fn lists(&self) -> Vec<(List, &Item)> {
        let mut lists = Vec::new();
        if let Some(item) = self.doc["project"].get("dependencies") {
            lists.push((List::Dependencies, item));
        }
        let tables = [
            (self.doc["project"].get("optional-dependencies"), true),
            (self.doc.get("dependency-groups"), false),
        ];
        for (table, extra) in tables {
            for (key, item) in table
                .and_then(Item::as_table_like)
                .into_iter()
                .flat_map(|t| t.iter())
            {
                let list = if extra {
                    List::Extra(key.to_string())
                } else {
                    List::Group(key.to_string())
                };
                lists.push((list, item));
            }
        }
        lists
    }

    /// The list that holds the distribution `name` (normalised), if any.
    pub fn find(&self, name: &str) -> Option<List> {
        self.lists().into_iter().find_map(|(list, item)| {
            let array = item.as_array()?;
            array
                .iter()
                .filter_map(Value::as_str)
                .any(|r| requirement_name(r).is_some_and(|n| normalise(n) == name))
                .then_some(list)
        })
    }

    /// The requirements of `list` (none when it is missing).
    pub fn requirements(&self, list: &List) -> Vec<String> {
        self.lists()
            .into_iter()
            .filter(|(l, _)| l == list)
            .filter_map(|(_, item)| item.as_array())
            .flat_map(|a| a.iter().filter_map(Value::as_str).map(str::to_string))
            .collect()
    }

    /// The distribution names (normalised) of every list but `except`.
    pub fn names_except(&self, except: &List) -> Vec<String> {
        self.lists()
            .into_iter()
            .filter(|(l, _)| l != except)
            .filter_map(|(_, item)| item.as_array())
            .flat_map(|a| a.iter().filter_map(Value::as_str))
            .filter_map(requirement_name)
            .map(normalise)
            .collect()
    }

    /// The nixpkgs attribute of the distribution `name` (normalised):
    /// `[tool.nixcuda.nix-attributes]` maps the names nixpkgs spells
    /// differently.
    pub fn nix_attribute(&self, name: &str) -> String {
        let table = self
            .doc
            .get("tool")
            .and_then(|t| t.get("nixcuda"))
            .and_then(|t| t.get("nix-attributes"))
            .and_then(Item::as_table_like);
        table
            .and_then(|t| t.iter().find(|(k, _)| normalise(k) == name))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or(name)
            .to_string()
    }

    /// Appends `requirement` to `list`, in the layout of its last element
    /// (a list is made when there is none).
    pub fn push(&mut self, list: &List, requirement: &str) {
        let array = self.array_mut(list);
        let mut value = Value::from(requirement);
        let prefix = match array.iter().last() {
            None => String::new(),
            Some(last) => {
                let before = last.decor().prefix().and_then(|p| p.as_str()).unwrap_or("");
                match before.rfind('\n') {
                    // Its indentation, not a comment above it.
                    Some(at) => format!("\n{}", &before[at + 1..]),
                    None if array.len() == 1 && before.is_empty() => " ".to_string(),
                    None => before.to_string(),
                }
            }
        };
        value.decor_mut().set_prefix(prefix);
        array.push_formatted(value);
    }

    /// The array of `list`, made (with its table) when missing.
    fn array_mut(&mut self, list: &List) -> &mut Array {
        let (item, key) = match list {
            List::Dependencies => (&mut self.doc["project"], "dependencies"),
            List::Extra(name) => (
                table_mut(&mut self.doc["project"], "optional-dependencies"),
                name.as_str(),
            ),
            List::Group(name) => (
                table_mut(&mut self.doc["dependency-groups"], ""),
                name.as_str(),
            ),
        };
        let entry = item
            .as_table_like_mut()
            .expect("checked by parse")
            .entry(key)
            .or_insert(Item::Value(Value::Array(Array::new())));
        entry.as_array_mut().expect("checked by parse")
    }

    /// Takes the distribution `name` (normalised) out of the list holding
    /// it; None when no list does.
    pub fn remove(&mut self, name: &str) -> Option<List> {
        let list = self.find(name)?;
        let array = self.array_mut(&list);
        let index = array.iter().position(|v| {
            v.as_str()
                .and_then(requirement_name)
                .is_some_and(|n| normalise(n) == name)
        })?;
        let removed = array.remove(index);
        // The first element of `["a", "b"]` has no space before it; on
        // lines of their own, elements keep theirs (and their comments).
        let prefix = removed.decor().prefix().cloned().unwrap_or_default();
        if index == 0
            && !prefix.as_str().unwrap_or("").contains('\n')
            && let Some(next) = array.get_mut(0)
        {
            next.decor_mut().set_prefix(prefix);
        }
        Some(list)
    }
}

impl fmt::Display for Pyproject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.doc)
    }
}

/// `item[key]` as a table (`item` itself with an empty key), made when
/// missing: a new one is written as a `[section]`.
fn table_mut<'a>(item: &'a mut Item, key: &str) -> &'a mut Item {
    let item = if key.is_empty() { item } else { &mut item[key] };
    if item.is_none() {
        *item = Item::Table(Table::new());
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"[project]
name = "demo"
# The one list.
dependencies = [
    "numpy",
    # Data frames.
    "pandas>=2",
]

[project.optional-dependencies]
torch = ["torch"]

[dependency-groups]
dev = ["pytest", { include-group = "x" }]

[tool.nixcuda.nix-attributes]
opencv-python = "opencv4"
"#;

    #[test]
    fn names_are_normalised_and_read_from_requirements() {
        assert_eq!(normalise("Scikit_Learn"), "scikit-learn");
        assert_eq!(normalise("a.-_b"), "a-b");
        assert_eq!(
            requirement_name("torch[cuda] >= 2; python_version < '3.14'"),
            Some("torch")
        );
        assert_eq!(requirement_name("-x"), None);
        assert_eq!(requirement_name("x-"), None);
        assert_eq!(requirement_name(""), None);
    }

    #[test]
    fn lists_are_found_and_mapped() {
        let p = Pyproject::parse(TEXT).unwrap();
        assert_eq!(p.find("pandas"), Some(List::Dependencies));
        assert_eq!(p.find("torch"), Some(List::Extra("torch".into())));
        assert_eq!(p.find("pytest"), Some(List::Group("dev".into())));
        assert_eq!(p.find("scipy"), None);
        assert_eq!(p.nix_attribute("opencv-python"), "opencv4");
        assert_eq!(p.nix_attribute("numpy"), "numpy");
    }

    #[test]
    fn a_push_keeps_comments_and_layout() {
        let mut p = Pyproject::parse(TEXT).unwrap();
        p.push(&List::Dependencies, "transformers");
        p.push(&List::Extra("torch".into()), "torchvision");
        p.push(&List::Group("pypi".into()), "tiny");
        let text = p.to_string();
        assert!(
            text.contains("# The one list.\ndependencies = [\n    \"numpy\",\n    # Data frames.\n    \"pandas>=2\",\n    \"transformers\",\n]\n"),
            "{text}"
        );
        assert!(
            text.contains("torch = [\"torch\", \"torchvision\"]\n"),
            "{text}"
        );
        assert!(text.contains("pypi = [\"tiny\"]"), "{text}");
        assert!(text.contains("opencv-python = \"opencv4\""), "{text}");
    }

    #[test]
    fn a_removal_takes_the_one_element() {
        let mut p = Pyproject::parse(TEXT).unwrap();
        assert_eq!(p.remove("numpy"), Some(List::Dependencies));
        assert_eq!(p.remove("numpy"), None);
        let text = p.to_string();
        assert!(
            text.contains("dependencies = [\n    # Data frames.\n    \"pandas>=2\",\n]\n"),
            "{text}"
        );
        let mut p = Pyproject::parse("[project]\ndependencies = [\"a\", \"b\"]\n").unwrap();
        p.remove("a");
        assert_eq!(p.to_string(), "[project]\ndependencies = [\"b\"]\n");
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        assert!(
            Pyproject::parse("[project\n")
                .unwrap_err()
                .contains("TOML parse error")
        );
        assert!(
            Pyproject::parse("x = 1\n")
                .unwrap_err()
                .contains("[project]")
        );
        assert!(
            Pyproject::parse("[project]\ndependencies = \"numpy\"\n")
                .unwrap_err()
                .contains("is not a list")
        );
        assert!(
            Pyproject::parse("[project]\ndependencies = [1]\n")
                .unwrap_err()
                .contains("requirement strings")
        );
    }
}
