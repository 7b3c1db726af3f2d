//! The set of scaffolds the tool knows: those embedded in the binary, or a
//! directory with the same layout (`<id>/<version>/scaffold.yaml` and
//! `<id>/<version>/template/**`, read by `source::disk`).

use std::borrow::Cow;
use std::path::Path;
use std::sync::OnceLock;

use include_dir::{Dir, include_dir};

use super::{Manifest, Scaffold, ScaffoldSource, TemplateFile};
use crate::error::{Error, Result};

static EMBEDDED: Dir<'static> = include_dir!("$OUT_DIR/scaffolds");

/// The scaffold `new` uses when `--scaffold` is not given.
pub const DEFAULT_SCAFFOLD: &str = "ml";

pub struct Registry {
    /// Sorted by id, then version (oldest first).
    entries: Vec<Entry>,
}

struct Entry {
    id: String,
    version: semver::Version,
    scaffold: Parsed,
}

enum Parsed {
    Embedded(&'static EmbeddedVersion),
    Read(Box<Scaffold>),
}

/// One embedded scaffold version, known by its directory name
/// (`<id>/<version>`) and parsed on first use: `new` needs one manifest,
/// and parsing every embedded version cost a tenth of its run. The parses
/// are the process's, shared by every registry, so `prefetch_default` can
/// make one on another thread before it is asked for.
struct EmbeddedVersion {
    id: String,
    version: semver::Version,
    dir: &'static Dir<'static>,
    scaffold: OnceLock<Scaffold>,
}

impl EmbeddedVersion {
    fn scaffold(&self) -> &Scaffold {
        self.scaffold.get_or_init(|| {
            // The build checks the embedded manifests, and a test checks
            // that each parses and names its own directory.
            parse_embedded(self.dir).expect("an embedded manifest parses")
        })
    }
}

impl Entry {
    fn scaffold(&self) -> &Scaffold {
        match &self.scaffold {
            Parsed::Embedded(embedded) => embedded.scaffold(),
            Parsed::Read(scaffold) => scaffold,
        }
    }
}

/// Every embedded scaffold version, or the directory not named by one.
fn embedded_versions() -> std::result::Result<&'static [EmbeddedVersion], String> {
    static VERSIONS: OnceLock<std::result::Result<Vec<EmbeddedVersion>, String>> = OnceLock::new();
    let versions = VERSIONS.get_or_init(|| {
        let mut versions = Vec::new();
        // Directories starting with `_` hold other embedded data (the host
        // module template of `cargo nixcuda nixos`), not scaffolds.
        for id_dir in EMBEDDED.dirs().filter(|d| !is_private(d.path())) {
            for dir in id_dir.dirs() {
                let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
                let version = name(dir.path())
                    .and_then(|v| semver::Version::parse(&v).ok())
                    .ok_or_else(|| format!("scaffolds/{}", dir.path().display()))?;
                versions.push(EmbeddedVersion {
                    id: name(id_dir.path()).unwrap_or_default(),
                    version,
                    dir,
                    scaffold: OnceLock::new(),
                });
            }
        }
        versions.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        Ok(versions)
    });
    versions.as_deref().map_err(Clone::clone)
}

/// Starts parsing the newest embedded version of the default scaffold, and
/// compiling its answers' validation regexes, on another thread: `new`
/// needs them once its arguments and settings are read, which takes about
/// as long.
pub fn prefetch_default() {
    let _ = std::thread::Builder::new().spawn(|| {
        if let Ok(versions) = embedded_versions()
            && let Some(newest) = versions.iter().rfind(|v| v.id == DEFAULT_SCAFFOLD)
        {
            let questions = &newest.scaffold().manifest.questions;
            for validation in questions.iter().filter_map(|q| q.validate.as_ref()) {
                validation.regex();
            }
        }
    });
}

