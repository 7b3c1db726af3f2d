//! Pure rendering: (scaffold, context) -> the project's files in memory.
//! Nothing here touches the filesystem, so a failure leaves nothing behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use handlebars::{Context, Handlebars};
use serde_json::Value;

use super::Scaffold;
use super::template::{Compiled, TemplateError, condition_in, render_template};
use crate::error::{Error, Result};

pub use super::template::{
    MAX_RENDERED_FILE, MAX_RENDERED_TOTAL, MAX_TEMPLATE_BYTES, condition, render_string,
};

const TEMPLATE_SUFFIX: &str = ".hbs";

use crate::fs::{RenderedFile, check_output_path};

fn glob(glob: &str) -> std::result::Result<Glob, globset::Error> {
    GlobBuilder::new(glob).literal_separator(true).build()
}

pub fn compile_glob(pattern: &str) -> std::result::Result<GlobMatcher, globset::Error> {
    Ok(glob(pattern)?.compile_matcher())
}

struct Rule {
    when: Option<String>,
    rename: Option<(String, String)>,
}

/// Renders every file of `scaffold` that its rules include.
pub fn render(scaffold: &Scaffold, ctx: &Value) -> Result<Vec<RenderedFile>> {
    render_with(scaffold, ctx, &Compiled::default())
}

/// `render`, with the templates `compiled` holds from earlier renders of
/// the same scaffold.
pub fn render_with(
    scaffold: &Scaffold,
    ctx: &Value,
    compiled: &Compiled,
) -> Result<Vec<RenderedFile>> {
    let hb = super::helpers::registry();
    let globs = Globs::of(scaffold)?;
    let ctx = &Context::from(ctx.clone());
    // Decide what to write (cheap), then render the contents in parallel:
    // compiling templates dominates the run time of `new`.
    let planned = plan(scaffold, &globs, &hb, ctx)?;
    let mut files = produce_all(&hb, compiled, &planned, ctx)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The manifest's globs, compiled: the file rules, what is copied
/// verbatim, and what nixfmt formats. Each list is one `GlobSet`, which
/// matches literal, prefix and extension globs without a regex: compiling
/// a regex per glob cost more than rendering.
struct Globs {
    manifest_file: String,
    rule_globs: GlobSet,
    rules: Vec<Rule>,
    verbatim: GlobSet,
    nixfmt: GlobSet,
}

impl Globs {
    fn of(scaffold: &Scaffold) -> Result<Globs> {
        let manifest = &scaffold.manifest;
        let manifest_file = format!("{}/scaffold.yaml", scaffold.origin);
        let invalid = |g: &str, e: globset::Error| Error::Manifest {
            file: manifest_file.clone(),
            line: None,
            message: format!("invalid glob `{g}`: {e}"),
        };
        let set = |globs: &mut dyn Iterator<Item = &String>| {
            let mut set = GlobSetBuilder::new();
            for g in globs {
                set.add(glob(g).map_err(|e| invalid(g, e))?);
            }
            set.build().map_err(|e| invalid("", e))
        };
        let rules = manifest
            .files
            .iter()
            .map(|r| Rule {
                when: r.when.clone(),
                rename: r.rename.as_ref().map(|r| (r.from.clone(), r.to.clone())),
            })
            .collect();
        Ok(Globs {
            rule_globs: set(&mut manifest.files.iter().map(|r| &r.glob))?,
            rules,
            verbatim: set(&mut manifest.verbatim.iter())?,
            nixfmt: set(&mut manifest.format.nixfmt.iter())?,
            manifest_file,
        })
    }
}

/// Which files the rules include, under which paths.
fn plan<'a>(
    scaffold: &'a Scaffold,
    globs: &Globs,
    hb: &Handlebars,
    ctx: &Context,
) -> Result<Vec<Planned<'a>>> {
    let Globs {
        manifest_file,
        rule_globs,
        rules,
        verbatim,
        nixfmt,
    } = globs;
    let mut matched = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    // Each condition is compiled and evaluated once, not once per file its
    // glob matches: the answers do not change while rendering.
    let mut decided: BTreeMap<&str, bool> = BTreeMap::new();
    for file in &scaffold.files {
        let where_ = format!("{}/template/{}", scaffold.origin, file.path);
        let render_error = |message: String| Error::Render {
            file: where_.clone(),
            message,
        };
        let is_template = file.path.ends_with(TEMPLATE_SUFFIX) && !verbatim.is_match(&file.path);
        // A component rendered from answers that breaks a path rule is the
        // answer's fault, not the template's (unless it failed to render).
        let by_answer = |message: String| {
            if file.path.contains("{{") {
                Error::AnswerPath {
                    file: where_.clone(),
                    message,
                }
            } else {
                render_error(message)
            }
        };
        let mut path = render_path(hb, &file.path, ctx).map_err(|m| {
            if m.contains(" renders to ") {
                by_answer(m)
            } else {
                render_error(m)
            }
        })?;
        if is_template {
            path.truncate(path.len() - TEMPLATE_SUFFIX.len());
        }
        let mut included = true;
        // Rules apply in their order, to the path as earlier ones renamed it.
        let mut renamed = true;
        for (index, rule) in rules.iter().enumerate() {
            if std::mem::take(&mut renamed) {
                rule_globs.matches_into(&path, &mut matched);
            }
            if !matched.contains(&index) {
                continue;
            }
            if let Some(expr) = &rule.when {
                let holds = match decided.get(expr.as_str()) {
                    Some(holds) => *holds,
                    None => {
                        let holds = condition_in(hb, expr, ctx).map_err(|m| Error::Manifest {
                            file: manifest_file.clone(),
                            line: None,
                            message: m,
                        })?;
                        decided.insert(expr, holds);
                        holds
                    }
                };
                included &= holds;
            }
            if let Some((from, to)) = &rule.rename
                && let Some(rest) = path.strip_prefix(from.as_str())
            {
                path = format!("{to}{rest}");
                renamed = true;
            }
        }
        if !included {
            continue;
        }
        check_output_path(&path).map_err(by_answer)?;
        if let Some(other) = taken.insert(path.clone(), &file.path) {
            return Err(render_error(format!(
                "renders to `{path}`, which `{other}` renders to as well"
            )));
        }
        let format = is_template && nixfmt.is_match(&path);
        planned.push(Planned {
            file,
            where_,
            path,
            is_template,
            format,
        });
    }
    Ok(planned)
}

