//! What `update` does with one file, as a pure function of the three sides
//! (base: the old render, ours: the work tree, theirs: the new render) and
//! the declared rename. Everything that reads the disk or renders happens in
//! `plan`; everything that writes happens in `apply`. So every case is one
//! row of the table test below.

use std::path::{Path, PathBuf};

use super::merge;
use crate::error::Result;

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Create,
    Update,
    /// Merged with the user's edits, cleanly.
    Merge,
    /// Written with conflict markers (or, for binary files, left as is).
    Conflict,
    /// Not written: something that is not a regular file (a directory, a
    /// fifo) is where the new version has a file. Counts as a conflict.
    Blocked {
        reason: String,
    },
    Delete,
    /// Moved by a declared rename (with the user's edits).
    Rename {
        from: PathBuf,
    },
    /// Not touched, with the reason (user deleted it, user changed a file
    /// the new version no longer has, ...).
    Kept {
        reason: String,
    },
}

/// What one decision does to its path in the work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing is written.
    Keep,
    /// New contents; `executable` is the mode the file has afterwards (an
    /// existing file keeps the user's, a new one gets the template's).
    Write {
        contents: Vec<u8>,
        executable: bool,
    },
    Delete,
}

/// The three sides of a conflict, for the index (stages 1, 2 and 3), as
/// `git merge` leaves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    /// None for a file both sides added.
    pub base: Option<Vec<u8>>,
    pub ours: Vec<u8>,
    pub ours_executable: bool,
    pub theirs: Vec<u8>,
    pub theirs_executable: bool,
}

/// One file's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where the file is after the update (a rename's new path).
    pub path: PathBuf,
    /// The path a declared rename moves the file from: removed when the
    /// file moves (also when the moved file has conflicts).
    pub from: Option<PathBuf>,
    pub action: FileAction,
    pub change: Change,
    pub stages: Option<Stages>,
}

impl Decision {
    pub fn is_conflict(&self) -> bool {
        matches!(
            self.action,
            FileAction::Conflict | FileAction::Blocked { .. }
        )
    }

    fn at(path: &Path, action: FileAction) -> Decision {
        Decision {
            path: path.to_path_buf(),
            from: None,
            action,
            change: Change::Keep,
            stages: None,
        }
    }
}

/// The user's side of one scaffold path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ours {
    File {
        contents: Vec<u8>,
        executable: bool,
    },
    Absent,
    /// Something that is not a regular file is there (or a file where the
    /// path needs a directory): never replaced, whatever is ignored or not.
    Blocked(String),
}

/// The new render's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theirs<'a> {
    pub contents: &'a [u8],
    pub executable: bool,
}

/// Everything one decision depends on.
#[derive(Debug, Clone)]
pub struct Sides<'a> {
    /// The path in the old render (the user's file is read here).
    pub path: &'a Path,
    /// Where the new render has it: `path` unless a migration renames it.
    pub new_path: &'a Path,
    /// None: the old render did not have the file.
    pub base: Option<&'a [u8]>,
    pub ours: &'a Ours,
    /// None: the new render does not have the file.
    pub theirs: Option<Theirs<'a>>,
    /// For a rename: nothing stands at `new_path` (no file of the user's,
    /// no other file renamed there first).
    pub new_path_free: bool,
    /// Names the new version in conflict markers (`>>>>>>> ml@1.1.0`).
    pub their_label: &'a str,
}

/// Decides what happens to one file; None when nothing does (and nothing is
/// worth saying).
pub fn decide(sides: &Sides) -> Result<Option<Decision>> {
    let (ours, executable) = match sides.ours {
        Ours::File {
            contents,
            executable,
        } => (contents.as_slice(), *executable),
        Ours::Absent => return Ok(absent(sides)),
        Ours::Blocked(reason) => {
            return Ok(sides.theirs.map(|_| {
                Decision::at(
                    sides.new_path,
                    FileAction::Blocked {
                        reason: reason.clone(),
                    },
                )
            }));
        }
    };
    let Some(theirs) = sides.theirs else {
        return Ok(removed_upstream(sides, ours));
    };
    if sides.path != sides.new_path {
        return renamed(sides, ours, executable, theirs).map(Some);
    }
    let base = sides.base.unwrap_or_default();
    if sides.base.is_none() && ours == theirs.contents {
        return Ok(None);
    }
    let merged = merge::merge3(
        base,
        ours,
        theirs.contents,
        &sides.new_path.to_string_lossy(),
        sides.their_label,
    )?;
    let action = if !merged.clean {
        FileAction::Conflict
    } else if sides.base.is_some() && ours == base {
        FileAction::Update
    } else {
        FileAction::Merge
    };
    if merged.clean && merged.content == ours {
        return Ok(None);
    }
    let mut decision = Decision::at(sides.path, action);
    if merged.content != ours {
        decision.change = Change::Write {
            contents: merged.content,
            executable,
        };
    }
    if !merged.clean {
        decision.stages = Some(stages(sides, ours, executable, theirs));
    }
    Ok(Some(decision))
}

/// The user has no file at the path.
fn absent(sides: &Sides) -> Option<Decision> {
    let theirs = sides.theirs?;
    if sides.base.is_some() {
        return Some(Decision::at(
            sides.path,
            FileAction::Kept {
                reason: "you deleted it; it stays deleted".into(),
            },
        ));
    }
    let mut decision = Decision::at(sides.new_path, FileAction::Create);
    decision.change = Change::Write {
        contents: theirs.contents.to_vec(),
        executable: theirs.executable,
    };
    Some(decision)
}

/// The new version no longer has the file: it goes only if the user never
/// changed it.
fn removed_upstream(sides: &Sides, ours: &[u8]) -> Option<Decision> {
    let base = sides.base?;
    if ours == base {
        let mut decision = Decision::at(sides.path, FileAction::Delete);
        decision.change = Change::Delete;
        return Some(decision);
    }
    Some(Decision::at(
        sides.path,
        FileAction::Kept {
            reason: format!(
                "you changed it and {} no longer has it; it is left for you to remove",
                sides.their_label
            ),
        },
    ))
}

/// A declared rename: the merged file moves to the new path (conflicts
/// included), unless something already stands there.
fn renamed(sides: &Sides, ours: &[u8], executable: bool, theirs: Theirs) -> Result<Decision> {
    if !sides.new_path_free {
        return Ok(Decision::at(
            sides.path,
            FileAction::Kept {
                reason: format!(
                    "it should move to {}, but that path is taken; it stays here",
                    sides.new_path.display()
                ),
            },
        ));
    }
    let merged = merge::merge3(
        sides.base.unwrap_or_default(),
        ours,
        theirs.contents,
        &sides.new_path.to_string_lossy(),
        sides.their_label,
    )?;
    let from = sides.path.to_path_buf();
    let action = if merged.clean {
        FileAction::Rename { from: from.clone() }
    } else {
        FileAction::Conflict
    };
    let mut decision = Decision::at(sides.new_path, action);
    decision.from = Some(from);
    // The journal gives a file new to a path the template's mode.
    decision.change = Change::Write {
        contents: merged.content,
        executable: theirs.executable,
    };
    if !merged.clean {
        decision.stages = Some(stages(sides, ours, executable, theirs));
    }
    Ok(decision)
}

fn stages(sides: &Sides, ours: &[u8], executable: bool, theirs: Theirs) -> Stages {
    Stages {
        base: sides.base.map(<[u8]>::to_vec),
        ours: ours.to_vec(),
        ours_executable: executable,
        theirs: theirs.contents.to_vec(),
        theirs_executable: theirs.executable,
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
