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
//! A repository (or directory) whose root has `scaffold.yaml` is one
//! scaffold; otherwise every `<id>/scaffold.yaml` below the root is one.
//! Versions of a git template are its semver tags (`v1.2.0` or `1.2.0`).
//! Nothing read here is ever executed, and every file is size-limited.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{ObjectType, Oid, Repository};

use super::registry::Registry;
use super::{Manifest, Scaffold, TemplateFile};
use crate::error::{Error, Result};

/// Largest single file of a template (and the manifest).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Largest template, all files together.
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// Most files in one template.
pub const MAX_FILES: usize = 2000;
/// Deepest directory nesting in a template (a git tree can nest far deeper
/// than any file system, and reading it recursively would exhaust memory).
pub const MAX_DEPTH: usize = 32;

/// Test hook: fetch `file://` URLs with the git command line, as remote URLs
/// are, so that code path runs without a network.
const FORCE_CLI_ENV: &str = "CARGO_NIXCUDA_GIT_CLI";

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
        let bad = |message: &str| Error::TemplateSpec {
            spec: text.to_string(),
            message: message.to_string(),
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

/// The scaffolds of one template source, as a registry.
pub struct TemplateSet {
    pub source: TemplateSource,
    pub registry: Registry,
    /// `(id, version)` -> commit and tag, for git templates.
    pub provenance: BTreeMap<(String, String), Provenance>,
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
        let mut scaffolds = Vec::new();
        let mut provenance = BTreeMap::new();
        let mut warnings = Vec::new();
        match source {
            TemplateSource::Embedded => {
                return Ok(TemplateSet {
                    source: source.clone(),
                    registry: Registry::embedded()?,
                    provenance,
                    warnings: Vec::new(),
                });
            }
            TemplateSource::Dir(path) => {
                let meta = std::fs::metadata(path).map_err(|e| Error::TemplateSpec {
                    spec: path.display().to_string(),
                    message: format!("cannot read the directory: {e}"),
                })?;
                if !meta.is_dir() {
                    return Err(Error::TemplateSpec {
                        spec: path.display().to_string(),
                        message: "not a directory".into(),
                    });
                }
                let disk = read_disk(path)?;
                if with_history && let Ok(repo) = Repository::open(path) {
                    let origin = format!("file://{}", path.display());
                    let (tagged, prov) = read_tags(&repo, &origin, &mut warnings)?;
                    for s in tagged {
                        if !disk.iter().any(|d| {
                            d.manifest.id == s.manifest.id
                                && d.manifest.version == s.manifest.version
                        }) {
                            scaffolds.push(s);
                        }
                    }
                    provenance = prov;
                }
                for d in &disk {
                    provenance.remove(&key(d));
                }
                scaffolds.extend(disk);
            }
            TemplateSource::Git { url, rev } => {
                let (repo, origin, cache) = open_git(url, rev.as_deref(), offline)?;
                match rev {
                    Some(rev) => {
                        let (commit, tag) = resolve_rev(&repo, rev, cache, url)?;
                        let version = tag.as_deref().and_then(tag_version);
                        for s in scaffolds_at(&repo, commit, version.as_ref(), &origin)? {
                            provenance.insert(
                                key(&s),
                                Provenance {
                                    commit: commit.to_string(),
                                    tag: tag.clone(),
                                },
                            );
                            scaffolds.push(s);
                        }
                    }
                    None => {
                        let (tagged, prov) = read_tags(&repo, &origin, &mut warnings)?;
                        if tagged.is_empty() {
                            let commit = head_commit(&repo, cache, url)?;
                            for s in scaffolds_at(&repo, commit, None, &origin)? {
                                provenance.insert(
                                    key(&s),
                                    Provenance {
                                        commit: commit.to_string(),
                                        tag: None,
                                    },
                                );
                                scaffolds.push(s);
                            }
                        } else {
                            scaffolds = tagged;
                            provenance = prov;
                        }
                    }
                }
            }
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
        let (repo, origin, cache) = open_git(url, Some(commit), offline)?;
        let (oid, _) = resolve_rev(&repo, commit, cache, url)?;
        let version = semver::Version::parse(version).ok();
        let pinned: Vec<Scaffold> = scaffolds_at(&repo, oid, version.as_ref(), &origin)?
            .into_iter()
            .filter(|s| s.manifest.id == id)
            .collect();
        let mut all: Vec<Scaffold> = self
            .registry
            .all()
            .iter()
            .filter(|s| key(s) != k)
            .cloned()
            .collect();
        for s in pinned {
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
            [] => Err(Error::TemplateSpec {
                spec: self.source.display(),
                message: "it holds no scaffold".into(),
            }),
            [one] => Ok(one.to_string()),
            many => Err(Error::AmbiguousTemplate {
                source_name: self.source.display(),
                ids: many.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }
}

fn key(s: &Scaffold) -> (String, String) {
    (s.manifest.id.clone(), s.manifest.version.to_string())
}

fn tag_version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// Counts files and bytes against the limits, naming the file that breaks one.
struct Budget {
    files: usize,
    bytes: u64,
}

impl Budget {
    fn new() -> Budget {
        Budget { files: 0, bytes: 0 }
    }

    fn take(&mut self, path: &str, size: u64) -> Result<()> {
        if size > MAX_FILE_BYTES {
            return Err(Error::TemplateLimit {
                path: path.to_string(),
                message: format!(
                    "is {} bytes; a template file may have at most {} (1 MiB)",
                    size, MAX_FILE_BYTES
                ),
            });
        }
        self.files += 1;
        self.bytes += size;
        if self.files > MAX_FILES {
            return Err(Error::TemplateLimit {
                path: path.to_string(),
                message: format!("is one file too many: a template may have at most {MAX_FILES}"),
            });
        }
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(Error::TemplateLimit {
                path: path.to_string(),
                message: format!(
                    "makes the template larger than {} bytes (16 MiB) in all",
                    MAX_TOTAL_BYTES
                ),
            });
        }
        Ok(())
    }
}

/// Refuses template paths that could never be written safely, whatever the
/// answers: `.git` as any file system reads it, `.`/`..`, empty components.
fn check_template_path(origin: &str, path: &str) -> Result<()> {
    if path.split('/').count() > MAX_DEPTH {
        return Err(Error::TemplateLimit {
            path: format!("{origin}/template/{path}"),
            message: format!("is nested more than {MAX_DEPTH} directories deep"),
        });
    }
    for component in path.split('/') {
        let problem = if component.is_empty() || component == "." || component == ".." {
            Some("has an empty, `.` or `..` component")
        } else if super::render::is_git_dir_name(component) {
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

// ---------------------------------------------------------------- disk

/// The scaffolds of a directory: its root, or its `<id>/` sub-directories.
pub fn read_disk(root: &Path) -> Result<Vec<Scaffold>> {
    if is_plain_file(&root.join("scaffold.yaml"))? {
        return Ok(vec![read_disk_scaffold(root)?]);
    }
    let mut out = Vec::new();
    for sub in read_dir_sorted(root)? {
        let meta = std::fs::symlink_metadata(&sub).map_err(|e| Error::io("inspect", &sub, e))?;
        if meta.is_dir() && is_plain_file(&sub.join("scaffold.yaml"))? {
            out.push(read_disk_scaffold(&sub)?);
        }
    }
    if out.is_empty() {
        return Err(Error::TemplateSpec {
            spec: root.display().to_string(),
            message: "no `scaffold.yaml` at its root or in any `<id>/` sub-directory".into(),
        });
    }
    Ok(out)
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

fn read_disk_scaffold(dir: &Path) -> Result<Scaffold> {
    let origin = dir.display().to_string();
    let manifest_path = dir.join("scaffold.yaml");
    let bytes = read_limited(&manifest_path, &mut Budget::new())?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Manifest {
        file: manifest_path.display().to_string(),
        line: None,
        message: "not UTF-8 text".into(),
    })?;
    let manifest = Manifest::parse(&manifest_path.display().to_string(), &text)?;
    let mut files = Vec::new();
    let template = dir.join("template");
    match std::fs::symlink_metadata(&template) {
        Err(_) => {}
        Ok(meta) if meta.is_dir() => {
            let mut budget = Budget::new();
            collect_disk(&origin, &template, &template, &mut files, &mut budget)?;
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
    })
}

fn collect_disk(
    origin: &str,
    dir: &Path,
    root: &Path,
    out: &mut Vec<TemplateFile>,
    budget: &mut Budget,
) -> Result<()> {
    for path in read_dir_sorted(dir)? {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("inspect", &path, e))?;
        let rel = path
            .strip_prefix(root)
            .expect("inside its root")
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::UnsafePath {
                path: path.display().to_string(),
                reason: "file names in a template must be UTF-8".into(),
            })?
            .join("/");
        check_template_path(origin, &rel)?;
        if meta.file_type().is_symlink() {
            return Err(Error::UnsafePath {
                path: path.display().to_string(),
                reason: "templates may not contain symbolic links".into(),
            });
        } else if meta.is_dir() {
            collect_disk(origin, &path, root, out, budget)?;
        } else if meta.is_file() {
            let contents = read_limited(&path, budget)?;
            out.push(TemplateFile {
                path: rel,
                contents: Cow::Owned(contents),
                executable: super::registry::is_executable(&meta),
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

use super::registry::read_dir_sorted;

// ----------------------------------------------------------------- git

/// Opens the repository behind `url`: directly for `file://`, through the
/// cache (fetched with the git command line) otherwise. Returns the
/// repository, the origin used in messages, and whether it is the cache.
fn open_git(url: &str, rev: Option<&str>, offline: bool) -> Result<(Repository, String, bool)> {
    let force_cli = std::env::var_os(FORCE_CLI_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    if let Some(path) = url.strip_prefix("file://")
        && !force_cli
    {
        let repo = Repository::open(path).map_err(|e| Error::TemplateSpec {
            spec: url.to_string(),
            message: format!("not a git repository: {}", e.message()),
        })?;
        return Ok((repo, url.to_string(), false));
    }
    let cache = fetch_remote(url, rev, offline)?;
    let repo = Repository::open_bare(&cache).map_err(|e| Error::TemplateSpec {
        spec: url.to_string(),
        message: format!(
            "the cached copy in {} is unreadable: {}",
            cache.display(),
            e.message()
        ),
    })?;
    Ok((repo, url.to_string(), true))
}

/// The semver tags of `repo` and the scaffolds at each.
#[allow(clippy::type_complexity)]
fn read_tags(
    repo: &Repository,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Scaffold>, BTreeMap<(String, String), Provenance>)> {
    let names = repo
        .tag_names(None)
        .map_err(Error::git("list the tags of a template"))?;
    let mut tags: Vec<(semver::Version, String)> = names
        .iter()
        .filter_map(|name| name.ok().flatten())
        .filter_map(|name| tag_version(name).map(|v| (v, name.to_string())))
        .collect();
    tags.sort();
    let mut scaffolds: Vec<Scaffold> = Vec::new();
    let mut provenance = BTreeMap::new();
    for (version, name) in tags {
        // One odd tag must not make every other version unusable.
        let Some(commit) = peel_commit(repo, &format!("refs/tags/{name}")) else {
            warnings.push(format!(
                "{origin}: tag `{name}` does not point at a commit; version {version} is skipped"
            ));
            continue;
        };
        for s in scaffolds_at(repo, commit, Some(&version), origin)? {
            // `v1.0.0` and `1.0.0` may both exist: the first wins.
            if provenance.contains_key(&key(&s)) {
                continue;
            }
            provenance.insert(
                key(&s),
                Provenance {
                    commit: commit.to_string(),
                    tag: Some(name.clone()),
                },
            );
            scaffolds.push(s);
        }
    }
    Ok((scaffolds, provenance))
}

fn peel_commit(repo: &Repository, refname: &str) -> Option<Oid> {
    repo.find_reference(refname)
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

fn head_commit(repo: &Repository, cache: bool, url: &str) -> Result<Oid> {
    let found = if cache {
        peel_commit(repo, "refs/nixcuda/head")
    } else {
        repo.head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id())
    };
    found.ok_or_else(|| Error::TemplateSpec {
        spec: url.to_string(),
        message: "the repository has no commit (and no semver tag)".into(),
    })
}

/// Resolves `#REF`: a tag, a branch or a commit. Returns the commit and the
/// tag name when it was a tag.
fn resolve_rev(
    repo: &Repository,
    rev: &str,
    cache: bool,
    url: &str,
) -> Result<(Oid, Option<String>)> {
    if let Some(id) = peel_commit(repo, &format!("refs/tags/{rev}")) {
        return Ok((id, Some(rev.to_string())));
    }
    let branch = if cache {
        format!("refs/nixcuda/heads/{rev}")
    } else {
        format!("refs/heads/{rev}")
    };
    for refname in [branch, format!("refs/nixcuda/pinned/{rev}")] {
        if let Some(id) = peel_commit(repo, &refname) {
            return Ok((id, None));
        }
    }
    if rev.len() >= 7
        && rev.chars().all(|c| c.is_ascii_hexdigit())
        && let Ok(obj) = repo.revparse_single(rev)
        && let Ok(commit) = obj.peel_to_commit()
    {
        return Ok((commit.id(), None));
    }
    let names = |pattern: &str, prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = repo
            .references_glob(pattern)
            .map(|mut refs| {
                refs.names()
                    .flatten()
                    .filter_map(|n| n.strip_prefix(prefix).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let heads = if cache {
        "refs/nixcuda/heads/"
    } else {
        "refs/heads/"
    };
    Err(Error::UnknownRef {
        spec: format!("{url}#{rev}"),
        rev: rev.to_string(),
        tags: names("refs/tags/*", "refs/tags/"),
        branches: names(&format!("{heads}*"), heads),
    })
}

/// Every scaffold in the tree of `commit`; `version` (from a tag) replaces
/// the manifests' versions.
fn scaffolds_at(
    repo: &Repository,
    commit: Oid,
    version: Option<&semver::Version>,
    origin: &str,
) -> Result<Vec<Scaffold>> {
    let short = &commit.to_string()[..10];
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(Error::git("read a template commit"))?;
    let at = format!("{origin}@{short}");
    let mut out = Vec::new();
    if tree.get_name("scaffold.yaml").is_some() {
        out.push(scaffold_from_tree(repo, &tree, &at, version)?);
    } else {
        for entry in tree.iter() {
            if entry.kind() != Some(ObjectType::Tree) {
                continue;
            }
            let Ok(name) = entry.name() else { continue };
            let sub = repo
                .find_tree(entry.id())
                .map_err(Error::git("read a template tree"))?;
            if sub.get_name("scaffold.yaml").is_some() {
                out.push(scaffold_from_tree(
                    repo,
                    &sub,
                    &format!("{at}/{name}"),
                    version,
                )?);
            }
        }
    }
    if out.is_empty() {
        return Err(Error::TemplateSpec {
            spec: at,
            message: "no `scaffold.yaml` at the root or in any `<id>/` sub-directory".into(),
        });
    }
    Ok(out)
}

const MODE_FILE: i32 = 0o100644;
const MODE_EXEC: i32 = 0o100755;
const MODE_LINK: i32 = 0o120000;
const MODE_TREE: i32 = 0o040000;

fn scaffold_from_tree(
    repo: &Repository,
    tree: &git2::Tree,
    origin: &str,
    version: Option<&semver::Version>,
) -> Result<Scaffold> {
    let manifest_name = format!("{origin}/scaffold.yaml");
    let entry = tree
        .get_name("scaffold.yaml")
        .expect("checked by the caller");
    let bytes = read_blob(repo, &entry, &manifest_name, &mut Budget::new())?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Manifest {
        file: manifest_name.clone(),
        line: None,
        message: "not UTF-8 text".into(),
    })?;
    let mut manifest = Manifest::parse(&manifest_name, &text)?;
    if let Some(v) = version {
        manifest.version = v.clone();
    }
    let mut files = Vec::new();
    if let Some(entry) = tree.get_name("template") {
        if entry.filemode() != MODE_TREE {
            return Err(Error::UnsafePath {
                path: format!("{origin}/template"),
                reason: "`template` must be a plain directory (not a link or a file)".into(),
            });
        }
        let sub = repo
            .find_tree(entry.id())
            .map_err(Error::git("read a template tree"))?;
        collect_tree(repo, &sub, origin, "", &mut files, &mut Budget::new())?;
    }
    Ok(Scaffold {
        manifest,
        origin: origin.to_string(),
        files,
    })
}

fn collect_tree(
    repo: &Repository,
    tree: &git2::Tree,
    origin: &str,
    prefix: &str,
    out: &mut Vec<TemplateFile>,
    budget: &mut Budget,
) -> Result<()> {
    for entry in tree.iter() {
        let name = entry.name().map_err(|_| Error::UnsafePath {
            path: format!("{origin}/template/{prefix}?"),
            reason: "file names in a template must be UTF-8".into(),
        })?;
        let rel = format!("{prefix}{name}");
        check_template_path(origin, &rel)?;
        let shown = format!("{origin}/template/{rel}");
        match entry.filemode() {
            MODE_TREE => {
                let sub = repo
                    .find_tree(entry.id())
                    .map_err(Error::git("read a template tree"))?;
                collect_tree(repo, &sub, origin, &format!("{rel}/"), out, budget)?;
            }
            MODE_FILE | MODE_EXEC => {
                let contents = read_blob(repo, &entry, &shown, budget)?;
                out.push(TemplateFile {
                    path: rel,
                    contents: Cow::Owned(contents),
                    executable: entry.filemode() == MODE_EXEC,
                });
            }
            MODE_LINK => {
                return Err(Error::UnsafePath {
                    path: shown,
                    reason: "templates may not contain symbolic links".into(),
                });
            }
            _ => {
                return Err(Error::UnsafePath {
                    path: shown,
                    reason: "templates may not contain submodules".into(),
                });
            }
        }
    }
    Ok(())
}

/// Reads a blob after checking its size in the object header.
fn read_blob(
    repo: &Repository,
    entry: &git2::TreeEntry,
    shown: &str,
    budget: &mut Budget,
) -> Result<Vec<u8>> {
    if entry.filemode() != MODE_FILE && entry.filemode() != MODE_EXEC {
        return Err(Error::UnsafePath {
            path: shown.to_string(),
            reason: "is not a plain file (links and submodules are refused)".into(),
        });
    }
    let odb = repo.odb().map_err(Error::git("open the object database"))?;
    let (size, _) = odb
        .read_header(entry.id())
        .map_err(Error::git("read a template file"))?;
    budget.take(shown, size as u64)?;
    let blob = repo
        .find_blob(entry.id())
        .map_err(Error::git("read a template file"))?;
    Ok(blob.content().to_vec())
}

// ---------------------------------------------------- remote (git CLI)

/// `$XDG_CACHE_HOME/cargo-nixcuda/templates` (or `~/.cache/...`).
pub fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("cargo-nixcuda").join("templates"))
}

/// A stable name for the cache of `url` (FNV-1a, 64 bits).
fn url_hash(url: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The bare cache of `url`, refreshed with a shallow fetch of HEAD, the
/// branches and the tags (unless `offline`).
fn fetch_remote(url: &str, rev: Option<&str>, offline: bool) -> Result<PathBuf> {
    let root = cache_root().ok_or_else(|| Error::TemplateSpec {
        spec: url.to_string(),
        message: "no cache directory: neither XDG_CACHE_HOME nor HOME is set".into(),
    })?;
    let dir = root.join(url_hash(url));
    let cached = dir.join("HEAD").is_file();
    if offline {
        return if cached {
            Ok(dir)
        } else {
            Err(Error::NotCached {
                url: url.to_string(),
            })
        };
    }
    let fresh = !cached;
    if fresh {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        git_cli(
            &["init", "--bare", "--quiet", "."],
            &dir,
            url,
            "create the template cache",
        )
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })?;
    }
    let fetched = git_cli(
        &[
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "--force",
            "--no-tags",
            "--",
            url,
            "+HEAD:refs/nixcuda/head",
            "+refs/heads/*:refs/nixcuda/heads/*",
            "+refs/tags/*:refs/tags/*",
        ],
        &dir,
        url,
        "fetch the template",
    );
    if let Err(mut e) = fetched {
        if fresh {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if let Error::GitCommand { cached, .. } = &mut e {
            *cached = !fresh;
        }
        return Err(e);
    }
    // A commit that no branch or tag names (a pinned `#SHA`).
    if let Some(rev) = rev
        && rev.len() >= 7
        && rev.chars().all(|c| c.is_ascii_hexdigit())
    {
        let have = Repository::open_bare(&dir)
            .ok()
            .is_some_and(|r| r.revparse_single(rev).is_ok());
        if !have {
            let _ = git_cli(
                &[
                    "fetch",
                    "--quiet",
                    "--depth",
                    "1",
                    "--",
                    url,
                    &format!("{rev}:refs/nixcuda/pinned/{rev}"),
                ],
                &dir,
                url,
                "fetch a pinned commit",
            );
        }
    }
    Ok(dir)
}

/// Runs `git ARGS` in `dir` without a terminal prompt.
fn git_cli(args: &[&str], dir: &Path, url: &str, action: &'static str) -> Result<()> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", ALLOWED_SCHEMES.join(":"))
        .stdin(Stdio::null())
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::GitMissing {
            url: url.to_string(),
        }),
        Err(e) => Err(Error::io("run git in", dir, e)),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = message[message.len().saturating_sub(4)..].join("\n");
            Err(Error::GitCommand {
                action,
                url: url.to_string(),
                message: if tail.is_empty() {
                    format!("git exited with {}", out.status)
                } else {
                    tail
                },
                cached: false,
            })
        }
        Ok(_) => Ok(()),
    }
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
        assert_eq!(url_hash("x"), url_hash("x"));
        assert_ne!(url_hash("x"), url_hash("y"));
    }

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
}
