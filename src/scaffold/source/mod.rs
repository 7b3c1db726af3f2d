//! Team templates: scaffolds from outside the binary, in the same format as
//! the embedded ones (`scaffold.yaml` + `template/`).
//!
//! - a local directory is read from disk as it is (what a template author is
//!   editing); with `#REF` or `@VERSION` it is read as a git repository;
//! - `file://` repositories are read with git2 straight from the object
//!   database (no checkout, so no filters, hooks or work tree);
//! - remote URLs are fetched with the `git` command line (the user's SSH
//!   config, known_hosts and credential helpers apply) into a bare cache
//!   under the user's cache directory, then read like a local repository.
//!
//! This file holds the model (`TemplateSource`, `TemplateSpec`) and the
//! set of scaffolds a source offers; `limits` says what a template may
//! hold, `disk` and `git` read one, `remote` fetches one.
//!
//! A repository (or directory) whose root has `scaffold.yaml` is one
//! scaffold; otherwise every `<id>/scaffold.yaml` below the root is one.
//! Versions of a git template are its semver tags (`v1.2.0` or `1.2.0`).
//! Nothing read here is ever executed, and every file is size-limited.

mod disk;
mod git;
mod limits;
mod record;
mod remote;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::registry::Registry;
use super::{Manifest, Scaffold, ScaffoldSource};
use crate::error::{Error, Result, SourceError};
use git::ProvenanceMap;

pub use disk::{read_disk, read_scaffold_set};
pub use limits::{MAX_DEPTH, MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES};
pub use remote::cache_root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The scaffolds shipped in the binary.
    Embedded,
    /// A local directory, read from disk.
    Dir(PathBuf),
    /// A git repository: `file:///...` or a remote URL; `rev` is `#REF`.
    Git { url: String, rev: Option<String> },
}

/// What `--template` names: a source and an optional `@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    pub source: TemplateSource,
    pub version: Option<String>,
}

impl TemplateSpec {
    /// Parses `DIR`, `file:///repo`, `https://...`, `git@host:repo.git` or
    /// `gh:owner/repo`, each optionally followed by `@VERSION` and/or `#REF`.
    /// Relative directories are taken from `cwd`.
    pub fn parse(text: &str, cwd: &Path) -> Result<TemplateSpec> {
        let bad = |message: &str| {
            Error::from(SourceError::TemplateSpec {
                spec: text.to_string(),
                message: message.to_string(),
            })
        };
        let text_trim = text.trim();
        if text_trim.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, rev) = match text_trim.rsplit_once('#') {
            Some((rest, rev)) if !rev.is_empty() => (rest, Some(rev.to_string())),
            Some(_) => return Err(bad("`#` must be followed by a tag, branch or commit")),
            None => (text_trim, None),
        };
        let (location, version) = match rest.rsplit_once('@') {
            Some((loc, v)) if !loc.is_empty() && is_version_spec(v) => {
                (loc, Some(v.trim_start_matches('v').to_string()))
            }
            _ => (rest, None),
        };
        let source = if let Some(repo) = location.strip_prefix("gh:") {
            let repo = repo.trim_end_matches(".git").trim_end_matches('/');
            let valid = repo.split('/').count() == 2
                && repo.split('/').all(|part| {
                    !part.is_empty()
                        && part != "."
                        && part != ".."
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                });
            if !valid {
                return Err(bad("write `gh:OWNER/REPO`"));
            }
            TemplateSource::Git {
                url: format!("https://github.com/{repo}.git"),
                rev,
            }
        } else if location.contains("://") || location.contains("::") {
            check_git_url(location).map_err(|m| bad(&m))?;
            TemplateSource::Git {
                url: location.to_string(),
                rev,
            }
        } else if is_scp_like(location) {
            TemplateSource::Git {
                url: location.to_string(),
                rev,
            }
        } else {
            let path = std::path::absolute(cwd.join(location))
                .map_err(|e| Error::io("resolve", Path::new(location), e))?;
            if rev.is_some() || version.is_some() {
                TemplateSource::Git {
                    url: format!("file://{}", path.display()),
                    rev,
                }
            } else {
                TemplateSource::Dir(path)
            }
        };
        Ok(TemplateSpec { source, version })
    }
}

