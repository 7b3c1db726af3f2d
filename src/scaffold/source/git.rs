//! Template repositories read with libgit2 straight from the object
//! database: tags, `#REF`s, trees and blobs, with no checkout (so no
//! filters, hooks or work tree), every blob size-checked in its header
//! before it is read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};

use super::limits::{Budget, check_template_path};
use super::{Provenance, key, tag_version};
use crate::error::{Error, Result, SourceError};
use crate::scaffold::{Scaffold, ScaffoldSource, TemplateFile};

/// `(id, version)` -> where that scaffold version came from.
pub type ProvenanceMap = BTreeMap<(String, String), Provenance>;

/// Opens the repository behind `url`: directly for `file://`, through the
/// cache (fetched with the git command line) otherwise. Returns the
/// repository, the origin used in messages, and whether it is the cache.
pub(super) fn open_git(
    url: &str,
    rev: Option<&str>,
    offline: bool,
) -> Result<(Repository, String, bool)> {
    if let Some(path) = url.strip_prefix("file://")
        && !super::remote::force_cli()
    {
        let repo = Repository::open(path).map_err(|e| {
            Error::from(SourceError::TemplateSpec {
                spec: url.to_string(),
                message: format!("not a git repository: {}", e.message()),
            })
        })?;
        return Ok((repo, url.to_string(), false));
    }
    let cache = super::remote::fetch_remote(url, rev, offline)?;
    let repo = Repository::open_bare(&cache).map_err(|e| {
        Error::from(SourceError::TemplateSpec {
            spec: url.to_string(),
            message: format!(
                "the cached copy in {} is unreadable: {}",
                cache.display(),
                e.message()
            ),
        })
    })?;
    Ok((repo, url.to_string(), true))
}

/// The semver tags of `repo` and the scaffolds at each.
pub(super) fn read_tags(
    repo: &Repository,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Scaffold>, ProvenanceMap)> {
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

pub(super) fn head_commit(repo: &Repository, cache: bool, url: &str) -> Result<Oid> {
    let found = if cache {
        peel_commit(repo, "refs/nixcuda/head")
    } else {
        repo.head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id())
    };
    found.ok_or_else(|| {
        Error::from(SourceError::TemplateSpec {
            spec: url.to_string(),
            message: "the repository has no commit (and no semver tag)".into(),
        })
    })
}

/// Resolves `#REF`: a tag, a branch or a commit. Returns the commit and the
/// tag name when it was a tag.
pub(super) fn resolve_rev(
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
    let heads = if cache {
        "refs/nixcuda/heads/"
    } else {
        "refs/heads/"
    };
    Err(Error::from(SourceError::UnknownRef {
        spec: format!("{url}#{rev}"),
        rev: rev.to_string(),
        tags: ref_names(repo, "refs/tags/"),
        branches: ref_names(repo, heads),
    }))
}

/// The names of the references under `prefix`, sorted, without it.
fn ref_names(repo: &Repository, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = repo
        .references_glob(&format!("{prefix}*"))
        .map(|mut refs| {
            refs.names()
                .flatten()
                .filter_map(|n| n.strip_prefix(prefix).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every scaffold in the tree of `commit`; `version` (from a tag) replaces
/// the manifests' versions.
pub(super) fn scaffolds_at(
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
        return Err(Error::from(SourceError::TemplateSpec {
            spec: at,
            message: "no `scaffold.yaml` at the root or in any `<id>/` sub-directory".into(),
        }));
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
    let mut manifest = super::parse_manifest(&manifest_name, bytes)?;
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
        source: ScaffoldSource::default(),
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

/// The work tree of the repository `path` is in, canonicalized (None
/// outside any repository, or in a bare one).
pub(super) fn work_tree_of(path: &Path) -> Option<PathBuf> {
    let repo = Repository::discover(path).ok()?;
    repo.workdir()?.canonicalize().ok()
}
