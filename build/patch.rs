//! Applies a stored scaffold version: a `git diff` (with renames) from the
//! next newer version to this one. Application is strict (every hunk at its
//! recorded line, every context line equal), because a stored difference is
//! made from exactly the tree it is applied to: anything else is a broken
//! store, not something to fuzz around.
//!
//! Shared by `build.rs` and the integration tests (`#[path]`), so it depends
//! on nothing but std.

use std::collections::BTreeMap;

/// A tree of text files by `/`-separated path.
pub type Tree = BTreeMap<String, String>;

/// One file section of a multi-file diff.
#[derive(Debug, Default)]
struct FileDiff {
    old_path: Option<String>,
    new_path: Option<String>,
    hunks: Vec<Hunk>,
}

#[derive(Debug)]
struct Hunk {
    old_start: usize,
    old_len: usize,
    /// (' ' | '-' | '+', line with its newline unless the file lacks one).
    lines: Vec<(char, String)>,
}

/// Applies `patch` to `tree` in place.
pub fn apply(tree: &mut Tree, patch: &str) -> Result<(), String> {
    let files = parse(patch)?;
    // Sources are read before any section writes: a rename onto a path that
    // another section vacates must see the old tree.
    let mut removed = Vec::new();
    let mut written = Vec::new();
    for file in &files {
        let base = match &file.old_path {
            Some(path) => tree
                .get(path)
                .cloned()
                .ok_or_else(|| format!("{path}: not in the tree the difference applies to"))?,
            None => String::new(),
        };
        let result = apply_hunks(&base, &file.hunks).map_err(|e| {
            let name = file.new_path.as_ref().or(file.old_path.as_ref());
            format!("{}: {e}", name.map(String::as_str).unwrap_or("?"))
        })?;
        if let Some(old) = &file.old_path
            && file.new_path.as_ref() != Some(old)
        {
            removed.push(old.clone());
        }
        match &file.new_path {
            Some(new) => written.push((new.clone(), result)),
            None if result.is_empty() => {}
            None => return Err(format!("{:?}: deleted but not emptied", file.old_path)),
        }
    }
    for path in removed {
        tree.remove(&path);
    }
    for (path, contents) in written {
        tree.insert(path, contents);
    }
    Ok(())
}

fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Result<&'a str, String> {
    if path.starts_with('"') {
        return Err(format!(
            "quoted path {path}: keep scaffold paths plain ASCII"
        ));
    }
    path.strip_prefix(prefix)
        .ok_or_else(|| format!("path {path:?} lacks the `{prefix}` prefix"))
}

fn parse(patch: &str) -> Result<Vec<FileDiff>, String> {
    let mut files: Vec<FileDiff> = Vec::new();
    let mut lines = patch.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let text = line.trim_end_matches('\n');
        if let Some(rest) = text.strip_prefix("diff --git ") {
            let (a, b) = rest
                .split_once(" b/")
                .ok_or_else(|| format!("cannot read the header `{text}`"))?;
            files.push(FileDiff {
                old_path: Some(strip_prefix(a, "a/")?.to_string()),
                new_path: Some(b.to_string()),
                hunks: Vec::new(),
            });
            continue;
        }
        let file = files
            .last_mut()
            .ok_or_else(|| format!("text before the first `diff --git`: `{text}`"))?;
        if text.starts_with("new file mode") {
            file.old_path = None;
        } else if text.starts_with("deleted file mode") {
            file.new_path = None;
        } else if let Some(from) = text.strip_prefix("rename from ") {
            file.old_path = Some(from.to_string());
        } else if let Some(to) = text.strip_prefix("rename to ") {
            file.new_path = Some(to.to_string());
        } else if text.starts_with("@@ ") {
            let hunk = parse_hunk(text, &mut lines)?;
            file.hunks.push(hunk);
        } else if text.starts_with("old mode") || text.starts_with("new mode") {
            return Err(format!("mode changes are not stored: `{text}`"));
        } else if text.starts_with("Binary files") || text.starts_with("GIT binary patch") {
            return Err("binary files cannot be stored as differences".to_string());
        }
        // `index`, `similarity index`, `---` and `+++` add nothing the
        // `diff --git` and rename lines have not said.
    }
    Ok(files)
}

fn parse_range(text: &str) -> Result<(usize, usize), String> {
    let (start, len) = text.split_once(',').unwrap_or((text, "1"));
    let number = |s: &str| s.parse::<usize>().map_err(|e| format!("`{text}`: {e}"));
    Ok((number(start)?, number(len)?))
}

fn parse_hunk<'a>(
    header: &str,
    lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
) -> Result<Hunk, String> {
    let ranges = header
        .strip_prefix("@@ -")
        .and_then(|r| r.split_once(" @@"))
        .map(|(r, _)| r)
        .ok_or_else(|| format!("cannot read the hunk header `{header}`"))?;
    let (old, new) = ranges
        .split_once(" +")
        .ok_or_else(|| format!("cannot read the hunk header `{header}`"))?;
    let (old_start, old_len) = parse_range(old)?;
    let (_, new_len) = parse_range(new)?;
    let mut hunk = Hunk {
        old_start,
        old_len,
        lines: Vec::new(),
    };
    let (mut old_seen, mut new_seen) = (0, 0);
    while old_seen < old_len
        || new_seen < new_len
        || lines.peek().is_some_and(|l| l.starts_with('\\'))
    {
        let line = lines
            .next()
            .ok_or_else(|| format!("hunk `{header}` ends early"))?;
        let mut chars = line.chars();
        let kind = chars.next().unwrap_or(' ');
        let body = chars.as_str().to_string();
        match kind {
            '\\' => {
                // "\ No newline at end of file" belongs to the line before.
                let last = hunk
                    .lines
                    .last_mut()
                    .ok_or_else(|| format!("hunk `{header}` starts with `\\`"))?;
                if last.1.ends_with('\n') {
                    last.1.pop();
                }
                continue;
            }
            ' ' => {
                old_seen += 1;
                new_seen += 1;
            }
            '-' => old_seen += 1,
            '+' => new_seen += 1,
            other => return Err(format!("hunk `{header}`: unexpected line kind {other:?}")),
        }
        hunk.lines.push((kind, body));
    }
    if old_seen != old_len || new_seen != new_len {
        return Err(format!("hunk `{header}` has the wrong line counts"));
    }
    Ok(hunk)
}

fn apply_hunks(base: &str, hunks: &[Hunk]) -> Result<String, String> {
    let source: Vec<&str> = base.split_inclusive('\n').collect();
    let mut out = String::with_capacity(base.len());
    let mut next = 0; // index of the next source line not yet copied
    for hunk in hunks {
        // `-5,0` inserts after line 5; `-5,3` replaces lines 5..=7.
        let start = if hunk.old_len == 0 {
            hunk.old_start
        } else {
            hunk.old_start.saturating_sub(1)
        };
        if start < next || start > source.len() {
            return Err(format!(
                "hunk at line {} is out of order or past the end",
                hunk.old_start
            ));
        }
        for line in &source[next..start] {
            out.push_str(line);
        }
        next = start;
        for (kind, text) in &hunk.lines {
            if matches!(kind, ' ' | '-') {
                let have = source.get(next).copied().unwrap_or_default();
                if have != text {
                    return Err(format!(
                        "line {}: the stored difference expects {text:?}, the tree has {have:?}",
                        next + 1
                    ));
                }
                next += 1;
            }
            if matches!(kind, ' ' | '+') {
                out.push_str(text);
            }
        }
    }
    for line in &source[next..] {
        out.push_str(line);
    }
    Ok(out)
}
