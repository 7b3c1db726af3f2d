//! Settings: the one place that turns the command line, the user config
//! (`config.rs`), the team template source and the environment into what
//! each command runs with. Precedence, highest first: a flag, the project's
//! record (for `update`/`check`), the user config, the built-in default.
//! Commands read nothing else; the engine below reads none of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{
    AddArgs, CheckArgs, DoctorArgs, GenerateArgs, ListArgs, LockArgs, NixosArgs, PrimeArg,
    RemoveArgs, UpdateArgs, VcsArg,
};
use crate::config::Config;
use crate::deps::{AddOptions, RemoveOptions};
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, Mode, Vcs};
use crate::host::nixos::{NixosOptions, PrimeChoice};
use crate::printer::Verbosity;
use crate::record::{ProjectRecord, RECORD_FILE};
use crate::scaffold::Scaffold;
use crate::scaffold::answers_file::AnswersFile;
use crate::scaffold::registry::{DEFAULT_SCAFFOLD, Registry};
use crate::scaffold::source::{TemplateSet, TemplateSource, TemplateSpec};
use crate::update::UpdateOptions;

/// Test hook: a directory of scaffolds (`<id>/<version>/...`) that stands in
/// for the embedded ones, to drive the engine with broken or tiny scaffolds.
const SCAFFOLDS_DIR_ENV: &str = crate::test_hooks::SCAFFOLDS_DIR;

/// Seconds the build-plan check of `doctor` waits for `nix build --dry-run`
/// (default: the host data's `build_plan.timeout_seconds`).
const BUILD_PLAN_TIMEOUT_ENV: &str = crate::test_hooks::BUILD_PLAN_TIMEOUT;

/// What `--template` (or `default_template`) names to mean the scaffolds
/// shipped in the binary.
const EMBEDDED_TEMPLATE: &str = "embedded";