/// `1.2.3`, `v1.2.3`, `^1` ... but not `github.com:x` or a path.
fn is_version_spec(text: &str) -> bool {
    let text = text.trim_start_matches('v');
    !text.is_empty()
        && !text.contains(['/', ':', '\\'])
        && text.starts_with(|c: char| c.is_ascii_digit() || "^~=<>*".contains(c))
        && (semver::Version::parse(text).is_ok() || semver::VersionReq::parse(text).is_ok())
}

/// The transports a template may come through; `git` runs with exactly
/// these allowed (`GIT_ALLOW_PROTOCOL`), so neither `--template` nor a
/// recorded source can reach `ext::` (which runs a command), `fd::` or
/// anything else.
const ALLOWED_SCHEMES: [&str; 5] = ["file", "https", "http", "ssh", "git"];

/// Refuses URLs git would run through another transport or read as an
/// option.
fn check_git_url(url: &str) -> std::result::Result<(), String> {
    let refused = || {
        format!(
            "the URL scheme must be {} (no `ext::` or other transports)",
            ALLOWED_SCHEMES.join(", ")
        )
    };
    if url.starts_with('-') {
        return Err("a URL may not start with `-`".into());
    }
    match url.split_once("://") {
        Some((scheme, _)) if ALLOWED_SCHEMES.contains(&scheme) && !scheme.contains("::") => Ok(()),
        Some(_) => Err(refused()),
        None if is_scp_like(url) && !url.contains("::") => Ok(()),
        None => Err(refused()),
    }
}

/// `user@host:path` (the form ssh remotes are often written in).
fn is_scp_like(text: &str) -> bool {
    match text.split_once(':') {
        Some((host, path)) => {
            !host.is_empty() && !host.contains('/') && host.contains('@') && !path.is_empty()
        }
        None => false,
    }
}

impl TemplateSource {
    /// Shown to the user.
    pub fn display(&self) -> String {
        match self {
            TemplateSource::Embedded => "embedded scaffolds".into(),
            TemplateSource::Dir(path) => path.display().to_string(),
            TemplateSource::Git { url, rev: Some(r) } => format!("{url}#{r}"),
            TemplateSource::Git { url, rev: None } => url.clone(),
        }
    }
}

/// Where one scaffold version came from in a git template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub commit: String,
    /// The tag that gave the version, if any.
    pub tag: Option<String>,
}

/// Every scaffold under `root` (laid out as the embedded ones: the tests'
/// stand-in for them) through the team templates' disk reader, with its
/// limits and path rules. Symbolic links are refused: a scaffold must not
/// make the tool read or write outside its tree.
pub fn registry_from_dir(root: &Path) -> Result<Registry> {
    let scaffolds = disk::read_scaffold_set(root, super::registry::is_private)?;
    Ok(Registry::from_scaffolds(scaffolds))
}

/// The scaffolds of one template source, as a registry.
pub struct TemplateSet {
    pub source: TemplateSource,
    pub registry: Registry,
    /// `(id, version)` -> commit and tag, for git templates.
    pub provenance: ProvenanceMap,
    /// What was skipped while loading (a semver tag on a tree), to tell.
    pub warnings: Vec<String>,
}

impl TemplateSet {
    /// Loads what `source` holds: every semver tag of a repository (or the
    /// one `#REF`, or HEAD when there are no tags), or the directory as it is.
    pub fn load(source: &TemplateSource, offline: bool) -> Result<TemplateSet> {
        Self::load_with(source, offline, false)
    }

    /// For `update`: a directory that is a git repository also offers its
    /// tagged versions, so the recorded version can be rendered again.
    pub fn load_with(
        source: &TemplateSource,
        offline: bool,
        with_history: bool,
    ) -> Result<TemplateSet> {
        let mut warnings = Vec::new();
        let (scaffolds, provenance) = match source {
            TemplateSource::Embedded => {
                return Ok(TemplateSet {
                    source: source.clone(),
                    registry: Registry::embedded()?,
                    provenance: BTreeMap::new(),
                    warnings,
                });
            }
            TemplateSource::Dir(path) => load_dir(path, with_history, &mut warnings)?,
            TemplateSource::Git { url, rev } => {
                load_git(url, rev.as_deref(), offline, &mut warnings)?
            }
        };
        let mut scaffolds = scaffolds;
        for s in &mut scaffolds {
            s.source = scaffold_source(source, provenance.get(&key(s)));
        }
        Ok(TemplateSet {
            source: source.clone(),
            registry: Registry::from_scaffolds(scaffolds),
            provenance,
            warnings,
        })
    }

