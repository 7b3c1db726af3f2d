//! Bounds on YAML that comes from outside the binary (records, team
//! manifests, answers files, the user config), checked before the parser
//! sees it: YAML parsers spend time superlinear in the nesting depth, and
//! a few hundred kilobytes of `[` cost minutes of CPU before the parser
//! would refuse them.

/// Deeper than any file the tool reads needs; far below where parsing
/// gets slow.
pub const MAX_DEPTH: usize = 32;

/// Refuses `text` when it nests flow collections (`[`, `{`) more than
/// `MAX_DEPTH` levels deep, with the sentence that says so. Block nesting
/// needs no check: the parser refuses `- - - …` at its recursion limit
/// in microseconds, and nesting by indentation costs quadratic bytes, so
/// the size limits of the files read bound it (a 64 KiB file nests at
/// most about 360 levels).
pub fn check_depth(text: &str) -> Result<(), String> {
    if flow_depth(text) > MAX_DEPTH {
        return Err(format!("nested more than {MAX_DEPTH} levels deep"));
    }
    Ok(())
}

/// The deepest nesting of `[`/`{` outside quoted strings and comments.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for line in text.lines() {
        let mut quote = None;
        let mut after_space = true;
        for c in line.chars() {
            let comment = c == '#' && after_space;
            after_space = c.is_whitespace();
            match (quote, c) {
                (None, '#') if comment => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings_and_comments() {
        assert_eq!(flow_depth("a: [1, {b: [2]}]\n"), 3);
        assert_eq!(flow_depth("a: \"[[[[\" # [[[[\n"), 0);
        assert_eq!(flow_depth("a: [x#, [[y]]]\n"), 3);
        assert_eq!(flow_depth(&"[".repeat(1000)), 1000);
    }

    #[test]
    fn deep_flow_nesting_is_refused_and_the_tools_own_files_pass() {
        assert!(check_depth(&format!("a: {}x\n", "[".repeat(33))).is_err());
        check_depth(&format!("a: {}x\n", "[".repeat(32))).unwrap();
        // Every embedded manifest and host fact file is well within it.
        for text in [
            include_str!("../scaffolds/ml/scaffold.yaml"),
            include_str!("host/data/host.yaml"),
        ] {
            check_depth(text).unwrap();
        }
    }
}
