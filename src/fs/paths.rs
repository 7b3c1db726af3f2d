//! Which relative paths may be written under a destination: never absolute,
//! never through `..`, never into `.git` under any spelling a file system
//! takes for it.

use std::path::PathBuf;

/// A file to write under a destination; `path` is relative and checked
/// safe (`check_output_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// Whether a path component is `.git` to git on some file system: in any
/// letter case (case-insensitive file systems), with the code points HFS+
/// and APFS ignore (git's `is_hfs_dotgit`), with the trailing dots and
/// spaces, streams and short name NTFS accepts (`is_ntfs_dotgit`).
pub fn is_git_dir_name(component: &str) -> bool {
    const HFS_IGNORED: [char; 16] = [
        '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}',
        '\u{202d}', '\u{202e}', '\u{206a}', '\u{206b}', '\u{206c}', '\u{206d}', '\u{206e}',
        '\u{206f}', '\u{feff}',
    ];
    let folded: String = component
        .chars()
        .filter(|c| !HFS_IGNORED.contains(c))
        .collect::<String>()
        .to_ascii_lowercase();
    let ntfs = folded
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches(['.', ' ']);
    ntfs == ".git" || ntfs == "git~1"
}

/// The last gate before a relative path may be written under a destination.
pub fn check_output_path(path: &str) -> std::result::Result<(), String> {
    if path.starts_with('/') {
        return Err(format!("output path `{path}` is absolute"));
    }
    for component in path.split('/') {
        match component {
            "" => return Err(format!("output path `{path}` has an empty component")),
            "." | ".." => return Err(format!("output path `{path}` contains `{component}`")),
            c if is_git_dir_name(c) => {
                return Err(format!(
                    "output path `{path}` would write into `.git` (`{c}` names it on some file systems)"
                ));
            }
            c if c.contains(['\0', '\\']) => {
                return Err(format!(
                    "output path `{path}` contains a NUL byte or a backslash"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