/// The contents of every planned file, rendered by the calling thread and
/// a few others, each taking the next file left, the costliest first: a
/// template's compile grows with the square of its size, and nixfmt on a
/// file costs about as much as compiling it again.
fn produce_all(
    hb: &Handlebars,
    compiled: &Compiled,
    planned: &[Planned],
    ctx: &Context,
) -> Result<Vec<RenderedFile>> {
    let budget = AtomicUsize::new(MAX_RENDERED_TOTAL);
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| {
        let p = &planned[i];
        let compiled = usize::from(p.is_template) * p.file.contents.len();
        std::cmp::Reverse(compiled * (1 + usize::from(p.format)))
    });
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, produce(hb, compiled, &planned[i], ctx, &budget)));
        }
        done
    };
    let others = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(planned.len().max(1))
        - 1;
    let mut all: Vec<(usize, Result<RenderedFile>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..others).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for handle in handles {
            all.extend(handle.join().expect("a render worker panicked"));
        }
        all
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// One file that the rules include, before its contents are rendered.
struct Planned<'a> {
    file: &'a super::TemplateFile,
    where_: String,
    path: String,
    is_template: bool,
    format: bool,
}

fn produce(
    hb: &Handlebars,
    compiled: &Compiled,
    p: &Planned,
    ctx: &Context,
    budget: &AtomicUsize,
) -> Result<RenderedFile> {
    let render_error = |message: String| Error::Render {
        file: p.where_.clone(),
        message,
    };
    let mut contents = if p.is_template {
        let source = std::str::from_utf8(&p.file.contents)
            .map_err(|_| render_error("a `.hbs` template must be UTF-8 text".into()))?;
        compiled
            .get(&p.file.path, source)
            .and_then(|template| {
                super::template::render_compiled(hb, &template, ctx, MAX_RENDERED_FILE)
            })
            .map_err(|e| match e {
                TemplateError::TooLarge(size) => Error::TemplateTooLarge {
                    file: p.where_.clone(),
                    size,
                    limit: MAX_TEMPLATE_BYTES,
                },
                TemplateError::Invalid(message) => render_error(message),
            })?
            .into_bytes()
    } else {
        p.file.contents.to_vec()
    };
    let taken = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
        left.checked_sub(contents.len())
    });
    if taken.is_err() {
        return Err(render_error(format!(
            "the rendered project would be larger than {} MiB; a scaffold may render at most that much",
            MAX_RENDERED_TOTAL >> 20
        )));
    }
    if p.format {
        contents = format_nix(&p.path, contents).map_err(render_error)?;
    }
    Ok(RenderedFile {
        path: PathBuf::from(&p.path),
        contents,
        executable: p.file.executable,
    })
}

/// Renders a template path one component at a time, so an answer can never
/// add a component (`a/b`), climb (`..`) or make the path absolute.
fn render_path(
    hb: &Handlebars,
    template_path: &str,
    ctx: &Context,
) -> std::result::Result<String, String> {
    let mut parts = Vec::new();
    for component in template_path.split('/') {
        let rendered = if component.contains("{{") {
            render_template(hb, template_path, component, ctx, MAX_RENDERED_FILE)
                .map_err(|e| format!("file name `{component}`: {e}"))?
        } else {
            component.to_string()
        };
        if rendered.contains(['/', '\\']) {
            return Err(format!(
                "file name `{component}` renders to `{rendered}`, which contains a path separator"
            ));
        }
        parts.push(rendered);
    }
    Ok(parts.join("/"))
}

fn format_nix(path: &str, contents: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let text = String::from_utf8(contents).map_err(|_| format!("`{path}` is not UTF-8"))?;
    nixfmt_rs::format(&text)
        .map(String::into_bytes)
        .map_err(|e| {
            format!(
                "rendered `{path}` is not valid Nix:\n{}",
                nixfmt_rs::format_error(&text, Some(path), &e)
            )
        })
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
