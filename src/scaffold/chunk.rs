//! Splits a handlebars template into independently compilable chunks.
//!
//! handlebars computes the line and column of every parsed element by
//! scanning the source from its start (pest `Position::line_col`), so
//! compiling costs O(elements x length): a long README template took
//! milliseconds. Cutting the source at line ends outside every block,
//! comment and tag keeps each compile short, and rendering the chunks one
//! after another gives the same text as rendering the whole template (a test
//! checks this on every embedded template).

/// Chunks shorter than this are not cut further: fewer compiles.
const MIN_CHUNK: usize = 1024;

/// A piece of a template and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub first_line: usize,
    pub text: &'a str,
    /// No tags at all: copy as it is.
    pub literal: bool,
    /// Per line of `text`: plain text that handlebars would copy unchanged.
    pub plain: Vec<bool>,
}

/// Marks a placeholder for a plain line; templates never contain it (a
/// private-use character), and `compress` checks that.
const MARK: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

impl Chunk<'_> {
    /// The chunk with every plain line replaced by a short placeholder, and
    /// the lines it stands for: pest then parses a few bytes per such line
    /// instead of every character. Line numbers are unchanged.
    pub fn compress(&self) -> (String, Vec<&str>) {
        if self.text.contains(MARK) {
            return (self.text.to_string(), Vec::new());
        }
        let mut out = String::new();
        let mut originals = Vec::new();
        for (line, plain) in self.text.split_inclusive('\n').zip(&self.plain) {
            let body = line.strip_suffix('\n').unwrap_or(line);
            if *plain && body.len() > 8 {
                out.push(MARK);
                out.push_str(&originals.len().to_string());
                out.push(MARK_END);
                out.push_str(&line[body.len()..]);
                originals.push(body);
            } else {
                out.push_str(line);
            }
        }
        (out, originals)
    }
}

/// Whether `value` (the answers) holds a character of the placeholders,
/// which `expand` would take for one: such a context renders templates as
/// they are, uncompressed.
pub fn holds_marks(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains([MARK, MARK_END]),
        Value::Array(items) => items.iter().any(holds_marks),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains([MARK, MARK_END]) || holds_marks(v)),
        _ => false,
    }
}

/// Puts the lines `compress` took out back into rendered text.
pub fn expand(rendered: &str, originals: &[&str]) -> String {
    if originals.is_empty() {
        return rendered.to_string();
    }
    let mut out = String::with_capacity(rendered.len() * 2);
    let mut rest = rendered;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len_utf8()..];
        let end = after.find(MARK_END).expect("placeholders are closed");
        let index: usize = after[..end].parse().expect("placeholder index");
        out.push_str(originals[index]);
        rest = &after[end + MARK_END.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[derive(Default)]
struct Scanner {
    depth: usize,
    in_tag: bool,
    in_long_comment: bool,
    in_raw: bool,
}

impl Scanner {
    /// Advances over one line; afterwards `at_top_level` says whether a cut
    /// after this line is safe.
    fn scan(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &line[i..];
            if self.in_long_comment {
                match rest.find("--}}") {
                    Some(end) => {
                        self.in_long_comment = false;
                        i += end + 4;
                    }
                    None => return,
                }
                continue;
            }
            if self.in_raw {
                match rest.find("{{{{/") {
                    Some(at) => {
                        self.in_raw = false;
                        self.depth = self.depth.saturating_sub(1);
                        self.in_tag = true;
                        i += at + 5;
                    }
                    None => return,
                }
                continue;
            }
            if self.in_tag {
                match rest.find("}}") {
                    Some(end) => {
                        self.in_tag = false;
                        i += end + 2;
                        while line[i..].starts_with('}') {
                            i += 1;
                        }
                    }
                    None => return,
                }
                continue;
            }
            let Some(open) = rest.find("{{") else { return };
            let escaped = open > 0 && rest.as_bytes()[open - 1] == b'\\';
            i += open + 2;
            if escaped {
                continue;
            }
            let tag = &line[i..];
            if let Some(raw) = tag.strip_prefix("{{") {
                // `{{{{raw}}}}` opens a raw block; `{{{{/raw}}}}` is handled above.
                if !raw.starts_with('/') {
                    self.in_raw = true;
                    self.depth += 1;
                    i += 2;
                    if let Some(end) = line[i..].find("}}}}") {
                        i += end + 4;
                    }
                    continue;
                }
            }
            let tag = tag.trim_start_matches(['{', '~']);
            if tag.starts_with("!--") {
                self.in_long_comment = true;
                continue;
            }
            if tag.starts_with('#') {
                self.depth += 1;
            } else if tag.starts_with('/') {
                self.depth = self.depth.saturating_sub(1);
            }
            self.in_tag = true;
        }
    }

    fn at_top_level(&self) -> bool {
        self.depth == 0 && !self.in_tag && !self.in_long_comment && !self.in_raw
    }
}

