//! `lock`: flake.lock only at revisions the binary caches serve. A refused
//! candidate is the exit status 1 with its report (what would compile),
//! not an error; flake.lock is then left as it was.

use super::ExitStatus;
use crate::cli::LockArgs;
use crate::error::Result;
use crate::host::build_plan::{self, Plan};
use crate::host::data::HostFacts;
use crate::host::lock::{self, LockOptions, LockOutcome};
use crate::host::probe::Host;
use crate::printer::Printer;
use crate::settings::LockSettings;

pub fn run(args: &LockArgs, printer: &Printer) -> Result<ExitStatus> {
    let settings = LockSettings::resolve(args);
    let root = crate::update::find_project(&settings.start)?;
    let facts = HostFacts::embedded()?;
    let opts = LockOptions {
        root,
        update: settings.update,
        timeout: settings.timeout,
    };
    let spinner = printer.spinner(if opts.update {
        "asking Nix for the newest revisions and what they would build"
    } else {
        "asking Nix what the lock would build"
    });
    let outcome = lock::lock(&Host::from_env(), &opts, &facts);
    spinner.finish_and_clear();
    match outcome? {
        LockOutcome::Written { created, plan } => {
            let verb = if created { "Created" } else { "Updated" };
            printer.status(verb, &format!("flake.lock: {}", served(&plan)));
            printer.note(
                "commit it (`git add flake.lock && git commit -m \"Lock the flake\"`): Nix reads only the files git tracks",
            );
            Ok(ExitStatus::Success)
        }
        LockOutcome::Unchanged { plan } => {
            let what = if opts.update {
                "flake.lock is already at the newest revisions"
            } else {
                "flake.lock is unchanged"
            };
            printer.status("Checked", &format!("{what}: {}", served(&plan)));
            Ok(ExitStatus::Success)
        }
        LockOutcome::Refused { heavy, plan } => {
            let existed = opts.root.join(lock::LOCK_FILE).exists();
            let (which, kept) = match (opts.update, existed) {
                (true, true) => ("the updated lock", "flake.lock was left as it was"),
                (true, false) | (false, false) => ("a first lock", "no flake.lock was written"),
                (false, true) => ("the current flake.lock", "it was left as it was"),
            };
            printer.status(
                "Refused",
                &format!(
                    "{which}: it would compile {} derivation(s) locally, among them {}, hours of building; {kept}",
                    plan.built.len(),
                    build_plan::list_names(&heavy)
                ),
            );
            printer.note(
                "the binary caches have not built these for that revision (the CUDA Hydra builds a revision hours to days after it lands, and keeps only its newest evaluation), or they are not configured here (`cargo nixcuda doctor` checks `nix-cache`): configure them, or try `cargo nixcuda lock --update` again later",
            );
            Ok(ExitStatus::Failure)
        }
    }
}

/// What the accepted lock costs: paths fetched, small derivations built.
fn served(plan: &Plan) -> String {
    match (plan.built.len(), plan.fetched) {
        (0, 0) => "the dev shell is already in the Nix store".into(),
        (built, fetched) => format!(
            "`nix develop` fetches {fetched} path(s) from the caches and builds {built} small derivation(s); torch and the CUDA libraries come prebuilt"
        ),
    }
}