    /// Makes sure `id@version` is rendered from `commit` (the commit a
    /// project recorded), even if a tag has moved or HEAD changed since.
    pub fn pin(&mut self, id: &str, version: &str, commit: &str, offline: bool) -> Result<()> {
        let TemplateSource::Git { url, .. } = &self.source else {
            return Ok(());
        };
        let k = (id.to_string(), version.to_string());
        if self.provenance.get(&k).is_some_and(|p| p.commit == commit) {
            return Ok(());
        }
        let (repo, origin, cache) = git::open_git(url, Some(commit), offline)?;
        let (oid, _) = git::resolve_rev(&repo, commit, cache, url)?;
        let version = semver::Version::parse(version).ok();
        let pinned: Vec<Scaffold> = git::scaffolds_at(&repo, oid, version.as_ref(), &origin)?
            .into_iter()
            .filter(|s| s.manifest.id == id)
            .collect();
        let mut all: Vec<Scaffold> = self
            .registry
            .all()
            .into_iter()
            .filter(|s| key(s) != k)
            .cloned()
            .collect();
        for mut s in pinned {
            s.source = ScaffoldSource {
                template: self.source.clone(),
                commit: Some(oid.to_string()),
                tag: None,
            };
            self.provenance.insert(
                key(&s),
                Provenance {
                    commit: oid.to_string(),
                    tag: None,
                },
            );
            all.push(s);
        }
        self.registry = Registry::from_scaffolds(all);
        Ok(())
    }

    pub fn provenance_of(&self, scaffold: &Scaffold) -> Option<&Provenance> {
        self.provenance.get(&key(scaffold))
    }

    /// The scaffold `new` takes when `--scaffold` is not given: the only
    /// one, else an error naming them.
    pub fn default_id(&self) -> Result<String> {
        match self.registry.ids().as_slice() {
            [] => Err(Error::from(SourceError::TemplateSpec {
                spec: self.source.display(),
                message: "it holds no scaffold".into(),
            })),
            [one] => Ok(one.to_string()),
            many => Err(Error::from(SourceError::AmbiguousTemplate {
                source_name: self.source.display(),
                ids: many.iter().map(|s| s.to_string()).collect(),
            })),
        }
    }
}

/// What a scaffold loaded from `source` records as its origin.
fn scaffold_source(source: &TemplateSource, provenance: Option<&Provenance>) -> ScaffoldSource {
    ScaffoldSource {
        template: source.clone(),
        commit: provenance.map(|p| p.commit.clone()),
        tag: provenance.and_then(|p| p.tag.clone()),
    }
}

pub(super) fn key(s: &Scaffold) -> (String, String) {
    (s.manifest.id.clone(), s.manifest.version.to_string())
}

pub(super) fn tag_version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// A directory as it is on disk; with `with_history`, also the tagged
/// versions of the repository it is (the disk wins for a version in both).
fn load_dir(
    path: &Path,
    with_history: bool,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Scaffold>, ProvenanceMap)> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::from(SourceError::TemplateSpec {
            spec: path.display().to_string(),
            message: format!("cannot read the directory: {e}"),
        })
    })?;
    if !meta.is_dir() {
        return Err(Error::from(SourceError::TemplateSpec {
            spec: path.display().to_string(),
            message: "not a directory".into(),
        }));
    }
    let disk = disk::read_disk(path)?;
    let mut scaffolds = Vec::new();
    let mut provenance = BTreeMap::new();
    if with_history && let Ok(repo) = git2::Repository::open(path) {
        let origin = format!("file://{}", path.display());
        let (tagged, prov) = git::read_tags(&repo, &origin, warnings)?;
        scaffolds.extend(
            tagged
                .into_iter()
                .filter(|s| !disk.iter().any(|d| key(d) == key(s))),
        );
        provenance = prov;
    }
    for d in &disk {
        provenance.remove(&key(d));
    }
    scaffolds.extend(disk);
    Ok((scaffolds, provenance))
}

