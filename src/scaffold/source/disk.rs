//! The one reader of template trees on disk: team template directories, the
//! directory `scaffold check` lints, and the tests' scaffold-set hook all go
//! through it, so every one is held to the same limits and path rules.
//! Links, devices and FIFOs are refused rather than followed or read.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::limits::{Budget, MAX_FILE_BYTES, check_template_path};
use crate::error::{Error, Result, SourceError};
use crate::scaffold::{Scaffold, ScaffoldSource, TemplateFile};

/// The scaffolds of a team template directory: its root, or its `<id>/`
/// sub-directories.
pub fn read_disk(root: &Path) -> Result<Vec<Scaffold>> {
    if is_plain_file(&root.join("scaffold.yaml"))? {
        return Ok(vec![read_scaffold(root)?]);
    }
    let mut out = Vec::new();
    for sub in read_dir_sorted(root)? {
        let meta = std::fs::symlink_metadata(&sub).map_err(|e| Error::io("inspect", &sub, e))?;
        if meta.is_dir() && is_plain_file(&sub.join("scaffold.yaml"))? {
            out.push(read_scaffold(&sub)?);
        }
    }
    if out.is_empty() {
        return Err(Error::from(SourceError::TemplateSpec {
            spec: root.display().to_string(),
            message: "no `scaffold.yaml` at its root or in any `<id>/` sub-directory".into(),
        }));
    }
    Ok(out)
}

/// The scaffolds of a directory laid out as the embedded ones are:
/// `<id>/<version>/scaffold.yaml`; `skip` names `<id>` directories that
/// hold something else.
pub fn read_scaffold_set(root: &Path, skip: impl Fn(&Path) -> bool) -> Result<Vec<Scaffold>> {
    let mut scaffolds = Vec::new();
    for id_dir in read_dir_sorted(root)? {
        if !id_dir.is_dir() || skip(&id_dir) {
            continue;
        }
        for version_dir in read_dir_sorted(&id_dir)? {
            if !version_dir.is_dir() {
                continue;
            }
            if !is_plain_file(&version_dir.join("scaffold.yaml"))? {
                return Err(Error::Manifest {
                    file: version_dir.join("scaffold.yaml").display().to_string(),
                    line: None,
                    message: "missing".into(),
                });
            }
            scaffolds.push(read_scaffold(&version_dir)?);
        }
    }
    Ok(scaffolds)
}

/// True for a regular file; an error for a link; false when absent.
fn is_plain_file(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(false),
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::UnsafePath {
            path: path.display().to_string(),
            reason: "templates may not contain symbolic links".into(),
        }),
        Ok(meta) => Ok(meta.is_file()),
    }
}

/// One scaffold: `dir/scaffold.yaml` and the tree under `dir/template/`.
fn read_scaffold(dir: &Path) -> Result<Scaffold> {
    let origin = dir.display().to_string();
    let manifest_path = dir.join("scaffold.yaml");
    let bytes = read_limited(&manifest_path, &mut Budget::new())?;
    let manifest = super::parse_manifest(&manifest_path.display().to_string(), bytes)?;
    let mut files = Vec::new();
    let template = dir.join("template");
    match std::fs::symlink_metadata(&template) {
        Err(_) => {}
        Ok(meta) if meta.is_dir() => {
            let mut budget = Budget::new();
            collect(&origin, &template, &template, &mut files, &mut budget)?;
        }
        Ok(_) => {
            return Err(Error::UnsafePath {
                path: template.display().to_string(),
                reason: "`template` must be a plain directory (not a link or a file)".into(),
            });
        }
    }
    Ok(Scaffold {
        manifest,
        origin,
        files,
        source: ScaffoldSource::default(),
    })
}

fn collect(
    origin: &str,
    dir: &Path,
    root: &Path,
    out: &mut Vec<TemplateFile>,
    budget: &mut Budget,
) -> Result<()> {
    for path in read_dir_sorted(dir)? {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("inspect", &path, e))?;
        let rel = slash_relative(&path, root)?;
        check_template_path(origin, &rel)?;
        if meta.file_type().is_symlink() {
            return Err(Error::UnsafePath {
                path: path.display().to_string(),
                reason: "templates may not contain symbolic links".into(),
            });
        } else if meta.is_dir() {
            collect(origin, &path, root, out, budget)?;
        } else if meta.is_file() {
            let contents = read_limited(&path, budget)?;
            out.push(TemplateFile {
                path: rel,
                contents: Cow::Owned(contents),
                executable: is_executable(&meta),
            });
        } else {
            return Err(Error::UnsafePath {
                path: path.display().to_string(),
                reason: "templates may hold only plain files and directories (no devices, sockets or FIFOs)".into(),
            });
        }
    }
    Ok(())
}

/// `path` below `root` with `/` separators; template paths must be UTF-8
/// because they are rendered as text.
fn slash_relative(path: &Path, root: &Path) -> Result<String> {
    let parts = path
        .strip_prefix(root)
        .expect("inside its root")
        .components()
        .map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::UnsafePath {
            path: path.display().to_string(),
            reason: "file names in a template must be UTF-8".into(),
        })?;
    Ok(parts.join("/"))
}

/// Reads a regular file, never more than the limits allow.
fn read_limited(path: &Path, budget: &mut Budget) -> Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(Error::UnsafePath {
            path: path.display().to_string(),
            reason: "is not a plain file".into(),
        });
    }
    let shown = path.display().to_string();
    budget.take(&shown, meta.len())?;
    let file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut contents = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut contents)
        .map_err(|e| Error::io("read", path, e))?;
    if contents.len() as u64 != meta.len() {
        // It changed while we read it: count what we got.
        Budget::new().take(&shown, contents.len() as u64)?;
    }
    Ok(contents)
}

/// The entries of `dir`, sorted, so scaffolds load in the same order on
/// every file system.
pub(crate) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read directory", dir, e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io("read directory", dir, e))?;
    paths.sort();
    Ok(paths)
}

pub(crate) fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}
