//! The Nix, cache and OS checks on hand-built facts.

use super::super::Status::{Fail, Ok, Skip, Warn};
use super::super::facts::StoreInfo;
use super::super::testing::{daemon_settings, machine, run_cases, settings};
use super::*;

fn with_nix(version_output: &str, conf: &str) -> Facts {
    let mut facts = machine();
    let nix = facts.nix.as_mut().unwrap();
    nix.version_output = version_output.to_string();
    nix.version = super::super::facts::first_version(version_output);
    nix.settings = settings(conf);
    facts
}

const CACHE: &str = "substituters = https://cache.nixos-cuda.org/\n";
const KEY: &str =
    "trusted-public-keys = cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M=\n";

#[test]
fn nix_needs_a_recent_version() {
    let no_nix = Facts {
        nix: None,
        ..machine()
    };
    run_cases(
        nix,
        vec![
            ("current", machine(), Ok, "Nix 2.31.2"),
            ("missing", no_nix, Fail, "not installed"),
            (
                "old",
                with_nix("nix (Nix) 2.8.0", ""),
                Fail,
                "older than 2.18",
            ),
            (
                "lix",
                with_nix("nix (Lix, like Nix) 2.91.1", ""),
                Ok,
                "2.91.1",
            ),
            ("unreadable", with_nix("nix: hello", ""), Warn, "nix: hello"),
        ],
    );
}

#[test]
fn features_need_flakes_and_nix_command() {
    let off = |nixos| Facts {
        nixos,
        ..with_nix("nix 2.31", "experimental-features = nix-command\n")
    };
    run_cases(
        features,
        vec![
            ("both", machine(), Ok, "enabled"),
            (
                "no nix",
                Facts {
                    nix: None,
                    ..machine()
                },
                Skip,
                "no Nix",
            ),
            ("flakes off", off(true), Fail, "not enabled: flakes"),
            ("source named", off(false), Fail, "`nix config show`"),
        ],
    );
    let hint = |nixos| features(&off(nixos)).hint.unwrap();
    assert!(hint(true).contains("nix.settings.experimental-features"));
    assert!(hint(false).contains("~/.config/nix/nix.conf"));
}

/// `user` with the client settings `conf`, the daemon's nix.conf
/// `daemon`, and the store's answer on trust (`None`: it gives none).
fn cache_case(user: &str, conf: &str, daemon: &str, trusted: Option<bool>) -> Facts {
    let mut facts = Facts {
        user: Some(user.to_string()),
        ..with_nix("nix 2.31", conf)
    };
    let nix = facts.nix.as_mut().unwrap();
    nix.daemon_settings = daemon_settings(daemon);
    nix.store = Some(StoreInfo {
        url: "daemon".into(),
        trusted,
    });
    facts
}

#[test]
fn the_cuda_cache_needs_its_key_or_a_trusted_user() {
    let both = format!("{CACHE}{KEY}");
    let trusted = |conf: &str| cache_case("ada", conf, "", Some(true));
    let by_users = |name: &str, conf: &str| cache_case(name, conf, "", None);
    run_cases(
        cache,
        vec![
            ("with key", trusted(&both), Ok, "with its key"),
            (
                "extra-",
                trusted(&format!("extra-{CACHE}extra-{KEY}")),
                Ok,
                "with its key",
            ),
            ("no key", trusted(CACHE), Fail, "key is not trusted"),
            ("root", by_users("root", ""), Warn, "root is a trusted user"),
            (
                "listed",
                by_users("ada", "trusted-users = ada\n"),
                Warn,
                "trusted user",
            ),
            (
                "group",
                by_users("ada", "trusted-users = @wheel\n"),
                Warn,
                "trusted user",
            ),
            (
                "other group",
                by_users("bob", "trusted-users = @wheel\n"),
                Fail,
                "bob is not a trusted user",
            ),
            (
                "the store says trusted",
                cache_case("ada", "", "", Some(true)),
                Warn,
                "ada is a trusted user (`nix store info`)",
            ),
            (
                "untrusted",
                cache_case("ada", "trusted-users = ada\n", "", Some(false)),
                Fail,
                "not a trusted user (`nix store info`",
            ),
            (
                "no nix",
                Facts {
                    nix: None,
                    ..machine()
                },
                Skip,
                "no `nix` on PATH",
            ),
        ],
    );
    let hint = |nixos| {
        cache(&Facts {
            nixos,
            ..by_users("ada", "")
        })
        .hint
        .unwrap()
    };
    assert!(hint(true).contains("cargo nixcuda nixos --output"));
    assert!(
        hint(false)
            .contains("extra-substituters = https://cache.nixos-cuda.org https://cache.flox.dev")
    );
}

