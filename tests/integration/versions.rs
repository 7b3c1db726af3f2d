//! Every embedded scaffold version keeps generating byte-identical projects
//! forever: a project made with ml@1.0.0 must render the same base for
//! `update` years later. Each snapshot lists the generated files with their
//! git blob ids; a changed byte changes the snapshot.

use crate::support::{Env, stderr_of, tree};

const COMBINATIONS: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("both-pyo3", &["frameworks=both", "rust_crate=pyo3"]),
    (
        "bare",
        &[
            "frameworks=none",
            "rust_crate=none",
            "example=minimal",
            "notebook=false",
        ],
    ),
];

fn digest(version: &str, defines: &[&str]) -> String {
    let env = Env::new();
    let scaffold = format!("ml@{version}");
    let mut args = vec![
        "new",
        "demo",
        "--yes",
        "--vcs",
        "none",
        "--scaffold",
        &scaffold,
        "-d",
        "author=Ada Lovelace <ada@example.org>",
    ];
    for d in defines {
        args.extend(["-d", d]);
    }
    let out = env.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut listing = String::new();
    for (path, bytes) in tree(&env.path("demo")) {
        if path == ".nixcuda.yaml" {
            // Holds the tool version, which moves on its own.
            continue;
        }
        let id = git2::Oid::hash_object(git2::ObjectType::Blob, &bytes).unwrap();
        listing.push_str(&format!("{id}  {path}\n"));
    }
    listing
}

#[test]
fn embedded_versions_generate_identically() {
    let out = Env::new().cmd(&["list", "ml", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<String> = listed[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    assert!(!versions.is_empty());
    for version in &versions {
        for (name, defines) in COMBINATIONS {
            insta::assert_snapshot!(format!("ml@{version}-{name}"), digest(version, defines));
        }
    }
}
