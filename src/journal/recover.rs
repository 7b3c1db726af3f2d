//! Rolling back an interrupted change set (see `journal.rs`), before any
//! command reads the project.
//!
//! A journal is a list of files to remove and rename, so one that someone
//! else wrote could delete or plant anything its paths reach. Only the
//! project's own journal is read (`journal::place`: never one in a parent
//! directory, never one that came with a clone), only when this user wrote
//! it and nobody else can change it, and only when every path in it is a
//! plain relative path inside the project, not under `.git`, reached
//! through no symbolic link. Anything else is reported and left as it is.
//!
//! Rolling back never removes or overwrites a file that differs from what
//! the interrupted run wrote (the user may have edited it since): such a
//! file is left, its original is kept beside the journal, and the message
//! names both.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::{
    Entry, INDEX_BEFORE, INDEX_TAG, INDEX_WRITTEN, JOURNAL_DIR, JOURNAL_FILE, Journal,
    PROJECT_FILE, Place, ProjectLock, Written, create_private_dir, place, sync_dir,
};
use crate::error::{Error, Result};

/// A journal larger than this is not one cargo-nixcuda wrote.
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// Whether the project at `root` has an interrupted change to roll back
/// (its own journal; a journal elsewhere does not count). With `beside`
/// false, only a journal in a git directory counts: one in `root` itself
/// marks `root` only when it is the directory the user named.
pub fn has_pending(root: &Path, beside: bool) -> bool {
    let place = place(root);
    if !place.in_git && !beside {
        return false;
    }
    let Ok(text) = fs::read_to_string(place.dir.join(JOURNAL_FILE)) else {
        // Leftovers: only the lock of the index may need releasing.
        return match fs::read(place.dir.join(PROJECT_FILE)) {
            Ok(project) => project == place.project.as_os_str().as_encoded_bytes(),
            Err(_) => fs::symlink_metadata(&place.dir).is_ok() && !place.in_git,
        };
    };
    serde_json::from_str::<Journal>(&text).is_ok_and(|j| j.project == place.project)
}

/// Rolls back the project's interrupted change set, if there is one. Needs
/// the lock, so a journal that a running command is still writing is never
/// touched. Returns what was done (or found and left alone), for the user.
pub fn recover(root: &Path, _lock: &ProjectLock) -> Result<Option<String>> {
    let place = place(root);
    let mut notes: Vec<String> = roll_back(root, &place)?.into_iter().collect();
    // A journal beside a project that has a repository is not where this
    // version keeps it: it came with the files (a clone, an archive), or
    // is what a killed `init` left after its repository was in place.
    let beside = root.join(JOURNAL_DIR);
    if place.in_git && fs::symlink_metadata(&beside).is_ok() {
        notes.push(format!(
            "`{}` holds a journal that cargo-nixcuda did not apply: it keeps the journal of a project in a git repository in the git directory, so this one came with the files or was left by an `init` that finished; if `git status` shows the project as you expect, remove it (`rm -r {}`)",
            beside.display(),
            beside.display()
        ));
    }
    Ok((!notes.is_empty()).then(|| notes.join("\n")))
}

fn untrusted(path: &Path, reason: impl Into<String>) -> Error {
    Error::UntrustedJournal {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Refuses what this user did not write or others may change.
fn check_owned(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if meta.file_type().is_symlink() {
        return Err(untrusted(path, "it is a symbolic link"));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(untrusted(
            path,
            format!("it belongs to user {}, not to you ({euid})", meta.uid()),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(
            path,
            format!("others may write to it (mode {:o})", meta.mode() & 0o7777),
        ));
    }
    Ok(())
}

/// A single plain name (`new/<n>`, `old/<n>`).
fn plain_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none()
}

/// Why `rel` is not a path a journal may name, if it is not.
fn bad_path(rel: &Path) -> Option<&'static str> {
    if rel.as_os_str().is_empty() {
        return Some("is empty");
    }
    for component in rel.components() {
        match component {
            Component::Normal(name) => {
                if name.to_string_lossy().eq_ignore_ascii_case(".git") {
                    return Some("is in `.git`");
                }
            }
            Component::ParentDir => return Some("contains `..`"),
            Component::RootDir | Component::Prefix(_) => return Some("is absolute"),
            Component::CurDir => return Some("contains `.`"),
        }
    }
    None
}

/// Checks every path of `journal` before anything is done.
fn check_entries(root: &Path, place: &Place, path: &Path, journal: &Journal) -> Result<()> {
    if journal.project != place.project {
        return Err(untrusted(
            path,
            format!(
                "it was written for the project at `{}` of this repository, not this one",
                journal.project.display()
            ),
        ));
    }
    if journal.index.is_some() && place.git_dir.is_none() {
        return Err(untrusted(
            path,
            "it names a git index, but there is no repository",
        ));
    }
    for entry in &journal.entries {
        let shown = entry.path.display();
        // `init` moves a new `.git` in; recovery never touches it, only
        // the directories made for it.
        let own_git = entry.is_dir && entry.path == Path::new(".git") && !place.in_git;
        if entry.is_dir && !own_git {
            return Err(untrusted(path, format!("it names directory `{shown}`")));
        }
        if !own_git && let Some(reason) = bad_path(&entry.path) {
            return Err(untrusted(path, format!("its path `{shown}` {reason}")));
        }
        if !plain_name(&entry.old) || entry.new.as_deref().is_some_and(|n| !plain_name(n)) {
            return Err(untrusted(
                path,
                format!("its entry for `{shown}` is malformed"),
            ));
        }
        for dir in &entry.created_dirs {
            if bad_path(dir).is_some() || !entry.path.starts_with(dir) || dir == &entry.path {
                return Err(untrusted(
                    path,
                    format!("its directory `{}` is not above `{shown}`", dir.display()),
                ));
            }
        }
        // Every directory on the way must be a real one: a link put there
        // would carry the renames out of the project.
        let mut walked = root.to_path_buf();
        for component in entry.path.parent().into_iter().flat_map(Path::components) {
            walked.push(component);
            if fs::symlink_metadata(&walked).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(untrusted(
                    path,
                    format!("`{}` is a symbolic link", walked.display()),
                ));
            }
        }
    }
    Ok(())
}

