//! The one render path of every template: handlebars compiles the source
//! whole, `partials` checks what it compiled, handlebars renders it. `.hbs`
//! files, templated file names, `when` conditions and the manifest's
//! template strings (defaults, derived values, next steps) all come here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use handlebars::{Context, Handlebars, RenderContext, Renderable, Template};
use serde_json::Value;

/// Bounds on what rendering may produce: a template is untrusted, and a
/// few kilobytes of handlebars can ask for gigabytes.
pub const MAX_RENDERED_FILE: usize = 8 << 20;
pub const MAX_RENDERED_TOTAL: usize = 64 << 20;

/// The largest template handlebars is given (a `.hbs` file, a file name,
/// a condition, a default or the next steps). handlebars 6.4 finds the
/// line of every element it parses by scanning the source from its start,
/// so compiling costs the number of tags times the length: the densest
/// template measured (`{{#if a}}x{{else}}y{{/if}}` repeated, release build,
/// 2-core machine) took 1.0 s of CPU at 64 KiB (1.5 s of wall time with the
/// machine loaded), 1.6 s at 80 KiB and 2.4 s at 96 KiB; text without tags
/// costs next to nothing. The ignored test below repeats the measurement.
pub const MAX_TEMPLATE_BYTES: usize = 64 << 10;

/// Why a template was not rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Longer than `MAX_TEMPLATE_BYTES`.
    TooLarge(usize),
    /// What handlebars or a guard said, with the line where known.
    Invalid(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::TooLarge(size) => write!(
                f,
                "the template is {size} bytes; handlebars is given at most {MAX_TEMPLATE_BYTES} ({} KiB)",
                MAX_TEMPLATE_BYTES >> 10
            ),
            TemplateError::Invalid(message) => f.write_str(message),
        }
    }
}

/// The one render path: `source` compiled by handlebars whole, its partials
/// checked (`partials`), then rendered by handlebars in `ctx`, stopping once
/// the output would pass `limit` bytes.
pub fn render_template(
    hb: &Handlebars,
    name: &str,
    source: &str,
    ctx: &Context,
    limit: usize,
) -> std::result::Result<String, TemplateError> {
    render_compiled(hb, &compile(name, source)?, ctx, limit)
}

/// `source` compiled by handlebars whole and checked by `partials`.
fn compile(name: &str, source: &str) -> std::result::Result<Template, TemplateError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge(source.len()));
    }
    let template = Template::compile_with_name(source, name.to_string()).map_err(|e| {
        TemplateError::Invalid(match e.pos() {
            Some((line, col)) => format!("line {line}, column {col}: {}", e.reason()),
            None => e.reason().to_string(),
        })
    })?;
    super::partials::check(&template).map_err(TemplateError::Invalid)?;
    Ok(template)
}

/// What handlebars renders from `template` in `ctx` (as
/// `Handlebars::render_template` does, without compiling again).
pub fn render_compiled(
    hb: &Handlebars,
    template: &Template,
    ctx: &Context,
    limit: usize,
) -> std::result::Result<String, TemplateError> {
    let mut out = Capped {
        text: String::new(),
        left: limit,
        overflowed: false,
    };
    let mut rc = RenderContext::new(template.name.as_ref());
    let rendered = template.render(hb, ctx, &mut rc, &mut out);
    if out.overflowed {
        return Err(TemplateError::Invalid(format!(
            "renders to more than {} MiB; a rendered file may have at most that much",
            limit >> 20
        )));
    }
    rendered.map_err(|e| TemplateError::Invalid(super::render_error::describe(&e)))?;
    Ok(out.text)
}

/// True when the handlebars expression `expr` (`notebook`,
/// `(eq frameworks "torch")`, ...) is truthy in `ctx`: `{{#if expr}}`.
pub fn condition(hb: &Handlebars, expr: &str, ctx: &Value) -> std::result::Result<bool, String> {
    condition_in(hb, expr, &Context::from(ctx.clone()))
}

/// `condition` in a context already made: handlebars copies a `Value` into
/// a new context on every render.
pub(super) fn condition_in(
    hb: &Handlebars,
    expr: &str,
    ctx: &Context,
) -> std::result::Result<bool, String> {
    let template = format!("{{{{#if {expr}}}}}1{{{{/if}}}}");
    render_template(hb, "when", &template, ctx, MAX_RENDERED_FILE)
        .map(|out| out == "1")
        .map_err(|e| format!("condition `{expr}`: {e}"))
}

