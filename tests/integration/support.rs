//! Shared test helpers: an isolated environment (HOME, git identity) and a
//! command builder for `cargo-nixcuda nixcuda ...`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_fs::TempDir;

pub struct Env {
    pub home: TempDir,
    pub work: TempDir,
}

pub const USER_NAME: &str = "Ada Lovelace";
pub const USER_EMAIL: &str = "ada@example.org";

impl Env {
    /// A HOME whose git config has a user identity.
    pub fn new() -> Env {
        let env = Env::bare();
        env.git_config(&format!(
            "[user]\n\tname = {USER_NAME}\n\temail = {USER_EMAIL}\n"
        ));
        env
    }

    /// A HOME with no git config at all.
    pub fn bare() -> Env {
        Env {
            home: TempDir::new().unwrap(),
            work: TempDir::new().unwrap(),
        }
    }

    pub fn git_config(&self, text: &str) {
        std::fs::write(self.home.path().join(".gitconfig"), text).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    /// `cargo-nixcuda nixcuda ARGS`, run in the work directory, with none of
    /// the variables the tool reads from the environment of the test run
    /// (`tool_environment`) but the ones set here.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("cargo-nixcuda"));
        cmd.arg("nixcuda")
            .args(args)
            .current_dir(self.work.path())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("XDG_CACHE_HOME", self.home.path().join(".cache"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1");
        for var in tool_environment() {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs `ARGS` and asserts that it succeeds.
    pub fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed:\n{}",
            stderr_of(&out)
        );
        out
    }

    /// Runs `ARGS`, asserts that it fails, and returns its stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        stderr_of(&out)
    }

    /// Same, with the scaffolds of `tests/fixtures/scaffold-sets/SET`.
    pub fn cmd_with_scaffolds(&self, set: &str, args: &[&str]) -> Command {
        let mut cmd = self.cmd(args);
        cmd.env(
            "__CARGO_NIXCUDA_TEST_SCAFFOLDS_DIR",
            fixture(&format!("scaffold-sets/{set}")),
        );
        cmd
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Every file under `root` (relative path -> bytes), `.git` excluded.
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            out.insert(rel, std::fs::read(&path).unwrap());
        }
    }
}

/// Asserts two trees are equal, naming the paths that differ (not bytes).
pub fn assert_same_tree(
    left: &BTreeMap<String, Vec<u8>>,
    right: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let differing: Vec<&String> = left
        .keys()
        .chain(right.keys())
        .filter(|k| left.get(*k) != right.get(*k))
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: these paths differ: {differing:?}"
    );
}

/// Names directly inside `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// True when running in CI, where every prerequisite must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Returns whether a prerequisite is available; a missing one skips the
/// test on a laptop but fails it in CI (`.ci/setup` installs them all).
pub fn prerequisite(name: &str, available: bool, how: &str) -> bool {
    if !available {
        assert!(!in_ci(), "{name} is missing in CI: {how}");
        skipped(&format!("{name} is not available ({how})"));
    }
    available
}

/// Says, where the test run shows it, that the running test checks
/// nothing: `SKIPPED test::name: reason`. Written to the process's stderr
/// itself, which cargo's capture (of `eprintln!` in passing tests) leaves
/// alone, so the line stands beside the test's `ok`.
pub fn skipped(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// The project's Nix evaluation checker (tests/nixcheck/check, with its
/// stub nixpkgs), when Nix is installed.
pub fn nixcheck() -> Option<PathBuf> {
    let path = std::env::var_os("NIXCHECK")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nixcheck/check"));
    let nix = std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok();
    let ok = prerequisite(
        "nixcheck and Nix",
        path.is_file() && nix,
        "run `bash .ci/setup` (it installs Nix)",
    );
    ok.then_some(path)
}

/// The Python of the test virtualenv made by `.ci/setup`.
pub fn test_python() -> Option<PathBuf> {
    let path = std::env::var_os("NIXCUDA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/python"));
    let ok = prerequisite(
        "the test virtualenv",
        path.is_file(),
        "run `bash .ci/setup`",
    );
    ok.then_some(path)
}

