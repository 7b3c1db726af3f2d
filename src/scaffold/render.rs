//! Pure rendering: (scaffold, context) -> the project's files in memory.
//! Nothing here touches the filesystem, so a failure leaves nothing behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use handlebars::{Context, Handlebars, RenderContext, Renderable, Template};
use serde_json::Value;

use super::Scaffold;
use crate::error::{Error, Result};

const TEMPLATE_SUFFIX: &str = ".hbs";

/// Bounds on what rendering may produce: a template is untrusted, and a
/// few kilobytes of handlebars can ask for gigabytes.
pub const MAX_RENDERED_FILE: usize = 8 << 20;
pub const MAX_RENDERED_TOTAL: usize = 64 << 20;

/// The largest template handlebars is given (a `.hbs` file, a file name,
/// a condition, a default or the next steps). handlebars 6.4 finds the
/// line of every element it parses by scanning the source from its start,
/// so compiling costs the number of tags times the length: the densest
/// template measured (`{{#if a}}x{{else}}y{{/if}}` repeated, release build,
/// 2-core machine) compiled in 1.0 s at 64 KiB, 1.6 s at 80 KiB and 2.4 s at
/// 96 KiB; text without tags costs next to nothing.
pub const MAX_TEMPLATE_BYTES: usize = 64 << 10;

/// A file of the generated project; `path` is relative and checked safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub executable: bool,
}

fn glob(glob: &str) -> std::result::Result<Glob, globset::Error> {
    GlobBuilder::new(glob).literal_separator(true).build()
}

pub fn compile_glob(pattern: &str) -> std::result::Result<GlobMatcher, globset::Error> {
    Ok(glob(pattern)?.compile_matcher())
}

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
fn condition_in(hb: &Handlebars, expr: &str, ctx: &Context) -> std::result::Result<bool, String> {
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

struct Rule {
    when: Option<String>,
    rename: Option<(String, String)>,
}

/// Renders every file of `scaffold` that its rules include.
pub fn render(scaffold: &Scaffold, ctx: &Value) -> Result<Vec<RenderedFile>> {
    let hb = super::helpers::registry();
    let globs = Globs::of(scaffold)?;
    let ctx = &Context::from(ctx.clone());
    // Decide what to write (cheap), then render the contents in parallel:
    // compiling templates dominates the run time of `new`.
    let planned = plan(scaffold, &globs, &hb, ctx)?;
    let mut files = produce_all(&hb, &planned, ctx)?;
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
/// a few others, each taking the next file left. nixfmt costs most (on
/// flake.nix, as much as rendering every other file), so the files it
/// formats go first, the largest first.
fn produce_all(hb: &Handlebars, planned: &[Planned], ctx: &Context) -> Result<Vec<RenderedFile>> {
    let budget = AtomicUsize::new(MAX_RENDERED_TOTAL);
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((planned[i].format, planned[i].file.contents.len())));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, produce(hb, &planned[i], ctx, &budget)));
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
        render_template(hb, &p.file.path, source, ctx, MAX_RENDERED_FILE)
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

/// The last gate before a relative path may be written under a destination.
/// Whether a path component is `.git` to git on some file system: in any
/// letter case (case-insensitive file systems), with the code points HFS+
/// and APFS ignore (git's `is_hfs_dotgit`), with the trailing dots and
/// spaces, streams and short name NTFS accepts (`is_ntfs_dotgit`).
pub fn is_git_dir_name(component: &str) -> bool {
    const HFS_IGNORED: [char; 16] = [
        '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}',
        '\u{202d}', '\u{202e}', '\u{206a}', '\u{206b}', '\u{206c}', '\u{206d}', '\u{206e}',
        '\u{206f}', '\u{feff}',
    ];
    let folded: String = component
        .chars()
        .filter(|c| !HFS_IGNORED.contains(c))
        .collect::<String>()
        .to_ascii_lowercase();
    let ntfs = folded
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches(['.', ' ']);
    ntfs == ".git" || ntfs == "git~1"
}

pub fn check_output_path(path: &str) -> std::result::Result<(), String> {
    if path.starts_with('/') {
        return Err(format!("output path `{path}` is absolute"));
    }
    for component in path.split('/') {
        match component {
            "" => return Err(format!("output path `{path}` has an empty component")),
            "." | ".." => return Err(format!("output path `{path}` contains `{component}`")),
            c if is_git_dir_name(c) => {
                return Err(format!(
                    "output path `{path}` would write into `.git` (`{c}` names it on some file systems)"
                ));
            }
            c if c.contains(['\0', '\\']) => {
                return Err(format!(
                    "output path `{path}` contains a NUL byte or a backslash"
                ));
            }
            _ => {}
        }
    }
    Ok(())
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
#[path = "render_tests.rs"]
mod tests;
