//! Writes a plan (all or nothing, even when killed), then records it in
//! git: clean files staged, conflicts unmerged (index stages 1/2/3, as
//! `git merge` leaves them), or everything committed.

use std::path::{Path, PathBuf};

use super::{UpdatePlan, abort};
use crate::error::{Error, Result};
use crate::fs::write::{FileOp, check_changes};
use crate::journal::{self, ProjectLock};
use crate::vcs;

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Committed (`--commit`).
    Committed(String),
    /// Staged in the index; conflicted files as unmerged paths.
    Staged,
    /// Not a git repository.
    NotInGit,
}

pub fn apply(plan: &UpdatePlan, commit: bool, lock: &ProjectLock) -> Result<Recorded> {
    let ops = plan.ops();
    check_changes(&plan.root, &ops)?;
    vcs::check_index_writable(&plan.root)?;
    if let Some(workdir) = vcs::enclosing_work_tree(&plan.root) {
        let paths: Vec<PathBuf> = ops.iter().map(|op| plan.root.join(op.path())).collect();
        vcs::check_filters(&workdir, &paths)?;
    }
    let label = plan.label();
    abort::save(&plan.root, &ops, &label)?;
    // The pristine objects first: the record written next names them.
    if let Some(files) = &plan.pristine {
        vcs::store_pristine(
            &plan.root,
            files,
            &format!("Pristine render of {}", plan.to),
        )?;
    }
    let command = format!("cargo nixcuda update ({label})");
    let Some(workdir) = vcs::enclosing_work_tree(&plan.root) else {
        journal::apply(&plan.root, &ops, &command, lock)?;
        return Ok(Recorded::NotInGit);
    };
    let conflicts = plan.conflicts();
    let clean: Vec<(PathBuf, bool)> = ops
        .iter()
        .filter(|op| !conflicts.contains(&op.path()))
        .map(|op| {
            let deleted = matches!(op, FileOp::Delete { .. });
            (plan.root.join(op.path()), deleted)
        })
        .collect();
    let unmerged = unmerged(plan);
    // Staged files and conflict stages in one index, written once, inside
    // the journal: a kill leaves the old files with the old index, or the
    // new with the new.
    let mut build = |held: &vcs::IndexLock, out: &Path| {
        vcs::build_index(&workdir, held, out, &clean, &unmerged)
    };
    journal::apply_staged(&plan.root, &ops, &mut build, &command, lock)?;
    if commit && conflicts.is_empty() {
        let message = format!(
            "Update to {} with cargo-nixcuda (from {})",
            plan.to, plan.from
        );
        let id = vcs::commit_index(&workdir, &message).map_err(|e| match e {
            Error::SigningFailed { .. } => e,
            e => Error::UpdateNotCommitted {
                update: label.clone(),
                reason: e.to_string(),
            },
        })?;
        abort::committed(&plan.root, &id)?;
        return Ok(Recorded::Committed(id));
    }
    Ok(Recorded::Staged)
}

/// The conflicted files with their three sides, for the index.
fn unmerged(plan: &UpdatePlan) -> Vec<vcs::ConflictEntry<'_>> {
    plan.decisions
        .iter()
        .filter_map(|d| {
            let stages = d.stages.as_ref()?;
            Some(vcs::ConflictEntry {
                path: plan.root.join(&d.path),
                base: stages.base.as_deref(),
                ours: (stages.ours.as_slice(), stages.ours_executable),
                theirs: (stages.theirs.as_slice(), stages.theirs_executable),
            })
        })
        .collect()
}
