//! `examples/ipsa-prediction` is exactly what `cargo nixcuda new
//! ipsa-prediction` produces, so reviewers can read what users get. After an
//! intended scaffold change, refresh it with:
//!     NIXCUDA_BLESS=1 cargo test --test integration example

use std::path::Path;

use crate::support::{Env, stderr_of, tree};

#[test]
fn committed_example_matches_a_fresh_generation() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ipsa-prediction");
    let record = std::fs::read_to_string(example.join(".nixcuda.yaml"))
        .expect("examples/ipsa-prediction/.nixcuda.yaml exists");
    let record: serde_yaml::Value = serde_yaml::from_str(&record).unwrap();
    let mut args: Vec<String> = ["new", "ipsa-prediction", "--yes", "--vcs", "none"]
        .map(String::from)
        .to_vec();
    for (key, value) in record["answers"].as_mapping().unwrap() {
        let value = match value {
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other).unwrap().trim().to_string(),
        };
        args.push("-d".into());
        args.push(format!("{}={value}", key.as_str().unwrap()));
    }
    let env = Env::new();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.cmd(&argv).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let fresh = tree(&env.path("ipsa-prediction"));

    if std::env::var_os("NIXCUDA_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&example);
        for (rel, bytes) in &fresh {
            let path = example.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        return;
    }
    let committed = tree(&example);
    let names =
        |t: &std::collections::BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&fresh),
        "file list differs; bless with NIXCUDA_BLESS=1 if intended"
    );
    for (rel, bytes) in &fresh {
        assert!(
            &committed[rel] == bytes,
            "examples/ipsa-prediction/{rel} differs from a fresh generation; bless with NIXCUDA_BLESS=1 if intended"
        );
    }
}
