//! The dry run's diff through a pager on a terminal, the way git pages:
//! `$GIT_PAGER`, else `$PAGER`, else `less` with `LESS=FRX` (quit when it
//! fits on one screen, keep colours, leave the text on the screen); `cat`
//! or an empty value turns it off. Never when stdout is not a terminal
//! (pipes, tests, CI).

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

/// Shows `text` on stdout, paged on a terminal.
pub fn show(text: &str) {
    if text.is_empty() {
        return;
    }
    let paged = std::io::stdout().is_terminal()
        && pager_command(|k| std::env::var(k).ok()).is_some_and(|cmd| page(&cmd, text));
    if !paged {
        crate::out!("{text}");
    }
}

/// The pager to run, as git chooses it; None for none.
fn pager_command(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let command = var("GIT_PAGER")
        .or_else(|| var("PAGER"))
        .unwrap_or_else(|| "less".into());
    let trimmed = command.trim();
    (!trimmed.is_empty() && trimmed != "cat").then(|| trimmed.to_string())
}

/// Runs `command` through the shell (like git: `PAGER='less -S'` works)
/// and feeds it `text`; false when it could not be started.
fn page(command: &str, text: &str) -> bool {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        cmd.env("LV", "-c");
    }
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A reader that quits early (`q` in less) closes the pipe: fine.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(vars: &[(&str, &str)]) -> Option<String> {
        pager_command(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_pager_is_chosen_as_git_chooses_it() {
        assert_eq!(chosen(&[]).as_deref(), Some("less"));
        assert_eq!(chosen(&[("PAGER", "more")]).as_deref(), Some("more"));
        assert_eq!(
            chosen(&[("PAGER", "more"), ("GIT_PAGER", "less -S")]).as_deref(),
            Some("less -S")
        );
        assert_eq!(chosen(&[("GIT_PAGER", "cat"), ("PAGER", "more")]), None);
        assert_eq!(chosen(&[("PAGER", " ")]), None);
    }
}
