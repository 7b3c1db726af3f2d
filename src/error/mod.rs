//! Every way the library can fail, each with a hint that says what to do next.

mod abort;
mod deps;
mod git;
mod host;
mod source;

use std::path::{Path, PathBuf};

/// How a user upgrades the tool, for every message that asks them to.
pub const HOW_TO_UPGRADE: &str = "in the checkout you installed from, `git pull && cargo install --path . --locked` (or `nix profile upgrade cargo-nixcuda` for a Nix install)";

pub use abort::AbortError;
pub use deps::DepsError;
pub use git::{GitError, Unreadable};
pub use host::HostError;
pub use source::SourceError;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("destination `{}` already exists and is not empty", path.display())]
    DestinationNotEmpty { path: PathBuf },

    #[error("destination `{}` exists and is not a directory", path.display())]
    DestinationNotDirectory { path: PathBuf },

    #[error("`{}` is already a cargo-nixcuda project (it has `.nixcuda.yaml`)", path.display())]
    AlreadyProject { path: PathBuf },

    #[error("invalid project name `{name}`: {rule}")]
    InvalidName {
        name: String,
        rule: String,
        suggestion: Option<String>,
        from_path: bool,
    },

    #[error("unknown scaffold `{id}`")]
    UnknownScaffold { id: String, available: Vec<String> },

    #[error("`{spec}` is not a scaffold version or version requirement")]
    BadVersionSpec { spec: String },

    #[error("scaffold `{id}` has no version matching `{requirement}`")]
    NoMatchingVersion {
        id: String,
        requirement: String,
        available: Vec<String>,
    },

    #[error("scaffold {scaffold} needs cargo-nixcuda {required} or newer (this is {current})")]
    ToolTooOld {
        scaffold: String,
        required: String,
        current: String,
    },

    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Manifest {
        file: String,
        line: Option<usize>,
        message: String,
    },

    #[error("{file}: {message}")]
    Render { file: String, message: String },

    #[error(
        "{file}: the template is {size} bytes; handlebars is given at most {limit} bytes ({} KiB) of template per file",
        limit >> 10
    )]
    TemplateTooLarge {
        file: String,
        size: usize,
        limit: usize,
    },

    #[error("{file}: {message}")]
    AnswerPath { file: String, message: String },

    #[error("question `{key}`: {message}")]
    InvalidDefault { key: String, message: String },

    #[error("unknown question `{key}` in `-d {key}=...`")]
    UnknownKey {
        key: String,
        known: Vec<String>,
        /// The team template the questions are from (`--template SRC`).
        template: Option<String>,
    },

    #[error("invalid answer `{}` for `{key}`: {reason}", shorten(value))]
    InvalidAnswer {
        key: String,
        value: String,
        reason: String,
        template: Option<String>,
    },

    #[error("answers file `{}`: {message}", path.display())]
    AnswersFile { path: PathBuf, message: String },

    #[error("question `{key}` ({prompt}) has no default and no answer was given")]
    MissingAnswer { key: String, prompt: String },

    #[error("{} existing file(s) in `{}` would be changed", paths.len(), dest.display())]
    Conflicts { dest: PathBuf, paths: Vec<PathBuf> },

    #[error("`--overwrite {}`: the scaffold writes no such file", path.display())]
    UnknownOverwrite { path: PathBuf },

    #[error("unsafe path `{path}`: {reason}")]
    UnsafePath { path: String, reason: String },

    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("git: could not {action}: {source}")]
    Git {
        action: &'static str,
        #[source]
        source: git2::Error,
    },

    #[error("interrupted; nothing was written")]
    Interrupted,

    /// Ctrl-C at a question (the process exits 130, as a shell reports SIGINT).
    #[error("cancelled at the question `{key}`; nothing was written")]
    Cancelled { key: String },

    /// `commit.gpgsign` asks for a signature that git could not make.
    #[error("commit.gpgsign is set, and git could not sign the {what}: {reason}")]
    SigningFailed { what: &'static str, reason: String },

    #[error("no `.nixcuda.yaml` in `{}` or any directory above it", start.display())]
    NotAProject { start: PathBuf },

    #[error("`{}` is not a valid project record: {message}", path.display())]
    BadRecord { path: PathBuf, message: String },

    #[error("the project is on {current}; {target} is older")]
    Downgrade { current: String, target: String },

    #[error("`.nixcuda.yaml` records `{key}: {value}`, which this scaffold refuses: {reason}")]
    RecordedAnswer {
        key: String,
        value: String,
        reason: String,
    },

    #[error("another cargo-nixcuda is changing the project at {}{}", root.display(), if holder.is_empty() { String::new() } else { format!(" ({holder})") })]
    ProjectBusy { root: PathBuf, holder: String },

    #[error("the journal of an interrupted change, `{}`, cannot be read: {message}", path.display())]
    BadJournal { path: PathBuf, message: String },

    #[error("cargo-nixcuda did not apply the journal `{}`: {reason}", path.display())]
    UntrustedJournal { path: PathBuf, reason: String },

    #[error("the update {update} is in place and staged, but was not committed: {reason}")]
    UpdateNotCommitted { update: String, reason: String },

    #[error("the git index is locked (`{}` exists)", lock.display())]
    IndexLocked { lock: PathBuf },

    #[error("no merge base for {scaffold}: {reason}")]
    NoMergeBase {
        scaffold: String,
        reason: String,
        /// The recorded source is a team template (not embedded).
        team_template: bool,
    },

    #[error("the work tree has uncommitted changes in {} file(s)", paths.len())]
    DirtyTree { paths: Vec<PathBuf> },

    #[error("could not ask `{key}`: {message}")]
    Prompt { key: String, message: String },

    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    /// An error in what the command line asked for (a `--scaffold`,
    /// `--template` or `--to` value), found while settings were resolved.
    #[error("{0}")]
    Usage(Box<Error>),

    #[error(transparent)]
    Abort(#[from] AbortError),

    #[error(transparent)]
    Source(#[from] SourceError),

    #[error(transparent)]
    Host(#[from] HostError),

    #[error(transparent)]
    Deps(#[from] DepsError),

    #[error(transparent)]
    Repository(#[from] GitError),
}

/// A value as error messages show it: whole when short, else its first 80
/// characters and its length.
pub fn shorten(value: &str) -> String {
    const SHOWN: usize = 80;
    let count = value.chars().count();
    if count <= SHOWN {
        return value.to_string();
    }
    let head: String = value.chars().take(SHOWN).collect();
    format!("{head}... ({count} characters)")
}

/// The command that lists the questions of the scaffold in use.
fn list_command(template: &Option<String>) -> String {
    match template {
        Some(spec) => format!("cargo nixcuda list --template {spec}"),
        None => "cargo nixcuda list".into(),
    }
}

impl Error {
    /// Points the hints of answer errors at the team template `spec`'s
    /// questions instead of the embedded scaffolds'.
    pub fn for_template(mut self, spec: Option<&str>) -> Error {
        if let Error::UnknownKey { template, .. } | Error::InvalidAnswer { template, .. } =
            &mut self
        {
            *template = spec.map(str::to_string);
        }
        self
    }

    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn git(action: &'static str) -> impl FnOnce(git2::Error) -> Error {
        move |source| Error::Git { action, source }
    }

    /// Marks an error as caused by a command-line argument.
    pub fn usage(self) -> Error {
        match self {
            Error::Usage(_) => self,
            other => Error::Usage(Box::new(other)),
        }
    }

    /// A usage error (exit status 2, as clap's own): a value given on the
    /// command line that cannot be used, as opposed to a failure while
    /// running (exit status 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Usage(_)
                | Error::UnknownKey { .. }
                | Error::InvalidAnswer { .. }
                | Error::BadVersionSpec { .. }
                | Error::AnswersFile { .. }
                | Error::UnknownOverwrite { .. }
                | Error::Source(SourceError::UnknownRef { .. })
                | Error::Host(HostError::UnknownGpu { .. })
                | Error::Deps(DepsError::BadName { .. } | DepsError::BadExtra { .. })
        )
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Usage(inner) => return inner.hint(),
            Error::DestinationNotEmpty { path } => format!(
                "choose a new directory, or run `cargo nixcuda init {}` to add the scaffold to it without overwriting anything",
                path.display()
            ),
            Error::DestinationNotDirectory { .. } => "choose another path".into(),
            Error::AlreadyProject { .. } => {
                "`cargo nixcuda update` moves it to a newer scaffold version or changes answers (`-d KEY=VALUE`); `cargo nixcuda check` says whether it is current".into()
            }
            Error::InvalidName {
                suggestion,
                from_path,
                ..
            } => {
                let mut hint = String::new();
                if let Some(s) = suggestion {
                    hint.push_str(&format!("a valid name would be `{s}`"));
                }
                if *from_path {
                    if !hint.is_empty() {
                        hint.push_str("; ");
                    }
                    hint.push_str("the directory name is used as the project name: pass `--name <NAME>` to choose another");
                }
                if hint.is_empty() {
                    return None;
                }
                hint
            }
            Error::UnknownScaffold { available, .. } => format!(
                "available scaffolds: {} (see `cargo nixcuda list`)",
                available.join(", ")
            ),
            Error::BadVersionSpec { .. } => {
                "write `ID`, `ID@1.2.3` for an exact version, or `ID@^1.2` for a requirement".into()
            }
            Error::NoMatchingVersion { id, available, .. } => {
                format!("available versions of `{id}`: {}", available.join(", "))
            }
            Error::ToolTooOld { .. } => format!("update the tool: {HOW_TO_UPGRADE}"),
            Error::Manifest { .. } | Error::Render { .. } | Error::InvalidDefault { .. } => {
                "this is a bug in the scaffold, not in your answers: report it to its authors with the command you ran (`cargo nixcuda scaffold check DIR` finds such problems in a template)".into()
            }
            Error::TemplateTooLarge { .. } => {
                "handlebars' compile time grows with the square of a template's size: split the file into several templates, or move text without `{{` into a file that is not rendered (no `.hbs` suffix, or listed under `verbatim:` in scaffold.yaml)".into()
            }
            Error::AnswerPath { .. } => {
                "this file name is made from your answers: choose answers that are not empty, `.`, `..` or `.git` and hold no `/` or `\\`".into()
            }
            Error::UnknownKey { known, template, .. } => format!(
                "questions of this scaffold: {} (`{}` shows them in detail)",
                known.join(", "),
                list_command(template)
            ),
            Error::InvalidAnswer { key, template, .. } => {
                format!("see `{}` for what `{key}` accepts", list_command(template))
            }
            Error::AnswersFile { .. } => {
                "the file is a YAML mapping from question keys to answers (`frameworks: both`, `notebook: false`); fix or remove the key named, or override it with `-d KEY=VALUE`".into()
            }
            Error::MissingAnswer { key, .. } => {
                format!("pass `-d {key}=...`, or run on a terminal without `--yes` to be asked")
            }
            Error::Conflicts { paths, .. } => {
                let list: Vec<String> =
                    paths.iter().map(|p| format!("  {}", p.display())).collect();
                format!(
                    "these files differ from what the scaffold would write; nothing was written:\n{}\nmove or rename them and run the command again, or pass `--overwrite PATH` for each one that should take the scaffold's version",
                    list.join("\n")
                )
            }
            Error::UnknownOverwrite { .. } => {
                "name a file the scaffold writes, relative to the project directory, as the conflict list shows it (`-v` lists every file)".into()
            }
            Error::UnsafePath { .. } => "nothing was written outside the destination".into(),
            Error::Io { source, path, .. } => {
                use std::io::ErrorKind;
                let what = match source.kind() {
                    ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                        format!("you may not write there: check the permissions of `{}`", path.display())
                    }
                    ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
                        "the disk (or your quota) is full: free some space".into()
                    }
                    ErrorKind::NotADirectory | ErrorKind::IsADirectory | ErrorKind::AlreadyExists => format!(
                        "a file stands where a directory is needed, or the reverse, at or above `{}`: move it or choose another path",
                        path.display()
                    ),
                    ErrorKind::NotFound => format!("`{}` or a directory above it does not exist", path.display()),
                    _ => "see the cause above".into(),
                };
                format!("{what}; nothing was left behind, so it is safe to retry")
            }
            Error::Git { .. } => {
                "the git message above says what failed; `git status` shows the repository as it is now".into()
            }
            Error::SigningFailed { .. } => "make `git commit -S` work here (gpg.program, gpg.format, user.signingKey), or set `git config commit.gpgsign false` to commit unsigned; nothing was committed".into(),
            Error::RecordedAnswer { key, .. } => format!(
                "`cargo nixcuda new` never records such a value: fix or remove `{key}` under `answers:` in `.nixcuda.yaml` (`git log -p .nixcuda.yaml` shows who changed it), or pass `-d {key}=...`"
            ),
            Error::ProjectBusy { .. } => {
                "wait for it to finish, then run the command again".into()
            }
            Error::BadJournal { path, .. } => format!(
                "its `old/` directory holds the originals and `new/` the new contents: restore by hand (or with `git checkout -- .` in a repository), then remove `{}`",
                path.parent().unwrap_or(path).display()
            ),
            Error::UntrustedJournal { path, .. } => format!(
                "nothing was changed. If you interrupted a cargo-nixcuda run here, restore its files by hand (`git status` and `git checkout` in a repository); the originals are under `old/` beside it. Then remove it (`rm -r {}`)",
                path.parent().filter(|_| path.ends_with("journal.json")).unwrap_or(path).display()
            ),
            Error::UpdateNotCommitted { .. } => "commit it with `git commit` once the cause is fixed, or put the project back as it was (files, index and the record) with `cargo nixcuda update --abort`".into(),
            Error::IndexLocked { lock } => format!(
                "another git command is running in this repository, or one crashed: wait for it, or, if none is running, remove `{}`; nothing was changed",
                lock.display()
            ),
            Error::Interrupted | Error::Cancelled { .. } => return None,
            Error::Abort(e) => e.hint(),
            Error::Source(e) => return e.hint(),
            Error::Host(e) => return e.hint(),
            Error::Deps(e) => return e.hint(),
            Error::Repository(e) => return e.hint(),
            Error::NotAProject { .. } => {
                "run this inside a project made by `cargo nixcuda new` (it records its scaffold in `.nixcuda.yaml`)".into()
            }
            Error::BadRecord { .. } => {
                "restore `.nixcuda.yaml` from version control (`git checkout -- .nixcuda.yaml`)".into()
            }
            Error::NoMergeBase { scaffold, team_template: true, .. } => format!(
                "make {scaffold} available again: restore its tag in the template repository (`git tag v<VERSION> <COMMIT>`), or set `source:` in `.nixcuda.yaml` to a checkout of that version (`dir:/path/to/checkout`), run the update, then set it back"
            ),
            Error::NoMergeBase { scaffold, .. } => format!(
                "install a cargo-nixcuda that embeds {scaffold}, or fetch the pristine renders from the repository this project was made in: `git fetch <REMOTE> 'refs/nixcuda/*:refs/nixcuda/*'`"
            ),
            Error::Downgrade { .. } => "pass `--to` a version at or above the current one (see `cargo nixcuda check`)".into(),
            Error::DirtyTree { paths } => {
                let list: Vec<String> = paths.iter().map(|p| format!("  {}", p.display())).collect();
                format!(
                    "commit or stash these first, so the update can be reviewed and undone:\n{}\nor pass `--allow-dirty`",
                    list.join("\n")
                )
            }
            Error::Prompt { key, .. } => {
                format!("pass `-d {key}=...` or `--yes` to skip the prompt")
            }
            Error::Config { .. } => {
                "fix the file (see `cargo nixcuda config` for its format and location), or move it aside".into()
            }
        })
    }
}
