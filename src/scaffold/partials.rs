//! Bounds on how a template renders, read from the template handlebars
//! compiled (its elements), before anything renders. Handlebars itself has
//! none: a partial that calls itself, or blocks nested a thousand deep,
//! overflow the stack, and a partial that calls another twice per level
//! doubles the output each level. Templates are untrusted, so:
//! - partials are inline ones the template defines itself
//!   (`{{#*inline "name"}}`; templates render with a registry that holds
//!   none, so handlebars reports any other name as an unknown partial),
//!   called by literal name, without cycles and at most `MAX_DEPTH` deep;
//! - blocks, subexpressions and partial calls nest at most `MAX_NESTING`
//!   deep, counted through the partials a template calls.

use std::collections::BTreeMap;

use handlebars::JsonValue;
use handlebars::template::{
    DecoratorTemplate, HelperTemplate, Parameter, Template, TemplateElement,
};

/// How deep inline partials may call each other.
pub const MAX_DEPTH: usize = 8;

/// How deep blocks, subexpressions and partial calls may nest, all
/// together: far beyond what a template needs, far below what overflows a
/// render thread's stack.
pub const MAX_NESTING: usize = 64;

/// The partial the template body itself stands for.
const ROOT: &str = "";

/// What partials handlebars would look up; handlebars resolves
/// `@partial-block` to the caller's own block, never to a template.
const PARTIAL_BLOCK: &str = "@partial-block";

/// The template body or one inline partial.
#[derive(Default)]
struct Body {
    /// The deepest nesting inside it, partial calls aside.
    nesting: usize,
    /// The partials it calls, each with the deepest nesting it is called at.
    calls: BTreeMap<String, usize>,
}

/// How far rendering a body goes: partial calls, and nesting in all.
#[derive(Clone, Copy)]
struct Reach {
    partials: usize,
    nesting: usize,
}

pub fn check(template: &Template) -> Result<(), String> {
    let mut bodies: BTreeMap<String, Body> = BTreeMap::new();
    bodies.insert(ROOT.to_string(), Body::default());
    collect(template, ROOT, 0, &mut bodies)?;
    // Every partial, also one the body never calls: handlebars decides
    // what is called, this check only what may be.
    let mut known = BTreeMap::new();
    for name in bodies.keys() {
        reach(&bodies, name, &mut Vec::new(), &mut known)?;
    }
    let root = known[ROOT];
    if root.partials > MAX_DEPTH {
        let mut chain = Vec::new();
        let mut at = ROOT;
        while let Some(next) = bodies[at]
            .calls
            .keys()
            .filter(|c| known.contains_key(c.as_str()))
            .max_by_key(|c| known[c.as_str()].partials)
        {
            chain.push(next.as_str());
            at = next;
        }
        return Err(format!(
            "partials are nested more than {MAX_DEPTH} deep: {}",
            chain.join(" -> ")
        ));
    }
    if root.nesting > MAX_NESTING {
        return Err(format!(
            "blocks, subexpressions and partial calls are nested {} deep; a template may nest them at most {MAX_NESTING} deep",
            root.nesting
        ));
    }
    Ok(())
}

/// Records the inline partials `template` defines, and for each (and the
/// body, `caller`) how deep it nests and which partials it calls;
/// `level` is the nesting `template` renders at within `caller`.
fn collect(
    template: &Template,
    caller: &str,
    level: usize,
    bodies: &mut BTreeMap<String, Body>,
) -> Result<(), String> {
    let mut deepest = level;
    for element in &template.elements {
        match element {
            TemplateElement::Expression(e) | TemplateElement::HtmlExpression(e) => {
                deepest = deepest.max(level + helper_nesting(e));
            }
            TemplateElement::HelperBlock(block) => {
                deepest = deepest.max(level + helper_nesting(block));
                for inner in block.template.iter().chain(&block.inverse) {
                    collect(inner, caller, level + 1, bodies)?;
                }
            }
            TemplateElement::DecoratorBlock(d) if name_of(&d.name).as_deref() == Some("inline") => {
                let name = match d.params.first() {
                    Some(Parameter::Literal(JsonValue::String(name))) if !name.is_empty() => name,
                    _ => return Err("an inline partial needs a quoted name".into()),
                };
                bodies.entry(name.clone()).or_default();
                if let Some(body) = &d.template {
                    collect(body, name, 0, bodies)?;
                }
            }
            TemplateElement::DecoratorBlock(d) => {
                if let Some(body) = &d.template {
                    collect(body, caller, level + 1, bodies)?;
                }
            }
            TemplateElement::PartialExpression(d) | TemplateElement::PartialBlock(d) => {
                call(d, caller, level, bodies)?;
            }
            _ => {}
        }
    }
    let body = bodies.entry(caller.to_string()).or_default();
    body.nesting = body.nesting.max(deepest);
    Ok(())
}

/// One `{{> name}}` or `{{#> name}}...{{/name}}` in `caller`.
fn call(
    d: &DecoratorTemplate,
    caller: &str,
    level: usize,
    bodies: &mut BTreeMap<String, Body>,
) -> Result<(), String> {
    let name = name_of(&d.name).ok_or("partials are called by literal name only")?;
    if name != PARTIAL_BLOCK {
        let body = bodies.entry(caller.to_string()).or_default();
        let at = body.calls.entry(name).or_default();
        *at = (*at).max(level);
    }
    // The block of `{{#> name}}` renders in the caller.
    if let Some(body) = &d.template {
        collect(body, caller, level + 1, bodies)?;
    }
    Ok(())
}