/// Runs a command, returning (success, stdout+stderr).
pub fn run(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The newest embedded version of the `ml` scaffold, as `list --json` says.
pub fn newest_ml() -> String {
    let out = Env::new().cmd(&["list", "ml", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed[0]["newest"].as_str().unwrap().to_string()
}

/// Commits the whole work tree of `dir` on top of HEAD (a repository is
/// made if needed).
pub fn commit_all(dir: &Path, message: &str) -> git2::Oid {
    let repo = git2::Repository::open(dir).unwrap_or_else(|_| git2::Repository::init(dir).unwrap());
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Test Author", "author@example.org").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

/// Copies the directory tree `from` to `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The git command line in `dir`, for what libgit2 does not do (gc, diff
/// output, orphan branches), with an identity and no user or system
/// config; asserts that it succeeds.
pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = git_may_fail(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", stderr_of(&out));
    out
}

/// `git`, for commands that may (or must) fail.
pub fn git_may_fail(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@e.x"])
        .args(["-c", "core.quotepath=false", "-c", "gc.auto=0"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs")
}

/// `new NAME --yes --scaffold t@1.0.0 EXTRA...` with the two-version test
/// scaffold set `updates`; returns the project.
pub fn updates_project(env: &Env, name: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["new", name, "--yes", "--scaffold", "t@1.0.0"];
    args.extend_from_slice(extra);
    let out = env.cmd_with_scaffolds("updates", &args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    env.path(name)
}

/// Writes `text` to `path`, creating the directories above it.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The text of `path`, naming the file when it cannot be read.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A team template repository made in a temp dir: a work tree that each
/// `release` commits and tags, read by the tool as `file://` or a path.
pub struct TemplateRepo {
    pub dir: PathBuf,
}

impl TemplateRepo {
    /// An empty directory `work/NAME` (the repository is made by the first
    /// commit).
    pub fn empty(env: &Env, name: &str) -> TemplateRepo {
        let dir = env.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        TemplateRepo { dir }
    }

    /// A copy of `tests/fixtures/teams/basic` (scaffold `team`, 1.0.0).
    pub fn basic(env: &Env, name: &str) -> TemplateRepo {
        TemplateRepo::empty(env, name).with_fixture("", "teams/basic")
    }

    /// Copies `tests/fixtures/FIXTURE` to `REL` inside the work tree.
    pub fn with_fixture(self, rel: &str, fixture_rel: &str) -> TemplateRepo {
        copy_dir(&fixture(fixture_rel), &self.path(rel));
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(rel)
        }
    }

    /// Writes a file of the work tree.
    pub fn write(&self, rel: &str, text: &str) {
        write(&self.path(rel), text);
    }

    /// Rewrites a file of the work tree with `change`.
    pub fn edit(&self, rel: &str, change: impl FnOnce(String) -> String) {
        let path = self.path(rel);
        write(&path, &change(read(&path)));
    }

    /// Commits the work tree and tags the commit `TAG` (lightweight).
    pub fn release(&self, tag: &str) -> git2::Oid {
        let commit = commit_all(&self.dir, tag);
        self.tag(tag, commit);
        commit
    }

    /// Tags `commit` (lightweight).
    pub fn tag(&self, tag: &str, commit: git2::Oid) {
        let repo = git2::Repository::open(&self.dir).unwrap();
        let object = repo.find_object(commit, None).unwrap();
        repo.tag_lightweight(tag, &object, false).unwrap();
    }

    /// `file:///...`
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// The path as `--template` takes it.
    pub fn spec(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

/// The basic team template tagged v1.0.0 and v1.1.0 (1.1.0 adds a line to
/// README.md.hbs and a CHANGELOG.md). Returns it and the two commits.
pub fn tagged_team_repo(env: &Env, name: &str) -> (TemplateRepo, git2::Oid, git2::Oid) {
    let repo = TemplateRepo::basic(env, name);
    let v1 = repo.release("v1.0.0");
    repo.edit("template/README.md.hbs", |text| {
        format!("{text}\nNew in 1.1.0.\n")
    });
    repo.write("template/CHANGELOG.md", "1.1.0\n");
    let v2 = repo.release("v1.1.0");
    (repo, v1, v2)
}

/// Every variable the tool reads that a test run could inherit: the test
/// hooks (parsed from `src/test_hooks.rs`, their one list), the user's
/// config and colour settings, and git's own variables that would point
/// libgit2 and the git command line at another repository or pager.
pub fn tool_environment() -> Vec<&'static str> {
    let mut vars = test_hooks();
    vars.extend([
        "CARGO_NIXCUDA_CONFIG",
        "CARGO_TERM_COLOR",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_CEILING_DIRECTORIES",
        "GIT_PAGER",
        "PAGER",
    ]);
    vars
}

/// The test hooks `src/test_hooks.rs` declares.
pub fn test_hooks() -> Vec<&'static str> {
    include_str!("../../src/test_hooks.rs")
        .split('"')
        .filter(|s| s.starts_with("__CARGO_NIXCUDA_TEST_"))
        .collect()
}

/// `update --yes ARGS` in `project`, with the `updates` scaffold set.
pub fn update(env: &Env, project: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["update", "--yes"];
    all.extend_from_slice(args);
    env.cmd_with_scaffolds("updates", &all)
        .current_dir(project)
        .output()
        .unwrap()
}

/// Replaces the first `from` in `project/file` with `to`; `from` must be there.
pub fn edit(project: &Path, file: &str, from: &str, to: &str) {
    let path = project.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} lacks {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Runs the notebook `argv[1]` with nbclient in the directory `argv[2]`
/// (after checking it against the notebook schema) and prints the text of
/// every code cell's outputs.
pub const RUN_NOTEBOOK: &str = r#"
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                 resources={"metadata": {"path": sys.argv[2]}})
client.execute()
print("".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])))
"#;
