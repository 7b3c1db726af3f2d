//! A hostile-template set: templates that try to run code, climb out of
//! the destination, write into `.git`, smuggle links or special files, or
//! exhaust memory must fail without writing anything outside the
//! destination, both as directories and through git.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::support::{Env, TemplateRepo, read, stderr_of, write};

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
fn hostile(env: &Env, name: &str, edit: impl FnOnce(&Path)) -> TemplateRepo {
    let tpl = TemplateRepo::basic(env, name);
    edit(&tpl.dir);
    tpl
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
    let out = env.cmd(&args).output().unwrap();
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
        let tpl = hostile(&env, &format!("tpl-{name}"), edit);
        let arena = Arena::new(&env, name);
        let (success, err) = run_hostile(&env, &arena, tpl.spec(), &extra);
        assert!(!success, "{name}: a hostile template was accepted");
        assert!(err.contains(expected), "{name}: {err}");
        // The same template through git (where git can hold it) fails too.
        if !["dot-git", "dot-git-upper"].contains(&name) {
            tpl.release("v1.0.0");
            let arena = Arena::new(&env, &format!("{name}-git"));
            let (success, _) = run_hostile(&env, &arena, &tpl.url(), &extra);
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
        let tpl = TemplateRepo::basic(&env, &format!("tpl-{name}"));
        edit(&tpl.dir, &outside);
        let arena = Arena {
            before: snapshot(&arena.root),
            root: arena.root,
        };
        let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
        assert!(!success, "{name}: accepted");
        assert!(
            err.contains("symbolic link") || err.contains("link"),
            "{name}: {err}"
        );
        let lint = env.fail(&["scaffold", "check", tpl.spec()]);
        assert!(lint.contains("link"), "{name}: {lint}");
    }

    // A symbolic link committed to a git template (mode 120000).
    let tpl = TemplateRepo::basic(&env, "tpl-git-link");
    symlink("/etc/passwd", tpl.path("template/passwd")).unwrap();
    let c = tpl.release("v1.0.0");
    let git = Repository::open(&tpl.dir).unwrap();
    let tree = git.find_commit(c).unwrap().tree().unwrap();
    let entry = tree.get_path(Path::new("template/passwd")).unwrap();
    assert_eq!(entry.filemode(), 0o120000, "git stored a link");
    let arena = Arena::new(&env, "git-link");
    let (success, err) = run_hostile(&env, &arena, &tpl.url(), &[]);
    assert!(!success);
    assert!(err.contains("symbolic link"), "{err}");
}

#[cfg(unix)]
#[test]
fn special_files_are_refused() {
    let env = Env::new();
    let tpl = TemplateRepo::basic(&env, "tpl-fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(tpl.path("template/pipe"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        crate::support::skipped("mkfifo is not available");
        return;
    }
    let arena = Arena::new(&env, "fifo");
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
    assert!(!success);
    assert!(err.contains("plain files"), "{err}");
}

#[test]
fn size_limits_name_the_file() {
    let env = Env::new();
    // One file over 1 MiB.
    let tpl = hostile(&env, "tpl-big", |d| {
        std::fs::write(d.join("template/big.bin"), vec![b'x'; (1 << 20) + 1]).unwrap();
    });
    let arena = Arena::new(&env, "big");
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
    assert!(!success);
    assert!(err.contains("big.bin") && err.contains("1 MiB"), "{err}");
    // The same through git.
    tpl.release("v1.0.0");
    let arena = Arena::new(&env, "big-git");
    let (success, err) = run_hostile(&env, &arena, &tpl.url(), &[]);
    assert!(!success);
    assert!(err.contains("big.bin") && err.contains("1 MiB"), "{err}");

    // More than 16 MiB in all.
    let tpl = hostile(&env, "tpl-total", |d| {
        for i in 0..17 {
            std::fs::write(
                d.join(format!("template/part{i:02}.bin")),
                vec![b'y'; 1 << 20],
            )
            .unwrap();
        }
    });
    let arena = Arena::new(&env, "total");
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
    assert!(!success);
    assert!(err.contains("16 MiB") && err.contains("part"), "{err}");

    // More than 2000 files.
    let tpl = hostile(&env, "tpl-many", |d| {
        for i in 0..2001 {
            write(&d.join(format!("template/many/f{i}.txt")), "x");
        }
    });
    let arena = Arena::new(&env, "many");
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
    assert!(!success);
    assert!(err.contains("2000"), "{err}");
}

#[test]
fn hostile_answers_render_safely() {
    let env = Env::new();
    let tpl = hostile(&env, "tpl-answers", |_| {});
    let arena = Arena::new(&env, "answers");
    let evil = "x\"; outputs = builtins.exec [\"touch\" \"../outside/pwned\"]; y = \"${builtins.currentSystem}";
    let define = format!("description={evil}");
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &["-d", &define]);
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
    let tpl = hostile(&env, "tpl-init", |d| {
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
    let err = env.fail(&[
        "init",
        "existing",
        "--template",
        tpl.spec(),
        "--yes",
        "-d",
        "dir=.git",
    ]);
    assert!(err.contains(".git"), "{err}");
    assert_eq!(snapshot(&project), before, "init changed the project");
}

#[test]
fn deeply_nested_yaml_is_refused_at_once() {
    let env = Env::new();
    // A manifest of 200,000 nested `[` (within the 1 MiB file limit): the
    // YAML parser alone would take minutes to refuse it.
    let tpl = hostile(&env, "tpl-nested", |d| {
        let manifest = d.join("scaffold.yaml");
        write(
            &manifest,
            &format!("{}extra: {}\n", read(&manifest), "[".repeat(200_000)),
        );
    });
    let arena = Arena::new(&env, "nested");
    let started = std::time::Instant::now();
    let (success, err) = run_hostile(&env, &arena, tpl.spec(), &[]);
    assert!(!success);
    assert!(
        err.contains("scaffold.yaml") && err.contains("nested more than 32 levels"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // The same for an answers file.
    let answers = env.path("answers.yaml");
    write(&answers, &format!("a: {}\n", "{".repeat(200_000)));
    let arena = Arena::new(&env, "nested-answers");
    let started = std::time::Instant::now();
    let (success, err) = run_hostile(
        &env,
        &arena,
        TemplateRepo::basic(&env, "tpl-plain").spec(),
        &["--answers-file", answers.to_str().unwrap()],
    );
    assert!(!success);
    assert!(err.contains("nested more than 32 levels"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
