//! What `init` does with each rendered file in a directory that already
//! has files: create it, skip it (identical), keep the user's, merge lines
//! into it, overwrite it (named with `--overwrite`), or refuse (a conflict).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::RenderedFile;
use crate::fs::write::{Probe, probe};

/// What `init` would do with each rendered file.
#[derive(Debug, Default)]
pub struct InitPlan {
    pub create: Vec<PathBuf>,
    pub identical: Vec<PathBuf>,
    pub conflicts: Vec<PathBuf>,
    /// The user's file stays in place of the scaffold's (`init.keep`).
    pub kept: Vec<PathBuf>,
    /// `merge_lines` files that already have every line of the scaffold's.
    pub complete: Vec<PathBuf>,
    /// The user's file with the scaffold's missing lines appended.
    pub merged: Vec<(PathBuf, Vec<u8>)>,
    /// Conflicting files named with `--overwrite`: the scaffold's version goes in.
    pub overwritten: Vec<PathBuf>,
    /// What each kept or merged path holds once `init` is done, where that
    /// is not the scaffold's version (what git must record).
    pub contents: std::collections::BTreeMap<PathBuf, Vec<u8>>,
}

/// Which existing files `init` keeps or merges instead of refusing, and
/// which conflicts the user chose to overwrite.
pub struct InitPolicy {
    pub keep: Vec<globset::GlobMatcher>,
    pub merge_lines: Vec<globset::GlobMatcher>,
    pub overwrite: Vec<PathBuf>,
}

impl InitPolicy {
    /// The policy of `rules` (globs `Manifest::parse` has already checked).
    pub fn new(rules: &crate::scaffold::manifest::InitRules, overwrite: &[PathBuf]) -> InitPolicy {
        let compile = |globs: &[String]| {
            globs
                .iter()
                .filter_map(|g| crate::scaffold::render::compile_glob(g).ok())
                .collect()
        };
        InitPolicy {
            keep: compile(&rules.keep),
            merge_lines: compile(&rules.merge_lines),
            overwrite: overwrite.iter().map(|p| normalized(p)).collect(),
        }
    }
}

/// `./a//b` as `a/b`: how `--overwrite` paths compare with output paths.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Refuses an `--overwrite` path the scaffold does not write: a typo must
/// not pass silently, and nothing else may be overwritten.
pub fn check_overwrites(overwrite: &[PathBuf], files: &[RenderedFile]) -> Result<()> {
    for path in overwrite {
        let rel = normalized(path);
        if !files.iter().any(|f| f.path == rel) {
            return Err(Error::UnknownOverwrite { path: path.clone() });
        }
    }
    Ok(())
}

/// `existing` with the lines of `scaffold` it lacks appended, or None when
/// it has them all. Lines compare without trailing white space.
pub fn merge_lines(existing: &[u8], scaffold: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(existing);
    let have: std::collections::BTreeSet<&str> = text.lines().map(str::trim_end).collect();
    let theirs = String::from_utf8_lossy(scaffold);
    let mut added = std::collections::BTreeSet::new();
    let missing: Vec<&str> = theirs
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !have.contains(l) && added.insert(*l))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = existing.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    for line in missing {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Some(out)
}

/// Compares `files` with what is in `dest`, refusing to pass through a
/// symbolic link or anything that is not a plain directory.
pub fn plan_init(dest: &Path, files: &[RenderedFile], policy: &InitPolicy) -> Result<InitPlan> {
    let mut plan = InitPlan::default();
    for file in files {
        let rel = &file.path;
        let rel_text = rel.to_string_lossy();
        match probe(dest, rel)? {
            Probe::Absent => plan.create.push(rel.clone()),
            Probe::File => {
                let path = dest.join(rel);
                let existing = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
                if existing == file.contents {
                    plan.identical.push(rel.clone());
                } else if policy.overwrite.contains(rel) {
                    plan.overwritten.push(rel.clone());
                } else if policy.keep.iter().any(|g| g.is_match(&*rel_text)) {
                    plan.kept.push(rel.clone());
                    plan.contents.insert(rel.clone(), existing);
                } else if policy.merge_lines.iter().any(|g| g.is_match(&*rel_text)) {
                    match merge_lines(&existing, &file.contents) {
                        Some(merged) => {
                            plan.contents.insert(rel.clone(), merged.clone());
                            plan.merged.push((rel.clone(), merged));
                        }
                        None => {
                            plan.complete.push(rel.clone());
                            plan.contents.insert(rel.clone(), existing);
                        }
                    }
                } else {
                    plan.conflicts.push(rel.clone());
                }
            }
            Probe::Dir | Probe::Special | Probe::UnderFile(_) => plan.conflicts.push(rel.clone()),
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_appends_only_missing_lines_once() {
        let merged = merge_lines(
            b"*.csv\ntarget/  \n",
            b"# Rust\ntarget/\n.direnv/\n\n.direnv/\n",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(merged).unwrap(),
            "*.csv\ntarget/  \n# Rust\n.direnv/\n"
        );
        let merged = merge_lines(b"*.csv", b".direnv/\n").unwrap();
        assert_eq!(merged, b"*.csv\n.direnv/\n");
        assert_eq!(merge_lines(b"a\nb\n", b"b\na\n"), None);
    }

    #[test]
    fn overwrite_paths_compare_normalized() {
        let file = RenderedFile {
            path: "nix/host.nix".into(),
            contents: Vec::new(),
            executable: false,
        };
        assert!(check_overwrites(&["./nix//host.nix".into()], std::slice::from_ref(&file)).is_ok());
        let err = check_overwrites(&["nix/other.nix".into()], &[file]).unwrap_err();
        assert!(err.to_string().contains("nix/other.nix"), "{err}");
    }
}