/// A repository: the one `#REF`, else every semver tag, else HEAD.
fn load_git(
    url: &str,
    rev: Option<&str>,
    offline: bool,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Scaffold>, ProvenanceMap)> {
    let (repo, origin, cache) = git::open_git(url, rev, offline)?;
    let (commit, tag) = match rev {
        Some(rev) => git::resolve_rev(&repo, rev, cache, url)?,
        None => {
            let tagged = git::read_tags(&repo, &origin, warnings)?;
            if !tagged.0.is_empty() {
                return Ok(tagged);
            }
            (git::head_commit(&repo, cache, url)?, None)
        }
    };
    let version = tag.as_deref().and_then(tag_version);
    let scaffolds = git::scaffolds_at(&repo, commit, version.as_ref(), &origin)?;
    let provenance = scaffolds
        .iter()
        .map(|s| {
            let found = Provenance {
                commit: commit.to_string(),
                tag: tag.clone(),
            };
            (key(s), found)
        })
        .collect();
    Ok((scaffolds, provenance))
}

/// A manifest read by either reader: UTF-8, then parsed and validated.
fn parse_manifest(name: &str, bytes: Vec<u8>) -> Result<Manifest> {
    let text = String::from_utf8(bytes).map_err(|_| Error::Manifest {
        file: name.to_string(),
        line: None,
        message: "not UTF-8 text".into(),
    })?;
    Manifest::parse(name, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> TemplateSpec {
        TemplateSpec::parse(s, Path::new("/srv")).unwrap()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("gh:acme/ml-template#v1.2.0"),
            TemplateSpec {
                source: TemplateSource::Git {
                    url: "https://github.com/acme/ml-template.git".into(),
                    rev: Some("v1.2.0".into())
                },
                version: None
            }
        );
        assert_eq!(
            parse("file:///srv/t@1.0.0").source,
            TemplateSource::Git {
                url: "file:///srv/t".into(),
                rev: None
            }
        );
        assert_eq!(
            parse("file:///srv/t@1.0.0").version.as_deref(),
            Some("1.0.0")
        );
        assert_eq!(parse("https://h/t.git@^1").version.as_deref(), Some("^1"));
        let scp = parse("git@github.com:acme/t.git");
        assert_eq!(
            scp.source,
            TemplateSource::Git {
                url: "git@github.com:acme/t.git".into(),
                rev: None
            }
        );
        assert_eq!(scp.version, None);
        assert_eq!(
            parse("ssh://git@host/t.git#main").source,
            TemplateSource::Git {
                url: "ssh://git@host/t.git".into(),
                rev: Some("main".into())
            }
        );
        assert_eq!(
            parse("team").source,
            TemplateSource::Dir(PathBuf::from("/srv/team"))
        );
        assert_eq!(
            parse("../t@v1.1.0").source,
            TemplateSource::Git {
                url: "file:///srv/../t".into(),
                rev: None
            }
        );
        assert_eq!(parse("me@work").version, None);
    }

    #[test]
    fn refuses_bad_specs() {
        for bad in [
            "",
            "gh:nope",
            "gh:a/b/c",
            "gh:../x",
            "ext::sh -c id",
            "x#",
            "fd::3",
        ] {
            let r = TemplateSpec::parse(bad, Path::new("/w"));
            // `fd::3` and `ext::` contain `::`, not `://`: they are plain
            // directory names, never transports.
            if let Ok(spec) = &r {
                assert!(
                    matches!(spec.source, TemplateSource::Dir(_)),
                    "{bad:?} -> {spec:?}"
                );
            }
        }
        assert!(TemplateSpec::parse("gh:nope", Path::new("/w")).is_err());
        assert!(TemplateSpec::parse("x#", Path::new("/w")).is_err());
        assert!(TemplateSpec::parse("ftp://h/x", Path::new("/w")).is_err());
    }

    #[test]
    fn record_strings_round_trip() {
        for source in [
            TemplateSource::Embedded,
            TemplateSource::Dir("/a b/c".into()),
            TemplateSource::Git {
                url: "file:///r".into(),
                rev: None,
            },
        ] {
            assert_eq!(
                TemplateSource::from_record(&source.record_string()),
                Ok(source)
            );
        }
    }
}