/// How deep the subexpressions of a helper call nest.
fn helper_nesting(helper: &HelperTemplate) -> usize {
    std::iter::once(&helper.name)
        .chain(&helper.params)
        .chain(helper.hash.values())
        .map(parameter_nesting)
        .max()
        .unwrap_or(0)
}

fn parameter_nesting(parameter: &Parameter) -> usize {
    match parameter {
        Parameter::Subexpression(sub) => match sub.element.as_ref() {
            TemplateElement::Expression(e) | TemplateElement::HtmlExpression(e) => {
                1 + helper_nesting(e)
            }
            _ => 1,
        },
        _ => 0,
    }
}

/// The name handlebars looks a partial up by, when it does not depend on
/// the answers (a subexpression does).
fn name_of(parameter: &Parameter) -> Option<String> {
    match parameter {
        Parameter::Literal(JsonValue::String(name)) => Some(name.clone()),
        other => other.as_name().map(str::to_string),
    }
}

/// How far rendering `name` goes, refusing cycles; `known` holds what was
/// found so far, so each partial is walked once.
fn reach<'a>(
    bodies: &'a BTreeMap<String, Body>,
    name: &'a str,
    path: &mut Vec<&'a str>,
    known: &mut BTreeMap<&'a str, Reach>,
) -> Result<Reach, String> {
    if let Some(from) = path.iter().position(|n| *n == name) {
        let mut cycle = path[from..].to_vec();
        cycle.push(name);
        return Err(format!(
            "partials call each other in a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    if let Some(reach) = known.get(name) {
        return Ok(*reach);
    }
    path.push(name);
    let body = &bodies[name];
    let mut found = Reach {
        partials: 0,
        nesting: body.nesting,
    };
    // A name no inline partial has is not looked up anywhere else (the
    // registry holds no templates): handlebars reports it if it renders.
    for (callee, at) in body.calls.iter().filter(|(c, _)| bodies.contains_key(*c)) {
        let below = reach(bodies, callee, path, known)?;
        found.partials = found.partials.max(1 + below.partials);
        found.nesting = found.nesting.max(at + 1 + below.nesting);
    }
    path.pop();
    known.insert(name, found);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_source(source: &str) -> Result<(), String> {
        check(&Template::compile(source).unwrap())
    }

    #[test]
    fn defined_inline_partials_pass() {
        let ok = r#"{{#*inline "row"}}- {{this}}{{/inline}}{{#each xs}}{{> row}}{{/each}}"#;
        assert_eq!(check_source(ok), Ok(()));
        assert_eq!(check_source("plain {{name}} \\{{> not_a_call}}"), Ok(()));
        // Defined on one line, called lines later, inside other blocks.
        let later = "{{#*inline \"owner\"}}o{{/inline}}\n\n{{#if a}}\n{{> owner}}\n{{/if}}\n";
        assert_eq!(check_source(later), Ok(()));
        let block = r#"{{#*inline "p"}}[{{> @partial-block}}]{{/inline}}{{#> p}}x{{/p}}"#;
        assert_eq!(check_source(block), Ok(()));
    }

    #[test]
    fn recursion_doubling_unknown_and_dynamic_partials_are_refused() {
        let recursive = r#"{{#*inline "p"}}x{{> p}}{{/inline}}{{> p}}"#;
        assert!(
            check_source(recursive)
                .unwrap_err()
                .contains("cycle: p -> p")
        );
        let in_block = r#"{{#*inline "p"}}{{#if a}}{{#each b}}{{> p}}{{/each}}{{/if}}{{/inline}}"#;
        assert!(
            check_source(in_block)
                .unwrap_err()
                .contains("cycle: p -> p")
        );
        let mutual =
            r#"{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}{{> a}}"#;
        assert!(check_source(mutual).unwrap_err().contains("cycle"));
        let mut doubling = String::from(r#"{{#*inline "p0"}}xx{{/inline}}"#);
        for i in 1..=20 {
            let prev = i - 1;
            doubling.push_str(&format!(
                "{{{{#*inline \"p{i}\"}}}}{{{{> p{prev}}}}}{{{{> p{prev}}}}}{{{{/inline}}}}"
            ));
        }
        doubling.push_str("{{> p20}}");
        assert!(
            check_source(&doubling)
                .unwrap_err()
                .contains("nested more than 8")
        );
        assert!(
            check_source("{{> (which_partial a)}}")
                .unwrap_err()
                .contains("literal name")
        );
        assert!(
            check_source("{{#*inline name}}x{{/inline}}")
                .unwrap_err()
                .contains("quoted name")
        );
    }

    fn nested(depth: usize, inside: &str) -> String {
        format!(
            "{}{inside}{}",
            "{{#each (split (snake_case x) \",\")}}".repeat(depth),
            "{{/each}}".repeat(depth)
        )
    }

    #[test]
    fn nesting_is_bounded_through_partials() {
        // The innermost block's subexpressions are one level deeper still.
        assert_eq!(check_source(&nested(MAX_NESTING - 1, "x")), Ok(()));
        let err = check_source(&nested(MAX_NESTING, "x")).unwrap_err();
        assert!(err.contains("nested 65 deep"), "{err}");
        let inline = format!(
            "{{{{#*inline \"p\"}}}}{}{{{{/inline}}}}",
            nested(MAX_NESTING / 2 - 1, "x")
        );
        let call = |depth| format!("{inline}{}", nested(depth, "{{> p}}"));
        assert_eq!(check_source(&call(MAX_NESTING / 2 - 1)), Ok(()));
        let err = check_source(&call(MAX_NESTING / 2)).unwrap_err();
        assert!(err.contains("nested 65 deep"), "{err}");
    }
}