fn read_journal(path: &Path) -> Result<Option<Journal>> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(None);
    };
    check_owned(path, &meta)?;
    if !meta.is_file() || meta.len() > MAX_JOURNAL_BYTES {
        return Err(untrusted(path, "it is not a journal cargo-nixcuda writes"));
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_JOURNAL_BYTES).read_to_string(&mut text))
        .map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::BadJournal {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Whether `target` is a regular file that is exactly `written`.
fn is_what_was_written(target: &Path, written: Option<&Written>) -> bool {
    let Some(written) = written else {
        return false;
    };
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_file() && meta.len() == written.size => {
            fs::read(target).is_ok_and(|now| &Written::of(&now) == written)
        }
        _ => false,
    }
}

/// Files recovery did not touch, and where their originals went.
#[derive(Default)]
struct Left {
    paths: Vec<PathBuf>,
    kept: Option<PathBuf>,
}

impl Left {
    /// Moves the original of a left file out of the journal, so it is not
    /// lost when the journal goes.
    fn keep(&mut self, place: &Place, entry: &Entry, saved: &Path) -> Result<()> {
        self.paths.push(entry.path.clone());
        if fs::symlink_metadata(saved).is_err() {
            return Ok(());
        }
        let kept = self.kept.get_or_insert_with(|| kept_dir(place)).clone();
        let to = kept.join(&entry.path);
        let mut made = kept.clone();
        if !made.exists() {
            create_private_dir(&made).map_err(|e| Error::io("create directory", &made, e))?;
        }
        for component in entry.path.parent().into_iter().flat_map(Path::components) {
            made.push(component);
            if !made.exists() {
                fs::create_dir(&made).map_err(|e| Error::io("create directory", &made, e))?;
            }
        }
        fs::rename(saved, &to).map_err(|e| Error::io("keep", &to, e))
    }
}

/// A new directory beside the journal for the originals of left files.
fn kept_dir(place: &Place) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = place
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 0;
    loop {
        let candidate = place.dir.with_file_name(format!("{name}-kept-{secs}-{n}"));
        if fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
        n += 1;
    }
}

/// Undoes one entry; a file that is not what the run left is left.
fn undo_entry(root: &Path, place: &Place, entry: &Entry, left: &mut Left) -> Result<()> {
    let dir = &place.dir;
    let target = root.join(&entry.path);
    let saved = dir.join("old").join(&entry.old);
    if entry.is_dir {
        // `init`'s new `.git`: recovery never moves, replaces or removes
        // a `.git`; when it is in place the journal is not applied at all.
        return Ok(());
    }
    let staged = entry
        .new
        .as_ref()
        .is_some_and(|n| dir.join("new").join(n).exists());
    let mut free = fs::symlink_metadata(&target).is_err();
    // Moved in already: the new content goes, if it is still the run's.
    if entry.new.is_some() && !staged && !free {
        if is_what_was_written(&target, entry.written.as_ref()) {
            fs::remove_file(&target).map_err(|e| Error::io("remove", &target, e))?;
            free = true;
        } else {
            return left.keep(place, entry, &saved);
        }
    }
    if fs::symlink_metadata(&saved).is_ok() {
        if !free {
            // Made again since the run removed it: the user's.
            return left.keep(place, entry, &saved);
        }
        fs::rename(&saved, &target).map_err(|e| Error::io("restore", &target, e))?;
    }
    for created in entry.created_dirs.iter().rev() {
        let _ = fs::remove_dir(root.join(created));
    }
    Ok(())
}

