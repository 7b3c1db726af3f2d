//! Words of the shell commands the tool prints for the user to run.

/// `text` as one word for a POSIX shell: as it is when it is made of safe
/// characters only, else in single quotes.
pub fn quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.,/:=@+%^".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("my-proj/x"), "my-proj/x");
        assert_eq!(quote("my proj"), "'my proj'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
