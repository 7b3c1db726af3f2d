//! The parsers of what doctor reads: version numbers, nix.conf,
//! /etc/os-release, /proc/driver/nvidia/version, nvidia-smi's CSV, and the
//! CUDA set a flake binds.

use std::collections::BTreeMap;

use super::super::super::data::HostFacts;
use super::{CudaSet, Driver, DriverState, ProjectCuda, SmiGpu, StoreInfo};
use crate::record::RECORD_FILE;

/// Nix settings as `nix config show` reports them, or from nix.conf files
/// when that command is unavailable (old Nix, nix-command disabled).
#[derive(Debug, Default)]
pub struct NixSettings {
    pub values: BTreeMap<String, Vec<String>>,
    /// `nix config show` or the files read.
    pub source: String,
}

impl NixSettings {
    pub fn get(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Parses nix.conf syntax (`key = v1 v2`, `extra-key = ...` appends).
    pub fn apply(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let words: Vec<String> = value.split_whitespace().map(str::to_string).collect();
            match key.strip_prefix("extra-") {
                Some(base) => self
                    .values
                    .entry(base.to_string())
                    .or_default()
                    .extend(words),
                None => {
                    self.values.insert(key.to_string(), words);
                }
            }
        }
    }
}

/// `nix store info --json`: `{"url":"daemon","trusted":1,...}` (`trusted`
/// a number or a boolean, absent before Nix 2.19 and for local stores).
pub fn parse_store_info(stdout: &str) -> Option<StoreInfo> {
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    let trusted = match &json["trusted"] {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::Number(n) => n.as_u64().map(|n| n != 0),
        _ => None,
    };
    Some(StoreInfo {
        url: json["url"].as_str().unwrap_or_default().to_string(),
        trusted,
    })
}

/// Dotted numeric versions compared part by part (`2.8.0` < `2.18`).
pub fn version_at_least(have: &str, need: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map_while(|p| p.parse().ok())
            .collect()
    };
    let (have, need) = (parts(have), parts(need));
    for i in 0..have.len().max(need.len()) {
        let (h, n) = (
            have.get(i).copied().unwrap_or(0),
            need.get(i).copied().unwrap_or(0),
        );
        if h != n {
            return h > n;
        }
    }
    true
}

/// The first dotted version number in `text` (`nix (Nix) 2.24.9` -> `2.24.9`).
pub fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .find(|w| {
            w.contains('.')
                && w.split('.')
                    .next()
                    .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|w| w.trim_end_matches('.').to_string())
}

pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// /proc/driver/nvidia/version: the version on its NVRM line, and whether
/// that line names the open kernel modules.
pub fn parse_driver(text: &str) -> DriverState {
    let line = text
        .lines()
        .find(|l| l.contains("NVRM"))
        .unwrap_or_default();
    let version = line.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    });
    match version {
        Some(version) => DriverState::Loaded(Driver {
            version: version.to_string(),
            open: line.contains("Open Kernel Module"),
        }),
        None => DriverState::Unreadable {
            line: line.trim().to_string(),
        },
    }
}

/// `name, compute_cap` lines of `nvidia-smi --format=csv,noheader`.
pub fn parse_smi(stdout: &str) -> Vec<SmiGpu> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, cc) = l.rsplit_once(',')?;
            Some(SmiGpu {
                name: name.trim().to_string(),
                compute_cap: cc.trim().to_string(),
            })
        })
        .collect()
}