fn roll_back(root: &Path, place: &Place) -> Result<Option<String>> {
    let dir = &place.dir;
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return Ok(None);
    };
    check_owned(dir, &meta)?;
    if !meta.is_dir() {
        return Err(untrusted(dir, "it is not a directory"));
    }
    let journal_path = dir.join(JOURNAL_FILE);
    let Some(journal) = read_journal(&journal_path)? else {
        // Killed before the journal was written (nothing was touched) or
        // after it was removed (everything was): only leftovers, and maybe
        // the index lock the run held.
        release_index_lock(place)?;
        fs::remove_dir_all(dir).map_err(|e| Error::io("remove", dir, e))?;
        return Ok(None);
    };
    check_entries(root, place, &journal_path, &journal)?;
    if !place.in_git && journal.entries.iter().any(|e| e.is_dir) && root.join(".git").exists() {
        // `init` was killed after its `.git` moved in, the last step:
        // the change is complete, nothing is rolled back.
        return Err(untrusted(
            &journal_path,
            "the project has a `.git` now, so the change it records finished",
        ));
    }
    let index_note = undo_index(place, &journal)?;
    let mut touched = BTreeSet::new();
    let mut left = Left::default();
    for entry in journal.entries.iter().rev() {
        undo_entry(root, place, entry, &mut left)?;
        if let Some(parent) = root.join(&entry.path).parent() {
            touched.insert(parent.to_path_buf());
        }
    }
    for parent in touched.iter().filter(|p| p.is_dir()) {
        sync_dir(parent)?;
    }
    fs::remove_file(&journal_path).map_err(|e| Error::io("remove", &journal_path, e))?;
    sync_dir(dir)?;
    fs::remove_dir_all(dir).map_err(|e| Error::io("remove", dir, e))?;
    let mut message = format!(
        "`{}` was interrupted here; its changes were rolled back, so the project is as it was before it",
        journal.command
    );
    if !left.paths.is_empty() {
        let paths: Vec<String> = left.paths.iter().map(|p| p.display().to_string()).collect();
        message.push_str(&format!(
            ", except for files changed since, which were left as they are: {}",
            paths.join(", ")
        ));
        if let Some(kept) = &left.kept {
            message.push_str(&format!(
                " (their versions from before it are in `{}`)",
                kept.display()
            ));
        }
    }
    if let Some(note) = index_note {
        message.push_str(&format!("; {note}"));
    }
    Ok(Some(message))
}

/// Removes the `index.lock` the interrupted run held, if it is still
/// there; true when it was (so the index itself was never replaced). The
/// lock is the run's when it holds the run's tag, or, once filled, the
/// index whose hash the run recorded.
fn release_index_lock(place: &Place) -> Result<bool> {
    let Some(git_dir) = &place.git_dir else {
        return Ok(false);
    };
    let lock = git_dir.join("index.lock");
    let tagged = fs::read_to_string(place.dir.join(INDEX_TAG))
        .is_ok_and(|tag| crate::vcs::is_own_lock(&lock, &tag));
    let filled = || {
        fs::read_to_string(place.dir.join(INDEX_WRITTEN)).is_ok_and(|written| {
            fs::read(&lock).is_ok_and(|now| Written::of(&now).sha1 == written.trim())
        })
    };
    if !tagged && !filled() {
        return Ok(false);
    }
    fs::remove_file(&lock).map_err(|e| Error::io("remove", &lock, e))?;
    Ok(true)
}

/// Puts back the index the run replaced, unless it changed since (then it
/// is left, and the returned note says so).
fn undo_index(place: &Place, journal: &Journal) -> Result<Option<String>> {
    let (Some(state), Some(git_dir)) = (&journal.index, &place.git_dir) else {
        return Ok(None);
    };
    if release_index_lock(place)? {
        return Ok(None);
    }
    let Ok(written) = fs::read_to_string(place.dir.join(INDEX_WRITTEN)) else {
        return Ok(None); // killed before the new index was made
    };
    let held = crate::vcs::IndexLock::take_in(git_dir, "")?;
    let now = fs::read(held.index_path())
        .ok()
        .map(|b| Written::of(&b).sha1);
    if now.as_deref() != Some(written.trim()) {
        // Kept out of the journal, which goes.
        let kept = place.dir.with_file_name("index.before");
        let _ = fs::rename(place.dir.join(INDEX_BEFORE), &kept);
        return Ok(Some(format!(
            "the git index was changed after it, so it was left as it is (`git status` shows it; the index from before is in `{}`)",
            kept.display()
        )));
    }
    let before = place.dir.join(INDEX_BEFORE);
    held.commit(state.existed.then_some(before.as_path()))?;
    sync_dir(git_dir)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_names_only_plain_relative_paths_outside_git() {
        for (path, reason) in [
            ("", Some("is empty")),
            ("/etc/passwd", Some("is absolute")),
            ("a/../../b", Some("contains `..`")),
            ("./a", Some("contains `.`")),
            (".git/config", Some("is in `.git`")),
            ("sub/.Git/hooks/pre-commit", Some("is in `.git`")),
            ("src/.gitignore", None),
            ("a/b.txt", None),
        ] {
            assert_eq!(bad_path(Path::new(path)), reason, "{path}");
        }
        assert!(plain_name("12") && plain_name("dir"));
        assert!(!plain_name("../x") && !plain_name("a/b") && !plain_name("/x") && !plain_name(""));
    }
}
