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
    // No template but the file itself can be called as a partial.
    for (file, expected) in [
        ("c.txt.hbs", "Can not include current template"),
        ("d.txt.hbs", "unknown partial `c.txt.hbs`"),
    ] {
        let s = scaffold("", &[(file, "{{> c.txt.hbs}}")]);
        let err = render(&s, &serde_json::json!({})).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
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

/// A template of `len` bytes, a tag on every line, like a long README.
fn long_template(len: usize) -> String {
    let line = "Some text of a long document, and the answer {{name}} in it.\n";
    let mut text = line.repeat(len / line.len());
    text.push_str(&"x".repeat(len - text.len()));
    text
}

#[test]
fn a_template_at_the_size_limit_renders_and_a_larger_one_is_refused() {
    let at = long_template(MAX_TEMPLATE_BYTES);
    let s = scaffold("", &[("README.md.hbs", &at)]);
    let files = render(&s, &serde_json::json!({"name": "N"})).unwrap();
    assert!(
        files[0]
            .contents
            .starts_with(b"Some text of a long document, and the answer N in it.\n")
    );
    let over = long_template(MAX_TEMPLATE_BYTES + 1);
    let s = scaffold("", &[("README.md.hbs", &over)]);
    let err = render(&s, &serde_json::json!({"name": "N"})).unwrap_err();
    assert!(matches!(err, Error::TemplateTooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("t/1.0.0/template/README.md.hbs"), "{text}");
    assert!(
        text.contains(&format!("is {} bytes", MAX_TEMPLATE_BYTES + 1)),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("split the file"), "{err:?}");
    // A file copied as it is has no such limit.
    let s = scaffold("", &[("README.md", &over)]);
    assert!(render(&s, &serde_json::json!({})).is_ok());
}

/// What handlebars renders, whole: the cases a renderer of pieces got
/// wrong or refused.
#[test]
fn templates_render_as_handlebars_renders_them_whole() {
    let ctx = serde_json::json!({"x": "b", "a": true, "b": true});
    for source in [
        "a\n\n{{~x}}",
        "{{#*inline \"owner\"}}o{{/inline}}\nline\n{{> owner}}\n",
        "{{#if a}}\n\n{{ #if b}}\nyes\n{{/if}}\n{{/if}}\n",
    ] {
        let s = scaffold("", &[("f.txt.hbs", source)]);
        let files = render(&s, &ctx).unwrap();
        let expected = crate::scaffold::helpers::registry()
            .render_template(source, &ctx)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&files[0].contents),
            expected,
            "{source:?}"
        );
    }
    let s = scaffold("", &[("f.txt.hbs", "a\n\n{{~x}}")]);
    assert_eq!(render(&s, &ctx).unwrap()[0].contents, b"ab");
}

/// Conditions, defaults and file names take the same path, guards included.
#[test]
fn strings_of_the_manifest_are_guarded_too() {
    let ctx = serde_json::json!({"a": true});
    let hb = crate::scaffold::helpers::registry();
    let recursive = r#"a}}{{/if}}{{#*inline "p"}}{{> p}}{{/inline}}{{> p}}{{#if a"#;
    assert!(
        condition(&hb, recursive, &ctx)
            .unwrap_err()
            .contains("cycle")
    );
    let huge = "{{a}}".repeat(MAX_TEMPLATE_BYTES / 5 + 1);
    assert!(
        render_string(&huge, &ctx)
            .unwrap_err()
            .contains("at most 65536")
    );
    assert_eq!(
        condition(
            &hb,
            "(and a (not b))",
            &serde_json::json!({"a": 1, "b": ""})
        ),
        Ok(true)
    );
}