#[test]
fn an_untrusted_user_gets_only_what_the_daemon_allows() {
    let both = format!("{CACHE}{KEY}");
    run_cases(
        cache,
        vec![
            // In ~/.config/nix/nix.conf only: `nix config show` lists it,
            // the daemon drops it.
            (
                "user-level cache",
                cache_case("ada", &both, "", Some(false)),
                Fail,
                "the daemon ignores it",
            ),
            (
                "daemon's own",
                cache_case("ada", &both, &both, Some(false)),
                Ok,
                "with its key; ada is not a trusted user",
            ),
            (
                "trusted-substituters",
                cache_case("ada", &both, &format!("trusted-{CACHE}{KEY}"), Some(false)),
                Ok,
                "with its key",
            ),
            // The key only in the user's file: the daemon keeps its own.
            (
                "user-level key",
                cache_case("ada", &both, CACHE, Some(false)),
                Fail,
                "key is not trusted",
            ),
        ],
    );
    let user_key = cache(&cache_case("ada", &both, CACHE, Some(false)));
    assert!(
        user_key.hint.unwrap().contains("restart nix-daemon"),
        "{}",
        user_key.message
    );
}

#[test]
fn without_the_stores_answer_trusted_users_count_from_the_daemons_file() {
    // ~/.config/nix/nix.conf says `trusted-users = ada`; the daemon's does not.
    let own_claim = cache_case(
        "ada",
        "trusted-users = ada\n",
        "trusted-users = root\n",
        None,
    );
    let check = cache(&own_claim);
    assert_eq!(check.status, Fail, "{}", check.message);
    assert!(
        check
            .message
            .contains("not a trusted user (trusted-users of /etc/nix/nix.conf"),
        "{}",
        check.message
    );
    let listed = cache_case("ada", "", "trusted-users = root @wheel\n", None);
    assert_eq!(cache(&listed).status, Warn);
}

#[test]
fn a_daemon_that_predates_its_nix_conf_is_named() {
    let both = format!("{CACHE}{KEY}");
    let stale = |trusted| {
        let mut facts = cache_case("ada", &both, &both, Some(trusted));
        facts.nix.as_mut().unwrap().daemon_predates_conf = Some(812);
        facts
    };
    let check = cache(&stale(false));
    assert_eq!(check.status, Warn, "{}", check.message);
    assert!(
        check
            .message
            .contains("nix-daemon (pid 812) started before")
    );
    assert!(
        check
            .hint
            .unwrap()
            .contains("sudo systemctl restart nix-daemon")
    );
    // A trusted user's client sends its own settings.
    assert_eq!(cache(&stale(true)).status, Ok);
}

#[test]
fn a_trusted_user_with_accept_flake_config_gets_the_flakes_cache() {
    let with_flake = |conf: &str| {
        let mut facts = cache_case("ada", conf, "", Some(true));
        let mut project = super::super::testing::project();
        project.flake_caches = vec!["https://cache.nixos-cuda.org".into()];
        facts.project = Some(project);
        facts
    };
    run_cases(
        cache,
        vec![
            (
                "accepted",
                with_flake("accept-flake-config = true\n"),
                Ok,
                "the project's flake.nix adds https://cache.nixos-cuda.org",
            ),
            ("not accepted", with_flake(""), Warn, "accept-flake-config"),
        ],
    );
}

#[test]
fn aarch64_has_no_cuda_cache_to_rely_on() {
    let arm = Facts {
        arch: "aarch64".into(),
        ..machine()
    };
    let check = cache(&arm);
    assert_eq!(check.status, Warn, "{}", check.message);
    assert!(
        check.message.contains("with its key")
            && check.message.contains("x86_64-linux only")
            && check.message.contains("hours"),
        "{}",
        check.message
    );
    assert_eq!(cache(&machine()).status, Ok);
}

#[test]
fn nix_installed_but_not_on_path_is_told_apart() {
    let check = nix(&Facts {
        nix: None,
        nix_elsewhere: Some("/nix/var/nix/profiles/default/bin/nix".into()),
        ..machine()
    });
    assert_eq!(check.status, Fail);
    assert!(check.message.contains("not on PATH"), "{}", check.message);
    assert!(check.hint.unwrap().contains("nix-daemon.sh"));
}

#[test]
fn the_home_manager_hint_names_the_nvidia_options_and_the_setup_step() {
    let hint = non_nixos_hint(&machine());
    for needle in [
        "targets.genericLinux.gpu.nvidia",
        "version = \"580.95.05\"",
        "sha256",
        "Linux-x86_64/580.95.05/NVIDIA-Linux-x86_64-580.95.05.run",
        "non-nixos-gpu-setup",
    ] {
        assert!(hint.contains(needle), "{needle}: {hint}");
    }
}

#[test]
fn os_is_nixos_or_told_what_to_use() {
    let ubuntu = Facts {
        nixos: false,
        os_release: [("NAME".to_string(), "Ubuntu".to_string())].into(),
        ..machine()
    };
    let unknown = Facts {
        nixos: false,
        os_release: Default::default(),
        ..machine()
    };
    run_cases(
        os,
        vec![
            ("nixos", machine(), Ok, "NixOS 25.11"),
            ("ubuntu", ubuntu, Warn, "Ubuntu: not NixOS"),
            ("no os-release", unknown, Warn, "an unknown Linux"),
        ],
    );
}
