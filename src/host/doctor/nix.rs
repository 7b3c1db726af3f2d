//! Nix and the operating system: `nix`, `nix-features`, `nix-cache`, `os`.

use super::Check;
use super::facts::{Facts, NixSettings, version_at_least};

pub(super) const NON_NIXOS_HINT: &str = "Nix-built CUDA programs look for libcuda in /run/opengl-driver/lib, which only NixOS fills: run them through nix-gl-host (`nixglhost <program>`, https://github.com/numtide/nix-gl-host) or nixGL, or with home-manager set `targets.genericLinux.gpu.enable`";

pub fn nix(facts: &Facts) -> Check {
    let min = &facts.data.min_nix_version;
    let Some(nix) = &facts.nix else {
        return Check::fail(
            "nix",
            "Nix is not installed (no `nix` on PATH)",
            "install Nix (https://nixos.org/download), open a new shell, then run `cargo nixcuda doctor` again",
        );
    };
    match &nix.version {
        Some(v) if version_at_least(v, min) => Check::ok("nix", format!("Nix {v}")),
        Some(v) => Check::fail(
            "nix",
            format!(
                "Nix {v} is older than {min}, which current nixpkgs requires (lib/minfeatures.nix)"
            ),
            "upgrade Nix: on NixOS `nix.package = pkgs.nixVersions.latest;`, elsewhere `sudo nix upgrade-nix` or the installer from https://nixos.org/download (Debian's nix-bin is too old)",
        ),
        None => Check::warn(
            "nix",
            format!(
                "could not read Nix's version from `nix --version`: {}",
                nix.version_output.trim()
            ),
            format!("make sure `nix --version` reports Nix {min} or newer"),
        ),
    }
}

pub fn features(facts: &Facts) -> Check {
    let Some(nix) = &facts.nix else {
        return Check::skip("nix-features", "no Nix");
    };
    let settings = &nix.settings;
    let features = settings.get("experimental-features");
    let missing: Vec<&str> = ["nix-command", "flakes"]
        .into_iter()
        .filter(|f| !features.iter().any(|have| have == f))
        .collect();
    if missing.is_empty() {
        return Check::ok("nix-features", "flakes and nix-command are enabled");
    }
    let hint = if facts.nixos {
        "add `nix.settings.experimental-features = [ \"nix-command\" \"flakes\" ];` to your NixOS configuration and run `sudo nixos-rebuild switch`"
    } else {
        "add `experimental-features = nix-command flakes` to ~/.config/nix/nix.conf (or /etc/nix/nix.conf, then restart nix-daemon)"
    };
    Check::fail(
        "nix-features",
        format!(
            "not enabled: {} (read from {})",
            missing.join(", "),
            settings.source
        ),
        hint,
    )
}

fn user_is_trusted(facts: &Facts, settings: &NixSettings) -> bool {
    let Some(user) = facts.user.as_deref() else {
        return false;
    };
    if user == "root" {
        return true;
    }
    settings.get("trusted-users").iter().any(|t| {
        if t == "*" || t == user {
            return true;
        }
        let Some(group) = t.strip_prefix('@') else {
            return false;
        };
        facts.groups.lines().any(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            fields.first() == Some(&group)
                && fields
                    .get(3)
                    .is_some_and(|members| members.split(',').any(|m| m.trim() == user))
        })
    })
}

/// How to add the caches: through the generated module on NixOS, else in
/// nix.conf.
fn cache_setup_hint(facts: &Facts) -> String {
    if facts.nixos {
        return "`cargo nixcuda nixos --output nvidia-host.nix` writes a module with the caches in nix.settings; import it and run `sudo nixos-rebuild switch`".to_string();
    }
    let caches = &facts.data.caches;
    let urls: Vec<&str> = caches.iter().map(|c| c.url.as_str()).collect();
    let keys: Vec<&str> = caches.iter().map(|c| c.key.as_str()).collect();
    let about: Vec<String> = caches
        .iter()
        .map(|c| format!("# {}: {}", c.url, c.about))
        .collect();
    format!(
        "add to /etc/nix/nix.conf, then restart nix-daemon (`sudo systemctl restart nix-daemon`):\n{}\nextra-substituters = {}\nextra-trusted-public-keys = {}",
        about.join("\n"),
        urls.join(" "),
        keys.join(" ")
    )
}

