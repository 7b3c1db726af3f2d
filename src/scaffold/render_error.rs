//! Handlebars errors as a template author reads them: the variable or
//! helper by name, never the library's internal representation.

use handlebars::{RenderError, RenderErrorReason};

/// `line L, column C: what` (the position when handlebars knows it).
pub fn describe(error: &RenderError) -> String {
    let what = reason(error.reason());
    match (error.line_no, error.column_no) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: {what}"),
        (Some(line), None) => format!("line {line}: {what}"),
        _ => what,
    }
}

/// What went wrong, without the position.
pub fn reason(reason: &RenderErrorReason) -> String {
    match reason {
        RenderErrorReason::MissingVariable(Some(name)) => format!(
            "unknown variable `{name}` (no question, derived value or built-in has that name)"
        ),
        RenderErrorReason::MissingVariable(None) => {
            "a variable the template uses is not defined".into()
        }
        RenderErrorReason::HelperNotFound(name) => format!("unknown helper `{name}`"),
        RenderErrorReason::PartialNotFound(name) => format!(
            "unknown partial `{name}` (only inline partials the file defines itself can be called)"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named_without_debug_output() {
        let mut hb = handlebars::Handlebars::new();
        hb.set_strict_mode(true);
        let err = hb
            .render_template("one\n{{undefined_var}}", &serde_json::json!({}))
            .unwrap_err();
        let text = describe(&err);
        assert!(text.contains("unknown variable `undefined_var`"), "{text}");
        assert!(text.starts_with("line 2"), "{text}");
        assert!(!text.contains("Some("), "{text}");
    }
}
