//! Durability for many files at once.

use std::fs::File;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Puts `paths` (files written, not synced) on disk. The syncs run side by
/// side, so the file system commits them together (on ext4 one journal
/// commit for all instead of one, about half a millisecond, per file).
pub(crate) fn sync_files(paths: &[PathBuf]) -> Result<()> {
    let sync = |path: &PathBuf| {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("sync", path, e))
    };
    // A bounded number of threads: each holds one file open at a time.
    let per_thread = paths.len().div_ceil(SYNC_THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(per_thread)
            .map(|batch| scope.spawn(move || batch.iter().try_for_each(sync)))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a sync thread panicked"))
    })
}

const SYNC_THREADS: usize = 16;
