//! Team templates by source: `--template DIR | file:// | URL`, versions
//! from semver tags, the git command line and its cache, several scaffolds
//! per repository, and `update` of a team-template project. Every
//! repository is made here with git2 in a temp dir: no network.

use std::path::Path;

use git2::{Repository, Signature};

use crate::support::{Env, TemplateRepo, read, stderr_of, tagged_team_repo, write};

#[test]
fn new_from_a_directory_records_the_source() {
    let env = Env::new();
    let tpl = TemplateRepo::basic(&env, "tpl").dir;
    env.ok(&[
        "new",
        "p",
        "--template",
        "tpl",
        "--yes",
        "-d",
        "flavor=fancy",
    ]);
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
    let (repo, v1, v2) = tagged_team_repo(&env, "repo");
    let u = repo.url();
    // Newest tag by default.
    env.ok(&["new", "newest", "--template", &u, "--yes"]);
    let record = read(&env.path("newest/.nixcuda.yaml"));
    assert!(record.contains("version: 1.1.0"), "{record}");
    assert!(record.contains(&format!("commit: {v2}")), "{record}");
    assert!(record.contains(&format!("source: git+{u}")), "{record}");
    assert!(env.path("newest/CHANGELOG.md").is_file());
    // `#REF` and `@VERSION`, through file:// and a plain path.
    let by_ref = format!("{u}#v1.0.0");
    let by_version = format!("{u}@1.0.0");
    let by_path = format!("{}@1.0.0", repo.dir.display());
    for (name, spec) in [("r", &by_ref), ("v", &by_version), ("l", &by_path)] {
        env.ok(&["new", name, "--template", spec, "--yes"]);
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
    let err = env.fail(&["new", "x", "--template", &format!("{u}@9.0.0"), "--yes"]);
    assert!(err.contains("1.0.0") && err.contains("1.1.0"), "{err}");
    assert!(!env.path("x").exists());
    // An unknown ref.
    let err = env.fail(&["new", "y", "--template", &format!("{u}#nope"), "--yes"]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn list_template_shows_tags() {
    let env = Env::new();
    let (repo, _, v2) = tagged_team_repo(&env, "repo");
    let out = env.ok(&["list", "--template", &repo.url()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("team: Team template for tests"), "{text}");
    assert!(text.contains("1.1.0 (tag v1.1.0"), "{text}");
    assert!(text.contains("1.0.0 (tag v1.0.0"), "{text}");
    assert!(text.contains("flavor (choice)"), "{text}");
    let out = env.ok(&["list", "--template", &repo.url(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["newest"], "1.1.0");
    assert_eq!(json[0]["versions"][0]["commit"], v2.to_string());
}

#[test]
fn the_git_command_line_path_fills_a_cache_used_offline() {
    let env = Env::new();
    let (repo, v1, _) = tagged_team_repo(&env, "repo");
    let spec = format!("{}@1.0.0", repo.url());
    let out = env
        .cmd(&["new", "a", "--template", &spec, "--yes"])
        .env("__CARGO_NIXCUDA_TEST_GIT_CLI", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(read(&env.path("a/.nixcuda.yaml")).contains(&format!("commit: {v1}")));
    let cache = env.home.path().join(".cache/cargo-nixcuda/templates");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    // Offline: the cache is enough, even with the repository gone.
    std::fs::rename(&repo.dir, env.path("moved")).unwrap();
    let out = env
        .cmd(&["new", "b", "--template", &spec, "--yes", "--offline"])
        .env("__CARGO_NIXCUDA_TEST_GIT_CLI", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Offline without a cache entry fails clearly.
    let err = env.fail(&[
        "new",
        "c",
        "--template",
        "https://example.invalid/t.git",
        "--offline",
        "--yes",
    ]);
    assert!(err.contains("not in the template cache"), "{err}");
}

#[test]
fn a_missing_git_is_a_clear_error() {
    let env = Env::new();
    let out = env
        .cmd(&["new", "p", "--template", "gh:acme/template", "--yes"])
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
    let mut repo = TemplateRepo::empty(&env, "multi");
    for id in ["alpha", "beta"] {
        repo = repo.with_fixture(id, "teams/basic");
        repo.edit(&format!("{id}/scaffold.yaml"), |text| {
            text.replace("id: team", &format!("id: {id}"))
        });
    }
    repo.release("v2.0.0");
    let u = repo.url();
    let err = env.fail(&["new", "p", "--template", &u, "--yes"]);
    assert!(
        err.contains("alpha, beta") && err.contains("--scaffold"),
        "{err}"
    );
    env.ok(&["new", "p", "--template", &u, "--scaffold", "beta", "--yes"]);
    let record = read(&env.path("p/.nixcuda.yaml"));
    assert!(
        record.contains("id: beta") && record.contains("version: 2.0.0"),
        "{record}"
    );
    // Plain directories too.
    env.ok(&[
        "new",
        "q",
        "--template",
        "multi",
        "--scaffold",
        "alpha@1.0.0",
        "--yes",
    ]);
}

#[test]
fn update_moves_a_team_project_to_a_newer_tag() {
    let env = Env::new();
    let (repo, _, v2) = tagged_team_repo(&env, "repo");
    let spec = format!("{}@1.0.0", repo.url());
    env.ok(&["new", "p", "--template", &spec, "--yes"]);
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

    let out = env.cmd(&["check"]).current_dir(&p).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("1.1.0"), "{}", stderr_of(&out));
    let out = env
        .cmd(&["update", "--yes", "--commit"])
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
        record.contains(&format!("source: git+{}", repo.url())),
        "{record}"
    );
    let out = env.cmd(&["check"]).current_dir(&p).output().unwrap();
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
fn a_favorite_and_a_directory_of_one_name_warn_and_the_favorite_wins() {
    let env = Env::new();
    let favorite = TemplateRepo::basic(&env, "favorite");
    favorite.edit("template/README.md.hbs", |t| {
        format!("{t}\nFrom the favorite.\n")
    });
    let here = TemplateRepo::basic(&env, "work");
    here.edit("template/README.md.hbs", |t| {
        format!("{t}\nFrom the directory.\n")
    });
    write(
        &env.home.path().join(".config/cargo-nixcuda/config.yaml"),
        &format!("templates:\n  work: {}\n", favorite.dir.display()),
    );
    let out = env.ok(&["new", "p", "--template", "work", "--yes"]);
    let err = stderr_of(&out);
    assert!(
        err.contains("both a favorite") && err.contains("./work"),
        "{err}"
    );
    assert!(read(&env.path("p/README.md")).contains("From the favorite."));
    let out = env.ok(&["new", "q", "--template", "./work", "--yes"]);
    assert!(
        !stderr_of(&out).contains("both a favorite"),
        "{}",
        stderr_of(&out)
    );
    assert!(read(&env.path("q/README.md")).contains("From the directory."));
}

#[test]
fn a_template_in_the_project_repository_is_recorded_relative_to_the_project() {
    let env = Env::new();
    let mono = TemplateRepo::empty(&env, "mono").with_fixture("templates/team", "teams/basic");
    crate::support::commit_all(&mono.dir, "the team template");
    env.ok(&[
        "new",
        "mono/projects/p",
        "--template",
        "mono/templates/team",
        "--yes",
    ]);
    let record = read(&env.path("mono/projects/p/.nixcuda.yaml"));
    assert!(
        record.contains("source: dir:../../templates/team"),
        "{record}"
    );
    // The record is read from the project root: the repository can move.
    crate::support::commit_all(&mono.dir, "the project");
    std::fs::rename(&mono.dir, env.path("moved")).unwrap();
    let out = env
        .cmd(&["check"])
        .current_dir(env.path("moved/projects/p"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn update_template_re_points_a_project_at_a_template_that_moved() {
    let env = Env::new();
    let (repo, _, v2) = tagged_team_repo(&env, "repo");
    let spec = format!("{}@1.0.0", repo.url());
    env.ok(&["new", "p", "--template", &spec, "--yes"]);
    let p = env.path("p");
    let moved = env.path("moved");
    std::fs::rename(&repo.dir, &moved).unwrap();

    let out = env
        .cmd(&["update", "--yes"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the recorded template is gone");
    let url = format!("file://{}", moved.display());
    let out = env
        .cmd(&["update", "--yes", "--commit", "--template", &url])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(read(&p.join("README.md")).contains("New in 1.1.0."));
    let record = read(&p.join(".nixcuda.yaml"));
    assert!(record.contains(&format!("source: git+{url}")), "{record}");
    assert!(record.contains(&format!("commit: {v2}")), "{record}");
    // From now on the record is enough.
    let out = env.cmd(&["check"]).current_dir(&p).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}
