//! Project names that would shadow a module of Python's standard library are
//! refused like Rust's reserved names, and the list of those modules is the
//! one CPython itself reports.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{Env, run, stderr_of, test_python};

const LIST: &str = include_str!("../../src/names/python-stdlib.txt");

#[test]
fn stdlib_module_names_are_refused_with_a_suggestion() {
    let env = Env::new();
    for name in ["json", "typing", "random"] {
        let out = env
            .cmd(&["new", name, "--yes", "--vcs", "none"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = stderr_of(&out);
        assert!(stderr.contains("Python's standard library"), "{stderr}");
        assert!(stderr.contains(&format!("`{name}-project`")), "{stderr}");
        assert!(!env.path(name).exists(), "{name} was created");
    }
    let out = env
        .cmd(&["new", "x", "--name", "asyncio", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(stderr_of(&out).contains("`asyncio` is a module of Python's standard library"));
    let ok = env
        .cmd(&["new", "json-tools", "--yes", "--vcs", "none"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr_of(&ok));
}

/// The CPython versions the list says it was generated from.
fn listed_versions() -> Vec<String> {
    let header = LIST.lines().next().unwrap();
    let versions = header
        .strip_prefix("# sys.stdlib_module_names of CPython ")
        .and_then(|rest| rest.split(" (union)").next())
        .expect("a header naming the CPython versions");
    versions.split(' ').map(str::to_string).collect()
}

#[test]
fn the_list_holds_the_test_pythons_stdlib_module_names() {
    let Some(python) = test_python() else { return };
    let probe = "import sys; print('%d.%d' % sys.version_info[:2]); print('\\n'.join(sorted(sys.stdlib_module_names)))";
    let (ok, text) = run(Command::new(&python).args(["-c", probe]));
    assert!(ok, "{text}");
    let mut lines = text.lines();
    let version = lines.next().unwrap().to_string();
    let listed: BTreeSet<&str> = LIST.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        listed_versions().contains(&version),
        "src/names/python-stdlib.txt was not generated with CPython {version}: run `python3 scripts/python-stdlib-names.py` with it and the others ({:?})",
        listed_versions()
    );
    let missing: Vec<&str> = lines.filter(|n| !listed.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "CPython {version} has stdlib modules the list lacks: {missing:?}; regenerate it with scripts/python-stdlib-names.py"
    );
}
