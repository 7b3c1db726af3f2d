//! `update --abort`: the project exactly as it was before the last
//! `update` (files, index, HEAD, the pristine ref), as `git merge --abort`
//! does after a merge. Before `apply` changes anything it saves what it will
//! change in `<git dir>/nixcuda/abort/`; `--abort` puts it back through the
//! journal, so an abort is as crash-safe as an update. Only projects in git
//! have it: without git there is no index to restore and nowhere outside
//! the work tree to keep the old files.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AbortError, Error, Result};
use crate::fs::write::{FileOp, check_changes};
use crate::journal::{self, ProjectLock};
use crate::vcs;

const STATE_DIR: &str = "nixcuda/abort";
const STATE_FILE: &str = "state.json";

/// What `--abort` puts back.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The update, for messages (`ml@1.0.0 -> ml@1.1.0`).
    update: String,
    /// The project root it changed.
    root: PathBuf,
    head: Option<String>,
    /// Set when the update committed (`--commit`).
    head_after: Option<String>,
    pristine: Option<String>,
    /// The index was there (it is saved as `index`).
    index: bool,
    files: Vec<SavedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedFile {
    /// Relative to the project root.
    path: PathBuf,
    /// Its saved copy under `files/`; None when the path did not exist.
    saved: Option<String>,
    executable: bool,
}

fn state_dir(root: &Path) -> Option<PathBuf> {
    vcs::git_dir(root).map(|git_dir| git_dir.join(STATE_DIR))
}

/// Saves what `ops` will change (and the index, HEAD and the pristine
/// ref) for `--abort`, replacing the state of an earlier update. Does
/// nothing outside git.
pub fn save(root: &Path, ops: &[FileOp], update: &str) -> Result<()> {
    let Some(dir) = state_dir(root) else {
        return Ok(());
    };
    let tmp = dir.with_extension("tmp");
    remove_dir(&tmp)?;
    fs::create_dir_all(tmp.join("files")).map_err(|e| Error::io("create directory", &tmp, e))?;
    let mut files = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        files.push(save_file(root, &tmp, op.path(), n)?);
    }
    let git_dir = dir.parent().and_then(Path::parent).unwrap_or(&dir);
    let index = git_dir.join("index");
    let has_index = index.is_file();
    if has_index {
        fs::copy(&index, tmp.join("index")).map_err(|e| Error::io("save", &index, e))?;
    }
    let state = State {
        update: update.to_string(),
        root: root.to_path_buf(),
        head: vcs::head_commit(root),
        head_after: None,
        pristine: vcs::reference_target(root, vcs::PRISTINE_REF),
        index: has_index,
        files,
    };
    write_state(&tmp, &state)?;
    remove_dir(&dir)?;
    fs::rename(&tmp, &dir).map_err(|e| Error::io("save the state for --abort in", &dir, e))
}

fn save_file(root: &Path, tmp: &Path, rel: &Path, n: usize) -> Result<SavedFile> {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(rel);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return Ok(SavedFile {
            path: rel.to_path_buf(),
            saved: None,
            executable: false,
        });
    };
    let name = n.to_string();
    let copy = tmp.join("files").join(&name);
    fs::copy(&path, &copy).map_err(|e| Error::io("save", &path, e))?;
    Ok(SavedFile {
        path: rel.to_path_buf(),
        saved: Some(name),
        executable: meta.permissions().mode() & 0o111 != 0,
    })
}

/// After `update --commit`: the commit `--abort` takes back.
pub fn committed(root: &Path, commit: &str) -> Result<()> {
    let Some(dir) = state_dir(root) else {
        return Ok(());
    };
    let mut state = read_state(&dir)?;
    state.head_after = Some(commit.to_string());
    write_state(&dir, &state)
}

fn write_state(dir: &Path, state: &State) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let text = serde_json::to_vec_pretty(state).expect("the state serializes");
    // Rewritten after `update --commit`: a kill then must leave the old
    // state whole, never half of the new one.
    crate::fs::write_atomic(&path, &text)
}

fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let text = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    serde_json::from_slice(&text).map_err(|e| {
        AbortError::BadState {
            path: dir.to_path_buf(),
            message: e.to_string(),
        }
        .into()
    })
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", dir, e)),
        _ => Ok(()),
    }
}

/// Puts the project back as it was before the last update; returns that
/// update (`ml@1.0.0 -> ml@1.1.0`), to tell the user.
pub fn abort(root: &Path, lock: &ProjectLock) -> Result<String> {
    let nothing = |in_git| AbortError::NothingToAbort {
        root: root.to_path_buf(),
        in_git,
    };
    let Some(dir) = state_dir(root) else {
        return Err(nothing(false).into());
    };
    if !dir.join(STATE_FILE).is_file() {
        return Err(nothing(true).into());
    }
    let state = read_state(&dir)?;
    let same_root = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same_root(&state.root, root) {
        return Err(nothing(true).into());
    }
    let head_now = vcs::head_commit(root);
    if head_now != state.head_after.clone().or(state.head.clone()) {
        return Err(AbortError::HeadMoved {
            update: state.update,
        }
        .into());
    }
    let ops = restore_ops(root, &dir, &state)?;
    check_changes(root, &ops)?;
    let command = format!("cargo nixcuda update --abort ({})", state.update);
    if state.index {
        // The saved index goes in with the files, in one atomic unit.
        let saved = dir.join("index");
        let mut build = |_: &vcs::IndexLock, out: &Path| {
            fs::copy(&saved, out)
                .map(drop)
                .map_err(|e| Error::io("restore the index from", &saved, e))
        };
        journal::apply_staged(root, &ops, &mut build, &command, lock)?;
    } else {
        journal::apply(root, &ops, &command, lock)?;
    }
    restore_git(root, &dir, &state)?;
    remove_dir(&dir)?;
    Ok(state.update)
}

/// Each saved file back, each file the update created removed.
fn restore_ops(root: &Path, dir: &Path, state: &State) -> Result<Vec<FileOp>> {
    let mut ops = Vec::new();
    for file in &state.files {
        match &file.saved {
            Some(name) => {
                let copy = dir.join("files").join(name);
                let contents = fs::read(&copy).map_err(|e| Error::io("read", &copy, e))?;
                ops.push(FileOp::Write {
                    path: file.path.clone(),
                    contents,
                    executable: file.executable,
                });
            }
            None if fs::symlink_metadata(root.join(&file.path)).is_ok() => {
                ops.push(FileOp::Delete {
                    path: file.path.clone(),
                })
            }
            None => {}
        }
    }
    Ok(ops)
}

/// HEAD (when the update committed), the pristine ref, and the index
/// when there was none before.
fn restore_git(root: &Path, dir: &Path, state: &State) -> Result<()> {
    if !state.index {
        let git_dir = dir.parent().and_then(Path::parent).unwrap_or(dir);
        remove_file(&git_dir.join("index"))?;
    }
    let message = format!("cargo nixcuda update --abort ({})", state.update);
    if state.head_after.is_some()
        && let Some(head) = vcs::head_reference(root)
    {
        vcs::set_reference(root, &head, state.head.as_deref(), &message)?;
    }
    vcs::set_reference(root, vcs::PRISTINE_REF, state.pristine.as_deref(), &message)
}

fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}
