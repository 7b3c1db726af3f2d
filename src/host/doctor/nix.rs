//! Nix and the operating system: `nix`, `nix-features`, `nix-cache`, `os`.

use super::facts::{Facts, Nix, NixSettings, StoreInfo, version_at_least};
use super::report::{Check, Status};
use crate::host::platform::AARCH64_CACHE;

/// Outside NixOS: how Nix-built programs get the driver's libraries, with
/// home-manager's NVIDIA options for the loaded driver when it is known.
pub(super) fn non_nixos_hint(facts: &Facts) -> String {
    let version = facts
        .loaded_driver()
        .map_or("DRIVER", |d| d.version.as_str());
    format!(
        "Nix-built CUDA programs look for libcuda in /run/opengl-driver/lib, which only NixOS fills. With home-manager: `targets.genericLinux.enable = true; targets.genericLinux.gpu.nvidia = {{ enable = true; version = \"{version}\"; sha256 = \"...\"; }};` (version: exactly the loaded driver's; sha256: what `nix store prefetch-file https://download.nvidia.com/XFree86/Linux-{arch}/{version}/NVIDIA-Linux-{arch}-{version}.run` prints), `home-manager switch`, then once, and after each driver update, the `sudo .../bin/non-nixos-gpu-setup` it prints (it links /run/opengl-driver); or run the programs through nix-gl-host (`nixglhost <program>`, https://github.com/numtide/nix-gl-host) or nixGL",
        arch = facts.arch
    )
}

