//! Failures of reading a team template: its spec, its git repository, the
//! cache and the git command line, the limits a template must keep.

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("template `{spec}`: {message}")]
    TemplateSpec { spec: String, message: String },

    #[error("template {source_name} holds several scaffolds: {}", ids.join(", "))]
    AmbiguousTemplate {
        source_name: String,
        ids: Vec<String>,
    },

    #[error("`{path}` {message}")]
    TemplateLimit {
        path: String,
        message: String,
        /// Every limit in words (`2000 files, 1 MiB per file, ...`).
        limits: String,
    },

    #[error("`git` is not installed (or not on PATH); it is needed to fetch `{url}`")]
    GitMissing { url: String },

    #[error("git could not {action} from `{url}`:\n{message}")]
    GitCommand {
        action: &'static str,
        url: String,
        message: String,
        /// A copy from an earlier fetch is in the cache (`--offline` works).
        cached: bool,
    },

    #[error("template `{spec}`: `{rev}` is not a tag, branch or commit of the repository")]
    UnknownRef {
        spec: String,
        rev: String,
        tags: Vec<String>,
        branches: Vec<String>,
    },

    #[error("`{url}` is not in the template cache, and `--offline` forbids fetching it")]
    NotCached { url: String },
}

impl SourceError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SourceError::TemplateSpec { .. } => {
                "pass a directory with `scaffold.yaml`, `file:///repo`, an https/ssh git URL, `gh:OWNER/REPO`, or a favorite from `cargo nixcuda config`; add `@VERSION` or `#REF` to pick a version (`cargo nixcuda list --template ...` shows them)".into()
            }
            SourceError::AmbiguousTemplate { ids, .. } => format!(
                "pick one with `--scaffold ID` (one of: {})",
                ids.join(", ")
            ),
            SourceError::TemplateLimit { limits, .. } => format!(
                "templates are limited to {limits}; keep large data out of the template and download it in the generated project"
            ),
            SourceError::GitMissing { .. } => {
                "install git (`nix profile install nixpkgs#git`, or `programs.git.enable = true;` on NixOS), or clone the template yourself and pass its directory".into()
            }
            SourceError::GitCommand { cached, .. } => format!(
                "check the URL and that `git ls-remote URL` works in this shell (SSH keys, credential helper){}",
                if *cached {
                    "; `--offline` uses the copy cached by the last fetch"
                } else {
                    ""
                }
            ),
            SourceError::UnknownRef { tags, branches, .. } => {
                let names = |v: &Vec<String>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                format!(
                    "after `#` name one of its tags ({}) or branches ({}), or a commit id of 7 or more hex digits",
                    names(tags),
                    names(branches)
                )
            }
            SourceError::NotCached { .. } => {
                "run the command once without `--offline` to fill the cache, or pass a local directory".into()
            }
        })
    }
}