/// The CUDA package set the flake gives the Rust crate: a
/// `pkgs.cudaPackages...;` binding in flake.nix, else the recorded `cuda`
/// answer (read only when the flake binds none).
pub fn cuda_set(
    flake: &str,
    recorded: impl FnOnce() -> Option<String>,
    data: &HostFacts,
) -> CudaSet {
    let re = regex::Regex::new(r"pkgs\.(cudaPackages(?:_[0-9]+)*)\s*;").expect("valid regex");
    let mut sets: Vec<String> = re.captures_iter(flake).map(|c| c[1].to_string()).collect();
    sets.sort();
    sets.dedup();
    let (set, source) = match sets.as_slice() {
        [one] => (one.clone(), "flake.nix".to_string()),
        [] => match recorded() {
            Some(a) => (a, format!("{RECORD_FILE} (`cuda`)")),
            None => return CudaSet::None,
        },
        _ => return CudaSet::Several(sets),
    };
    match data.cuda_version_of_set(&set) {
        Some(v) => CudaSet::Selected(ProjectCuda {
            version: v.to_string(),
            set,
            source,
        }),
        None => CudaSet::Unknown { set, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_says_whether_the_user_is_trusted() {
        let info = |text: &str| parse_store_info(text).map(|i| (i.url, i.trusted));
        assert_eq!(
            info(r#"{"trusted":1,"url":"daemon","version":"2.31.2"}"#),
            Some(("daemon".into(), Some(true)))
        );
        assert_eq!(
            info(r#"{"trusted":0,"url":"daemon"}"#),
            Some(("daemon".into(), Some(false)))
        );
        assert_eq!(
            info(r#"{"trusted":false,"url":"unix:///nix/var/nix/daemon-socket/socket"}"#)
                .unwrap()
                .1,
            Some(false)
        );
        assert_eq!(info(r#"{"url":"local"}"#), Some(("local".into(), None)));
        assert_eq!(info("error: unrecognised flag"), None);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("2.18", "2.18"));
        assert!(version_at_least("2.24.9", "2.18"));
        assert!(!version_at_least("2.8.0", "2.18"));
        assert!(version_at_least("575.51.03", "575.51.03"));
        assert!(!version_at_least("570.86.16", "575.51.03"));
        assert!(version_at_least("2.91.1-lix", "2.18"));
    }

    #[test]
    fn versions_are_found_in_command_output() {
        assert_eq!(
            first_version("nix (Nix) 2.24.9\n").as_deref(),
            Some("2.24.9")
        );
        assert_eq!(
            first_version("nix (Lix, like Nix) 2.91.1\n").as_deref(),
            Some("2.91.1")
        );
        assert_eq!(first_version("nothing here"), None);
    }

    #[test]
    fn nix_conf_extra_settings_append() {
        let mut s = NixSettings::default();
        s.apply("substituters = https://cache.nixos.org/\n# comment\nextra-substituters = https://cache.nixos-cuda.org # why\ntrusted-users = root @wheel\n");
        assert_eq!(
            s.get("substituters"),
            ["https://cache.nixos.org/", "https://cache.nixos-cuda.org"]
        );
        assert_eq!(s.get("trusted-users"), ["root", "@wheel"]);
        assert!(s.get("nope").is_empty());
    }

    #[test]
    fn the_driver_version_file_is_read() {
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (nixbld@localhost)\nGCC version:  gcc version 14.3.0 (GCC)\n";
        let closed = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.16  Tue Jan  1 2026\n";
        let cases = [
            (open, Some(("580.95.05", true))),
            (closed, Some(("570.86.16", false))),
            ("NVRM version: something else\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = match parse_driver(text) {
                DriverState::Loaded(d) => Some((d.version, d.open)),
                _ => None,
            };
            assert_eq!(got, want.map(|(v, o)| (v.to_string(), o)), "{text}");
        }
        let DriverState::Unreadable { line } = parse_driver("  NVRM version: ???  \n") else {
            panic!("expected an unreadable driver");
        };
        assert_eq!(line, "NVRM version: ???");
    }

    #[test]
    fn nvidia_smi_and_os_release_lines_are_split() {
        let gpus = parse_smi("NVIDIA H200, 9.0\nNVIDIA GeForce RTX 4090, Laptop, 8.9\nno comma\n");
        let got: Vec<(&str, &str)> = gpus
            .iter()
            .map(|g| (g.name.as_str(), g.compute_cap.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("NVIDIA H200", "9.0"),
                ("NVIDIA GeForce RTX 4090, Laptop", "8.9")
            ]
        );
        let release = parse_os_release("ID=nixos\nPRETTY_NAME=\"NixOS 25.11 (Xantusia)\"\n# x\n");
        assert_eq!(release["ID"], "nixos");
        assert_eq!(release["PRETTY_NAME"], "NixOS 25.11 (Xantusia)");
        assert_eq!(release.len(), 2);
    }

    #[test]
    fn the_cuda_set_comes_from_the_flake_else_the_record() {
        let data = HostFacts::embedded().unwrap();
        let asked = std::cell::Cell::new(false);
        let set = |flake: &str, answer: Option<&str>| {
            asked.set(false);
            let recorded = || {
                asked.set(true);
                answer.map(str::to_string)
            };
            match cuda_set(flake, recorded, &data) {
                CudaSet::Selected(c) => format!("{} {} {}", c.set, c.version, c.source),
                CudaSet::None => "none".into(),
                CudaSet::Several(s) => format!("several {}", s.join(" ")),
                CudaSet::Unknown { set, source } => format!("unknown {set} {source}"),
            }
        };
        assert_eq!(
            set("x = pkgs.cudaPackages_12_8;", Some("cudaPackages_13")),
            "cudaPackages_12_8 12.8 flake.nix"
        );
        assert!(
            !asked.get(),
            "the record is read only when the flake names no set"
        );
        assert_eq!(
            set("x = 1;", Some("cudaPackages_13")),
            "cudaPackages_13 13.2 .nixcuda.yaml (`cuda`)"
        );
        assert!(asked.get());
        assert_eq!(set("", None), "none");
        assert_eq!(
            set(
                "a = pkgs.cudaPackages_13 ; b = pkgs.cudaPackages;  c = pkgs.cudaPackages;",
                None
            ),
            "several cudaPackages cudaPackages_13"
        );
        assert_eq!(
            set("a = pkgs.cudaPackages_99;", None),
            "unknown cudaPackages_99 flake.nix"
        );
    }
}
