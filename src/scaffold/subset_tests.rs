use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::scaffold::answers::resolve;
use crate::scaffold::registry::Registry;

const LIMIT: usize = 1 << 20;

fn handlebars(source: &str, ctx: &Value) -> Option<String> {
    crate::scaffold::helpers::registry()
        .render_template(source, ctx)
        .ok()
}

/// Renders with both; the subset must agree with handlebars whenever it
/// renders. Returns whether it rendered.
#[track_caller]
fn agrees(source: &str, ctx: &Value) -> bool {
    let ours = render(source, ctx, LIMIT);
    if let Some(ours) = &ours {
        assert_eq!(
            Some(ours.as_str()),
            handlebars(source, ctx).as_deref(),
            "template {source:?} in {ctx}"
        );
    }
    ours.is_some()
}

/// The answer sets of `scaffold check` plus a fixed sample of full
/// combinations, each with plain and hostile free-text answers.
fn contexts(scaffold: &crate::scaffold::Scaffold) -> Vec<Value> {
    let questions = &scaffold.manifest.questions;
    let mut sets = crate::scaffold::lint::answer_sets(questions).0;
    let axes: Vec<(String, Vec<String>)> = questions
        .iter()
        .filter(|q| !q.choices.is_empty())
        .map(|q| (q.key.clone(), crate::scaffold::lint::values_of(q)))
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..24 {
        let set: BTreeMap<String, String> = axes
            .iter()
            .map(|(key, values)| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (key.clone(), values[seed as usize % values.len()].clone())
            })
            .collect();
        sets.push(set);
    }
    let mut out = Vec::new();
    for (i, provided) in sets.iter().enumerate() {
        let hostile = i % 2 == 1;
        let mut builtins = serde_json::Map::new();
        for key in crate::scaffold::manifest::BUILTIN_KEYS {
            let text = match hostile {
                true => format!("{key} \"q\" \\ ${{x}} {{{{y}}}}\n\t\u{e000}0\u{e001}"),
                false => format!("x-{key}").replace('_', "-"),
            };
            builtins.insert(key.to_string(), Value::String(text));
        }
        builtins.insert("project_name".into(), "demo-project".into());
        let mut provided = provided.clone();
        if hostile {
            provided.insert("description".into(), "a \"b\" \\ ${c} {{d}}\n".into());
        }
        if let Ok(resolution) = resolve(&scaffold.manifest, builtins, &provided, None) {
            out.push(resolution.context);
        }
    }
    out
}

