//! `new` builds the project in a staging directory beside it; the clean-up
//! of the ones killed runs left removes only what no process holds.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{Env, stderr_of};

/// Sets the modification time of `dir` `secs` seconds back.
pub fn age(dir: &Path, secs: u64) {
    let then = SystemTime::now() - Duration::from_secs(secs);
    std::fs::File::open(dir)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

fn staging(env: &Env, name: &str, lock_file: bool, secs_old: u64) -> std::path::PathBuf {
    let dir = env.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("README.md"), "half written\n").unwrap();
    if lock_file {
        std::fs::write(dir.join(".nixcuda-staging.lock"), "").unwrap();
    }
    age(&dir, secs_old);
    dir
}

#[test]
fn a_staging_directory_that_a_process_holds_or_that_is_not_ours_is_kept() {
    let env = Env::new();
    // The process ids are gone here; a run in another PID namespace or on
    // another machine of the same file system has one that is.
    let held = staging(&env, ".p.nixcuda-999999-1", true, 600);
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(held.join(".nixcuda-staging.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let young = staging(&env, ".p.nixcuda-999999-2", true, 0);
    let no_lock = staging(&env, ".p.nixcuda-999999-3", false, 600);
    let orphan = staging(&env, ".p.nixcuda-999999-4", true, 600);
    let mut kept = vec![held, young, no_lock];
    let as_root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&orphan).unwrap()) == 0;
    if as_root {
        let foreign = staging(&env, ".p.nixcuda-999999-5", true, 600);
        std::os::unix::fs::chown(&foreign, Some(4321), Some(4321)).unwrap();
        age(&foreign, 600);
        kept.push(foreign);
    } else {
        eprintln!("not root: a directory of another user is not tried (chown needs root)");
    }

    let out = env
        .cmd(&["new", "q", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(!orphan.exists(), "the orphan is removed: {err}");
    assert!(err.contains(".p.nixcuda-999999-4"), "{err}");
    for dir in &kept {
        assert!(
            dir.join("README.md").exists(),
            "{} was removed: {err}",
            dir.display()
        );
    }
    drop(lock);
}
