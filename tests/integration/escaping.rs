//! Answers survive as data in generated Nix, checked with the real Nix
//! parser and evaluator (the unit tests cover TOML, JSON and YAML).

use std::process::Command;

use cargo_nixcuda::scaffold::helpers::nix_string;

use crate::support::{prerequisite, run};

#[test]
fn nix_strings_round_trip_through_nix_itself() {
    let nix = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok();
    if !prerequisite("nix-instantiate", nix, "run `bash .ci/setup`") {
        return;
    }
    let tmp = assert_fs::TempDir::new().unwrap();
    for s in [
        "plain",
        "quote \" backslash \\ end\\",
        "${builtins.abort \"pwned\"} $${x} $ ${",
        "two\nlines\r\n\ttab",
        "ñandú 数据 🚀",
        "''${x}'' '''",
    ] {
        let (ok, out) = run(Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "--expr"])
            .arg(nix_string(s))
            .env("NIX_STATE_DIR", tmp.path())
            .env("NIX_CONFIG", "sandbox = false"));
        assert!(ok, "{s:?}: {out}");
        let json_line = out.lines().last().unwrap();
        let back: String =
            serde_json::from_str(json_line).unwrap_or_else(|e| panic!("{s:?}: {out}: {e}"));
        assert_eq!(back, s);
    }
}
