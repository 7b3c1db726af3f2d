//! Signed commits: when the user's git config sets `commit.gpgsign`, the
//! commit is made by `git commit-tree -S`, which knows every signing setup
//! git does (gpg, ssh, x509; gpg.program, user.signingKey).

use std::path::Path;

use git2::Repository;

use super::identity::Identity;
use crate::error::{Error, Result};

/// True when the user's git configuration asks for signed commits.
pub(super) fn signing_requested(repo: &Repository) -> bool {
    super::identity::repository_config(repo)
        .and_then(|c| c.get_bool("commit.gpgsign"))
        .unwrap_or(false)
}

pub(super) fn unsigned_warning(what: &str) -> String {
    format!(
        "commit.gpgsign is set, but git is not on PATH to sign with: {what} is not signed.\n  Once git is installed, sign it with: git commit --amend --no-edit -S"
    )
}

/// A signed commit of `tree` made by `git commit-tree -S`, which honours the
/// user's gpg.format, gpg.program and user.signingKey as `git commit` does.
/// `git_dir` is the repository's git directory (which, for a repository
/// being built, has no work tree in place yet). None when there is no git
/// to run.
pub(super) fn sign_with_git(
    git_dir: &Path,
    tree: git2::Oid,
    parents: &[git2::Oid],
    who: &Identity,
    message: &str,
) -> Result<Option<git2::Oid>> {
    let what = if parents.is_empty() {
        "first commit"
    } else {
        "commit"
    };
    let mut command = std::process::Command::new("git");
    command
        .arg("--git-dir")
        .arg(git_dir)
        .args(["commit-tree", "-S", "-m", message])
        .arg(tree.to_string());
    for parent in parents {
        command.arg("-p").arg(parent.to_string());
    }
    for (role, person) in [("AUTHOR", &who.author), ("COMMITTER", &who.committer)] {
        let when = person.when();
        let offset = when.offset_minutes();
        let sign = if offset < 0 { '-' } else { '+' };
        let date = format!(
            "@{} {sign}{:02}{:02}",
            when.seconds(),
            offset.abs() / 60,
            offset.abs() % 60
        );
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        command
            .env(format!("GIT_{role}_NAME"), text(person.name_bytes()))
            .env(format!("GIT_{role}_EMAIL"), text(person.email_bytes()))
            .env(format!("GIT_{role}_DATE"), date);
    }
    let output = command
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::SigningFailed {
                what,
                reason: format!("git could not be started: {e}"),
            });
        }
    };
    let reason = || {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let text = stderr.trim();
        if text.is_empty() {
            format!("git commit-tree -S exited with {}", output.status)
        } else {
            text.to_string()
        }
    };
    if !output.status.success() {
        return Err(Error::SigningFailed {
            what,
            reason: reason(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    git2::Oid::from_str(stdout.trim())
        .map(Some)
        .map_err(|_| Error::SigningFailed {
            what,
            reason: reason(),
        })
}
