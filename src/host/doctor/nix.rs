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
