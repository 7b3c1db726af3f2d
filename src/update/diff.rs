//! `update --dry-run`: what `apply` would change, as a git diff of the
//! work tree (`diff --git` headers, `new file mode`, `deleted file mode`,
//! `rename from`/`rename to`, mode changes, binary patches), so
//! `git apply` takes it. Built with libgit2 from two trees in memory: the
//! changed paths as they are now, and as they would be.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::{DiffFindOptions, DiffFormat, DiffOptions, Repository};

use super::UpdatePlan;
use crate::error::{Error, Result};
use crate::fs::write::FileOp;

/// One side of a path: contents and executable bit, or absent.
type Side = Option<(Vec<u8>, bool)>;

/// The diff of `plan` against the work tree; with `color`, coloured as git
/// colours it on a terminal.
pub fn diff(plan: &UpdatePlan, color: bool) -> Result<String> {
    let repo = memory_repository()?;
    let ops = plan.ops();
    // Declared renames are diffed pair by pair, so they show as renames
    // however much the user edited the file; the rest as git would.
    let renames: Vec<(&Path, &Path)> = plan
        .decisions
        .iter()
        .filter_map(|d| Some((d.from.as_deref()?, d.path.as_path())))
        .filter(|(from, to)| ops.iter().any(|op| op.path() == *from) && from != to)
        .collect();
    let in_rename = |p: &Path| renames.iter().any(|(from, to)| p == *from || p == *to);
    let mut out = String::new();
    let rest: Vec<&FileOp> = ops.iter().filter(|op| !in_rename(op.path())).collect();
    out.push_str(&diff_ops(&repo, &plan.root, &rest, None, color)?);
    for (from, to) in &renames {
        let pair: Vec<&FileOp> = ops
            .iter()
            .filter(|op| op.path() == *from || op.path() == *to)
            .collect();
        out.push_str(&diff_ops(&repo, &plan.root, &pair, Some(0), color)?);
    }
    Ok(out)
}

/// A repository whose objects live in memory only: nothing is written.
fn memory_repository() -> Result<Repository> {
    let odb = git2::Odb::new().map_err(Error::git("open an object database"))?;
    odb.add_new_mempack_backend(1)
        .map_err(Error::git("open an object database"))?;
    Repository::from_odb(odb).map_err(Error::git("open an object database"))
}

fn diff_ops(
    repo: &Repository,
    root: &Path,
    ops: &[&FileOp],
    rename_threshold: Option<u16>,
    color: bool,
) -> Result<String> {
    if ops.is_empty() {
        return Ok(String::new());
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    for op in ops {
        let now = current(root, op.path())?;
        let next = match op {
            FileOp::Delete { .. } => None,
            // The journal keeps the mode of a file that is there.
            FileOp::Write {
                contents,
                executable,
                ..
            } => Some((
                contents.clone(),
                now.as_ref().map_or(*executable, |(_, x)| *x),
            )),
        };
        before.push((op.path().to_path_buf(), now));
        after.push((op.path().to_path_buf(), next));
    }
    let old = tree(repo, &before)?;
    let new = tree(repo, &after)?;
    let mut opts = DiffOptions::new();
    opts.show_binary(true);
    let mut diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
        .map_err(Error::git("diff the update"))?;
    let mut find = DiffFindOptions::new();
    find.renames(true);
    if let Some(threshold) = rename_threshold {
        find.rename_threshold(threshold);
    }
    diff.find_similar(Some(&mut find))
        .map_err(Error::git("find renames"))?;
    print(&diff, color)
}

fn current(root: &Path, rel: &Path) -> Result<Side> {
    let path = root.join(rel);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => {
            let contents = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            Ok(Some((contents, meta.permissions().mode() & 0o111 != 0)))
        }
        _ => Ok(None),
    }
}

fn tree<'r>(repo: &'r Repository, files: &[(PathBuf, Side)]) -> Result<git2::Tree<'r>> {
    let mut index = git2::Index::new().map_err(Error::git("build a tree"))?;
    for (path, side) in files {
        let Some((contents, executable)) = side else {
            continue;
        };
        let id = repo.blob(contents).map_err(Error::git("write a blob"))?;
        let time = git2::IndexTime::new(0, 0);
        let entry = git2::IndexEntry {
            ctime: time,
            mtime: time,
            dev: 0,
            ino: 0,
            mode: if *executable { 0o100755 } else { 0o100644 },
            uid: 0,
            gid: 0,
            file_size: u32::try_from(contents.len()).unwrap_or(u32::MAX),
            id,
            flags: 0,
            flags_extended: 0,
            path: path.to_string_lossy().into_owned().into_bytes(),
        };
        index.add(&entry).map_err(Error::git("build a tree"))?;
    }
    let id = index
        .write_tree_to(repo)
        .map_err(Error::git("build a tree"))?;
    repo.find_tree(id).map_err(Error::git("build a tree"))
}

