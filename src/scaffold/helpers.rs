//! Handlebars helpers that turn answers into literals of the generated
//! syntax. Templates never put an answer between quotes themselves: an answer
//! holding `"`, `\`, `${` or a newline must stay data in Nix, TOML, JSON,
//! YAML and Python alike.

use handlebars::{Handlebars, handlebars_helper};
use serde_json::Value;

/// A complete Nix string literal, quotes included. Every `$` is escaped, so
/// `${` can never start an interpolation.
pub fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A complete TOML basic string, quotes included (TOML 1.0 §String).
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// JSON text of any value. A JSON string is also a valid YAML double-quoted
/// scalar and a valid Python 3 string literal, because the characters JSON
/// may leave raw but YAML forbids (DEL, C1 controls, BOM, line separators)
/// are escaped too.
pub fn json_text(v: &Value) -> String {
    let text = serde_json::to_string(v).expect("a serde_json::Value always serializes");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `{{#each (split answer ",")}}`: the non-empty parts of a list answer.
pub fn split_list(s: &str, sep: &str) -> Value {
    Value::Array(
        s.split(sep)
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    )
}

handlebars_helper!(nix_str: |s: str| nix_string(s));
handlebars_helper!(toml_str: |s: str| toml_string(s));
handlebars_helper!(json: |v: Json| json_text(v));
handlebars_helper!(snake: |s: str| crate::names::snake_case(s));
handlebars_helper!(split: |s: str, sep: str| split_list(s, sep));

/// The registry every template is rendered with: strict (an unknown variable
/// is an error, not an empty string) and without HTML escaping.
pub fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    register(&mut hb);
    hb
}

/// Makes `hb` render as the tool does: strict, unescaped, with the tool's
/// helpers. Tests use it to render with handlebars alone and compare.
pub fn register(hb: &mut Handlebars) {
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("nix_str", Box::new(nix_str));
    hb.register_helper("toml_str", Box::new(toml_str));
    hb.register_helper("json", Box::new(json));
    hb.register_helper("snake_case", Box::new(snake));
    hb.register_helper("split", Box::new(split));
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\ end\\",
        "${builtins.abort \"x\"} and $${y} and $",
        "line1\nline2\r\n\ttab",
        "unicode: ñandú 数据 🚀",
        "control \u{1}\u{7f}\u{1b}\u{85}\u{feff}\u{2028}",
        "''${x}'' '''",
    ];

    #[test]
    fn toml_round_trip() {
        for s in NASTY {
            let doc = format!("v = {}\n", toml_string(s));
            let parsed: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(parsed["v"].as_str(), Some(*s));
        }
    }

    #[test]
    fn json_and_yaml_round_trip() {
        for s in NASTY {
            let text = json_text(&Value::String(s.to_string()));
            let back: String = serde_json::from_str(&text).unwrap();
            assert_eq!(&back, s);
            let yaml: String = serde_yaml::from_str(&format!("{text}\n")).unwrap();
            assert_eq!(&yaml, s);
        }
    }

    #[test]
    fn nix_string_never_interpolates() {
        for s in NASTY {
            let lit = nix_string(s);
            // Parse the literal back by Nix's escape rules: `\x` is `x`
            // except n, r, t; an unescaped `${` would be interpolation.
            let inner = &lit[1..lit.len() - 1];
            let mut out = String::new();
            let mut chars = inner.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next().unwrap() {
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        o => out.push(o),
                    },
                    '$' => panic!("unescaped $ in {lit}"),
                    '"' => panic!("unescaped quote in {lit}"),
                    c => out.push(c),
                }
            }
            assert_eq!(&out, s);
            assert!(
                nixfmt_rs::format(&format!("{{ v = {lit}; }}\n")).is_ok(),
                "{lit}"
            );
        }
    }

    #[test]
    fn registry_is_strict_and_unescaped() {
        let hb = registry();
        let ctx = serde_json::json!({"a": "<&>\"'"});
        assert_eq!(hb.render_template("{{a}}", &ctx).unwrap(), "<&>\"'");
        assert!(hb.render_template("{{missing}}", &ctx).is_err());
        assert_eq!(
            hb.render_template("{{nix_str a}} {{toml_str a}} {{json a}}", &ctx)
                .unwrap(),
            r#""<&>\"'" "<&>\"'" "<&>\"'""#
        );
        let ctx = serde_json::json!({"caps": "6.1,,8.6"});
        assert_eq!(
            hb.render_template(r#"{{#each (split caps ",")}}[{{this}}]{{/each}}"#, &ctx)
                .unwrap(),
            "[6.1][8.6]"
        );
    }
}
