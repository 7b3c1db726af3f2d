//! Whole-file writes that a crash, a full disk or a kill cannot leave half
//! done: the bytes go to a new file beside the target, are synced, and
//! replace the target in one rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Replaces (or creates) `path` with `contents` atomically. An existing
/// file keeps its permissions; a symbolic link keeps pointing where it
/// did, and the file it names is the one replaced.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let target = resolve_link(path)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_beside(&dir, &name)?;
    let written = (|| {
        file.write_all(contents)?;
        if let Ok(meta) = std::fs::metadata(&target) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write", &target, e));
    }
    // The rename is durable once the directory is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The file a symbolic link at `path` names (followed to the end), or
/// `path` itself.
fn resolve_link(path: &Path) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let mut target = path.to_path_buf();
            for _ in 0..40 {
                let Ok(link) = std::fs::read_link(&target) else {
                    break;
                };
                target = match target.parent() {
                    Some(parent) => parent.join(link),
                    None => link,
                };
            }
            Ok(target)
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// A new file named after `name` in `dir` that no other process has.
fn create_beside(dir: &Path, name: &str) -> Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    for n in 0u32.. {
        let tmp = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => continue,
            Err(e) => return Err(Error::io("create a file in", dir, e)),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("module.nix");
        write_atomic(&path, b"one\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(names(tmp.path()), ["module.nix"], "no file left beside it");
    }

    #[test]
    fn a_link_keeps_pointing_at_the_file_it_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("dotfiles")).unwrap();
        let real = tmp.path().join("dotfiles/host.nix");
        std::fs::write(&real, "old\n").unwrap();
        let link = tmp.path().join("host.nix");
        std::os::unix::fs::symlink("dotfiles/host.nix", &link).unwrap();
        write_atomic(&link, b"new\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new\n");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_nothing_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the bytes
        // were written to the file beside it.
        let path = tmp.path().join("module.nix");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "keep\n").unwrap();
        assert!(write_atomic(&path, b"new\n").is_err());
        assert_eq!(std::fs::read(path.join("keep")).unwrap(), b"keep\n");
        assert_eq!(names(tmp.path()), ["module.nix"]);
    }
}
