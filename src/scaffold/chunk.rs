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

/// Cuts `source` into chunks whose concatenation is `source`.
pub fn split(source: &str) -> Vec<Chunk<'_>> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut chunks = Vec::new();
    let mut scanner = Scanner::default();
    let mut start = 0; // byte offset of the current chunk
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in lines.iter().enumerate() {
        scanner.scan(line);
        offset += line.len();
        let next = lines.get(index + 1);
        let whitespace_control = line.trim_end().ends_with("~}}")
            || next.is_some_and(|n| n.trim_start().starts_with("{{~"));
        if offset - start >= MIN_CHUNK
            && next.is_some()
            && scanner.at_top_level()
            && !whitespace_control
        {
            chunks.push(Chunk {
                first_line: start_line,
                text: &source[start..offset],
            });
            start = offset;
            start_line = index + 2;
        }
    }
    if start < source.len() || chunks.is_empty() {
        chunks.push(Chunk {
            first_line: start_line,
            text: &source[start..],
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
