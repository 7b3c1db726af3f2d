//! What a template may hold: the size, count and depth limits, and the path
//! rules every template file is checked against before it is read. The disk
//! and git readers both count through `Budget`, so a template is held to
//! the same limits wherever it comes from.

use crate::error::{Error, Result, SourceError};

/// Largest single file of a template (and the manifest).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Largest template, all files together.
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// Most files in one template.
pub const MAX_FILES: usize = 2000;
/// Deepest directory nesting in a template (a git tree can nest far deeper
/// than any file system, and reading it recursively would exhaust memory).
pub const MAX_DEPTH: usize = 32;

/// Every limit in words, carried by the error so its hint can name them.
fn summary() -> String {
    format!(
        "{MAX_FILES} files, {} MiB per file, {} MiB in all and {MAX_DEPTH} directories deep",
        MAX_FILE_BYTES >> 20,
        MAX_TOTAL_BYTES >> 20
    )
}

fn broken(path: &str, message: String) -> Error {
    Error::from(SourceError::TemplateLimit {
        path: path.to_string(),
        message,
        limits: summary(),
    })
}

/// Counts files and bytes against the limits, naming the file that breaks one.
pub struct Budget {
    files: usize,
    bytes: u64,
}

impl Budget {
    pub fn new() -> Budget {
        Budget { files: 0, bytes: 0 }
    }

    pub fn take(&mut self, path: &str, size: u64) -> Result<()> {
        if size > MAX_FILE_BYTES {
            return Err(broken(
                path,
                format!(
                    "is {size} bytes; a template file may have at most {MAX_FILE_BYTES} ({} MiB)",
                    MAX_FILE_BYTES >> 20
                ),
            ));
        }
        self.files += 1;
        self.bytes += size;
        if self.files > MAX_FILES {
            return Err(broken(
                path,
                format!("is one file too many: a template may have at most {MAX_FILES}"),
            ));
        }
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(broken(
                path,
                format!(
                    "makes the template larger than {MAX_TOTAL_BYTES} bytes ({} MiB) in all",
                    MAX_TOTAL_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }
}

/// Refuses template paths that could never be written safely, whatever the
/// answers: `.git` as any file system reads it, `.`/`..`, empty components.
pub fn check_template_path(origin: &str, path: &str) -> Result<()> {
    if path.split('/').count() > MAX_DEPTH {
        return Err(broken(
            &format!("{origin}/template/{path}"),
            format!("is nested more than {MAX_DEPTH} directories deep"),
        ));
    }
    for component in path.split('/') {
        let problem = if component.is_empty() || component == "." || component == ".." {
            Some("has an empty, `.` or `..` component")
        } else if crate::fs::is_git_dir_name(component) {
            Some("would write into `.git`")
        } else if component.contains('\\') || component.contains('\0') {
            Some("contains a backslash or NUL")
        } else {
            None
        };
        if let Some(reason) = problem {
            return Err(Error::UnsafePath {
                path: format!("{origin}/template/{path}"),
                reason: reason.into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_names_the_file() {
        let mut b = Budget::new();
        let err = b
            .take("big.bin", MAX_FILE_BYTES + 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("big.bin") && err.contains("1 MiB"), "{err}");
        let mut b = Budget::new();
        for i in 0..16 {
            b.take(&format!("f{i}"), MAX_FILE_BYTES).unwrap();
        }
        let err = b.take("last", 1).unwrap_err().to_string();
        assert!(err.contains("last") && err.contains("16 MiB"), "{err}");
    }

    #[test]
    fn the_error_carries_every_limit_for_its_hint() {
        let err = Budget::new()
            .take("big.bin", MAX_FILE_BYTES + 1)
            .unwrap_err();
        let hint = err.hint().unwrap_or_default();
        for limit in [
            "2000 files",
            "1 MiB per file",
            "16 MiB in all",
            "32 directories",
        ] {
            assert!(hint.contains(limit), "{limit}: {hint}");
        }
    }

    #[test]
    fn paths_that_cannot_be_written_are_refused() {
        for bad in ["a//b", "./a", "a/../b", ".git/config", "a\\b"] {
            assert!(check_template_path("t", bad).is_err(), "{bad}");
        }
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert!(check_template_path("t", &deep).is_err());
        assert!(check_template_path("t", "src/{{name}}/x.py.hbs").is_ok());
    }
}