pub fn cache(facts: &Facts) -> Check {
    let Some(nix) = &facts.nix else {
        return Check::skip("nix-cache", "no Nix");
    };
    let settings = &nix.settings;
    let norm = |u: &str| u.trim_end_matches('/').to_string();
    let substituters: Vec<String> = settings
        .get("substituters")
        .iter()
        .map(|s| norm(s))
        .collect();
    let keys = settings.get("trusted-public-keys");
    let configured: Vec<_> = facts
        .data
        .caches
        .iter()
        .filter(|c| substituters.contains(&norm(&c.url)))
        .collect();
    if let Some(cache) = configured.iter().find(|c| keys.contains(&c.key)) {
        return Check::ok(
            "nix-cache",
            format!("{} is a substituter, with its key", cache.url),
        );
    }
    if let Some(cache) = configured.first() {
        return Check::fail(
            "nix-cache",
            format!(
                "{} is a substituter but its key is not trusted: Nix ignores its packages",
                cache.url
            ),
            format!("add `{}` to trusted-public-keys", cache.key),
        );
    }
    let user = facts.user.as_deref().unwrap_or("this user");
    if user_is_trusted(facts, settings) {
        Check::warn(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters; {user} is a trusted user, so a flake's nixConfig could add one, but only with accept-flake-config (direnv never asks)"
            ),
            cache_setup_hint(facts),
        )
    } else {
        Check::fail(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters, and {user} is not a trusted user (so a flake's nixConfig cannot add one): torch and the CUDA libraries would compile locally, for hours"
            ),
            cache_setup_hint(facts),
        )
    }
}

pub fn os(facts: &Facts) -> Check {
    let release = &facts.os_release;
    let name = release
        .get("PRETTY_NAME")
        .or_else(|| release.get("NAME"))
        .cloned()
        .unwrap_or_else(|| "an unknown Linux (no /etc/os-release)".into());
    if facts.nixos {
        Check::ok("os", name)
    } else {
        Check::warn("os", format!("{name}: not NixOS"), NON_NIXOS_HINT)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status::{Fail, Ok, Skip, Warn};
    use super::super::testing::{machine, run_cases, settings};
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

    #[test]
    fn the_cuda_cache_needs_its_key_or_a_trusted_user() {
        let user = |name: &str, conf: &str| Facts {
            user: Some(name.to_string()),
            ..with_nix("nix 2.31", conf)
        };
        run_cases(
            cache,
            vec![
                (
                    "with key",
                    with_nix("nix 2.31", &format!("{CACHE}{KEY}")),
                    Ok,
                    "with its key",
                ),
                (
                    "extra-",
                    with_nix("nix 2.31", &format!("extra-{CACHE}extra-{KEY}")),
                    Ok,
                    "with its key",
                ),
                (
                    "no key",
                    with_nix("nix 2.31", CACHE),
                    Fail,
                    "key is not trusted",
                ),
                ("root", user("root", ""), Warn, "root is a trusted user"),
                (
                    "listed",
                    user("ada", "trusted-users = ada\n"),
                    Warn,
                    "trusted user",
                ),
                (
                    "group",
                    user("ada", "trusted-users = @wheel\n"),
                    Warn,
                    "trusted user",
                ),
                (
                    "other group",
                    user("bob", "trusted-users = @wheel\n"),
                    Fail,
                    "bob is not a trusted user",
                ),
                ("untrusted", user("ada", ""), Fail, "not a trusted user"),
                (
                    "no nix",
                    Facts {
                        nix: None,
                        ..machine()
                    },
                    Skip,
                    "no Nix",
                ),
            ],
        );
        let hint = |nixos| {
            cache(&Facts {
                nixos,
                ..user("ada", "")
            })
            .hint
            .unwrap()
        };
        assert!(hint(true).contains("cargo nixcuda nixos --output"));
        assert!(
            hint(false).contains(
                "extra-substituters = https://cache.nixos-cuda.org https://cache.flox.dev"
            )
        );
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
}
