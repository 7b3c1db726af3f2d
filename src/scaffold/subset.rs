//! The part of handlebars that scaffolds mostly use, parsed and rendered
//! directly: text, `{{name}}`, `{{helper args}}`, `{{#if}}`, `{{#unless}}`
//! and `{{#each}}` with `{{else}}`, `\{{` escapes. handlebars compiles
//! templates with pest at tens of thousands of instructions per tag, which
//! made compiling the project's templates most of the time `new` took.
//!
//! A template is rendered here only when every part of it is understood,
//! and only when the render succeeds: anything else (partials, comments,
//! whitespace control, paths with dots, a missing variable, a helper given a
//! value of the wrong type, ...) returns `None`, and the caller renders with
//! handlebars, which gives the same text or the error to report. What is
//! rendered here must be byte for byte what handlebars renders, including
//! its rules for lines that hold only a block tag (standalone lines): the
//! tests compare the two on every embedded template and answer set and on
//! generated templates.

use std::borrow::Cow;

use serde_json::Value;

use super::helpers::{self, truthy};

/// Deeper nesting is left to handlebars (this parser and renderer recurse).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    If,
    Unless,
    Each,
}

impl Kind {
    fn named(name: &str) -> Option<Kind> {
        match name {
            "if" => Some(Kind::If),
            "unless" => Some(Kind::Unless),
            "each" => Some(Kind::Each),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Expr {
    This,
    Key(String),
    Str(String),
    Call(helpers::Helper, Vec<Expr>),
}

#[derive(Debug)]
enum Node {
    Text(String),
    Value(Expr),
    Block(Box<Block>),
}

#[derive(Debug)]
struct Block {
    kind: Kind,
    param: Expr,
    body: Vec<Node>,
    inverse: Vec<Node>,
}

enum Tag {
    Open(Kind, Expr),
    Else,
    Close(Kind),
    Output(Expr),
}

/// `source` rendered in `ctx`, or `None` when handlebars must do it (see the
/// module comment), also when the output would exceed `limit` bytes.
pub fn render(source: &str, ctx: &Value, limit: usize) -> Option<String> {
    let nodes = parse(source)?;
    let mut out = String::with_capacity(source.len());
    write(&nodes, ctx, &mut out, limit)?;
    Some(out)
}

/// The truthiness of the condition `expr` (`use_torch`, `(eq cuda "12.9")`)
/// as `{{#if expr}}` sees it, or `None` as for `render`.
pub fn condition(expr: &str, ctx: &Value) -> Option<bool> {
    let mut cursor = Cursor { s: expr, i: 0 };
    cursor.ws();
    let param = cursor.param(0)?;
    cursor.ws();
    if cursor.i != expr.len() {
        return None;
    }
    Some(truthy(eval(&param, ctx)?.as_ref()))
}

/// Parses the whole template, applying handlebars' whitespace rules as its
/// compiler does (`Template::compile2`): a block tag (`{{#if}}`, `{{else}}`,
/// `{{/if}}`) alone on its line takes the line's indentation and line end
/// with it.
fn parse(source: &str) -> Option<Vec<Node>> {
    let mut tree = Tree {
        source,
        lists: vec![Vec::new()],
        open: Vec::new(),
        trim_line: false,
    };
    let bytes = source.as_bytes();
    let mut pos = 0;
    let mut text_start = 0;
    let mut escaped = false;
    while let Some(found) = source[pos..].find("{{") {
        let at = pos + found;
        if at > 0 && bytes[at - 1] == b'\\' {
            // `\{{` is a literal `{{`; the other escapes are left to
            // handlebars.
            if (at > 1 && bytes[at - 2] == b'\\') || source[at..].starts_with("{{{{") {
                return None;
            }
            escaped = true;
            pos = at + 2;
            continue;
        }
        let (tag, end) = parse_tag(source, at)?;
        tree.text(text_start, at, escaped);
        tree.tag(tag, at, end)?;
        pos = end;
        text_start = end;
        escaped = false;
    }
    if !tree.open.is_empty() {
        return None;
    }
    tree.text(text_start, source.len(), escaped);
    tree.lists.pop()
}

struct Tree<'a> {
    source: &'a str,
    /// The node lists being filled: the root, then each open block's body
    /// (or inverse, after its `{{else}}`).
    lists: Vec<Vec<Node>>,
    /// The open blocks, with their body once `{{else}}` started the inverse.
    open: Vec<(Kind, Expr, Option<Vec<Node>>)>,
    /// The previous tag stood alone on its line: the next text loses its
    /// leading blanks and first line end.
    trim_line: bool,
}

impl Tree<'_> {
    fn text(&mut self, start: usize, end: usize, escaped: bool) {
        if start == end {
            return;
        }
        let mut raw = &self.source[start..end];
        if std::mem::take(&mut self.trim_line) {
            let blank = raw.trim_start_matches([' ', '\t']);
            raw = blank
                .strip_prefix("\r\n")
                .or_else(|| blank.strip_prefix('\n'))
                .unwrap_or(blank);
        }
        let text = match escaped {
            true => raw.replace("\\{{", "{{"),
            false => raw.to_string(),
        };
        self.current().push(Node::Text(text));
    }

    fn current(&mut self) -> &mut Vec<Node> {
        self.lists
            .last_mut()
            .expect("the root list is never closed")
    }

    fn tag(&mut self, tag: Tag, start: usize, end: usize) -> Option<()> {
        match tag {
            Tag::Output(expr) => {
                self.current().push(Node::Value(expr));
                return Some(());
            }
            Tag::Open(kind, param) => {
                self.standalone(start, end);
                if self.open.len() >= MAX_DEPTH {
                    return None;
                }
                self.open.push((kind, param, None));
                self.lists.push(Vec::new());
            }
            Tag::Else => {
                self.standalone(start, end);
                let body = self.lists.pop()?;
                let (_, _, first) = self.open.last_mut()?;
                if first.is_some() {
                    return None;
                }
                *first = Some(body);
                self.lists.push(Vec::new());
            }
            Tag::Close(kind) => {
                self.standalone(start, end);
                let (open_kind, param, first) = self.open.pop()?;
                if open_kind != kind {
                    return None;
                }
                let last = self.lists.pop()?;
                let (body, inverse) = match first {
                    Some(body) => (body, last),
                    None => (last, Vec::new()),
                };
                self.current().push(Node::Block(Box::new(Block {
                    kind,
                    param,
                    body,
                    inverse,
                })));
            }
        }
        Some(())
    }

    /// handlebars' `process_standalone_statement` for a block tag spanning
    /// `start..end`.
    fn standalone(&mut self, start: usize, end: usize) {
        let after = self.source[end..].trim_start_matches([' ', '\t']);
        let line_ends_after = after.starts_with(['\n', '\r']) || end == self.source.len();
        if !line_ends_after {
            self.trim_line = false;
            return;
        }
        let before = self.source[..start].trim_end_matches([' ', '\t']);
        let line_starts_before = before.is_empty() || before.ends_with(['\n', '\r']);
        if line_starts_before && let Some(Node::Text(text)) = self.current().last_mut() {
            text.truncate(text.trim_end_matches([' ', '\t']).len());
        }
        self.trim_line = start == 0 || line_starts_before;
    }
}

/// The tag at `at` (which starts with `{{`) and where it ends.
fn parse_tag(source: &str, at: usize) -> Option<(Tag, usize)> {
    let mut c = Cursor {
        s: source,
        i: at + 2,
    };
    c.ws();
    let tag = match c.peek()? {
        b'#' => {
            c.i += 1;
            c.ws();
            let kind = Kind::named(c.ident()?)?;
            if !c.ws() {
                return None;
            }
            let param = c.param(0)?;
            Tag::Open(kind, param)
        }
        b'/' => {
            c.i += 1;
            c.ws();
            Tag::Close(Kind::named(c.ident()?)?)
        }
        _ => {
            let name = c.ident()?;
            if name == "else" {
                Tag::Else
            } else {
                c.ws();
                if c.peek()? == b'}' {
                    if helpers::is_helper_name(name) {
                        return None;
                    }
                    Tag::Output(reference(name)?)
                } else {
                    let helper = helpers::Helper::named(name)?;
                    let args = c.args()?;
                    helper.accepts(args.len()).then_some(())?;
                    Tag::Output(Expr::Call(helper, args))
                }
            }
        }
    };
    c.ws();
    if !c.s[c.i..].starts_with("}}") {
        return None;
    }
    Some((tag, c.i + 2))
}

/// A path parameter: `this` or a plain name. Literals, keywords and names
/// handlebars would read otherwise are declined.
fn reference(name: &str) -> Option<Expr> {
    match name {
        "this" => Some(Expr::This),
        "true" | "false" | "null" | "as" => None,
        // handlebars reads `{{elsewhere}}` as `{{else where}}`.
        n if n.starts_with("else") => None,
        n => Some(Expr::Key(n.to_string())),
    }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    /// Skips blanks and line ends; says whether there were any.
    fn ws(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
        self.i > start
    }

    /// A name of ASCII letters, digits, `_` and `-` (not starting with a
    /// digit or `-`), followed by a blank, `}` or `)`.
    fn ident(&mut self) -> Option<&'a str> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-')
        ) {
            self.i += 1;
        }
        let name = &self.s[start..self.i];
        let first = *name.as_bytes().first()?;
        if first.is_ascii_digit() || first == b'-' {
            return None;
        }
        match self.peek() {
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'}' | b')') => Some(name),
            _ => None,
        }
    }

    /// One parameter: a name, a `"string"` without escapes, or a helper
    /// call in parentheses.
    fn param(&mut self, depth: usize) -> Option<Expr> {
        match self.peek()? {
            b'"' => {
                let rest = &self.s[self.i + 1..];
                let end = rest.find('"')?;
                let text = &rest[..end];
                if text.contains('\\') {
                    return None;
                }
                self.i += end + 2;
                Some(Expr::Str(text.to_string()))
            }
            b'(' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                let helper = helpers::Helper::named(self.ident()?)?;
                let mut args = Vec::new();
                while self.ws() && self.peek()? != b')' {
                    args.push(self.param(depth + 1)?);
                }
                if self.peek()? != b')' || !helper.accepts(args.len()) {
                    return None;
                }
                self.i += 1;
                Some(Expr::Call(helper, args))
            }
            _ => reference(self.ident()?),
        }
    }

    /// The arguments of a helper called at the top of a tag, up to `}}`.
    fn args(&mut self) -> Option<Vec<Expr>> {
        let mut args = vec![self.param(0)?];
        while self.ws() && self.peek()? != b'}' {
            args.push(self.param(0)?);
        }
        Some(args)
    }
}

