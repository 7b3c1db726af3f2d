//! Unit tests of `render`: rules, paths, limits and the Nix check.

use super::*;
use crate::scaffold::{Manifest, TemplateFile};
use std::borrow::Cow;

fn scaffold(manifest_tail: &str, files: &[(&str, &str)]) -> Scaffold {
    let text = format!("id: t\nversion: 1.0.0\ndescription: d\n{manifest_tail}");
    Scaffold {
        manifest: Manifest::parse("scaffold.yaml", &text).unwrap(),
        origin: "t/1.0.0".into(),
        source: crate::scaffold::ScaffoldSource::default(),
        files: files
            .iter()
            .map(|(p, c)| TemplateFile {
                path: p.to_string(),
                contents: Cow::Owned(c.as_bytes().to_vec()),
                executable: false,
            })
            .collect(),
    }
}

fn paths(files: &[RenderedFile]) -> Vec<String> {
    files.iter().map(|f| f.path.display().to_string()).collect()
}

#[test]
fn renders_hbs_copies_the_rest_and_templates_paths() {
    let s = scaffold(
        "",
        &[("src/{{m}}/a.txt.hbs", "hi {{m}}"), ("raw.txt", "{{m}}")],
    );
    let files = render(&s, &serde_json::json!({"m": "pkg"})).unwrap();
    assert_eq!(paths(&files), ["raw.txt", "src/pkg/a.txt"]);
    assert_eq!(files[0].contents, b"{{m}}");
    assert_eq!(files[1].contents, b"hi pkg");
}

#[test]
fn rules_include_exclude_and_rename() {
    let s = scaffold(
        "files:\n  - glob: \"opt/**\"\n    when: flag\n  - glob: \"v1/**\"\n    rename: {from: \"v1/\", to: \"out/\"}\n",
        &[("opt/x", "x"), ("v1/y", "y"), ("keep", "k")],
    );
    let on = render(&s, &serde_json::json!({"flag": true})).unwrap();
    assert_eq!(paths(&on), ["keep", "opt/x", "out/y"]);
    let off = render(&s, &serde_json::json!({"flag": false})).unwrap();
    assert_eq!(paths(&off), ["keep", "out/y"]);
}

/// Each rule sees the path as the rules before it renamed it, not after.
#[test]
fn rules_apply_in_order_to_renamed_paths() {
    let rename = "  - glob: \"v1/**\"\n    rename: {from: \"v1/\", to: \"out/\"}\n";
    let when = "  - glob: \"out/**\"\n    when: flag\n";
    let files = [("v1/y", "y"), ("out/z", "z")];
    let off = serde_json::json!({"flag": false});
    let before = scaffold(&format!("files:\n{rename}{when}"), &files);
    assert_eq!(paths(&render(&before, &off).unwrap()), Vec::<String>::new());
    let after = scaffold(&format!("files:\n{when}{rename}"), &files);
    assert_eq!(paths(&render(&after, &off).unwrap()), ["out/y"]);
}

#[test]
fn answers_cannot_escape_through_paths() {
    for evil in [
        "../x",
        "a/b",
        "..",
        ".git",
        "",
        ".GIT",
        ".g\u{200c}it",
        ".git. ",
        "GIT~1",
        ".git::$INDEX_ALLOCATION",
    ] {
        let s = scaffold("", &[("{{name}}/f", "x")]);
        let err = render(&s, &serde_json::json!({"name": evil}));
        assert!(err.is_err(), "{evil:?} was accepted");
    }
}

#[test]
fn template_errors_name_file_and_line() {
    let s = scaffold("", &[("a.txt.hbs", "ok\n{{#if x}}\nunclosed")]);
    let err = render(&s, &serde_json::json!({"x": true}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("t/1.0.0/template/a.txt.hbs"), "{err}");
    let s = scaffold("", &[("b.txt.hbs", "line1\n{{missing}}")]);
    let err = render(&s, &serde_json::json!({})).unwrap_err().to_string();
    assert!(err.contains("b.txt.hbs") && err.contains("line 2"), "{err}");
}

#[test]
fn nix_files_are_formatted_and_parse_errors_reported() {
    let s = scaffold(
        "format:\n  nixfmt: [\"**/*.nix\"]\n",
        &[("f.nix.hbs", "{a=1;}")],
    );
    let files = render(&s, &serde_json::json!({})).unwrap();
    assert_eq!(String::from_utf8_lossy(&files[0].contents), "{ a = 1; }\n");
    let s = scaffold(
        "format:\n  nixfmt: [\"**/*.nix\"]\n",
        &[("f.nix.hbs", "{a=;}")],
    );
    let err = render(&s, &serde_json::json!({})).unwrap_err().to_string();
    assert!(err.contains("not valid Nix"), "{err}");
}

/// The lines rendering stands in for with private-use placeholders come
/// back only as themselves: an answer that holds those characters is
/// copied as it is, not read as a placeholder.
#[test]
fn answers_holding_placeholder_characters_render_verbatim() {
    let template =
        "{{#if on}}\nA line long enough to be taken out while parsing.\n{{d}}\n{{/if}}\n";
    let s = scaffold("", &[("a.txt.hbs", template)]);
    for d in ["\u{E000}0\u{E001}", "x\u{E000}y", "\u{E001}"] {
        let files = render(&s, &serde_json::json!({"on": true, "d": d})).unwrap();
        let text = String::from_utf8(files[0].contents.clone()).unwrap();
        assert_eq!(
            text,
            format!("A line long enough to be taken out while parsing.\n{d}\n"),
            "{d:?}"
        );
    }
}