fn parse_embedded(version_dir: &'static Dir<'static>) -> Result<Scaffold> {
    let origin = format!("scaffolds/{}", version_dir.path().display());
    let manifest_file = format!("{origin}/scaffold.yaml");
    let text = version_dir
        .get_file(version_dir.path().join("scaffold.yaml"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| Error::Manifest {
            file: manifest_file.clone(),
            line: None,
            message: "missing".into(),
        })?;
    let manifest = Manifest::parse_unchecked(&manifest_file, text)?;
    let mut files = Vec::new();
    if let Some(template) = version_dir.get_dir(version_dir.path().join("template")) {
        collect_embedded(template, template.path(), &mut files);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scaffold {
        manifest,
        origin,
        files,
        source: ScaffoldSource::default(),
    })
}

impl Registry {
    pub fn embedded() -> Result<Registry> {
        let versions = embedded_versions().map_err(|file| Error::Manifest {
            file,
            line: None,
            message: "an embedded scaffold directory is not named by its version".into(),
        })?;
        let entries = versions
            .iter()
            .map(|v| Entry {
                id: v.id.clone(),
                version: v.version.clone(),
                scaffold: Parsed::Embedded(v),
            })
            .collect();
        Ok(Registry { entries })
    }

    /// A registry of scaffolds read elsewhere (team templates); duplicate
    /// `id@version` entries keep the first.
    pub fn from_scaffolds(scaffolds: Vec<Scaffold>) -> Registry {
        let mut seen = std::collections::BTreeSet::new();
        let unique = scaffolds
            .into_iter()
            .filter(|s| seen.insert((s.manifest.id.clone(), s.manifest.version.clone())))
            .collect();
        Registry::sorted(unique)
    }

    fn sorted(mut scaffolds: Vec<Scaffold>) -> Registry {
        scaffolds.sort_by(|a, b| {
            (&a.manifest.id, &a.manifest.version).cmp(&(&b.manifest.id, &b.manifest.version))
        });
        let entries = scaffolds
            .into_iter()
            .map(|mut s| {
                s.files.sort_by(|a, b| a.path.cmp(&b.path));
                Entry {
                    id: s.manifest.id.clone(),
                    version: s.manifest.version.clone(),
                    scaffold: Parsed::Read(Box::new(s)),
                }
            })
            .collect();
        Registry { entries }
    }

    /// Every scaffold, parsing each embedded one.
    pub fn all(&self) -> Vec<&Scaffold> {
        self.entries.iter().map(Entry::scaffold).collect()
    }

    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
        ids.dedup();
        ids
    }

    fn entries_of(&self, id: &str) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.id == id).collect()
    }

    /// Every version of `id`, oldest first.
    pub fn versions(&self, id: &str) -> Vec<&Scaffold> {
        self.entries_of(id)
            .into_iter()
            .map(Entry::scaffold)
            .collect()
    }

    /// Resolves `ID`, `ID@1.2.3` (exact) or `ID@^1.2` (a requirement) to a
    /// scaffold; without a version, the newest.
    pub fn resolve(&self, spec: &str) -> Result<&Scaffold> {
        let (id, version) = match spec.split_once('@') {
            Some((id, v)) => (id, Some(v)),
            None => (spec, None),
        };
        let candidates = self.entries_of(id);
        if candidates.is_empty() {
            return Err(Error::UnknownScaffold {
                id: id.to_string(),
                available: self.ids().iter().map(|s| s.to_string()).collect(),
            });
        }
        let found = match version {
            None => candidates.last().copied(),
            Some(v) => {
                let matches: Box<dyn Fn(&semver::Version) -> bool> =
                    if let Ok(exact) = semver::Version::parse(v) {
                        Box::new(move |have| *have == exact)
                    } else if let Ok(req) = semver::VersionReq::parse(v) {
                        Box::new(move |have| req.matches(have))
                    } else {
                        return Err(Error::BadVersionSpec {
                            spec: spec.to_string(),
                        });
                    };
                candidates
                    .iter()
                    .rev()
                    .find(|e| matches(&e.version))
                    .copied()
            }
        };
        found
            .map(Entry::scaffold)
            .ok_or_else(|| Error::NoMatchingVersion {
                id: id.to_string(),
                requirement: version.unwrap_or_default().to_string(),
                available: candidates.iter().map(|e| e.version.to_string()).collect(),
            })
    }
}

fn collect_embedded(dir: &Dir<'static>, root: &Path, out: &mut Vec<TemplateFile>) {
    for file in dir.files() {
        let rel = file.path().strip_prefix(root).expect("inside its root");
        out.push(TemplateFile {
            path: slash_path(rel),
            contents: Cow::Borrowed(file.contents()),
            // include_dir keeps no modes; no embedded file is executable.
            executable: false,
        });
    }
    for sub in dir.dirs() {
        collect_embedded(sub, root, out);
    }
}

