//! `scaffold new`: a team template started as a copy of an embedded
//! scaffold, renamed after its directory and set back to version 0.1.0.

use std::path::{Path, PathBuf};

use super::Scaffold;
use crate::error::{Error, Result};
use crate::fs::RenderedFile;

const AUTHOR_README: &str = "\
# Team template

A cargo-nixcuda team template: `scaffold.yaml` (the questions) and
`template/` (the files; `.hbs` files are rendered with handlebars).
It started as a copy of the embedded `ml` scaffold.

- Check it: `cargo nixcuda scaffold check .`
- Try it: `cargo nixcuda new /tmp/demo --template . --yes`
- Publish it: commit, push, and tag versions `v1.0.0`, `v1.1.0`, ...;
  users run `cargo nixcuda new demo --template URL` (newest tag) or
  `--template URL@1.0.0`, and `cargo nixcuda update` moves their projects
  to a newer tag.

The format is described in cargo-nixcuda's `scaffolds/README.md`
(section \"Team templates\"). Nothing in a template runs code.
";

/// What `scaffold new` wrote.
pub struct Started {
    /// The new template's scaffold id.
    pub id: String,
    pub files: usize,
}

/// Writes a team template into `dest` (absolute; missing or empty) from
/// `base`, an embedded scaffold.
pub fn create(dest: &Path, base: &Scaffold) -> Result<Started> {
    let id = template_id(dest);
    let manifest_path = format!(
        "{}/{}/scaffold.yaml",
        base.manifest.id, base.manifest.version
    );
    let manifest_text =
        super::registry::embedded_data(&manifest_path).ok_or_else(|| Error::Manifest {
            file: format!("scaffolds/{manifest_path}"),
            line: None,
            message: "missing".into(),
        })?;
    let manifest_text = renamed_manifest(manifest_text, &id);
    // The copy must load as a team template would.
    super::Manifest::parse("scaffold.yaml", &manifest_text)?;
    let mut files = vec![
        RenderedFile {
            path: PathBuf::from("scaffold.yaml"),
            contents: manifest_text.into_bytes(),
            executable: false,
        },
        RenderedFile {
            path: PathBuf::from("README.md"),
            contents: AUTHOR_README.as_bytes().to_vec(),
            executable: false,
        },
    ];
    files.extend(base.files.iter().map(|f| RenderedFile {
        path: Path::new("template").join(&f.path),
        contents: f.contents.to_vec(),
        executable: f.executable,
    }));
    crate::fs::write::create_tree(dest, &files, |_| Ok(()))?;
    Ok(Started {
        id,
        files: files.len(),
    })
}

/// The manifest with its first `id:` and `version:` lines replaced, so its
/// comments and layout stay as the embedded scaffold has them, and without
/// the embedded scaffold's `migrations:`: they move files of the embedded
/// scaffold's own history, which a new template's projects never had.
fn renamed_manifest(text: &str, id: &str) -> String {
    let text = without_migrations(text);
    let mut replaced_id = false;
    let mut replaced_version = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !replaced_id && line.starts_with("id:") {
                replaced_id = true;
                format!("id: {id}")
            } else if !replaced_version && line.starts_with("version:") {
                replaced_version = true;
                "version: 0.1.0".to_string()
            } else {
                line.to_string()
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

/// `text` without its top-level `migrations:` block (and the comment lines
/// right above it), with a comment in its place.
fn without_migrations(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("migrations:")) else {
        return text.to_string();
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.is_empty() && !l.starts_with([' ', '#']))
        .map_or(lines.len(), |n| start + 1 + n);
    let mut first = start;
    while first > 0 && lines[first - 1].starts_with('#') {
        first -= 1;
    }
    let mut kept: Vec<&str> = lines[..first].to_vec();
    kept.push("# migrations: none yet. When a later version renames or drops files or answers,");
    kept.push("# say so here (`migrations:` in \"scaffold.yaml\" of cargo-nixcuda's scaffolds/README.md).");
    kept.extend(&lines[end..]);
    kept.join("\n") + "\n"
}

/// A scaffold id from a directory name (`ML Team` -> `ml-team`).
fn template_id(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-').to_string();
    if id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id
    } else {
        "team".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_directory_name() {
        assert_eq!(template_id(Path::new("/x/ML Team")), "ml-team");
        assert_eq!(template_id(Path::new("/x/acme-template")), "acme-template");
        assert_eq!(template_id(Path::new("/x/9lives")), "team");
    }

    #[test]
    fn the_embedded_history_is_not_copied() {
        let text = "id: ml\nversion: 1.3.0\nfiles: []\n# old moves\nmigrations:\n  - before: 1.1.0\n    rename_paths: { a: b }\nformat: {}\n";
        assert_eq!(
            without_migrations(text),
            "id: ml\nversion: 1.3.0\nfiles: []\n# migrations: none yet. When a later version renames or drops files or answers,\n# say so here (`migrations:` in \"scaffold.yaml\" of cargo-nixcuda's scaffolds/README.md).\nformat: {}\n"
        );
        assert_eq!(without_migrations("id: x\n"), "id: x\n");
    }

    #[test]
    fn only_the_first_id_and_version_lines_change() {
        let text = "id: ml\nversion: 1.2.0\nquestions:\n  - key: x\nid: kept\n";
        assert_eq!(
            renamed_manifest(text, "acme"),
            "id: acme\nversion: 0.1.0\nquestions:\n  - key: x\nid: kept\n"
        );
    }
}
