//! The rules ARCHITECTURE.md states, checked so they cannot become false
//! again. Paths are relative to `src/` with `/` separators; a module may be
//! a file or a directory (`scaffold/source.rs` or `scaffold/source/`).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file as (`scaffold/source.rs`, its text).
fn source_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (rel.join("/"), std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// The code of a file without its unit tests (tests may use anything) and
/// without comments.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .map(|(n, l)| (n + 1, l.split("//").next().unwrap_or_default()))
        .collect()
}

/// `module` is `path` or under it: `host/nixos` matches `host/nixos.rs` and
/// `host/nixos/gpu.rs`.
fn in_module(path: &str, module: &str) -> bool {
    path == format!("{module}.rs") || path.starts_with(&format!("{module}/")) || path == module
}

/// Lines of the files outside `allowed` whose code uses one of `needles`
/// as a path (not as the end of a longer name).
fn uses_outside(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut offenders = Vec::new();
    for (path, text) in source_files() {
        if allowed.iter().any(|m| in_module(&path, m)) {
            continue;
        }
        for (n, code) in code_lines(&text) {
            for needle in needles {
                let used = code
                    .match_indices(needle)
                    .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if used {
                    offenders.push(format!("src/{path}:{n}: {}", code.trim()));
                }
            }
        }
    }
    offenders
}