fn eval<'v>(expr: &Expr, this: &'v Value) -> Option<Cow<'v, Value>> {
    match expr {
        Expr::This => Some(Cow::Borrowed(this)),
        Expr::Key(key) => this.as_object()?.get(key).map(Cow::Borrowed),
        Expr::Str(s) => Some(Cow::Owned(Value::String(s.clone()))),
        Expr::Call(helper, args) => {
            let values = args
                .iter()
                .map(|a| eval(a, this))
                .collect::<Option<Vec<_>>>()?;
            let values: Vec<&Value> = values.iter().map(|v| v.as_ref()).collect();
            helper.call(&values).map(Cow::Owned)
        }
    }
}

/// handlebars' `JsonRender::render`.
fn display(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Null => {}
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                display(item, out);
            }
            out.push(']');
        }
        Value::Object(_) => out.push_str("[object]"),
    }
}

fn write(nodes: &[Node], this: &Value, out: &mut String, limit: usize) -> Option<()> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value(expr) => display(eval(expr, this)?.as_ref(), out),
            Node::Block(block) => {
                let value = eval(&block.param, this)?;
                match block.kind {
                    Kind::If | Kind::Unless => {
                        let holds = truthy(&value) == (block.kind == Kind::If);
                        let branch = if holds { &block.body } else { &block.inverse };
                        write(branch, this, out, limit)?;
                    }
                    Kind::Each => {
                        let items = value.as_array()?;
                        if items.is_empty() {
                            write(&block.inverse, this, out, limit)?;
                        }
                        for item in items {
                            write(&block.body, item, out, limit)?;
                        }
                    }
                }
            }
        }
        if out.len() > limit {
            return None;
        }
    }
    Some(())
}

#[cfg(test)]
#[path = "subset_tests.rs"]
mod tests;