/// Every template of every embedded scaffold version is in the subset, and
/// renders exactly as handlebars renders it, for every answer set tried.
#[test]
fn embedded_templates_render_as_handlebars_renders_them() {
    let registry = Registry::embedded().unwrap();
    let mut compared = 0;
    for scaffold in registry.all() {
        let contexts = contexts(scaffold);
        assert!(contexts.len() > 10, "{}", scaffold.label());
        for file in &scaffold.files {
            let templates: Vec<&str> = match file.path.ends_with(".hbs") {
                true => vec![std::str::from_utf8(&file.contents).unwrap()],
                false => vec![],
            };
            let components = file.path.split('/').filter(|c| c.contains("{{"));
            for source in templates.into_iter().chain(components) {
                for ctx in &contexts {
                    let ours = render(source, ctx, LIMIT)
                        .unwrap_or_else(|| panic!("{}: {} declined", scaffold.label(), file.path));
                    let theirs = handlebars(source, ctx).unwrap();
                    assert_eq!(ours, theirs, "{}: {}", scaffold.label(), file.path);
                    compared += 1;
                }
            }
        }
        let manifest = &scaffold.manifest;
        let strings = (manifest.questions.iter())
            .filter_map(|q| q.default.as_ref().and_then(|d| d.as_str()))
            .chain(manifest.derived.iter().filter_map(|d| d.value.as_deref()))
            .chain(manifest.next_steps.as_deref());
        for source in strings.filter(|s| s.contains("{{")) {
            for ctx in &contexts {
                let mut ctx = ctx.clone();
                ctx["path"] = "'/tmp/a b'".into();
                let ours = render(source, &ctx, LIMIT);
                assert_eq!(ours, handlebars(source, &ctx), "{source}");
                assert!(ours.is_some(), "{source}");
            }
        }
        let conditions = (manifest.files.iter().filter_map(|r| r.when.as_deref()))
            .chain(manifest.questions.iter().filter_map(|q| q.when.as_deref()))
            .chain(manifest.derived.iter().filter_map(|d| d.when.as_deref()));
        for expr in conditions {
            for ctx in &contexts {
                let theirs = handlebars(&format!("{{{{#if {expr}}}}}1{{{{/if}}}}"), ctx).unwrap();
                assert_eq!(condition(expr, ctx), Some(theirs == "1"), "{expr}");
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}

#[test]
fn standalone_lines_and_line_ends_follow_handlebars() {
    let ctx = json!({"a": true, "b": false, "s": "v", "list": ["p", "q"], "caps": "8.6,,9.0"});
    let cases = [
        "{{#if a}}\nx\n{{/if}}\n",
        "{{#if a}}\nx\n{{/if}}\n\n  \n",
        "{{#if a}}\nx\n{{/if}}",
        "  {{#if a}}  \n  x\n  {{else}}\n  y\n  {{/if}}  \nz",
        "{{#if b}}\r\nx\r\n{{else}}\r\ny\r\n{{/if}}\r\nz\r\n",
        "{{#if a}}\rx\r{{/if}}\rz",
        "a {{#if a}}\nx\n{{/if}} b\n",
        "a\n{{#if a}}{{s}}\n{{/if}}\n",
        "{{#if a}}\n  {{#unless b}}\n    {{s}}\n  {{/unless}}\n{{/if}}\nend",
        "{{#each list}}\n- {{this}}\n{{/each}}\n",
        "{{#each (split caps \",\")}}{{nix_str this}} {{/each}}",
        "x {{ s }} {{\ns\n}} {{toml_str s}} {{json list}} {{eq s \"v\"}}",
        "gh: $\\{{ secrets.TOKEN }} \\{{{x}}",
        "{{#if (and a (not b) (or b a) (ne s \"w\"))}}yes{{/if}}",
        "{{#each (split s \"\")}}x{{else}}\nnone\n{{/each}}",
        "\n\n{{#if a}}\n\n{{/if}}\n\n",
        "   ",
        "",
    ];
    for source in cases {
        assert!(agrees(source, &ctx), "declined {source:?}");
    }
}

#[test]
fn what_it_does_not_know_is_left_to_handlebars() {
    let ctx = json!({"a": true, "n": 3, "o": {"k": "v"}, "list": ["p"]});
    let cases = [
        "{{> part}}",
        "{{! comment}}",
        "{{~a}}",
        "{{a~}}",
        "{{o.k}}",
        "{{#each list}}{{@index}}{{/each}}",
        "{{{a}}}",
        "{{&a}}",
        "{{missing}}",
        "{{#if missing}}x{{/if}}",
        "{{nix_str n}}",
        "{{elsewhere}}",
        "\\\\{{a}}",
        "\\{{{{a}}}}",
        "{{#if a}}x",
        "x{{/if}}",
        "{{#if a}}x{{/unless}}",
        "{{#each o}}x{{/each}}",
        "{{#each list}}{{a}}{{/each}}",
        "{{len}}",
        "{{#if a}}x{{else}}y{{else}}z{{/if}}",
        "{{#if a}}x{{else if a}}y{{/if}}",
        "{{#with o}}{{k}}{{/with}}",
        "{{eq a}}",
        "{{lookup o \"k\"}}",
        "{{#if true}}x{{/if}}",
        "{{#if 'a'}}x{{/if}}",
        "{{#if \"a\\\"\"}}x{{/if}}",
        "{{#if a as |x|}}x{{/if}}",
        "{{{{raw}}}}{{a}}{{{{/raw}}}}",
    ];
    for source in cases {
        assert_eq!(render(source, &ctx, LIMIT), None, "{source:?}");
    }
    assert_eq!(render("{{#each list}}x{{/each}}", &ctx, 0), None);
    let deep = "{{#if a}}".repeat(MAX_DEPTH + 1) + &"{{/if}}".repeat(MAX_DEPTH + 1);
    assert_eq!(render(&deep, &ctx, LIMIT), None);
}

/// A small deterministic generator (xorshift) of templates made of what the
/// subset knows, with blanks and line ends where standalone rules matter.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() % items.len()]
    }

    fn param(&mut self, depth: usize) -> String {
        if depth < 2 && self.next().is_multiple_of(3) {
            let args = match self.next() % 4 {
                0 => format!("eq {} {}", self.param(depth + 1), self.param(depth + 1)),
                1 => format!("and {} {}", self.param(depth + 1), self.param(depth + 1)),
                2 => format!("or {}", self.param(depth + 1)),
                _ => format!("not {}", self.param(depth + 1)),
            };
            return format!("({args})");
        }
        self.pick(&[
            "a", "b", "n", "z", "s", "e", "list", "obj", "nul", "this", "\"x\"", "\"\"",
        ])
        .to_string()
    }

    fn text(&mut self) -> String {
        (0..1 + self.next() % 3)
            .map(|_| {
                self.pick(&[
                    "a", "b c", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "x\n", "\n  ", "}", "{",
                    "\\", "é",
                ])
            })
            .collect()
    }

    fn template(&mut self, depth: usize) -> String {
        let mut out = String::new();
        for _ in 0..self.next() % 5 {
            match self.next() % 10 {
                0..=3 => out.push_str(&self.text()),
                4 => out.push_str("\\{{ s }}"),
                5 | 6 => {
                    let inner = match self.next() % 5 {
                        0 => format!("nix_str {}", self.pick(&["s", "e", "this"])),
                        1 => format!("split s {}", self.pick(&["\",\"", "\"\""])),
                        2 => format!("json {}", self.param(1)),
                        3 => format!("eq {} {}", self.param(1), self.param(1)),
                        _ => self
                            .pick(&["a", "b", "n", "s", "e", "list", "obj", "nul", "this"])
                            .into(),
                    };
                    let ws = self.pick(&["", " ", "\n"]);
                    out.push_str(&format!("{{{{{ws}{inner}{ws}}}}}"));
                }
                _ if depth < 3 => {
                    let kind = self.pick(&["if", "if", "unless", "each"]);
                    let param = match kind {
                        "each" => self.pick(&["list", "e", "(split s \",\")"]).to_string(),
                        _ => self.param(0),
                    };
                    out.push_str(&format!("{{{{#{kind} {param}}}}}"));
                    out.push_str(&self.template(depth + 1));
                    if self.next().is_multiple_of(2) {
                        out.push_str(self.pick(&["{{else}}", "{{ else }}"]));
                        out.push_str(&self.template(depth + 1));
                    }
                    out.push_str(&format!("{{{{/{kind}}}}}"));
                }
                _ => out.push_str(&self.text()),
            }
        }
        out
    }
}

#[test]
fn generated_templates_render_as_handlebars_renders_them() {
    let contexts = [
        json!({"a": true, "b": false, "n": 0, "z": 2.5, "s": "p,q", "e": [], "list": ["x", "y"],
               "obj": {"k": 1}, "nul": null}),
        json!({"a": "", "b": "0", "n": 1, "z": -0.0, "s": "", "e": [], "list": [],
               "obj": {}, "nul": null}),
        json!({"a": [1], "b": {"k": false}, "n": 7, "z": 1e300, "s": "a\"b ${x}", "e": [],
               "list": [{"a": "o"}, {"a": ""}], "obj": {"a": 1}, "nul": null}),
    ];
    let mut generator = Gen(0x2545_f491_4f6c_dd1d);
    let (mut rendered, mut total) = (0, 0);
    for _ in 0..4000 {
        let source = generator.template(0);
        for ctx in &contexts {
            total += 1;
            rendered += usize::from(agrees(&source, ctx));
        }
        let expr = generator.param(0);
        for ctx in &contexts {
            let theirs = handlebars(&format!("{{{{#if {expr}}}}}1{{{{/if}}}}"), ctx);
            if let Some(ours) = condition(&expr, ctx) {
                assert_eq!(Some(ours), theirs.map(|t| t == "1"), "{expr} in {ctx}");
            }
        }
    }
    // Most generated templates are rendered here, so the comparison means
    // something; the rest name a missing key, which only handlebars reports.
    assert!(rendered * 2 > total, "{rendered} of {total}");
}
