//! Team templates: `--template DIR | file:// | URL`, versions from semver
//! tags, several scaffolds per repository, the user config, `update` of a
//! team-template project, `scaffold new|check`, and a hostile-template set
//! that must never write outside the destination. Every repository is made
//! here with git2 in a temp dir: no network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature};

use crate::support::{Env, copy_dir, fixture, stderr_of};

fn cmd(env: &Env, args: &[&str]) -> assert_cmd::Command {
    let mut c = env.cmd(args);
    c.env("XDG_CACHE_HOME", env.home.path().join(".cache"))
        .env_remove("CARGO_NIXCUDA_CONFIG")
        .env_remove("CARGO_NIXCUDA_GIT_CLI");
    c
}

fn ok(env: &Env, args: &[&str]) -> std::process::Output {
    let out = cmd(env, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        stderr_of(&out)
    );
    out
}

fn fail(env: &Env, args: &[&str]) -> String {
    let out = cmd(env, args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    stderr_of(&out)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tag(dir: &Path, name: &str, commit: Oid) {
    let repo = Repository::open(dir).unwrap();
    let obj = repo.find_object(commit, None).unwrap();
    repo.tag_lightweight(name, &obj, false).unwrap();
}

/// The basic fixture as a repository tagged v1.0.0 and v1.1.0 (1.1.0 adds
/// a line to README.md.hbs and a file). Returns (path, commit 1.0, 1.1).
fn tagged_repo(env: &Env, name: &str) -> (PathBuf, Oid, Oid) {
    let dir = env.path(name);
    copy_dir(&fixture("teams/basic"), &dir);
    let v1 = crate::support::commit_all(&dir, "v1.0.0");
    tag(&dir, "v1.0.0", v1);
    let readme = dir.join("template/README.md.hbs");
    let text = read(&readme);
    write(&readme, &format!("{text}\nNew in 1.1.0.\n"));
    write(&dir.join("template/CHANGELOG.md"), "1.1.0\n");
    let v2 = crate::support::commit_all(&dir, "v1.1.0");
    tag(&dir, "v1.1.0", v2);
    (dir, v1, v2)
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn new_from_a_directory_records_the_source() {
    let env = Env::new();
    let tpl = env.path("tpl");
    copy_dir(&fixture("teams/basic"), &tpl);
    ok(
        &env,
        &[
            "new",
            "p",
            "--template",
            "tpl",
            "--yes",
            "-d",
            "flavor=fancy",
        ],
    );
    let p = env.path("p");
    assert!(read(&p.join("README.md")).contains("flavor: fancy"));
    assert_eq!(read(&p.join("src/p.txt")), "static file\n");
    assert!(read(&p.join("flake.nix")).contains("description = \"p project\";"));
    let record = read(&p.join(".nixcuda.yaml"));
    assert!(record.contains("id: team"), "{record}");
    assert!(
        record.contains(&format!("source: dir:{}", tpl.display())),
        "{record}"
    );
    assert!(p.join(".git").is_dir(), "a first commit is made as usual");
}

#[test]
fn git_templates_are_versioned_by_tags() {
    let env = Env::new();
    let (repo, v1, v2) = tagged_repo(&env, "repo");
    let u = url(&repo);
    // Newest tag by default.
    ok(&env, &["new", "newest", "--template", &u, "--yes"]);
    let record = read(&env.path("newest/.nixcuda.yaml"));
    assert!(record.contains("version: 1.1.0"), "{record}");
    assert!(record.contains(&format!("commit: {v2}")), "{record}");
    assert!(record.contains(&format!("source: git+{u}")), "{record}");
    assert!(env.path("newest/CHANGELOG.md").is_file());
    // `#REF` and `@VERSION`, through file:// and a plain path.
    let by_ref = format!("{u}#v1.0.0");
    let by_version = format!("{u}@1.0.0");
    let by_path = format!("{}@1.0.0", repo.display());
    for (name, spec) in [("r", &by_ref), ("v", &by_version), ("l", &by_path)] {
        ok(&env, &["new", name, "--template", spec, "--yes"]);
        let record = read(&env.path(&format!("{name}/.nixcuda.yaml")));
        assert!(record.contains("version: 1.0.0"), "{spec}: {record}");
        assert!(
            record.contains(&format!("commit: {v1}")),
            "{spec}: {record}"
        );
        assert!(
            !env.path(&format!("{name}/CHANGELOG.md")).exists(),
            "{spec}"
        );
    }
    // A version that does not exist names those that do.
    let err = fail(
        &env,
        &["new", "x", "--template", &format!("{u}@9.0.0"), "--yes"],
    );
    assert!(err.contains("1.0.0") && err.contains("1.1.0"), "{err}");
    assert!(!env.path("x").exists());
    // An unknown ref.
    let err = fail(
        &env,
        &["new", "y", "--template", &format!("{u}#nope"), "--yes"],
    );
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn list_template_shows_tags() {
    let env = Env::new();
    let (repo, _, v2) = tagged_repo(&env, "repo");
    let out = ok(&env, &["list", "--template", &url(&repo)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("team: Team template for tests"), "{text}");
    assert!(text.contains("1.1.0 (tag v1.1.0"), "{text}");
    assert!(text.contains("1.0.0 (tag v1.0.0"), "{text}");
    assert!(text.contains("flavor (choice)"), "{text}");
    let out = ok(&env, &["list", "--template", &url(&repo), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["newest"], "1.1.0");
    assert_eq!(json[0]["versions"][0]["commit"], v2.to_string());
}

#[test]
fn the_git_command_line_path_fills_a_cache_used_offline() {
    let env = Env::new();
    let (repo, v1, _) = tagged_repo(&env, "repo");
    let spec = format!("{}@1.0.0", url(&repo));
    let out = cmd(&env, &["new", "a", "--template", &spec, "--yes"])
        .env("CARGO_NIXCUDA_GIT_CLI", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(read(&env.path("a/.nixcuda.yaml")).contains(&format!("commit: {v1}")));
    let cache = env.home.path().join(".cache/cargo-nixcuda/templates");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    // Offline: the cache is enough, even with the repository gone.
    std::fs::rename(&repo, env.path("moved")).unwrap();
    let out = cmd(
        &env,
        &["new", "b", "--template", &spec, "--yes", "--offline"],
    )
    .env("CARGO_NIXCUDA_GIT_CLI", "1")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Offline without a cache entry fails clearly.
    let err = fail(
        &env,
        &[
            "new",
            "c",
            "--template",
            "https://example.invalid/t.git",
            "--offline",
            "--yes",
        ],
    );
    assert!(err.contains("not in the template cache"), "{err}");
}

#[test]
fn a_missing_git_is_a_clear_error() {
    let env = Env::new();
    let out = cmd(
        &env,
        &["new", "p", "--template", "gh:acme/template", "--yes"],
    )
    .env("PATH", "")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("`git` is not installed"), "{err}");
    assert!(
        err.contains("https://github.com/acme/template.git"),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");
    assert!(!env.path("p").exists());
}

#[test]
fn a_repository_may_hold_several_scaffolds() {
    let env = Env::new();
    let repo = env.path("multi");
    for id in ["alpha", "beta"] {
        copy_dir(&fixture("teams/basic"), &repo.join(id));
        let manifest = repo.join(id).join("scaffold.yaml");
        write(
            &manifest,
            &read(&manifest).replace("id: team", &format!("id: {id}")),
        );
    }
    let c = crate::support::commit_all(&repo, "two scaffolds");
    tag(&repo, "v2.0.0", c);
    let u = url(&repo);
    let err = fail(&env, &["new", "p", "--template", &u, "--yes"]);
    assert!(
        err.contains("alpha, beta") && err.contains("--scaffold"),
        "{err}"
    );
    ok(
        &env,
        &["new", "p", "--template", &u, "--scaffold", "beta", "--yes"],
    );
    let record = read(&env.path("p/.nixcuda.yaml"));
    assert!(
        record.contains("id: beta") && record.contains("version: 2.0.0"),
        "{record}"
    );
    // Plain directories too.
    ok(
        &env,
        &[
            "new",
            "q",
            "--template",
            "multi",
            "--scaffold",
            "alpha@1.0.0",
            "--yes",
        ],
    );
}

#[test]
fn favorites_and_default_answers_come_from_the_config() {
    let env = Env::new();
    let tpl = env.path("tpl");
    copy_dir(&fixture("teams/basic"), &tpl);
    let config = env.home.path().join(".config/cargo-nixcuda/config.yaml");
    write(
        &config,
        &format!(
            "defaults:\n  flavor: fancy\n  description: From the config\n  unknown_elsewhere: x\ntemplates:\n  work: {}\n",
            tpl.display()
        ),
    );
    ok(&env, &["new", "p", "--template", "work", "--yes"]);
    let readme = read(&env.path("p/README.md"));
    assert!(
        readme.contains("flavor: fancy") && readme.contains("From the config"),
        "{readme}"
    );
    ok(
        &env,
        &[
            "new",
            "q",
            "--template",
            "work",
            "--yes",
            "-d",
            "flavor=plain",
        ],
    );
    assert!(
        read(&env.path("q/README.md")).contains("flavor: plain"),
        "-d wins"
    );

    let out = ok(&env, &["config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&config.display().to_string()), "{text}");
    assert!(text.contains("XDG_CONFIG_HOME"), "{text}");
    assert!(text.contains("flavor = fancy  (config file)"), "{text}");
    assert!(
        text.contains(&format!("work = {}", tpl.display())),
        "{text}"
    );
    assert!(text.contains("default_scaffold: ml  (built-in)"), "{text}");
    let out = ok(&env, &["config", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exists"], true);
    assert_eq!(json["defaults"]["flavor"], "fancy");

    // A broken config names its file and line.
    write(&config, "defaults:\n  flavor: fancy\nbogus: 1\n");
    let err = fail(&env, &["config"]);
    assert!(err.contains(&format!("{}:3", config.display())), "{err}");
}

#[test]
fn config_without_a_file_shows_the_built_in_defaults() {
    let env = Env::new();
    let out = ok(&env, &["config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("default_scaffold: ml  (built-in)"), "{text}");
}

#[test]
fn update_moves_a_team_project_to_a_newer_tag() {
    let env = Env::new();
    let (repo, _, v2) = tagged_repo(&env, "repo");
    let spec = format!("{}@1.0.0", url(&repo));
    ok(&env, &["new", "p", "--template", &spec, "--yes"]);
    let p = env.path("p");
    // A user edit that the update must keep.
    let flake = p.join("flake.nix");
    write(&flake, &format!("# my note\n{}", read(&flake)));
    let repo_p = Repository::open(&p).unwrap();
    let mut index = repo_p.index().unwrap();
    index.add_path(Path::new("flake.nix")).unwrap();
    index.write().unwrap();
    let tree = repo_p.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("U", "u@e.x").unwrap();
    let head = repo_p.head().unwrap().peel_to_commit().unwrap();
    repo_p
        .commit(Some("HEAD"), &sig, &sig, "edit", &tree, &[&head])
        .unwrap();

    let out = cmd(&env, &["check"]).current_dir(&p).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("1.1.0"), "{}", stderr_of(&out));
    let out = cmd(&env, &["update", "--yes", "--commit"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(read(&p.join("README.md")).contains("New in 1.1.0."));
    assert_eq!(read(&p.join("CHANGELOG.md")), "1.1.0\n");
    assert!(read(&flake).starts_with("# my note\n"), "the edit is kept");
    let record = read(&p.join(".nixcuda.yaml"));
    assert!(record.contains("version: 1.1.0"), "{record}");
    assert!(record.contains(&format!("commit: {v2}")), "{record}");
    assert!(
        record.contains(&format!("source: git+{}", url(&repo))),
        "{record}"
    );
    let out = cmd(&env, &["check"]).current_dir(&p).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn old_records_without_source_or_commit_load() {
    // Records written before team templates have `source: embedded` and no
    // commit; one without `source` at all must load as embedded too.
    let text = "tool_version: 0.1.0\nscaffold:\n  id: ml\n  version: 1.0.0\nproject_name: p\nanswers: {}\n";
    let record = cargo_nixcuda::record::ProjectRecord::from_yaml(text).unwrap();
    assert_eq!(record.scaffold.source, "embedded");
    assert_eq!(record.scaffold.commit, None);
}

#[test]
fn scaffold_new_then_check_passes() {
    let env = Env::new();
    ok(&env, &["scaffold", "new", "acme-template"]);
    let dir = env.path("acme-template");
    assert!(dir.join("scaffold.yaml").is_file() && dir.join("template").is_dir());
    assert!(read(&dir.join("scaffold.yaml")).contains("id: acme-template"));
    let out = ok(&env, &["scaffold", "check", "acme-template"]);
    assert!(
        stderr_of(&out).contains("no problems"),
        "{}",
        stderr_of(&out)
    );
    // It is usable as a template straight away.
    ok(
        &env,
        &[
            "new",
            "demo",
            "--template",
            "acme-template",
            "--yes",
            "--vcs",
            "none",
        ],
    );
    assert!(env.path("demo/flake.nix").is_file());
    // A second `scaffold new` into it is refused.
    fail(&env, &["scaffold", "new", "acme-template"]);
}

#[test]
fn the_example_team_template_passes_check() {
    let env = Env::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/team-template");
    let out = ok(&env, &["scaffold", "check", example.to_str().unwrap()]);
    assert!(
        stderr_of(&out).contains("no problems"),
        "{}",
        stderr_of(&out)
    );
    ok(
        &env,
        &[
            "new",
            "demo",
            "--template",
            example.to_str().unwrap(),
            "--yes",
        ],
    );
}

#[test]
fn scaffold_check_reports_file_and_line() {
    let env = Env::new();
    let tpl = env.path("broken");
    copy_dir(&fixture("teams/basic"), &tpl);
    write(
        &tpl.join("template/notes.txt.hbs"),
        "line one\nline two\n{{#if (eq flavor \"fancy\")}}{{missing_variable}}{{/if}}\n",
    );
    let err = fail(&env, &["scaffold", "check", "broken"]);
    assert!(err.contains("notes.txt.hbs"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("flavor=fancy"), "names the answers: {err}");

    // An answer put between quotes by hand breaks the Nix file.
    let tpl = env.path("unescaped");
    copy_dir(&fixture("teams/basic"), &tpl);
    write(
        &tpl.join("template/flake.nix.hbs"),
        "{\n  description = \"{{description}}\";\n  outputs = _: { };\n}\n",
    );
    write(
        &tpl.join("scaffold.yaml"),
        &read(&tpl.join("scaffold.yaml")).replace("format:\n  nixfmt: [\"**/*.nix\"]\n", ""),
    );
    let err = fail(&env, &["scaffold", "check", "unescaped"]);
    assert!(
        err.contains("flake.nix.hbs") && err.contains("nix_str"),
        "{err}"
    );

    // Manifest schema errors name the line.
    let tpl = env.path("schema");
    copy_dir(&fixture("teams/basic"), &tpl);
    write(
        &tpl.join("scaffold.yaml"),
        &read(&tpl.join("scaffold.yaml")).replace(
            "    prompt: Flavor\n",
            "    prompt: Flavor\n    colour: red\n",
        ),
    );
    let err = fail(&env, &["scaffold", "check", "schema"]);
    assert!(
        err.contains("scaffold.yaml:") && err.contains("colour"),
        "{err}"
    );
}

// ------------------------------------------------------------- hostile set

/// Turns a copy of the basic template into a hostile one.
type Edit = Box<dyn FnOnce(&Path)>;
/// The same, given the arena's `outside` directory to point links at.
type LinkEdit = Box<dyn FnOnce(&Path, &Path)>;

/// Every entry under `root` (links not followed): path -> what it is.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("link {:?}", std::fs::read_link(&path).unwrap()),
                );
            } else if meta.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &path, out);
            } else {
                out.insert(rel, format!("file {:?}", std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// An arena: `arena/outside/secret` beside where `arena/dest` will go.
struct Arena {
    root: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

impl Arena {
    fn new(env: &Env, name: &str) -> Arena {
        let root = env.path(&format!("arena-{name}"));
        write(&root.join("outside/secret"), "do not touch\n");
        write(&root.join("outside/sub/keep"), "keep\n");
        Arena {
            before: snapshot(&root),
            root,
        }
    }

    fn dest(&self) -> String {
        self.root.join("dest").display().to_string()
    }

    /// Nothing changed outside `dest`, whatever the command did.
    fn assert_untouched(&self) {
        let after: BTreeMap<_, _> = snapshot(&self.root)
            .into_iter()
            .filter(|(p, _)| !p.starts_with("dest"))
            .collect();
        assert_eq!(
            after, self.before,
            "something was written outside the destination"
        );
    }
}

/// A copy of the basic template in `work/name`, changed by `edit`.
fn hostile(env: &Env, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = env.path(name);
    copy_dir(&fixture("teams/basic"), &dir);
    edit(&dir);
    dir
}

/// Runs `new` with the template; returns (success, stderr). The arena is
/// checked either way, and on success every file must be inside dest.
fn run_hostile(env: &Env, arena: &Arena, template: &str, extra: &[&str]) -> (bool, String) {
    let dest = arena.dest();
    let mut args = vec![
        "new",
        dest.as_str(),
        "--template",
        template,
        "--yes",
        "--name",
        "demo",
    ];
    args.extend_from_slice(extra);
    let out = cmd(env, &args).output().unwrap();
    arena.assert_untouched();
    let err = stderr_of(&out);
    if out.status.success() {
        for (path, _) in snapshot(Path::new(&dest)) {
            assert!(
                !path.components().any(|c| c.as_os_str() == ".."),
                "{path:?}"
            );
        }
    } else {
        assert!(
            !Path::new(&dest).exists(),
            "a failed `new` leaves no destination"
        );
        assert!(err.contains("error:") && err.contains("help:"), "{err}");
    }
    (out.status.success(), err)
}

fn add_question(dir: &Path, yaml: &str) {
    let manifest = dir.join("scaffold.yaml");
    write(
        &manifest,
        &read(&manifest).replace("questions:\n", &format!("questions:\n{yaml}")),
    );
}

#[test]
fn hostile_manifests_cannot_run_code_or_escape() {
    let env = Env::new();
    let cases: Vec<(&str, Edit, Vec<&str>, &str)> = vec![
        (
            "hooks",
            Box::new(|d: &Path| {
                let m = d.join("scaffold.yaml");
                write(
                    &m,
                    &format!("{}hooks:\n  post: touch ../outside/pwned\n", read(&m)),
                );
            }),
            vec![],
            "hooks",
        ),
        (
            "answer-climbs",
            Box::new(|d: &Path| {
                add_question(
                    d,
                    "  - key: dir\n    type: string\n    prompt: D\n    default: ok\n",
                );
                write(&d.join("template/{{dir}}/x.txt"), "x\n");
            }),
            vec!["-d", "dir=.."],
            "`..`",
        ),
        (
            "default-climbs",
            Box::new(|d: &Path| {
                add_question(
                    d,
                    "  - key: dir\n    type: string\n    prompt: D\n    default: ../../outside\n",
                );
                write(&d.join("template/{{dir}}/x.txt"), "x\n");
            }),
            vec![],
            "separator",
        ),
        (
            "rename-climbs",
            Box::new(|d: &Path| {
                let m = d.join("scaffold.yaml");
                write(
                    &m,
                    &format!(
                        "{}files:\n  - glob: \"src/**\"\n    rename: {{from: \"src/\", to: \"../outside/\"}}\n",
                        read(&m)
                    ),
                );
            }),
            vec![],
            "..",
        ),
        (
            "rename-absolute",
            Box::new(|d: &Path| {
                let m = d.join("scaffold.yaml");
                write(
                    &m,
                    &format!(
                        "{}files:\n  - glob: \"src/**\"\n    rename: {{from: \"src/\", to: \"/tmp/\"}}\n",
                        read(&m)
                    ),
                );
            }),
            vec![],
            "absolute",
        ),
        (
            "dot-git",
            Box::new(|d: &Path| {
                write(
                    &d.join("template/.git/hooks/post-commit"),
                    "#!/bin/sh\ntouch pwned\n",
                )
            }),
            vec![],
            ".git",
        ),
        (
            "dot-git-upper",
            Box::new(|d: &Path| write(&d.join("template/.GIT/config"), "[core]\n")),
            vec![],
            ".git",
        ),
        (
            "answer-is-dot-git",
            Box::new(|d: &Path| {
                add_question(
                    d,
                    "  - key: dir\n    type: string\n    prompt: D\n    default: ok\n",
                );
                write(&d.join("template/{{dir}}/hooks/post-commit"), "x\n");
            }),
            vec!["-d", "dir=.git"],
            ".git",
        ),
    ];
    for (name, edit, extra, expected) in cases {
        let dir = hostile(&env, &format!("tpl-{name}"), edit);
        let arena = Arena::new(&env, name);
        let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &extra);
        assert!(!success, "{name}: a hostile template was accepted");
        assert!(err.contains(expected), "{name}: {err}");
        // The same template through git (where git can hold it) fails too.
        if !["dot-git", "dot-git-upper"].contains(&name) {
            let c = crate::support::commit_all(&dir, "hostile");
            tag(&dir, "v1.0.0", c);
            let arena = Arena::new(&env, &format!("{name}-git"));
            let (success, _) = run_hostile(&env, &arena, &url(&dir), &extra);
            assert!(!success, "{name} (git): a hostile template was accepted");
        }
    }
}

#[cfg(unix)]
#[test]
fn hostile_symlinks_are_refused() {
    use std::os::unix::fs::symlink;
    let env = Env::new();
    let cases: Vec<(&str, LinkEdit)> = vec![
        (
            "file-link",
            Box::new(|d: &Path, outside: &Path| {
                symlink(outside.join("secret"), d.join("template/leak.txt")).unwrap()
            }),
        ),
        (
            "relative-link",
            Box::new(|d: &Path, _: &Path| {
                symlink("../../../etc/passwd", d.join("template/src/passwd")).unwrap()
            }),
        ),
        (
            "dir-link",
            Box::new(|d: &Path, outside: &Path| symlink(outside, d.join("template/sub")).unwrap()),
        ),
        (
            "template-is-link",
            Box::new(|d: &Path, outside: &Path| {
                std::fs::remove_dir_all(d.join("template")).unwrap();
                symlink(outside, d.join("template")).unwrap();
            }),
        ),
        (
            "manifest-is-link",
            Box::new(|d: &Path, _: &Path| {
                let real = d.join("real.yaml");
                std::fs::rename(d.join("scaffold.yaml"), &real).unwrap();
                symlink(&real, d.join("scaffold.yaml")).unwrap();
            }),
        ),
    ];
    for (name, edit) in cases {
        let arena = Arena::new(&env, name);
        let outside = arena.root.join("outside");
        let dir = env.path(&format!("tpl-{name}"));
        copy_dir(&fixture("teams/basic"), &dir);
        edit(&dir, &outside);
        let arena = Arena {
            before: snapshot(&arena.root),
            root: arena.root,
        };
        let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &[]);
        assert!(!success, "{name}: accepted");
        assert!(
            err.contains("symbolic link") || err.contains("link"),
            "{name}: {err}"
        );
        let lint = fail(&env, &["scaffold", "check", dir.to_str().unwrap()]);
        assert!(lint.contains("link"), "{name}: {lint}");
    }

    // A symbolic link committed to a git template (mode 120000).
    let dir = env.path("tpl-git-link");
    copy_dir(&fixture("teams/basic"), &dir);
    symlink("/etc/passwd", dir.join("template/passwd")).unwrap();
    let c = crate::support::commit_all(&dir, "link");
    tag(&dir, "v1.0.0", c);
    let git = Repository::open(&dir).unwrap();
    let tree = git.find_commit(c).unwrap().tree().unwrap();
    let entry = tree.get_path(Path::new("template/passwd")).unwrap();
    assert_eq!(entry.filemode(), 0o120000, "git stored a link");
    let arena = Arena::new(&env, "git-link");
    let (success, err) = run_hostile(&env, &arena, &url(&dir), &[]);
    assert!(!success);
    assert!(err.contains("symbolic link"), "{err}");
}

#[cfg(unix)]
#[test]
fn special_files_are_refused() {
    let env = Env::new();
    let dir = env.path("tpl-fifo");
    copy_dir(&fixture("teams/basic"), &dir);
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("template/pipe"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipping: mkfifo is not available");
        return;
    }
    let arena = Arena::new(&env, "fifo");
    let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &[]);
    assert!(!success);
    assert!(err.contains("plain files"), "{err}");
}

#[test]
fn size_limits_name_the_file() {
    let env = Env::new();
    // One file over 1 MiB.
    let dir = hostile(&env, "tpl-big", |d| {
        std::fs::write(d.join("template/big.bin"), vec![b'x'; (1 << 20) + 1]).unwrap();
    });
    let arena = Arena::new(&env, "big");
    let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &[]);
    assert!(!success);
    assert!(err.contains("big.bin") && err.contains("1 MiB"), "{err}");
    // The same through git.
    let c = crate::support::commit_all(&dir, "big");
    tag(&dir, "v1.0.0", c);
    let arena = Arena::new(&env, "big-git");
    let (success, err) = run_hostile(&env, &arena, &url(&dir), &[]);
    assert!(!success);
    assert!(err.contains("big.bin") && err.contains("1 MiB"), "{err}");

    // More than 16 MiB in all.
    let dir = hostile(&env, "tpl-total", |d| {
        for i in 0..17 {
            std::fs::write(
                d.join(format!("template/part{i:02}.bin")),
                vec![b'y'; 1 << 20],
            )
            .unwrap();
        }
    });
    let arena = Arena::new(&env, "total");
    let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &[]);
    assert!(!success);
    assert!(err.contains("16 MiB") && err.contains("part"), "{err}");

    // More than 2000 files.
    let dir = hostile(&env, "tpl-many", |d| {
        for i in 0..2001 {
            write(&d.join(format!("template/many/f{i}.txt")), "x");
        }
    });
    let arena = Arena::new(&env, "many");
    let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &[]);
    assert!(!success);
    assert!(err.contains("2000"), "{err}");
}

#[test]
fn hostile_answers_render_safely() {
    let env = Env::new();
    let dir = hostile(&env, "tpl-answers", |_| {});
    let arena = Arena::new(&env, "answers");
    let evil = "x\"; outputs = builtins.exec [\"touch\" \"../outside/pwned\"]; y = \"${builtins.currentSystem}";
    let define = format!("description={evil}");
    let (success, err) = run_hostile(&env, &arena, dir.to_str().unwrap(), &["-d", &define]);
    assert!(success, "{err}");
    let flake = read(&arena.root.join("dest/flake.nix"));
    // One string literal, `"` and `${` escaped: no code in the flake.
    assert!(flake.contains("\\\"; outputs"), "{flake}");
    assert!(flake.contains("\\${builtins.currentSystem}"), "{flake}");
    assert_eq!(flake.matches("outputs = _:").count(), 1, "{flake}");
}

#[test]
fn init_with_a_hostile_template_keeps_git_intact() {
    let env = Env::new();
    let dir = hostile(&env, "tpl-init", |d| {
        add_question(
            d,
            "  - key: dir\n    type: string\n    prompt: D\n    default: ok\n",
        );
        write(
            &d.join("template/{{dir}}/config"),
            "[core]\n\tfsmonitor = touch pwned\n",
        );
    });
    let project = env.path("existing");
    write(&project.join("keep.txt"), "mine\n");
    crate::support::commit_all(&project, "mine");
    let before = snapshot(&project);
    let err = fail(
        &env,
        &[
            "init",
            "existing",
            "--template",
            dir.to_str().unwrap(),
            "--yes",
            "-d",
            "dir=.git",
        ],
    );
    assert!(err.contains(".git"), "{err}");
    assert_eq!(snapshot(&project), before, "init changed the project");
}
