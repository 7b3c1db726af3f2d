//! Every environment variable the test suite sets to reach code paths a
//! user never needs: one list, one prefix (`__CARGO_NIXCUDA_TEST_`, after
//! cargo's `__CARGO_TEST_*`), so none is mistaken for a setting. Each is
//! read only where its effect lives; `tests/integration/support.rs` clears
//! them all for every command it runs.

/// A directory of scaffolds (laid out as the embedded ones) used instead of
/// the embedded set, to drive the engine with broken scaffolds.
pub const SCAFFOLDS_DIR: &str = "__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR";
/// `N`: the Nth file write fails, to test the rollback of a seen failure.
pub const FAIL_AFTER_WRITES: &str = "__CARGO_NIXCUDA_TEST_FAIL_AFTER_WRITES";
/// `N`: the process is killed at the Nth write or rename, to test recovery.
pub const KILL_AFTER_STEPS: &str = "__CARGO_NIXCUDA_TEST_KILL_AFTER_STEPS";
/// The signal of `KILL_AFTER_STEPS`: INT, TERM, HUP, QUIT or STOP (else KILL).
pub const KILL_SIGNAL: &str = "__CARGO_NIXCUDA_TEST_KILL_SIGNAL";
/// Fetch `file://` templates with the git command line, as remote ones are.
pub const GIT_CLI: &str = "__CARGO_NIXCUDA_TEST_GIT_CLI";
/// A directory standing for `/` when the host is read (`/proc`, `/sys`,
/// `/run`, `/etc`): the fake machines of `tests/fixtures/hosts/`.
pub const HOST_ROOT: &str = "__CARGO_NIXCUDA_TEST_HOST_ROOT";
/// Seconds `doctor` waits for `nix build --dry-run`.
pub const BUILD_PLAN_TIMEOUT: &str = "__CARGO_NIXCUDA_TEST_BUILD_PLAN_TIMEOUT";

/// One step that changes the file system (a write, a rename, an object
/// stored): at the step `KILL_AFTER_STEPS` names, counted across the whole
/// process, the process gets `KILL_SIGNAL` (SIGKILL unless another is
/// named). Returns whether a signal was raised, for a caught one to be
/// checked at once.
pub fn kill_point() -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static STEPS: AtomicUsize = AtomicUsize::new(0);
    static KILL_AT: OnceLock<Option<usize>> = OnceLock::new();
    let kill_at = *KILL_AT.get_or_init(|| {
        std::env::var(KILL_AFTER_STEPS)
            .ok()
            .and_then(|v| v.parse().ok())
    });
    let step = STEPS.fetch_add(1, Ordering::SeqCst);
    if kill_at != Some(step) {
        return false;
    }
    use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGSTOP, SIGTERM};
    let signal = match std::env::var(KILL_SIGNAL).as_deref() {
        // Stops here until SIGCONT: lets a test change the world in the
        // middle of a run.
        Ok("STOP") => SIGSTOP,
        Ok("INT") => SIGINT,
        Ok("TERM") => SIGTERM,
        Ok("HUP") => SIGHUP,
        Ok("QUIT") => SIGQUIT,
        _ => SIGKILL,
    };
    let _ = signal_hook::low_level::raise(signal);
    true
}
