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