/// Cuts `source` into chunks whose concatenation is `source`. Runs of lines
/// without any tag become literal chunks, which need no parsing at all
/// (pest parses plain text one character at a time).
pub fn split(source: &str) -> Vec<Chunk<'_>> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut scanner = Scanner::default();
    // cut_before[i]: a chunk may start at line i.
    let mut cut_before = vec![false; lines.len() + 1];
    let mut literal = vec![false; lines.len()];
    let mut plain = vec![false; lines.len()];
    for (i, line) in lines.iter().enumerate() {
        let top_before = scanner.at_top_level();
        let text_before = !scanner.in_tag && !scanner.in_long_comment && !scanner.in_raw;
        scanner.scan(line);
        let trims_next = line.trim_end().ends_with("~}}");
        let trimmed_by_next = lines
            .get(i + 1)
            .is_some_and(|n| n.trim_start().starts_with("{{~"));
        cut_before[i + 1] = scanner.at_top_level() && !trims_next && !trimmed_by_next;
        let trimmed_by_prev = i > 0 && lines[i - 1].trim_end().ends_with("~}}");
        plain[i] = text_before && !line.contains("{{") && !trimmed_by_prev && !trimmed_by_next;
        literal[i] = top_before && plain[i];
    }
    let mut chunks = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 1, 0);
    let plain_of = |from: usize, to: usize| plain[from..to].to_vec();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && cut_before[i] && offset > start {
            let kind_changes = literal[i] != literal[i - 1];
            let big = !literal[i - 1] && offset - start >= MIN_CHUNK;
            if kind_changes || big {
                chunks.push(Chunk {
                    first_line: start_line,
                    text: &source[start..offset],
                    literal: literal[i - 1],
                    plain: plain_of(start_line - 1, i),
                });
                start = offset;
                start_line = i + 1;
            }
        }
        offset += line.len();
    }
    if start < source.len() || chunks.is_empty() {
        let last_literal = !lines.is_empty() && literal[start_line - 1..].iter().all(|l| *l);
        chunks.push(Chunk {
            first_line: start_line,
            text: &source[start..],
            literal: last_literal,
            plain: plain_of(start_line - 1, lines.len()),
        });
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(s: &str) -> String {
        s.repeat(MIN_CHUNK / s.len() + 1)
    }

    #[test]
    fn concatenation_is_the_source() {
        let src = format!(
            "{}{{{{#if a}}}}\n{}{{{{/if}}}}\n{}",
            long("x\n"),
            long("y\n"),
            long("z\n")
        );
        let chunks = split(&src);
        assert!(chunks.len() >= 2);
        assert_eq!(chunks.iter().map(|c| c.text).collect::<String>(), src);
        for c in &chunks {
            assert_eq!(
                c.text.matches("{{#if").count(),
                c.text.matches("{{/if").count(),
                "blocks are not cut"
            );
        }
        let line_of_second = src[..src.len() - chunks.last().unwrap().text.len()]
            .matches('\n')
            .count()
            + 1;
        assert_eq!(chunks.last().unwrap().first_line, line_of_second);
    }

    #[test]
    fn lines_without_tags_are_literal() {
        let src = "plain\n{{x}}\nmore plain\n{{#if y}}\nin block\n{{/if}}\n";
        let chunks = split(src);
        let kinds: Vec<(bool, &str)> = chunks.iter().map(|c| (c.literal, c.text)).collect();
        assert_eq!(
            kinds,
            [
                (true, "plain\n"),
                (false, "{{x}}\n"),
                (true, "more plain\n"),
                (false, "{{#if y}}\nin block\n{{/if}}\n")
            ]
        );
        assert_eq!(chunks[2].first_line, 3);
    }

    #[test]
    fn never_cuts_inside_comments_tags_raw_or_whitespace_control() {
        for middle in [
            "{{!-- a\nlong\ncomment --}}\n",
            "{{json\n  x}}\n",
            "{{{{raw}}}}\n{{#if}}\n{{{{/raw}}}}\n",
            "{{x~}}\n  \n",
            "\n{{~x}}\n",
        ] {
            let src = format!("{}{middle}{}", long("a\n"), long("b\n"));
            let chunks = split(&src);
            assert_eq!(chunks.iter().map(|c| c.text).collect::<String>(), src);
            assert!(
                chunks.iter().any(|c| c.text.contains(middle.trim())),
                "{middle:?} was cut: {chunks:?}"
            );
        }
    }
}
