//! `scaffold new` and `scaffold check`: a new template passes its own check,
//! and problems name the file, the line and the answers that show them.

use std::path::Path;

use crate::support::{Env, TemplateRepo, read, stderr_of, write};

#[test]
fn scaffold_new_then_check_passes() {
    let env = Env::new();
    env.ok(&["scaffold", "new", "acme-template"]);
    let dir = env.path("acme-template");
    assert!(dir.join("scaffold.yaml").is_file() && dir.join("template").is_dir());
    let manifest = read(&dir.join("scaffold.yaml"));
    assert!(manifest.contains("id: acme-template"));
    // The embedded scaffold's history is not the new template's.
    assert!(
        !manifest.contains("rename_paths") && !manifest.contains("nix/nvidia.nix"),
        "{manifest}"
    );
    let out = env.ok(&["scaffold", "check", "acme-template"]);
    assert!(
        stderr_of(&out).contains("no problems"),
        "{}",
        stderr_of(&out)
    );
    // It is usable as a template straight away.
    env.ok(&[
        "new",
        "demo",
        "--template",
        "acme-template",
        "--yes",
        "--vcs",
        "none",
    ]);
    assert!(env.path("demo/flake.nix").is_file());
    // A second `scaffold new` into it is refused.
    env.fail(&["scaffold", "new", "acme-template"]);
}

#[test]
fn the_example_team_template_passes_check() {
    let env = Env::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/team-template");
    let out = env.ok(&["scaffold", "check", example.to_str().unwrap()]);
    assert!(
        stderr_of(&out).contains("no problems"),
        "{}",
        stderr_of(&out)
    );
    env.ok(&[
        "new",
        "demo",
        "--template",
        example.to_str().unwrap(),
        "--yes",
    ]);
}

#[test]
fn scaffold_check_reports_file_and_line() {
    let env = Env::new();
    let tpl = TemplateRepo::basic(&env, "broken").dir;
    write(
        &tpl.join("template/notes.txt.hbs"),
        "line one\nline two\n{{#if (eq flavor \"fancy\")}}{{missing_variable}}{{/if}}\n",
    );
    let err = env.fail(&["scaffold", "check", "broken"]);
    assert!(err.contains("notes.txt.hbs"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("flavor=fancy"), "names the answers: {err}");

    // An answer put between quotes by hand breaks the Nix file.
    let tpl = TemplateRepo::basic(&env, "unescaped").dir;
    write(
        &tpl.join("template/flake.nix.hbs"),
        "{\n  description = \"{{description}}\";\n  outputs = _: { };\n}\n",
    );
    write(
        &tpl.join("scaffold.yaml"),
        &read(&tpl.join("scaffold.yaml")).replace("format:\n  nixfmt: [\"**/*.nix\"]\n", ""),
    );
    let err = env.fail(&["scaffold", "check", "unescaped"]);
    assert!(
        err.contains("flake.nix.hbs") && err.contains("nix_str"),
        "{err}"
    );

    // Manifest schema errors name the line.
    let tpl = TemplateRepo::basic(&env, "schema").dir;
    write(
        &tpl.join("scaffold.yaml"),
        &read(&tpl.join("scaffold.yaml")).replace(
            "    prompt: Flavor\n",
            "    prompt: Flavor\n    colour: red\n",
        ),
    );
    let err = env.fail(&["scaffold", "check", "schema"]);
    assert!(
        err.contains("scaffold.yaml:") && err.contains("colour"),
        "{err}"
    );
}
