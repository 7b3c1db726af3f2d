//! The command line. Doc comments are the help texts; no logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cargo nixcuda new ipsa-prediction                 ask the questions, create, git commit
  cargo nixcuda new demo --yes -d frameworks=both   take the defaults, pick both frameworks
  cargo nixcuda new demo --scaffold ml@1.0.0 --vcs none
  cargo nixcuda init                                add the scaffold to the current directory
  cargo nixcuda list ml                             questions, choices and defaults of `ml`";

#[derive(Debug, Parser)]
#[command(
    name = "cargo-nixcuda",
    bin_name = "cargo nixcuda",
    version,
    about = "Create NixOS + CUDA machine-learning repositories: flake, Python with torch/tensorflow, Rust crate, notebook, GPU tests, git.",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print only errors and warnings
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print every file written
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Coloring; when not given: CARGO_TERM_COLOR, else never with NO_COLOR, else auto
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<crate::printer::ColorChoice>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new project directory from a scaffold
    #[command(
        after_help = "Examples:\n  cargo nixcuda new ipsa-prediction\n  cargo nixcuda new ~/work/demo --name gpu-demo --yes -d rust_crate=pyo3 -d python=python313"
    )]
    New(NewArgs),
    /// Add a scaffold to an existing directory without changing any existing file
    #[command(
        after_help = "Examples:\n  cargo nixcuda init\n  cargo nixcuda init ../notebooks --yes -d frameworks=none"
    )]
    Init(InitArgs),
    /// Move this project to a newer scaffold version, keeping your edits
    #[command(
        after_help = "Examples:\n  cargo nixcuda update --dry-run\n  cargo nixcuda update\n  cargo nixcuda update --to 1.1.0 --commit\n  cargo nixcuda update -d frameworks=both"
    )]
    Update(UpdateArgs),
    /// Is this project on the newest scaffold version? (exit 1: no, 2: cannot say)
    #[command(
        after_help = "Exit status: 0 fresh, 1 outdated, 2 when it cannot say (the project is newer than this tool, or cannot be read).\n\nExamples:\n  cargo nixcuda check\n  cargo nixcuda check --json"
    )]
    Check(CheckArgs),
    /// Show the scaffolds, their versions and their questions
    #[command(
        after_help = "Examples:\n  cargo nixcuda list\n  cargo nixcuda list ml\n  cargo nixcuda list --json"
    )]
    List(ListArgs),
    /// Add Python packages to pyproject.toml, from nixpkgs or (--pypi) from PyPI
    #[command(
        after_help = "Examples:\n  cargo nixcuda add transformers\n  cargo nixcuda add einops safetensors --commit\n  cargo nixcuda add --extra torch torchvision\n  cargo nixcuda add --pypi some-package"
    )]
    Add(AddArgs),
    /// Remove Python packages from pyproject.toml (exit 1 when one is not there)
    #[command(
        after_help = "Examples:\n  cargo nixcuda remove transformers\n  cargo nixcuda remove einops --commit"
    )]
    Remove(RemoveArgs),
    /// Check this machine for CUDA: Nix, binary cache, NVIDIA driver, libcuda, direnv
    #[command(after_help = HOST_HELP_DOCTOR)]
    Doctor(DoctorArgs),
    /// Write the NixOS module for this machine's NVIDIA GPU (driver, PRIME, binary caches)
    #[command(after_help = HOST_HELP_NIXOS)]
    Nixos(NixosArgs),
    /// Pin flake.lock only to revisions whose CUDA packages the binary caches serve
    #[command(after_help = HOST_HELP_LOCK)]
    Lock(LockArgs),
    /// Show the effective user configuration and where each setting comes from
    #[command(after_help = TEAM_HELP_CONFIG)]
    Config(ConfigArgs),
    /// Start or lint a team template (`scaffold new DIR`, `scaffold check DIR`)
    #[command(subcommand)]
    Scaffold(ScaffoldCommand),
    /// Print a shell completion script (for `cargo nixcuda` and `cargo-nixcuda`)
    #[command(
        after_help = "Examples:\n  source <(cargo nixcuda completions bash)          in ~/.bashrc\n  source <(cargo nixcuda completions zsh)           in ~/.zshrc, after compinit\n  cargo nixcuda completions fish | source           in ~/.config/fish/config.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one per subcommand into DIR (for packagers)
    #[command(
        hide = true,
        after_help = "Examples:\n  cargo nixcuda man | man -l -\n  cargo nixcuda man --dir ~/.local/share/man/man1"
    )]
    Man {
        /// Write cargo-nixcuda.1 and cargo-nixcuda-SUBCOMMAND.1 into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Distribution names as on PyPI (`scikit-learn`); a version is kept in
    /// pyproject.toml but Nix installs the locked nixpkgs' version
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// From PyPI, into the `pypi` group: uv installs it over the Nix
    /// environment (for packages nixpkgs does not have)
    #[arg(long)]
    pub pypi: bool,
    /// Into this extra of [project.optional-dependencies] instead (`torch`:
    /// a package that needs torch stays out of the TensorFlow environment)
    #[arg(long, value_name = "EXTRA", conflicts_with = "pypi")]
    pub extra: Option<String>,
    /// Commit the change (it is staged either way)
    #[arg(long)]
    pub commit: bool,
    /// Do not ask Nix whether nixpkgs has the packages (it may download nixpkgs)
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Distribution names, from whichever list of pyproject.toml holds them
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Commit the change (it is staged either way)
    #[arg(long)]
    pub commit: bool,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Directory to create (must not exist, or be empty)
    pub path: PathBuf,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Existing directory to add the scaffold to
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Take the scaffold's version of this conflicting file (relative to
    /// the project directory); repeatable
    #[arg(long, value_name = "PATH")]
    pub overwrite: Vec<PathBuf>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Project name [default: the directory name]
    #[arg(long)]
    pub name: Option<String>,

    /// Scaffold to use: ID, ID@VERSION (exact) or ID@REQ (e.g. ml@^1)
    #[arg(long, value_name = "ID[@VERSION]")]
    pub scaffold: Option<String>,

    /// Answer a question: -d frameworks=both -d notebook=false
    #[arg(short = 'd', long = "define", value_name = "KEY=VALUE", value_parser = parse_define)]
    pub defines: Vec<(String, String)>,

    /// Answers from a YAML mapping (`frameworks: both`); -d wins over it
    #[arg(long, value_name = "FILE")]
    pub answers_file: Option<PathBuf>,

    /// Ask nothing: take defaults for every question not answered with -d
    #[arg(short, long)]
    pub yes: bool,

    /// Version control for the new project
    #[arg(long, value_enum, default_value_t = VcsArg::Git)]
    pub vcs: VcsArg,

    /// Team template: DIR, file:///REPO, a git URL, gh:OWNER/REPO or a
    /// favorite from the config, with @VERSION or #REF
    #[arg(long, value_name = "SOURCE")]
    pub template: Option<String>,

    /// Use only the cached copy of a remote template
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VcsArg {
    Git,
    None,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Use only the cached copy of the project's remote team template
    #[arg(long)]
    pub offline: bool,

    /// Target version [default: the newest]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Change an answer (or answer a question new in the target version)
    #[arg(short = 'd', long = "define", value_name = "KEY=VALUE", value_parser = parse_define)]
    pub defines: Vec<(String, String)>,

    /// Answers from a YAML mapping (`frameworks: both`); -d wins over it
    #[arg(long, value_name = "FILE")]
    pub answers_file: Option<PathBuf>,

    /// Print the git diff of what would change (`git apply` takes it); write
    /// nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Ask nothing: new questions take their defaults
    #[arg(short, long)]
    pub yes: bool,

    /// Run even with uncommitted changes in the work tree
    #[arg(long)]
    pub allow_dirty: bool,

    /// Commit the update (otherwise the changes are left staged)
    #[arg(long)]
    pub commit: bool,

    /// Take the scaffold from this template from now on (a team template that
    /// moved; a favorite of the config works too); the record then names it
    #[arg(long, value_name = "SRC")]
    pub template: Option<String>,

    /// Undo the last update: files, index and record as they were before it
    #[arg(long, conflicts_with_all = ["to", "defines", "dry_run", "commit", "allow_dirty"])]
    pub abort: bool,

    /// Project directory [default: the current one, or the nearest above it
    /// with a .nixcuda.yaml]
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Use only the cached copy of the project's remote team template
    #[arg(long)]
    pub offline: bool,

    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,

    /// Project directory [default: the current one]
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the scaffolds and versions (semver tags) of a team template
    #[arg(long, value_name = "SOURCE")]
    pub template: Option<String>,
    /// Use only the cached copy of a remote template
    #[arg(long)]
    pub offline: bool,
    /// Show one scaffold's versions and questions in detail
    pub id: Option<String>,
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
}

const HOST_HELP_DOCTOR: &str = "\
Examples:
  cargo nixcuda doctor
  cargo nixcuda doctor --json | jq '.checks[] | select(.status != \"ok\")'

Inside a project, the build-plan check runs `nix build --dry-run` of the
dev shell (at most 90 s; before the first flake.lock too, writing none)
and fails when torch or the CUDA libraries would compile locally.

Exit status: 1 when a check fails. nix, nvidia-smi and direnv are the ones
on PATH.";

const HOST_HELP_LOCK: &str = "\
Examples:
  cargo nixcuda lock              the first flake.lock, or check the current one
  cargo nixcuda lock --update     move to the newest revisions, if the caches serve them

Nix locks into a temporary file; `nix build --dry-run` of the dev shell with
that lock (import-from-derivation off, the flake's nixConfig not accepted)
says what would compile. flake.lock is replaced, in one rename, only when
torch, triton, magma and the CUDA libraries all come from a binary cache.

Exit status: 0 written or already fine; 1 refused (what would compile is
named, flake.lock is left as it was) or an error.";

const HOST_HELP_NIXOS: &str = "\
Examples:
  cargo nixcuda nixos                                   print the module
  cargo nixcuda nixos --output /etc/nixos/nvidia-host.nix
  cargo nixcuda nixos --prime sync --container-toolkit --output nvidia-host.nix";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Machine-readable output on stdout (checks with id, status, message, hint)
    #[arg(long)]
    pub json: bool,

    /// Project directory whose flake and Rust crate are checked [default: the
    /// current one, or the nearest above it with a .nixcuda.yaml]
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct NixosArgs {
    /// Write the module to FILE instead of stdout (an existing different file
    /// is shown as a diff and kept, unless --force)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite FILE when it exists
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Machine-readable output on stdout (detected GPUs, choices, the module)
    #[arg(long)]
    pub json: bool,

    /// Use the open kernel modules whatever the GPU generation
    #[arg(long, conflicts_with = "no_open")]
    pub open: bool,

    /// Use the proprietary kernel modules whatever the GPU generation
    #[arg(long)]
    pub no_open: bool,

    /// PRIME mode with an integrated GPU [default: offload when one is found]
    #[arg(long, value_enum)]
    pub prime: Option<PrimeArg>,

    /// Enable hardware.nvidia-container-toolkit (GPUs in docker/podman)
    #[arg(long)]
    pub container_toolkit: bool,

    /// Write the module for this GPU, not this machine's: its PCI ID as
    /// `lspci -nn` shows it (10de:2684) or its generation (pascal, turing,
    /// ampere, ada, hopper, blackwell, ...)
    #[arg(long, value_name = "ID|GENERATION")]
    pub gpu: Option<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Try the newest revisions of the flake inputs' branches (`nix flake
    /// update`) instead of keeping the locked ones
    #[arg(long)]
    pub update: bool,

    /// Seconds each Nix command may take (locking downloads the inputs,
    /// the dry run evaluates nixpkgs)
    #[arg(long, value_name = "SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Project directory [default: the current one, or the nearest above
    /// it with a .nixcuda.yaml]
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrimeArg {
    Offload,
    Sync,
    None,
}

const TEAM_HELP_CONFIG: &str = "\
The file: $XDG_CONFIG_HOME/cargo-nixcuda/config.yaml (or ~/.config/...; CARGO_NIXCUDA_CONFIG names another):
  defaults:              # answers, as if given with -d (-d wins)
    author: Ada Lovelace <ada@example.org>
    frameworks: both
  templates:             # favorites: --template work
    work: gh:acme/ml-template
  default_scaffold: ml
Examples:
  cargo nixcuda config
  cargo nixcuda config --json";

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Machine-readable output on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScaffoldCommand {
    /// Start a team template in DIR from the embedded `ml` scaffold
    #[command(
        after_help = "Examples:\n  cargo nixcuda scaffold new ~/src/acme-template\n  cargo nixcuda scaffold check ~/src/acme-template"
    )]
    New {
        /// Directory to create (must not exist, or be empty)
        dir: PathBuf,
    },
    /// Lint a team template: manifest, every answer combination, paths, Nix syntax
    #[command(
        after_help = "Examples:\n  cargo nixcuda scaffold check .\n  cargo nixcuda scaffold check ~/src/acme-template --json"
    )]
    Check {
        /// The template directory (scaffold.yaml + template/, or <id>/ sub-directories)
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Machine-readable output on stdout
        #[arg(long)]
        json: bool,
    },
}

fn parse_define(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{text}` is not KEY=VALUE (for example `-d frameworks=both`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn define_needs_key_and_equals() {
        assert_eq!(parse_define("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_define("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_define("a").is_err());
        assert!(parse_define("=b").is_err());
    }
}
