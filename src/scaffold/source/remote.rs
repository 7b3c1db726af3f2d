//! Remote templates, fetched with the `git` command line (so the user's SSH
//! config, known_hosts and credential helpers apply) into a bare cache
//! under the user's cache directory, then read like a local repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::Repository;

use super::ALLOWED_SCHEMES;
use crate::error::{Error, Result, SourceError};

/// Test hook: fetch `file://` URLs with the git command line, as remote URLs
/// are, so that code path runs without a network.
const FORCE_CLI_ENV: &str = crate::test_hooks::GIT_CLI;

/// Whether `file://` URLs go through the command line and the cache too.
pub(super) fn force_cli() -> bool {
    std::env::var_os(FORCE_CLI_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

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
pub(super) fn fetch_remote(url: &str, rev: Option<&str>, offline: bool) -> Result<PathBuf> {
    let root = cache_root().ok_or_else(|| {
        Error::from(SourceError::TemplateSpec {
            spec: url.to_string(),
            message: "no cache directory: neither XDG_CACHE_HOME nor HOME is set".into(),
        })
    })?;
    let dir = root.join(url_hash(url));
    let cached = dir.join("HEAD").is_file();
    if offline {
        return if cached {
            Ok(dir)
        } else {
            Err(Error::from(SourceError::NotCached {
                url: url.to_string(),
            }))
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
        if let Error::Source(SourceError::GitCommand { cached, .. }) = &mut e {
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::from(SourceError::GitMissing {
                url: url.to_string(),
            }))
        }
        Err(e) => Err(Error::io("run git in", dir, e)),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = message[message.len().saturating_sub(4)..].join("\n");
            Err(Error::from(SourceError::GitCommand {
                action,
                url: url.to_string(),
                message: if tail.is_empty() {
                    format!("git exited with {}", out.status)
                } else {
                    tail
                },
                cached: false,
            }))
        }
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_stable_and_distinct() {
        assert_eq!(url_hash("x"), url_hash("x"));
        assert_ne!(url_hash("x"), url_hash("y"));
        assert_eq!(url_hash("x").len(), 16);
    }
}