const RESET: &str = "\x1b[m";

/// `@@ -1,2 +1,3 @@ context`: git colours the range, not the context.
fn hunk_header(text: &str) -> String {
    let end = text
        .get(2..)
        .and_then(|rest| rest.find("@@"))
        .map_or(text.trim_end().len(), |i| i + 4);
    let (range, rest) = text.split_at(end.min(text.len()));
    format!("\x1b[36m{range}{RESET}{rest}")
}

/// The patch text, each line coloured as `git diff --color` does.
fn print(diff: &git2::Diff, color: bool) -> Result<String> {
    let mut out = String::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        let origin = line.origin();
        let text = String::from_utf8_lossy(line.content());
        let (prefix, paint) = match origin {
            '+' => ("+", "\x1b[32m"),
            '-' => ("-", "\x1b[31m"),
            ' ' => (" ", ""),
            'F' => ("", "\x1b[1m"),
            _ => ("", ""),
        };
        if color && origin == 'H' {
            out.push_str(&hunk_header(&text));
            return true;
        }
        if !color || paint.is_empty() {
            out.push_str(prefix);
            out.push_str(&text);
            return true;
        }
        for l in text.split_inclusive('\n') {
            let (body, newline) = match l.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (l, ""),
            };
            out.push_str(&format!("{paint}{prefix}{body}{RESET}{newline}"));
        }
        true
    })
    .map_err(Error::git("format the diff"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &str, contents: &[u8], executable: bool) -> FileOp {
        FileOp::Write {
            path: PathBuf::from(path),
            contents: contents.to_vec(),
            executable,
        }
    }

    fn diff_of(root: &Path, ops: &[FileOp], color: bool) -> String {
        let repo = memory_repository().unwrap();
        let ops: Vec<&FileOp> = ops.iter().collect();
        diff_ops(&repo, root, &ops, Some(0), color).unwrap()
    }

    #[test]
    fn modes_are_shown_as_git_shows_them() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("run.sh"), "echo old\n").unwrap();
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let created = diff_of(root, &[write("new.sh", b"echo\n", true)], false);
        assert!(created.contains("new file mode 100755\n"), "{created}");
        let deleted = diff_of(
            root,
            &[FileOp::Delete {
                path: "run.sh".into(),
            }],
            false,
        );
        assert!(deleted.contains("deleted file mode 100755\n"), "{deleted}");
        // A file that is there keeps its mode, whatever the template says.
        let kept = diff_of(root, &[write("run.sh", b"echo new\n", false)], false);
        assert!(
            kept.contains("index ") && kept.contains(" 100755\n"),
            "{kept}"
        );
        assert!(!kept.contains("new mode"), "{kept}");
        // Moved to a new path, a file takes the template's mode.
        let moved = diff_of(
            root,
            &[
                FileOp::Delete {
                    path: "run.sh".into(),
                },
                write("bin/run.sh", b"echo old\n", false),
            ],
            false,
        );
        assert!(
            moved.contains("old mode 100755\nnew mode 100644\n")
                && moved.contains("rename from run.sh\nrename to bin/run.sh\n"),
            "{moved}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.txt"), "old\n").unwrap();
        let ops = [write("a.txt", b"new\n", false)];
        let plain = diff_of(tmp.path(), &ops, false);
        assert!(
            plain.contains("\n-old\n+new\n") && !plain.contains('\x1b'),
            "{plain}"
        );
        let coloured = diff_of(tmp.path(), &ops, true);
        assert!(
            coloured.contains("\x1b[31m-old\x1b[m\n\x1b[32m+new\x1b[m\n"),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("\x1b[1mdiff --git a/a.txt b/a.txt\x1b[m\n"),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("\x1b[36m@@ -1 +1 @@\x1b[m\n"),
            "{coloured:?}"
        );
    }
}