/// A template string of the manifest (a default, a derived value, the next
/// steps) rendered in `ctx`.
pub fn render_string(template: &str, ctx: &Value) -> std::result::Result<String, String> {
    let hb = super::helpers::registry();
    render_template(
        &hb,
        "scaffold.yaml",
        template,
        &Context::from(ctx.clone()),
        MAX_RENDERED_FILE,
    )
    .map_err(|e| e.to_string())
}

/// Templates compiled once for several renders (`scaffold check` renders
/// a scaffold once per combination of answers): compiling costs far more
/// than rendering, and does not depend on the answers.
#[derive(Default)]
pub struct Compiled {
    templates: Mutex<HashMap<String, Arc<Entry>>>,
}

/// A compiled template `Compiled` holds.
pub struct Held(Arc<Entry>);

impl std::ops::Deref for Held {
    type Target = Template;

    fn deref(&self) -> &Template {
        self.0
            .template
            .as_ref()
            .expect("only compiled templates are held")
    }
}

/// One file's source and what compiling it gave.
struct Entry {
    source: String,
    template: std::result::Result<Template, TemplateError>,
}

impl Compiled {
    /// The template `name` with `source`, compiled and checked.
    pub fn get(&self, name: &str, source: &str) -> std::result::Result<Held, TemplateError> {
        let held = self
            .templates
            .lock()
            .expect("no render panics")
            .get(name)
            .cloned();
        let entry = match held {
            Some(entry) if entry.source == source => entry,
            _ => {
                let entry = Arc::new(Entry {
                    source: source.to_string(),
                    template: compile(name, source),
                });
                let mut templates = self.templates.lock().expect("no render panics");
                templates.insert(name.to_string(), entry.clone());
                entry
            }
        };
        match &entry.template {
            Ok(_) => Ok(Held(entry)),
            Err(e) => Err(e.clone()),
        }
    }
}

/// A render target that stops the render once it would overflow.
struct Capped {
    text: String,
    left: usize,
    overflowed: bool,
}

impl handlebars::Output for Capped {
    fn write(&mut self, seg: &str) -> std::io::Result<()> {
        if seg.len() > self.left {
            self.overflowed = true;
            return Err(std::io::Error::other("rendered file too large"));
        }
        self.left -= seg.len();
        self.text.push_str(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_templates_are_reused_while_their_source_is_the_same() {
        let compiled = Compiled::default();
        let first = compiled.get("a.hbs", "{{x}}").unwrap();
        let again = compiled.get("a.hbs", "{{x}}").unwrap();
        assert!(Arc::ptr_eq(&first.0, &again.0));
        let changed = compiled.get("a.hbs", "{{y}}").unwrap();
        assert!(!Arc::ptr_eq(&first.0, &changed.0));
        let hb = super::super::helpers::registry();
        let ctx = Context::from(serde_json::json!({"x": 1, "y": 2}));
        assert_eq!(render_compiled(&hb, &changed, &ctx, 10).unwrap(), "2");
        let err = compiled.get("b.hbs", "{{#if}}").err().unwrap();
        assert!(matches!(err, TemplateError::Invalid(_)), "{err:?}");
        assert_eq!(compiled.get("b.hbs", "{{#if}}").err(), Some(err));
    }

    #[test]
    fn output_stops_at_the_limit() {
        let hb = super::super::helpers::registry();
        let ctx = Context::from(serde_json::json!({"x": "12345"}));
        assert_eq!(
            render_template(&hb, "t", "{{x}}{{x}}", &ctx, 10).unwrap(),
            "1234512345"
        );
        let err = render_template(&hb, "t", "{{x}}{{x}}!", &ctx, 10).unwrap_err();
        assert!(err.to_string().contains("renders to more than"), "{err}");
    }

    /// The measurement behind `MAX_TEMPLATE_BYTES`, in a release build:
    /// `cargo test --release --lib -- --ignored densest`. (A debug build of
    /// pest is many times slower.)
    #[test]
    #[ignore = "a timing, meaningful in a release build only"]
    fn the_densest_template_at_the_limit_compiles_in_about_a_second() {
        let unit = "{{#if a}}x{{else}}y{{/if}}";
        let source = unit.repeat(MAX_TEMPLATE_BYTES / unit.len());
        let start = std::time::Instant::now();
        compile("dense", &source).unwrap();
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }
}
