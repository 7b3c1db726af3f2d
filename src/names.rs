//! Project-name rules. A generated project is at once a Cargo package, a
//! Python distribution and a Nix derivation name, so a name must satisfy all
//! three; the rules follow `cargo new` (src/ops/cargo_new.rs, restricted_names.rs)
//! and PEP 508 distribution names, which maturin checks too.

/// The rule a rejected name broke, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRejection {
    pub rule: String,
    pub suggestion: Option<String>,
}

const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

// Keywords a Python module name may not be (`import def` is a syntax error).
const PYTHON_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

// Names of the Rust standard crates: cargo refuses them as package names.
const RUST_STD_CRATES: &[&str] = &["alloc", "core", "proc_macro", "proc-macro", "std", "test"];

// Cargo's build directories; a package with such a name collides with them.
const CARGO_ARTIFACT_DIRS: &[&str] = &["deps", "examples", "build", "incremental"];

fn is_windows_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "con" | "prn" | "aux" | "nul")
        || ((lower.starts_with("com") || lower.starts_with("lpt"))
            && lower.len() == 4
            && lower.as_bytes()[3].is_ascii_digit()
            && lower.as_bytes()[3] != b'0')
}

/// `my-project` -> `my_project`: the Rust crate and Python module identifier.
pub fn snake_case(name: &str) -> String {
    name.replace('-', "_").to_ascii_lowercase()
}

/// Checks `name` against every rule; on failure says which rule and offers a
/// valid alternative.
pub fn validate(name: &str) -> Result<(), NameRejection> {
    match broken_rule(name) {
        None => Ok(()),
        Some(rule) => Err(NameRejection {
            rule,
            suggestion: suggest(name),
        }),
    }
}

fn broken_rule(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Some(format!(
            "the character {c:?} is not allowed; use ASCII letters, digits, `-` and `_` only"
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(
            "the name starts with a digit; Rust crate and Python module names cannot".into(),
        );
    }
    if name.starts_with(['-', '_']) || name.ends_with(['-', '_']) {
        return Some(
            "the name starts or ends with `-` or `_`; Python distribution names cannot".into(),
        );
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("the name has upper-case letters; Cargo and Python expect lower case".into());
    }
    if name.len() > 64 {
        return Some("the name is longer than 64 characters".into());
    }
    let ident = snake_case(name);
    if RUST_KEYWORDS.contains(&ident.as_str()) {
        return Some(format!("`{ident}` is a Rust keyword"));
    }
    if PYTHON_KEYWORDS.contains(&ident.as_str()) {
        return Some(format!("`{ident}` is a Python keyword"));
    }
    if RUST_STD_CRATES.contains(&name) || RUST_STD_CRATES.contains(&ident.as_str()) {
        return Some(format!(
            "`{name}` is the name of a Rust standard library crate"
        ));
    }
    if CARGO_ARTIFACT_DIRS.contains(&name) {
        return Some(format!("`{name}` collides with a Cargo build directory"));
    }
    if is_windows_reserved(name) {
        return Some(format!("`{name}` is a reserved file name on Windows"));
    }
    None
}

/// A valid name close to `name`, or None if nothing sensible is left of it.
pub fn suggest(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut candidate = out.trim_matches(['-', '_']).to_string();
    candidate.truncate(56);
    let candidate = candidate.trim_matches(['-', '_']).to_string();
    let candidate = if candidate.is_empty() {
        "my-project".to_string()
    } else if candidate.starts_with(|c: char| c.is_ascii_digit()) {
        format!("project-{candidate}")
    } else {
        candidate
    };
    let candidate = if broken_rule(&candidate).is_some() {
        format!("{candidate}-project")
    } else {
        candidate
    };
    (broken_rule(&candidate).is_none() && candidate != name).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["ipsa-prediction", "a", "my_model2", "torch-gpu-lab"] {
            assert!(validate(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_with_rule_and_valid_suggestion() {
        let cases = [
            ("", "empty"),
            ("2fast", "digit"),
            ("my project", "not allowed"),
            ("café", "not allowed"),
            ("-lead", "starts or ends"),
            ("trail_", "starts or ends"),
            ("Upper", "upper-case"),
            ("fn", "Rust keyword"),
            ("lambda", "Python keyword"),
            ("test", "standard library"),
            ("std", "standard library"),
            ("proc-macro", "standard library"),
            ("deps", "Cargo build directory"),
            ("con", "Windows"),
            ("com1", "Windows"),
        ];
        for (name, rule) in cases {
            let err = validate(name).expect_err(name);
            assert!(err.rule.contains(rule), "{name}: {}", err.rule);
            let suggestion = err.suggestion.expect("a suggestion");
            assert!(validate(&suggestion).is_ok(), "{name} -> {suggestion}");
        }
    }

    #[test]
    fn suggestions_are_close() {
        assert_eq!(suggest("My Project").as_deref(), Some("my-project"));
        assert_eq!(suggest("2fast").as_deref(), Some("project-2fast"));
        assert_eq!(suggest("test").as_deref(), Some("test-project"));
        assert_eq!(suggest("ipsa-prediction"), None);
    }

    #[test]
    fn windows_reserved_only_exact() {
        assert!(is_windows_reserved("lpt9"));
        assert!(!is_windows_reserved("com0"));
        assert!(!is_windows_reserved("console"));
    }

    #[test]
    fn snake_case_is_an_identifier() {
        assert_eq!(snake_case("ipsa-prediction"), "ipsa_prediction");
    }
}
