//! A short string that a question's `validate.regex` matches, so
//! `scaffold check` can render a template whose string question has no
//! default and refuses the usual samples.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Characters tried first in a class, for a readable sample.
const PREFERRED: &str = "a0x1-._A";

/// A string `regex` matches, when one is found by taking the first
/// alternative and the fewest repetitions everywhere (None: the regex does
/// not parse, or needs what this does not build, such as a back-reference
/// to an empty class).
pub fn matching(regex: &str) -> Option<String> {
    let hir = regex_syntax::parse(regex).ok()?;
    let mut out = String::new();
    build(&hir, &mut out)?;
    Some(out)
}

fn build(hir: &Hir, out: &mut String) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
        HirKind::Class(class) => out.push(pick(class)?),
        HirKind::Repetition(rep) => {
            for _ in 0..rep.min.min(64) {
                build(&rep.sub, out)?;
            }
        }
        HirKind::Capture(cap) => build(&cap.sub, out)?,
        HirKind::Concat(parts) => {
            for part in parts {
                build(part, out)?;
            }
        }
        HirKind::Alternation(alts) => build(alts.first()?, out)?,
    }
    Some(())
}

/// A printable character of `class`, a preferred one when it has one.
fn pick(class: &Class) -> Option<char> {
    let ranges: Vec<(char, char)> = match class {
        Class::Unicode(c) => c.ranges().iter().map(|r| (r.start(), r.end())).collect(),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .filter(|r| r.start().is_ascii())
            .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
            .collect(),
    };
    let contains = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    PREFERRED.chars().find(|&c| contains(c)).or_else(|| {
        ranges.iter().find_map(|&(lo, hi)| {
            (lo..=hi.min(char::from_u32(u32::from(lo) + 256).unwrap_or(hi)))
                .find(|c| !c.is_control() && !c.is_whitespace())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_match_their_regex() {
        for regex in [
            r"^[A-Z]{3}-[0-9]{4}$",
            r"^[^\r\n]+$",
            r"^(prod|staging)$",
            r"^[a-z][a-z0-9-]*\.example\.org$",
            r"^\d+\.\d+$",
            r"^[[:upper:]]+_[[:digit:]]{2}$",
        ] {
            let sample = matching(regex).unwrap_or_else(|| panic!("{regex}"));
            assert!(
                regex::Regex::new(regex).unwrap().is_match(&sample),
                "{regex}: {sample:?}"
            );
        }
    }
}
