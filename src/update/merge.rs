//! Three-way merge of one file with libgit2's `git_merge_file` (the
//! algorithm behind `git merge-file`), through git2's `merge_file`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub content: Vec<u8>,
    /// False when the result holds conflict markers.
    pub clean: bool,
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// Merges the user's `ours` and the new scaffold's `theirs` over `base`.
/// Conflicts get the markers editors know: `<<<<<<< ours`, `=======`,
/// `>>>>>>> {their_label}`. Binary files are not merged: the user's copy
/// is kept and reported as a conflict.
pub fn merge3(
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    path: &str,
    their_label: &str,
) -> Result<Merged> {
    if ours == theirs || base == theirs {
        return Ok(Merged {
            content: ours.to_vec(),
            clean: true,
        });
    }
    if base == ours {
        return Ok(Merged {
            content: theirs.to_vec(),
            clean: true,
        });
    }
    if !(is_text(base) && is_text(ours) && is_text(theirs)) {
        return Ok(Merged {
            content: ours.to_vec(),
            clean: false,
        });
    }
    let input = |content| {
        let mut i = git2::MergeFileInput::new();
        i.content(content).path(path);
        i
    };
    // git2's `merge_file` skips libgit2's one-time initialisation, which
    // its other entry points do; without it the merge fails in a process
    // that has used no other git2 call yet.
    let _ = git2::Oid::from_str(&"0".repeat(40));
    let (b, o, t) = (input(base), input(ours), input(theirs));
    let mut opts = git2::MergeFileOptions::new();
    opts.ancestor_label("base")
        .our_label("ours")
        .their_label(their_label);
    let result =
        git2::merge_file(&b, &o, &t, Some(&mut opts)).map_err(Error::git("merge a file"))?;
    Ok(Merged {
        content: result.content().to_vec(),
        clean: result.is_automergeable(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "a\nb\nc\nd\ne\nf\ng\n";

    #[test]
    fn edits_in_different_places_merge_cleanly() {
        let ours = BASE.replace("b\n", "b (mine)\n");
        let theirs = BASE.replace("f\n", "f (new)\n");
        let m = merge3(
            BASE.as_bytes(),
            ours.as_bytes(),
            theirs.as_bytes(),
            "x",
            "ml@1.1.0",
        )
        .unwrap();
        assert!(m.clean);
        assert_eq!(
            String::from_utf8(m.content).unwrap(),
            "a\nb (mine)\nc\nd\ne\nf (new)\ng\n"
        );
    }

    #[test]
    fn overlapping_edits_get_conflict_markers() {
        let ours = BASE.replace("d\n", "d (mine)\n");
        let theirs = BASE.replace("d\n", "d (new)\n");
        let m = merge3(
            BASE.as_bytes(),
            ours.as_bytes(),
            theirs.as_bytes(),
            "x",
            "ml@1.1.0",
        )
        .unwrap();
        assert!(!m.clean);
        let text = String::from_utf8(m.content).unwrap();
        assert!(
            text.contains("<<<<<<< ours\nd (mine)\n=======\nd (new)\n>>>>>>> ml@1.1.0\n"),
            "{text}"
        );
    }

    #[test]
    fn trivial_cases_need_no_merge() {
        let b = b"x\n";
        assert_eq!(merge3(b, b, b"y\n", "x", "t").unwrap().content, b"y\n");
        assert_eq!(merge3(b, b"y\n", b, "x", "t").unwrap().content, b"y\n");
        assert!(!merge3(b"\0a", b"\0b", b"\0c", "x", "t").unwrap().clean);
    }
}
