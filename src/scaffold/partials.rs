//! Partials a template may use: only inline ones it defines itself
//! (`{{#*inline "name"}}`), called by literal name, without recursion and at
//! most `MAX_DEPTH` deep. Handlebars itself has no bound: a partial that
//! calls itself overflows the stack, and one that calls another twice per
//! level doubles the output each level. Templates are untrusted, so this is
//! checked before anything renders.

use std::collections::{BTreeMap, BTreeSet};

/// How deep inline partials may call each other.
pub const MAX_DEPTH: usize = 8;

/// The partial the template body itself stands for.
const ROOT: &str = "";

pub fn check(source: &str) -> Result<(), String> {
    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    calls.insert(ROOT.to_string(), BTreeSet::new());
    let mut open: Vec<String> = Vec::new();
    for tag in tags(source) {
        let body = tag.trim_matches('~').trim();
        if let Some(rest) = body.strip_prefix("#*inline") {
            let name = literal_name(rest.trim()).ok_or_else(|| {
                format!("`{{{{{body}}}}}`: an inline partial needs a quoted name")
            })?;
            calls.entry(name.clone()).or_default();
            open.push(name);
        } else if body.starts_with("/inline") {
            open.pop();
        } else if let Some(rest) = body.strip_prefix("#>").or_else(|| body.strip_prefix('>')) {
            let rest = rest.trim();
            if rest.starts_with('@') {
                continue; // `@partial-block`: the caller's own block
            }
            let name = literal_name(rest).ok_or_else(|| {
                format!("`{{{{{body}}}}}`: partials are called by literal name only")
            })?;
            let caller = open.last().map(String::as_str).unwrap_or(ROOT);
            calls.entry(caller.to_string()).or_default().insert(name);
        }
    }
    for (caller, callees) in &calls {
        if let Some(unknown) = callees.iter().find(|c| !calls.contains_key(*c)) {
            let place = if caller.is_empty() {
                String::new()
            } else {
                format!(" (in `{caller}`)")
            };
            return Err(format!(
                "partial `{unknown}`{place} is not defined here; a template may call only the inline partials it defines"
            ));
        }
    }
    depth(&calls, ROOT, &mut Vec::new()).map(|_| ())
}

/// The longest chain of calls from `name`, refusing cycles.
fn depth<'a>(
    calls: &'a BTreeMap<String, BTreeSet<String>>,
    name: &'a str,
    path: &mut Vec<&'a str>,
) -> Result<usize, String> {
    if path.contains(&name) {
        path.push(name);
        return Err(format!(
            "partials call each other in a cycle: {}",
            path[1..].join(" -> ")
        ));
    }
    if path.len() > MAX_DEPTH {
        return Err(format!(
            "partials are nested more than {MAX_DEPTH} deep: {}",
            path[1..].join(" -> ")
        ));
    }
    path.push(name);
    let mut deepest = 0;
    for callee in &calls[name] {
        deepest = deepest.max(1 + depth(calls, callee, path)?);
    }
    path.pop();
    Ok(deepest)
}

/// `"name"`, `'name'` or `name`, then the end or a space.
fn literal_name(text: &str) -> Option<String> {
    let name = match text.chars().next()? {
        q @ ('"' | '\'') => text[1..].split(q).next()?,
        '(' => return None,
        _ => text.split_whitespace().next()?,
    };
    (!name.is_empty()).then(|| name.to_string())
}

/// The inside of every `{{ ... }}` tag, skipping `\{{` escapes.
fn tags(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let escaped = rest[..start].ends_with('\\');
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if !escaped {
            out.push(after[..end].trim_start_matches('{'));
        }
        rest = &after[end + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defined_inline_partials_pass() {
        let ok = r#"{{#*inline "row"}}- {{this}}{{/inline}}{{#each xs}}{{> row}}{{/each}}"#;
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check("plain {{name}} \\{{> not_a_call}}"), Ok(()));
    }

    #[test]
    fn recursion_doubling_unknown_and_dynamic_partials_are_refused() {
        let recursive = r#"{{#*inline "p"}}x{{> p}}{{/inline}}{{> p}}"#;
        assert!(check(recursive).unwrap_err().contains("cycle: p -> p"));
        let mutual =
            r#"{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}{{> a}}"#;
        assert!(check(mutual).unwrap_err().contains("cycle"));
        let mut doubling = String::from(r#"{{#*inline "p0"}}xx{{/inline}}"#);
        for i in 1..=20 {
            let prev = i - 1;
            doubling.push_str(&format!(
                "{{{{#*inline \"p{i}\"}}}}{{{{> p{prev}}}}}{{{{> p{prev}}}}}{{{{/inline}}}}"
            ));
        }
        doubling.push_str("{{> p20}}");
        assert!(check(&doubling).unwrap_err().contains("nested more than 8"));
        // Another template's name (each chunk is registered as one).
        assert!(
            check("{{> flake.nix.hbs#0}}")
                .unwrap_err()
                .contains("not defined")
        );
        assert!(
            check("{{> (lookup . \"x\")}}")
                .unwrap_err()
                .contains("literal name")
        );
    }
}