pub fn nix(facts: &Facts) -> Check {
    let min = &facts.data.min_nix_version;
    let Some(nix) = &facts.nix else {
        if let Some(found) = &facts.nix_elsewhere {
            return Check::fail(
                "nix",
                format!("Nix is installed ({found}), but `nix` is not on PATH"),
                "open a new login shell (the Nix installer's profile script puts it on PATH), or run `. /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh` in this one",
            );
        }
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

/// What the daemon will use for this user: for a trusted user the
/// client's settings; otherwise only those substituters of the client that
/// the daemon's nix.conf lists in `substituters` or `trusted-substituters`
/// (it drops the others: "ignoring untrusted substituter"), and only the
/// daemon's own keys.
struct DaemonView {
    trusted: bool,
    /// How `trusted` was learnt.
    told_by: &'static str,
    substituters: Vec<String>,
    keys: Vec<String>,
}

fn norm(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

fn daemon_view(facts: &Facts, nix: &Nix) -> DaemonView {
    let client = &nix.settings;
    let (trusted, told_by) = match &nix.store {
        Some(StoreInfo {
            trusted: Some(t), ..
        }) => (*t, "`nix store info`"),
        Some(info) if info.url == "local" => (true, "a store without daemon"),
        // trusted-users counts only in the daemon's nix.conf: a user's own
        // file may name the user, and `nix config show` then shows it.
        _ if !nix.daemon_settings.values.is_empty() => (
            user_is_trusted(facts, &nix.daemon_settings),
            "trusted-users of /etc/nix/nix.conf",
        ),
        _ => (user_is_trusted(facts, client), "trusted-users"),
    };
    let client_subs = client.get("substituters").iter().map(|s| norm(s));
    if trusted {
        return DaemonView {
            trusted,
            told_by,
            substituters: client_subs.collect(),
            keys: client.get("trusted-public-keys").to_vec(),
        };
    }
    let daemon = &nix.daemon_settings;
    let allowed: Vec<String> = daemon
        .get("substituters")
        .iter()
        .chain(daemon.get("trusted-substituters"))
        .map(|s| norm(s))
        .collect();
    DaemonView {
        trusted,
        told_by,
        substituters: client_subs.filter(|s| allowed.contains(s)).collect(),
        keys: daemon.get("trusted-public-keys").to_vec(),
    }
}

pub fn cache(facts: &Facts) -> Check {
    let Some(nix) = &facts.nix else {
        return Check::skip("nix-cache", "no `nix` on PATH");
    };
    let view = daemon_view(facts, nix);
    let mut check = cache_for_x86(facts, nix, &view);
    if let (false, Some(pid)) = (view.trusted, nix.daemon_predates_conf) {
        // An untrusted user gets the daemon's settings, and the daemon
        // reads them only when it starts.
        let restart = "restart the daemon so that it reads /etc/nix/nix.conf again: `sudo systemctl restart nix-daemon` (on NixOS `nixos-rebuild switch` does it when nix.conf changes)";
        check = Check::with_hint(
            "nix-cache",
            if check.status == Status::Fail {
                Status::Fail
            } else {
                Status::Warn
            },
            format!(
                "{}; but nix-daemon (pid {pid}) started before /etc/nix/nix.conf last changed, so it still runs on the settings it read then",
                check.message
            ),
            match check.hint {
                Some(hint) => format!("{restart}; then: {hint}"),
                None => restart.to_string(),
            },
        );
    }
    if facts.arch != "aarch64" {
        return check;
    }
    // The caches' CUDA builds are x86_64 ones: on ARM a configured cache
    // does not save the local builds.
    Check::warn(
        "nix-cache",
        format!("{}; but {AARCH64_CACHE}", check.message),
        match check.hint {
            Some(hint) if check.status == Status::Fail => hint,
            _ => "plan for the local builds (a many-core machine, a night): build the dev shell once and push it to a cache of your own (`nix copy --to`), or train on an x86_64 machine".to_string(),
        },
    )
}

fn cache_for_x86(facts: &Facts, nix: &Nix, view: &DaemonView) -> Check {
    let user = facts.user.as_deref().unwrap_or("this user");
    let in_list = |list: &[String], url: &str| list.iter().any(|s| norm(s) == norm(url));
    let caches = &facts.data.caches;
    let used: Vec<_> = caches
        .iter()
        .filter(|c| in_list(&view.substituters, &c.url))
        .collect();
    let whose = if view.trusted {
        format!("{user} is a trusted user ({})", view.told_by)
    } else {
        format!(
            "{user} is not a trusted user ({}), so the daemon's own settings count ({})",
            view.told_by, nix.daemon_settings.source
        )
    };
    if let Some(cache) = used.iter().find(|c| view.keys.contains(&c.key)) {
        return Check::ok(
            "nix-cache",
            format!("{} is a substituter, with its key; {whose}", cache.url),
        );
    }
    if let Some(cache) = used.first() {
        let hint = if view.trusted {
            format!("add `{}` to trusted-public-keys", cache.key)
        } else {
            format!(
                "add `{}` to the daemon's trusted-public-keys (/etc/nix/nix.conf; on NixOS `nix.settings.trusted-public-keys`), then restart nix-daemon",
                cache.key
            )
        };
        return Check::fail(
            "nix-cache",
            format!(
                "{} is a substituter but its key is not trusted: Nix ignores its packages; {whose}",
                cache.url
            ),
            hint,
        );
    }
    let client_subs = nix.settings.get("substituters");
    if let Some(dropped) = caches.iter().find(|c| in_list(client_subs, &c.url)) {
        return Check::fail(
            "nix-cache",
            format!(
                "{} is in your Nix settings ({}), but the daemon ignores it (\"ignoring untrusted substituter\"): {user} is not a trusted user ({}), and the daemon's nix.conf ({}) lists it neither in substituters nor in trusted-substituters; torch and the CUDA libraries would compile locally, for hours",
                dropped.url, nix.settings.source, view.told_by, nix.daemon_settings.source
            ),
            cache_setup_hint(facts),
        );
    }
    no_cache(facts, nix, view, user)
}

/// No CUDA cache among what the daemon uses: a trusted user may still get
/// one from the project's flake.
fn no_cache(facts: &Facts, nix: &Nix, view: &DaemonView, user: &str) -> Check {
    if !view.trusted {
        return Check::fail(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters, and {user} is not a trusted user ({}; so a flake's nixConfig cannot add one): torch and the CUDA libraries would compile locally, for hours",
                view.told_by
            ),
            cache_setup_hint(facts),
        );
    }
    let from_flake = facts
        .project
        .as_ref()
        .map(|p| p.flake_caches.clone())
        .unwrap_or_default();
    let accepts = nix
        .settings
        .get("accept-flake-config")
        .first()
        .is_some_and(|v| v == "true");
    match from_flake.first() {
        Some(url) if accepts => Check::ok(
            "nix-cache",
            format!(
                "the project's flake.nix adds {url} (nixConfig, with its key): {user} is a trusted user and accept-flake-config is on"
            ),
        ),
        _ => Check::warn(
            "nix-cache",
            format!(
                "no CUDA binary cache among the substituters; {user} is a trusted user ({}), so a flake's nixConfig could add one, but only with accept-flake-config (direnv never asks)",
                view.told_by
            ),
            cache_setup_hint(facts),
        ),
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
        Check::warn("os", format!("{name}: not NixOS"), non_nixos_hint(facts))
    }
}

#[cfg(test)]
mod tests;
