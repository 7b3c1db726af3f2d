//! How `.nixcuda.yaml` writes a template source and reads it back:
//! `embedded`, `dir:PATH` or `git+URL`. A directory in the same git
//! repository as the project is written relative to the project root
//! (`dir:../templates/team`), so the record means the same in every clone
//! and after the repository moves; any other directory is written absolute.

use std::path::{Component, Path, PathBuf};

use super::{TemplateSource, check_git_url};

impl TemplateSource {
    /// How `.nixcuda.yaml` records the source: `embedded`, `dir:/abs/path`
    /// or `git+URL`.
    pub fn record_string(&self) -> String {
        match self {
            TemplateSource::Embedded => "embedded".into(),
            TemplateSource::Dir(path) => format!("dir:{}", path.display()),
            TemplateSource::Git { url, .. } => format!("git+{url}"),
        }
    }

    /// The inverse of `record_string` (the recorded source has no `#REF`: the
    /// record pins the commit instead). A record comes with a cloned
    /// project, so it is held to the same rules as `--template`.
    pub fn from_record(text: &str) -> std::result::Result<TemplateSource, String> {
        if text == "embedded" || text.is_empty() {
            Ok(TemplateSource::Embedded)
        } else if let Some(path) = text.strip_prefix("dir:") {
            Ok(TemplateSource::Dir(PathBuf::from(path)))
        } else if let Some(url) = text.strip_prefix("git+") {
            check_git_url(url)?;
            Ok(TemplateSource::Git {
                url: url.to_string(),
                rev: None,
            })
        } else {
            Err("expected `embedded`, `dir:PATH` or `git+URL`".into())
        }
    }

    /// `record_string` for the project at `root` (which need not exist yet):
    /// relative to `root` when the template directory is in the repository
    /// the project is in.
    pub fn record_string_at(&self, root: &Path) -> String {
        match self {
            TemplateSource::Dir(path) => match relative_in_same_repository(path, root) {
                Some(rel) => format!("dir:{}", rel.display()),
                None => self.record_string(),
            },
            _ => self.record_string(),
        }
    }

    /// `from_record` for the project at `root`: a relative `dir:` is read
    /// from the project root, not from wherever the command runs.
    pub fn from_record_at(text: &str, root: &Path) -> Result<TemplateSource, String> {
        Ok(match TemplateSource::from_record(text)? {
            TemplateSource::Dir(path) if path.is_relative() => {
                let joined = root.join(&path);
                TemplateSource::Dir(joined.canonicalize().unwrap_or_else(|_| normalize(&joined)))
            }
            other => other,
        })
    }
}

/// `template` relative to `root` when both are in one git work tree.
fn relative_in_same_repository(template: &Path, root: &Path) -> Option<PathBuf> {
    let template = template.canonicalize().ok()?;
    let root = canonical_ancestor(root)?;
    let repository = super::git::work_tree_of(&template)?;
    let existing = nearest_existing(&root)?;
    if super::git::work_tree_of(existing)? != repository {
        return None;
    }
    Some(relative(&template, &root))
}

/// `path` with its nearest existing ancestor canonicalized (a new project's
/// directory does not exist yet when its record is made).
fn canonical_ancestor(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let existing = nearest_existing(&absolute)?;
    let rest = absolute.strip_prefix(existing).ok()?;
    Some(existing.canonicalize().ok()?.join(rest))
}

fn nearest_existing(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.exists())
}

/// The path from `base` to `target`, both absolute and normalized.
fn relative(target: &Path, base: &Path) -> PathBuf {
    let target: Vec<Component> = target.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in &target[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Removes `.` and resolves `..` without touching the file system (the
/// directory may be gone; the error that follows names the path).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        let rel = |t: &str, b: &str| relative(Path::new(t), Path::new(b));
        assert_eq!(
            rel("/w/templates/team", "/w/projects/p"),
            Path::new("../../templates/team")
        );
        assert_eq!(rel("/w/p/tpl", "/w/p"), Path::new("tpl"));
        assert_eq!(rel("/w/p", "/w/p"), Path::new("."));
        assert_eq!(normalize(Path::new("/w/p/../../t/./x")), Path::new("/t/x"));
    }

    #[test]
    fn relative_records_are_read_from_the_project_root() {
        let root = Path::new("/nowhere/projects/p");
        assert_eq!(
            TemplateSource::from_record_at("dir:../../templates/team", root),
            Ok(TemplateSource::Dir("/nowhere/templates/team".into()))
        );
        assert_eq!(
            TemplateSource::from_record_at("dir:/abs/t", root),
            Ok(TemplateSource::Dir("/abs/t".into()))
        );
    }

    #[test]
    fn a_directory_outside_the_project_repository_stays_absolute() {
        let dir = std::env::temp_dir().join(format!("nixcuda-record-{}", std::process::id()));
        let template = dir.join("t");
        std::fs::create_dir_all(&template).unwrap();
        // A temp directory inside a repository cannot show the case.
        if crate::scaffold::source::git::work_tree_of(&dir).is_some() {
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        let source = TemplateSource::Dir(template.clone());
        // No repository at all: absolute.
        let recorded = source.record_string_at(&dir.join("p"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(recorded, format!("dir:{}", template.display()));
    }
}