pub(crate) fn verbosity(quiet: bool, verbose: bool) -> Verbosity {
    if quiet {
        Verbosity::Quiet
    } else if verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// Where scaffolds come from in this run: the embedded set (or the tests'
/// stand-in for it) or a team template's, as one value.
pub(crate) fn embedded_scaffolds() -> Result<TemplateSet> {
    let registry = match std::env::var_os(SCAFFOLDS_DIR_ENV) {
        Some(dir) => crate::scaffold::source::registry_from_dir(Path::new(&dir))?,
        None => Registry::embedded()?,
    };
    Ok(TemplateSet {
        source: TemplateSource::Embedded,
        registry,
        provenance: BTreeMap::new(),
        warnings: Vec::new(),
    })
}

/// The scaffolds `--template` names, else the config's `default_template`,
/// else the embedded ones; with the template's `@VERSION`, if any.
fn chosen_scaffolds(
    template: Option<&str>,
    config: &Config,
    offline: bool,
) -> Result<(TemplateSet, Option<String>)> {
    let chosen = template
        .map(str::to_string)
        .or_else(|| config.file.default_template.clone());
    let Some(text) = chosen.filter(|t| t != EMBEDDED_TEMPLATE) else {
        return Ok((embedded_scaffolds()?, None));
    };
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", Path::new("."), e))?;
    let spec = TemplateSpec::parse(&config.resolve_template(&text), &cwd).map_err(Error::usage)?;
    let mut set = TemplateSet::load(&spec.source, offline)?;
    set.warnings.extend(config.template_ambiguity(&text, &cwd));
    Ok((set, spec.version))
}

/// What `update --template TEXT` names: a favorite, `embedded`, or a spec;
/// with its `@VERSION`, if any.
fn template_source(text: &str, config: &Config) -> Result<(TemplateSource, Option<String>)> {
    if text == EMBEDDED_TEMPLATE {
        return Ok((TemplateSource::Embedded, None));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", Path::new("."), e))?;
    let spec = TemplateSpec::parse(&config.resolve_template(text), &cwd).map_err(Error::usage)?;
    Ok((spec.source, spec.version))
}

/// The scaffold id `new` and `list` take when none is named: the config's
/// `default_scaffold` where the source has it, else the built-in one for
/// the embedded set, else a template's only scaffold.
fn default_scaffold(set: &TemplateSet, config: &Config) -> Result<String> {
    match &config.file.default_scaffold {
        Some(id) if set.source == TemplateSource::Embedded => Ok(id.clone()),
        Some(id) if !set.registry.versions(id).is_empty() => Ok(id.clone()),
        _ if set.source == TemplateSource::Embedded => Ok(DEFAULT_SCAFFOLD.to_string()),
        _ => set.default_id(),
    }
}

/// Adds the config's default answers for the questions of `scaffold` that
/// `accept` lets through; an answer on the command line wins, and one the
/// question would refuse is left to the prompt or the default, with a
/// warning that names the file and the key (returned).
fn add_config_answers(
    config: &Config,
    scaffold: &Scaffold,
    defines: &mut BTreeMap<String, String>,
    accept: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (key, text) in config.default_answers() {
        let Some(question) = scaffold.manifest.question(&key) else {
            continue;
        };
        if defines.contains_key(&key) || !accept(&key) {
            continue;
        }
        if let Err(reason) = crate::scaffold::answers::parse_answer(question, &text) {
            let file = match &config.path {
                Some(path) => path.display().to_string(),
                None => "the user config".to_string(),
            };
            warnings.push(format!(
                "ignoring `defaults.{key}` in {file}: {reason}; fix or remove it there (`cargo nixcuda config` shows the file)"
            ));
            continue;
        }
        defines.insert(key, text);
    }
    warnings
}

/// `new` and `init`.
pub(crate) struct GenerateSettings {
    pub options: GenerateOptions,
    pub scaffolds: TemplateSet,
    /// `--answers-file`, kept to name the file in the errors its values cause.
    pub answers_file: AnswersFile,
    /// `--template` as typed, for hints that point at `list --template`.
    pub template: Option<String>,
    /// False with `--yes`: take defaults instead of asking.
    pub ask: bool,
}

impl GenerateSettings {
    pub fn resolve(
        path: PathBuf,
        args: GenerateArgs,
        mode: Mode,
        overwrite: Vec<PathBuf>,
    ) -> Result<GenerateSettings> {
        let config = Config::load()?;
        let answers_file = AnswersFile::load(args.answers_file.as_deref())?;
        let (scaffolds, version) =
            chosen_scaffolds(args.template.as_deref(), &config, args.offline)?;
        let named = args.scaffold.is_some() || version.is_some();
        let id = match args.scaffold {
            Some(id) => id,
            None => default_scaffold(&scaffolds, &config)?,
        };
        let spec = match (&version, id.contains('@')) {
            (Some(v), false) => format!("{id}@{v}"),
            _ => id,
        };
        let mut defines = answers_file.under(args.defines);
        let mut scaffolds = scaffolds;
        match scaffolds.registry.resolve(&spec) {
            Ok(scaffold) => {
                let warnings = add_config_answers(&config, scaffold, &mut defines, |_| true);
                scaffolds.warnings.extend(warnings);
            }
            Err(e) if named => return Err(e.usage()),
            // A config default the source lacks: `prepare` names it.
            Err(_) => {}
        }
        Ok(GenerateSettings {
            options: GenerateOptions {
                path,
                name: args.name,
                scaffold: Some(spec),
                defines,
                vcs: match args.vcs {
                    VcsArg::Git => Vcs::Git,
                    VcsArg::None => Vcs::None,
                },
                mode,
                overwrite,
            },
            scaffolds,
            answers_file,
            template: args.template,
            ask: !args.yes,
        })
    }
}

/// The scaffolds of the source a project records, or of `moved_to` (`update
/// --template`: where that template is now), pinned to the recorded commit,
/// and, when that commit cannot be read, why: the update may not need it
/// (the pristine tree is its base).
fn project_scaffolds(
    root: &Path,
    record: &ProjectRecord,
    moved_to: Option<TemplateSource>,
    offline: bool,
) -> Result<(TemplateSet, Option<String>)> {
    let source =
        match moved_to {
            Some(source) => source,
            None => TemplateSource::from_record_at(&record.scaffold.source, root).map_err(
                |message| Error::BadRecord {
                    path: root.join(RECORD_FILE),
                    message: format!("scaffold source `{}`: {message}", record.scaffold.source),
                },
            )?,
        };
    if source == TemplateSource::Embedded {
        return Ok((embedded_scaffolds()?, None));
    }
    let mut set = TemplateSet::load_with(&source, offline, true)?;
    let mut problem = None;
    if let Some(commit) = &record.scaffold.commit
        && let Err(e) = set.pin(
            &record.scaffold.id,
            &record.scaffold.version,
            commit,
            offline,
        )
    {
        problem = Some(format!(
            "the recorded template commit {commit} cannot be read ({e})"
        ));
    }
    Ok((set, problem))
}

/// `update`, resolved once the project is locked and recovered.
pub(crate) struct UpdateSettings {
    pub options: UpdateOptions,
    pub scaffolds: TemplateSet,
    pub answers_file: AnswersFile,
    pub ask: bool,
    pub dry_run: bool,
    pub commit: bool,
}

impl UpdateSettings {
    pub fn resolve(args: UpdateArgs, root: &Path) -> Result<UpdateSettings> {
        let config = Config::load()?;
        let answers_file = AnswersFile::load(args.answers_file.as_deref())?;
        let (record, record_text) = crate::update::read_record_and_text(root)?;
        let (moved_to, version) = match &args.template {
            Some(text) => {
                let (source, version) = template_source(text, &config)?;
                (Some(source), version)
            }
            None => (None, None),
        };
        let to = args.to.or(version);
        let (scaffolds, base_note) = project_scaffolds(root, &record, moved_to, args.offline)?;
        let id = &record.scaffold.id;
        let target = match &to {
            Some(v) => scaffolds
                .registry
                .resolve(&format!("{id}@{v}"))
                .map_err(Error::usage)?,
            None => scaffolds.registry.resolve(id)?,
        };
        let mut defines = answers_file.under(args.defines);
        // Recorded answers are the project's: the config only answers what
        // the target version asks for the first time.
        let new = new_questions(target, &record);
        let warnings = add_config_answers(&config, target, &mut defines, |key| {
            new.iter().any(|k| k == key)
        });
        let target = target.label();
        let mut scaffolds = scaffolds;
        scaffolds.warnings.extend(warnings);
        Ok(UpdateSettings {
            options: UpdateOptions {
                root: root.to_path_buf(),
                record,
                record_text,
                target,
                defines,
                allow_dirty: args.allow_dirty,
                dry_run: args.dry_run,
                base_note,
            },
            scaffolds,
            answers_file,
            ask: !args.yes,
            dry_run: args.dry_run,
            commit: args.commit,
        })
    }
}

/// The questions of `target` that the project has no answer for, neither
/// recorded nor carried over by one of the target's migrations.
fn new_questions(target: &Scaffold, record: &ProjectRecord) -> Vec<String> {
    let from = semver::Version::parse(&record.scaffold.version).ok();
    let migrated: Vec<&String> = target
        .manifest
        .migrations
        .iter()
        .filter(|m| from.as_ref().is_some_and(|f| *f < m.before))
        .flat_map(|m| {
            m.rename_answers
                .values()
                .chain(m.set_answers.iter().map(|s| &s.key))
        })
        .collect();
    target
        .manifest
        .questions
        .iter()
        .map(|q| &q.key)
        .filter(|key| {
            !record
                .answers
                .contains_key(serde_yaml::Value::String(key.to_string()))
                && !migrated.contains(key)
        })
        .cloned()
        .collect()
}

/// `check`, resolved once the project is recovered.
pub(crate) struct CheckSettings {
    pub root: PathBuf,
    pub scaffolds: TemplateSet,
    pub json: bool,
}

impl CheckSettings {
    pub fn resolve(args: &CheckArgs, root: PathBuf) -> Result<CheckSettings> {
        let record = crate::update::read_record(&root)?;
        let (scaffolds, _) = project_scaffolds(&root, &record, None, args.offline)?;
        Ok(CheckSettings {
            root,
            scaffolds,
            json: args.json,
        })
    }
}

/// `list`.
pub(crate) struct ListSettings {
    pub scaffolds: TemplateSet,
    /// The scaffold shown in detail (`list ID`).
    pub id: Option<String>,
    /// The template's `@VERSION`: whose questions are shown.
    pub version: Option<String>,
    /// The scaffold `new` would take.
    pub default_id: Option<String>,
    pub json: bool,
}

impl ListSettings {
    pub fn resolve(args: &ListArgs) -> Result<ListSettings> {
        let config = Config::load()?;
        let (scaffolds, version) =
            chosen_scaffolds(args.template.as_deref(), &config, args.offline)?;
        if let Some(id) = &args.id {
            scaffolds.registry.resolve(id).map_err(Error::usage)?;
        }
        Ok(ListSettings {
            default_id: default_scaffold(&scaffolds, &config).ok(),
            scaffolds,
            id: args.id.clone(),
            version,
            json: args.json,
        })
    }
}

/// `doctor`.
pub(crate) struct DoctorSettings {
    pub start: PathBuf,
    /// For the scaffold-version check.
    pub registry: Registry,
    pub build_plan_timeout: Option<Duration>,
    pub json: bool,
}

impl DoctorSettings {
    pub fn resolve(args: &DoctorArgs) -> Result<DoctorSettings> {
        let build_plan_timeout = std::env::var(BUILD_PLAN_TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map(Duration::from_secs_f64);
        Ok(DoctorSettings {
            start: args.path.clone(),
            registry: embedded_scaffolds()?.registry,
            build_plan_timeout,
            json: args.json,
        })
    }
}

/// `lock`.
pub(crate) struct LockSettings {
    pub start: PathBuf,
    pub update: bool,
    pub timeout: Duration,
}

impl LockSettings {
    pub fn resolve(args: &LockArgs) -> LockSettings {
        LockSettings {
            start: args.path.clone(),
            update: args.update,
            timeout: Duration::from_secs(args.timeout),
        }
    }
}

/// `nixos`.
pub(crate) struct NixosSettings {
    pub options: NixosOptions,
    pub output: Option<PathBuf>,
    pub force: bool,
    pub json: bool,
}

impl NixosSettings {
    pub fn resolve(args: &NixosArgs) -> NixosSettings {
        NixosSettings {
            options: NixosOptions {
                open: match (args.open, args.no_open) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                prime: match args.prime {
                    None => PrimeChoice::Auto,
                    Some(PrimeArg::Offload) => PrimeChoice::Offload,
                    Some(PrimeArg::Sync) => PrimeChoice::Sync,
                    Some(PrimeArg::None) => PrimeChoice::None,
                },
                container_toolkit: args.container_toolkit,
                gpu: args.gpu.clone(),
            },
            output: args.output.clone(),
            force: args.force,
            json: args.json,
        }
    }
}

/// How long `add` waits for `nix eval` (the first run downloads nixpkgs).
const NIX_EVAL_TIMEOUT: Duration = Duration::from_secs(180);

/// `add`: in the project of the current directory.
pub(crate) fn add_options(args: &AddArgs) -> AddOptions {
    AddOptions {
        start: PathBuf::from("."),
        names: args.names.clone(),
        pypi: args.pypi,
        extra: args.extra.clone(),
        commit: args.commit,
        offline: args.offline,
        nix_timeout: NIX_EVAL_TIMEOUT,
        python: nix_python(),
    }
}

/// `remove`: in the project of the current directory.
pub(crate) fn remove_options(args: &RemoveArgs) -> RemoveOptions {
    RemoveOptions {
        start: PathBuf::from("."),
        names: args.names.clone(),
        commit: args.commit,
        python: nix_python(),
        timeout: NIX_EVAL_TIMEOUT,
    }
}

/// The Nix environment's Python, which the project's dev shell exports.
fn nix_python() -> Option<PathBuf> {
    std::env::var_os("NIXCUDA_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: &str, answers: &[&str]) -> ProjectRecord {
        let mut mapping = serde_yaml::Mapping::new();
        for key in answers {
            mapping.insert((*key).into(), "x".into());
        }
        ProjectRecord {
            tool_version: "0".into(),
            scaffold: crate::record::ScaffoldRef {
                id: "ml".into(),
                version: version.into(),
                source: "embedded".into(),
                commit: None,
            },
            pristine: None,
            project_name: "p".into(),
            answers: mapping,
        }
    }

    #[test]
    fn new_questions_are_those_neither_recorded_nor_migrated() {
        let registry = Registry::embedded().unwrap();
        let target = registry.resolve("ml@1.2.0").unwrap();
        let all: Vec<&str> = target
            .manifest
            .questions
            .iter()
            .map(|q| q.key.as_str())
            .collect();
        let recorded: Vec<&str> = all
            .iter()
            .copied()
            .filter(|k| *k != "ci" && *k != "nixpkgs")
            .collect();
        let new = new_questions(target, &record("1.1.0", &recorded));
        assert!(new.contains(&"ci".to_string()), "{new:?}");
        assert!(new.contains(&"nixpkgs".to_string()), "{new:?}");
        assert_eq!(new.len(), 2, "{new:?}");
        assert!(new_questions(target, &record("1.2.0", &all)).is_empty());
    }

    #[test]
    fn verbosity_follows_the_flags() {
        assert_eq!(verbosity(true, false), Verbosity::Quiet);
        assert_eq!(verbosity(false, true), Verbosity::Verbose);
        assert_eq!(verbosity(false, false), Verbosity::Normal);
    }
}