/// printer.rs: "No write here panics". Every other module writes through
/// `outln!`/`out!`/`errln!`, never with the std macros that panic on a
/// closed or full stream.
#[test]
fn only_the_printer_writes_to_stdout_and_stderr_directly() {
    let mut offenders = Vec::new();
    for (path, text) in source_files() {
        if path == "printer.rs" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for needle in ["println!(", "print!(", "eprintln!(", "eprint!("] {
                let direct = code
                    .match_indices(needle)
                    .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if direct {
                    offenders.push(format!("src/{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn only_the_printer_and_the_prompt_use_console() {
    let offenders = uses_outside(&["console::"], &["printer", "prompt"]);
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn git2_is_used_only_in_the_modules_architecture_md_names() {
    let offenders = uses_outside(
        &["git2::"],
        &["vcs", "update", "scaffold/source", "host/nixos", "error"],
    );
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn nothing_below_commands_reaches_up() {
    let top = ["lib.rs", "main.rs", "commands", "settings"];
    let offenders = uses_outside(&["crate::commands", "crate::settings", "crate::cli"], &top);
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    let offenders = uses_outside(&["crate::config"], &["config", "commands", "settings"]);
    assert!(
        offenders.is_empty(),
        "the engine reads no user config:\n{}",
        offenders.join("\n")
    );
}

/// Files and functions allowed over the limits, each with its reason; a
/// test below keeps the list from outliving what it excuses.
const LONG_FILES: [&str; 0] = [];
const LONG_FUNCTIONS: &[&str] = &[
    // A table-like match: one arm per error, each with its hint.
    "error/mod.rs: hint",
];

#[test]
fn the_long_list_excuses_only_what_is_long() {
    let sources = source_files();
    for entry in LONG_FUNCTIONS {
        let (path, name) = entry.split_once(": ").unwrap();
        let text = &sources.iter().find(|(p, _)| p == path).expect(path).1;
        let long = functions(text)
            .iter()
            .any(|(n, lines)| n == name && *lines > 100);
        assert!(
            long,
            "{entry} is no longer over 100 lines: drop it from LONG_FUNCTIONS"
        );
    }
}

#[test]
fn no_file_over_600_lines() {
    let long: Vec<String> = source_files()
        .into_iter()
        .filter(|(path, text)| text.lines().count() > 600 && !LONG_FILES.contains(&path.as_str()))
        .map(|(path, text)| format!("src/{path}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

/// The functions of rustfmt-formatted `text` with their length: from a
/// line `fn name(` to the `}` at the same indentation.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some(at) = trimmed.find("fn ") else {
            continue;
        };
        let head = &trimmed[..at];
        let is_item = head.split_whitespace().all(|w| {
            [
                "pub",
                "pub(crate)",
                "pub(super)",
                "const",
                "async",
                "unsafe",
            ]
            .contains(&w)
        });
        if !is_item {
            continue;
        }
        let name: String = trimmed[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name, end + 2));
        }
    }
    out
}

#[test]
fn no_function_over_100_lines() {
    let mut long = Vec::new();
    for (path, text) in source_files() {
        for (name, lines) in functions(&text) {
            let key = format!("{path}: {name}");
            if lines > 100 && !LONG_FUNCTIONS.contains(&key.as_str()) {
                long.push(format!("src/{key}: {lines} lines"));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_function_measure_sees_long_functions() {
    let body = "    x();\n".repeat(120);
    let text = format!("fn short() {{\n}}\n\npub fn long() {{\n{body}}}\n");
    assert_eq!(
        functions(&text),
        [("short".to_string(), 2), ("long".to_string(), 122)]
    );
}

#[test]
fn test_hooks_are_named_in_one_place() {
    // Only `test_hooks.rs` spells a hook's name (and `config.rs` the one
    // user-facing variable), so the list there is complete.
    let spelled = uses_outside(
        &["\"__CARGO_NIXCUDA_TEST_", "\"CARGO_NIXCUDA_"],
        &["test_hooks", "config"],
    );
    assert!(
        spelled.is_empty(),
        "name the hook in src/test_hooks.rs:\n{}",
        spelled.join("\n")
    );
    // Every hook listed there is read somewhere, and the tests' command
    // builder clears each one.
    let sources = source_files();
    for hook in crate::support::test_hooks() {
        let constant = hook.trim_start_matches("__CARGO_NIXCUDA_TEST_");
        // Read elsewhere, or by `test_hooks.rs` itself (`kill_point`).
        let own = include_str!("../../src/test_hooks.rs");
        let used = own.contains(&format!("var({constant})"))
            || sources
                .iter()
                .any(|(_, text)| text.contains(&format!("test_hooks::{constant}")));
        assert!(used, "{hook} is listed in src/test_hooks.rs but never read");
        assert!(crate::support::tool_environment().contains(&hook));
    }
    assert!(!crate::support::test_hooks().is_empty());
}

/// The top-level module (`scaffold`, `update`, ...) a source file belongs to.
fn top_module(path: &str) -> &str {
    let first = path.split('/').next().unwrap_or(path);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// For each top-level module, the other top-level modules its code (not
/// its unit tests) names through `crate::`, with one line that does.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>
{
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        Default::default();
    for (path, text) in source_files() {
        let from = top_module(&path).to_string();
        if from == "lib"
            || from == "main"
            || path.ends_with("_tests.rs")
            || path.ends_with("/tests.rs")
        {
            continue;
        }
        for (n, code) in code_lines(&text) {
            let mut names = Vec::new();
            for (i, _) in code.match_indices("crate::") {
                if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &code[i + "crate::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or_default();
                    names.extend(group.split(',').map(|item| {
                        item.trim()
                            .split("::")
                            .next()
                            .unwrap_or_default()
                            .to_string()
                    }));
                } else {
                    names.push(
                        rest.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect(),
                    );
                }
            }
            for to in names {
                // Macros exported at the crate root (`crate::outln!`) are
                // not modules.
                let is_module = source_files()
                    .iter()
                    .any(|(p, _)| top_module(p) == to && p != "lib.rs");
                if to.is_empty() || to == from || !is_module {
                    continue;
                }
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("src/{path}:{n}: {}", code.trim()));
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the lines that make it, if there is one.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(
                cycle
                    .windows(2)
                    .map(|w| format!("{} -> {}: {}", w[0], w[1], graph[&w[0]][&w[1]]))
                    .collect(),
            );
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let graph = module_graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the top-level modules import each other in a circle; move the shared piece down:\n{}",
            cycle.join("\n")
        );
    }
    // The check sees a circle when there is one.
    let mut circular = graph.clone();
    circular
        .entry("vcs".into())
        .or_default()
        .insert("update".into(), "a test edge".into());
    circular
        .entry("update".into())
        .or_default()
        .insert("vcs".into(), "a test edge".into());
    assert!(find_cycle(&circular).is_some());
    // And it sees the real imports.
    assert!(graph["update"].contains_key("vcs"), "{graph:#?}");
}

#[test]
fn top_level_modules_import_only_those_after_them_in_architecture_md() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let start = doc
        .find("Top-level modules, each importing only modules after it")
        .expect("ARCHITECTURE.md lists the top-level modules in order");
    let list = &doc[start..start + doc[start..].find(". So").unwrap()];
    let order: Vec<&str> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.contains('/'))
        .collect();
    let graph = module_graph();
    let mut wrong = Vec::new();
    for (from, edges) in &graph {
        let at = |m: &str| order.iter().position(|o| *o == m);
        let Some(i) = at(from) else {
            wrong.push(format!("`{from}` is not in ARCHITECTURE.md's list"));
            continue;
        };
        for (to, line) in edges {
            match at(to) {
                Some(j) if j > i => {}
                Some(_) => wrong.push(format!("{from} -> {to} goes up the list: {line}")),
                None => wrong.push(format!("`{to}` is not in ARCHITECTURE.md's list")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(order.len() > 10, "{order:?}");
}