/// `_host/` and the like: embedded data beside the scaffolds, not one.
pub fn is_private(dir: &Path) -> bool {
    dir.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('_'))
}

/// An embedded data file outside the scaffolds, e.g. `_host/nixos-module.nix.hbs`.
pub fn embedded_data(path: &str) -> Option<&'static str> {
    EMBEDDED.get_file(path).and_then(|f| f.contents_utf8())
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `prefetch_default` parses is what the next registry resolves:
    /// embedded parses belong to the process, not to one registry.
    #[test]
    fn registries_share_the_parse_that_prefetch_makes() {
        prefetch_default();
        let first: *const Scaffold = Registry::embedded().unwrap().resolve("ml").unwrap();
        let second: *const Scaffold = Registry::embedded().unwrap().resolve("ml").unwrap();
        assert_eq!(first, second);
        let newest = embedded_versions()
            .unwrap()
            .iter()
            .rfind(|v| v.id == "ml")
            .unwrap();
        assert_eq!(first, newest.scaffold() as *const Scaffold);
    }

    #[test]
    fn embedded_scaffolds_load_and_resolve() {
        let registry = Registry::embedded().unwrap();
        let newest = registry.resolve(DEFAULT_SCAFFOLD).unwrap();
        assert_eq!(newest.manifest.id, "ml");
        assert!(!newest.files.is_empty());
        let exact = registry.resolve("ml@1.0.0").unwrap();
        assert_eq!(exact.manifest.version.to_string(), "1.0.0");
        let err = registry.resolve("ml@9.9.9").unwrap_err().to_string();
        assert!(err.contains("9.9.9"), "{err}");
        assert!(registry.resolve("nope").is_err());
        assert!(registry.resolve("ml@not a version").is_err());
    }

    /// The registry knows embedded versions by directory name and parses a
    /// manifest only when asked, without its checks: each must pass every
    /// check and agree with its name.
    #[test]
    fn every_embedded_manifest_parses_and_names_its_directory() {
        let mut count = 0;
        for id_dir in EMBEDDED.dirs().filter(|d| !is_private(d.path())) {
            for version_dir in id_dir.dirs() {
                let scaffold = parse_embedded(version_dir).unwrap();
                let text = version_dir
                    .get_file(version_dir.path().join("scaffold.yaml"))
                    .and_then(|f| f.contents_utf8())
                    .unwrap();
                let file = format!("scaffolds/{}/scaffold.yaml", version_dir.path().display());
                if let Err(e) = Manifest::parse(&file, text) {
                    panic!("{e}");
                }
                let expected = slash_path(version_dir.path());
                let named = format!("{}/{}", scaffold.manifest.id, scaffold.manifest.version);
                assert_eq!(named, expected);
                count += 1;
            }
        }
        assert_eq!(count, Registry::embedded().unwrap().all().len());
        assert!(count >= 3, "the embedded versions are missing");
    }
}

#[cfg(test)]
mod stored_versions {
    use super::*;

    fn listing(dir: &Dir<'static>, out: &mut String) {
        for file in dir.files() {
            let id = git2::Oid::hash_object(git2::ObjectType::Blob, file.contents())
                .expect("hashing needs no repository");
            out.push_str(&format!("{id}  {}\n", slash_path(file.path())));
        }
        for sub in dir.dirs() {
            listing(sub, out);
        }
    }

    /// Every embedded version as the binary holds it, file by file: what
    /// the build materialises from stored differences must stay what the
    /// version held when it was released.
    #[test]
    fn every_embedded_version_holds_the_files_it_was_released_with() {
        let mut versions = 0;
        for id_dir in EMBEDDED.dirs().filter(|d| !is_private(d.path())) {
            for version_dir in id_dir.dirs() {
                let mut out = String::new();
                listing(version_dir, &mut out);
                // include_dir keeps the order the directory was read in.
                let mut lines: Vec<&str> = out.lines().collect();
                lines.sort_by_key(|line| line.split_once("  ").map(|(_, path)| path));
                let out = lines.join("\n") + "\n";
                let name = slash_path(version_dir.path()).replace('/', "@");
                insta::assert_snapshot!(name, out);
                versions += 1;
            }
        }
        assert!(versions >= 2, "the embedded scaffolds are missing");
    }
}
