//! Every way the library can fail, each with a hint that says what to do next.

use std::path::{Path, PathBuf};

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("destination `{}` already exists and is not empty", path.display())]
    DestinationNotEmpty { path: PathBuf },

    #[error("destination `{}` exists and is not a directory", path.display())]
    DestinationNotDirectory { path: PathBuf },

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

    #[error("question `{key}`: {message}")]
    InvalidDefault { key: String, message: String },

    #[error("unknown question `{key}` in `-d {key}=...`")]
    UnknownKey { key: String, known: Vec<String> },

    #[error("invalid answer `{}` for `{key}`: {reason}", shorten(value))]
    InvalidAnswer {
        key: String,
        value: String,
        reason: String,
    },

    #[error("question `{key}` ({prompt}) has no default and no answer was given")]
    MissingAnswer { key: String, prompt: String },

    #[error("{} existing file(s) in `{}` would be changed", paths.len(), dest.display())]
    Conflicts { dest: PathBuf, paths: Vec<PathBuf> },

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

    #[error("{} file(s) have conflicts", paths.len())]
    UpdateConflicts { paths: Vec<PathBuf> },

    #[error("the project is on scaffold version {current}; {newest} is available")]
    Outdated { current: String, newest: String },

    #[error("could not ask `{key}`: {message}")]
    Prompt { key: String, message: String },

    #[error("template `{spec}`: {message}")]
    TemplateSpec { spec: String, message: String },

    #[error("template {source_name} holds several scaffolds: {}", ids.join(", "))]
    AmbiguousTemplate {
        source_name: String,
        ids: Vec<String>,
    },

    #[error("`{path}` {message}")]
    TemplateLimit { path: String, message: String },

    #[error("`git` is not installed (or not on PATH); it is needed to fetch `{url}`")]
    GitMissing { url: String },

    #[error("git could not {action} from `{url}`:\n{message}")]
    GitCommand {
        action: &'static str,
        url: String,
        message: String,
    },

    #[error("`{url}` is not in the template cache, and `--offline` forbids fetching it")]
    NotCached { url: String },

    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error("the scaffold check found {problems} problem(s)")]
    LintFailed { problems: usize },

    #[error("embedded host data `{file}`: {message}")]
    HostData { file: String, message: String },

    #[error("no NVIDIA GPU found in `{}`", sys_dir.display())]
    NoNvidiaGpu { sys_dir: PathBuf },

    #[error("`--prime {mode}` needs an integrated Intel or AMD GPU; none was found")]
    PrimeNeedsIntegratedGpu { mode: String },

    #[error("GPUs that need different drivers: {legacy} (closed) and {open_only} (open)")]
    ConflictingGpus { legacy: String, open_only: String },

    #[error("`{}` already exists and differs from the generated module (diff above)", path.display())]
    ModuleExists { path: PathBuf },

    #[error("{failed} doctor check(s) failed")]
    DoctorFailed { failed: usize },
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

impl Error {
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

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::DestinationNotEmpty { path } => format!(
                "choose a new directory, or run `cargo nixcuda init {}` to add the scaffold to it without overwriting anything",
                path.display()
            ),
            Error::DestinationNotDirectory { .. } => "choose another path".into(),
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
            Error::ToolTooOld { .. } => "update the tool: `cargo install cargo-nixcuda`".into(),
            Error::Manifest { .. } | Error::Render { .. } | Error::InvalidDefault { .. } => {
                "this is a bug in the scaffold; please report it with the command you ran".into()
            }
            Error::UnknownKey { known, .. } => {
                format!("questions of this scaffold: {}", known.join(", "))
            }
            Error::InvalidAnswer { key, .. } => {
                format!("see `cargo nixcuda list` for what `{key}` accepts")
            }
            Error::MissingAnswer { key, .. } => {
                format!("pass `-d {key}=...`, or run on a terminal without `--yes` to be asked")
            }
            Error::Conflicts { paths, .. } => {
                let list: Vec<String> =
                    paths.iter().map(|p| format!("  {}", p.display())).collect();
                format!(
                    "these files differ from what the scaffold would write; nothing was written:\n{}\nmove or rename them, then run the command again",
                    list.join("\n")
                )
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
            Error::IndexLocked { lock } => format!(
                "another git command is running in this repository, or one crashed: wait for it, or, if none is running, remove `{}`; nothing was changed",
                lock.display()
            ),
            Error::Interrupted => return None,
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
            Error::Outdated { newest, .. } => {
                format!("run `cargo nixcuda update` (or `--to {newest}`); `--dry-run` shows the diff first")
            }
            Error::UpdateConflicts { paths } => {
                let list: Vec<String> = paths.iter().map(|p| format!("  {}", p.display())).collect();
                format!(
                    "resolve the `<<<<<<<` markers (or, for a path that was not written, what stands in its way) in:\n{}\nthen `git add` them; the other changes are staged",
                    list.join("\n")
                )
            }
            Error::Prompt { key, .. } => {
                format!("pass `-d {key}=...` or `--yes` to skip the prompt")
            }
            Error::TemplateSpec { .. } => {
                "pass a directory with `scaffold.yaml`, `file:///repo`, an https/ssh git URL, `gh:OWNER/REPO`, or a favorite from `cargo nixcuda config`; add `@VERSION` or `#REF` to pick a version (`cargo nixcuda list --template ...` shows them)".into()
            }
            Error::AmbiguousTemplate { ids, .. } => format!(
                "pick one with `--scaffold ID` (one of: {})",
                ids.join(", ")
            ),
            Error::TemplateLimit { .. } => format!(
                "templates are limited to {} files, 1 MiB per file, 16 MiB in all and {} directories deep; keep large data out of the template and download it in the generated project",
                crate::scaffold::source::MAX_FILES,
                crate::scaffold::source::MAX_DEPTH
            ),
            Error::GitMissing { .. } => {
                "install git (`nix profile install nixpkgs#git`, or `programs.git.enable = true;` on NixOS), or clone the template yourself and pass its directory".into()
            }
            Error::GitCommand { .. } => {
                "check the URL and that `git ls-remote URL` works in this shell (SSH keys, credential helper); `--offline` uses the cached copy".into()
            }
            Error::NotCached { .. } => {
                "run the command once without `--offline` to fill the cache, or pass a local directory".into()
            }
            Error::Config { .. } => {
                "fix the file (see `cargo nixcuda config` for its format and location), or move it aside".into()
            }
            Error::LintFailed { .. } => {
                "fix the problems listed above (each names a file and, where it can, a line), then run `cargo nixcuda scaffold check` again".into()
            }
            Error::HostData { .. } => {
                "this is a bug in cargo-nixcuda's embedded data; please report it".into()
            }
            Error::NoNvidiaGpu { .. } => {
                "run this on the machine with the NVIDIA GPU (`lspci -d 10de::03xx` lists it); CUDA needs one".into()
            }
            Error::PrimeNeedsIntegratedGpu { .. } => {
                "leave out `--prime` (or pass `--prime none`) on a machine with only NVIDIA graphics".into()
            }
            Error::ConflictingGpus { .. } => {
                "no single NixOS driver setting serves both: pass `--open` (drops the older GPU) or `--no-open` (drops the newer one)".into()
            }
            Error::ModuleExists { .. } => {
                "review the diff, then pass `--force` to overwrite, or choose another `--output`".into()
            }
            Error::DoctorFailed { .. } => {
                "fix the `fail` lines above (each has a hint), then run `cargo nixcuda doctor` again".into()
            }
        })
    }
}
