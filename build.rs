//! Materialises the embedded scaffolds into `$OUT_DIR/scaffolds`, which the
//! binary embeds with include_dir:
//!
//! - `scaffolds/<id>/scaffold.yaml` + `template/**`: the newest version, whole;
//! - `scaffolds/<id>/versions/<version>.diff`: each older version, as its
//!   difference from the next newer one (scaffolds/README.md says why);
//! - `scaffolds/_*/`: other embedded data, copied as it is.
//!
//! The output has the layout the runtime reads, `<id>/<version>/...`, so
//! nothing after the build knows versions were stored as differences.

#[path = "build/patch.rs"]
mod patch;

use std::fs;
use std::path::{Path, PathBuf};

use patch::Tree;

fn main() {
    println!("cargo::rerun-if-changed=scaffolds");
    println!("cargo::rerun-if-changed=build/patch.rs");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("scaffolds");
    if let Err(message) = materialise(Path::new("scaffolds"), &out) {
        // A broken store must stop the build: a binary without one of its
        // released versions could not update the projects made with it.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn materialise(src: &Path, out: &Path) -> Result<(), String> {
    if out.exists() {
        fs::remove_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    for entry in sorted_entries(src)? {
        let name = file_name(&entry);
        if !entry.is_dir() {
            continue;
        }
        if name.starts_with('_') {
            write_tree(&out.join(&name), &read_tree(&entry)?)?;
        } else {
            materialise_scaffold(&entry, &out.join(&name))?;
        }
    }
    Ok(())
}

fn materialise_scaffold(dir: &Path, out: &Path) -> Result<(), String> {
    let mut tree = read_tree(dir)?;
    tree.retain(|path, _| path == "scaffold.yaml" || path.starts_with("template/"));
    let newest = manifest_version(&tree)
        .ok_or_else(|| format!("{}/scaffold.yaml: no `version:` line", dir.display()))?;
    write_tree(&out.join(newest.to_string()), &tree)?;

    let versions_dir = dir.join("versions");
    let mut stored = Vec::new();
    if versions_dir.is_dir() {
        for path in sorted_entries(&versions_dir)? {
            let name = file_name(&path);
            let version = name
                .strip_suffix(".diff")
                .and_then(Version::parse)
                .ok_or_else(|| {
                    format!(
                        "{}: expected `<major>.<minor>.<patch>.diff`",
                        path.display()
                    )
                })?;
            stored.push((version, path));
        }
    }
    // Newest first: each difference applies to the version just above it.
    stored.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut above = newest;
    for (version, path) in stored {
        if version >= above {
            return Err(format!("{}: not older than {above}", path.display()));
        }
        let diff = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        patch::apply(&mut tree, &diff).map_err(|e| {
            format!(
                "{}: does not apply to {above}: {e}\n  (after editing the newest version, run `python3 scripts/scaffold-version.py refresh {}`)",
                path.display(),
                file_name(dir)
            )
        })?;
        let recorded = manifest_version(&tree);
        if recorded != Some(version) {
            return Err(format!(
                "{}: gives a scaffold.yaml with version {recorded:?}, not {version}",
                path.display()
            ));
        }
        write_tree(&out.join(version.to_string()), &tree)?;
        above = version;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u64, u64, u64);

impl Version {
    /// Release versions only: a stored version is a released one.
    fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
        let v = Version(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

fn manifest_version(tree: &Tree) -> Option<Version> {
    tree.get("scaffold.yaml")?
        .lines()
        .find_map(|line| line.strip_prefix("version:"))
        .and_then(|v| Version::parse(v.trim()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut entries = fs::read_dir(dir)
        .and_then(|rd| {
            rd.map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

fn read_tree(root: &Path) -> Result<Tree, String> {
    fn walk(root: &Path, dir: &Path, tree: &mut Tree) -> Result<(), String> {
        for path in sorted_entries(dir)? {
            if path.is_dir() {
                walk(root, &path, tree)?;
                continue;
            }
            let rel = path.strip_prefix(root).expect("inside its root");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let text = fs::read_to_string(&path).map_err(|e| {
                format!(
                    "{}: {e} (embedded scaffolds hold text files only)",
                    path.display()
                )
            })?;
            tree.insert(rel.join("/"), text);
        }
        Ok(())
    }
    let mut tree = Tree::new();
    walk(root, root, &mut tree)?;
    Ok(tree)
}

fn write_tree(root: &Path, tree: &Tree) -> Result<(), String> {
    for (rel, contents) in tree {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
