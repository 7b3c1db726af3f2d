//! Templates are untrusted: recursion, exponential output and absurd trees
//! end in a clear error, never a crash, a hang or gigabytes of memory.

use std::path::Path;

use crate::support::{Env, copy_dir, fixture, stderr_of};

/// `new` and `scaffold check` both fail cleanly (exit 1), saying `expected`.
fn assert_refused(env: &Env, template: &Path, expected: &str) {
    let out = env
        .cmd(&[
            "new",
            "p",
            "--yes",
            "--vcs",
            "none",
            "--template",
            template.to_str().unwrap(),
        ])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(expected), "{}", stderr_of(&out));
    assert!(!env.path("p").exists());
    let out = env
        .cmd(&["scaffold", "check", template.to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(expected), "{}", stderr_of(&out));
}

fn template_with(env: &Env, name: &str, file: &str, text: &str) -> std::path::PathBuf {
    let tpl = env.path(name);
    copy_dir(&fixture("teams/basic"), &tpl);
    std::fs::write(tpl.join("template").join(file), text).unwrap();
    tpl
}

#[test]
fn a_recursive_partial_is_an_error_not_a_stack_overflow() {
    let env = Env::new();
    let tpl = template_with(
        &env,
        "recursive",
        "boom.txt.hbs",
        r#"{{#*inline "p"}}x{{> p}}{{/inline}}{{> p}}"#,
    );
    assert_refused(&env, &tpl, "partials call each other in a cycle: p -> p");
}

#[test]
fn output_that_doubles_per_partial_level_stops_at_the_file_limit() {
    let env = Env::new();
    let mut text = format!(
        "{{{{#*inline \"p0\"}}}}{}{{{{/inline}}}}",
        "x".repeat(40 << 10)
    );
    for i in 1..=7 {
        text.push_str(&format!(
            "{{{{#*inline \"p{i}\"}}}}{{{{> p{p}}}}}{{{{> p{p}}}}}{{{{/inline}}}}",
            p = i - 1
        ));
    }
    text.push_str("{{> p7}}{{> p7}}");
    let tpl = template_with(&env, "doubling", "big.txt.hbs", &text);
    assert_refused(&env, &tpl, "renders to more than 8 MiB");
}

/// `{{#each}}` over one item, `depth` deep: every level renders.
fn nested(depth: usize, inside: &str) -> String {
    let open = "{{#each (split (snake_case @root.project_name) \",\")}}";
    format!(
        "{}{inside}{}",
        open.repeat(depth),
        "{{/each}}".repeat(depth)
    )
}

#[test]
fn blocks_nest_as_deep_as_allowed_and_no_deeper() {
    let env = Env::new();
    // 64 levels, half of them in an inline partial: renders.
    let inline = format!(
        "{{{{#*inline \"p\"}}}}{}{{{{/inline}}}}",
        nested(31, "{{this}}")
    );
    let tpl = template_with(
        &env,
        "deep",
        "deep.txt.hbs",
        &format!("{inline}{}", nested(31, "{{> p}}")),
    );
    env.ok(&[
        "new",
        "p",
        "--yes",
        "--vcs",
        "none",
        "--template",
        tpl.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(env.path("p/deep.txt")).unwrap(),
        "p"
    );
    std::fs::remove_dir_all(env.path("p")).unwrap();
    let tpl = template_with(&env, "deeper", "deep.txt.hbs", &nested(400, "x"));
    assert_refused(
        &env,
        &tpl,
        "nested 401 deep; a template may nest them at most 64 deep",
    );
}

#[test]
fn a_template_over_the_size_limit_is_refused_naming_the_limit() {
    let env = Env::new();
    let text = "{{project_name}}\n".repeat((64 << 10) / 17 + 1);
    let tpl = template_with(&env, "large", "large.txt.hbs", &text);
    assert_refused(
        &env,
        &tpl,
        "handlebars is given at most 65536 bytes (64 KiB)",
    );
}

#[test]
fn a_git_tree_nested_hundreds_deep_is_refused_by_its_depth() {
    let env = Env::new();
    let dir = env.path("deep");
    copy_dir(&fixture("teams/basic"), &dir);
    let repo = git2::Repository::init(&dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    let base = repo.find_tree(index.write_tree().unwrap()).unwrap();
    // 500 nested directories under template/, built bottom-up in objects.
    let blob = repo.blob(b"deep\n").unwrap();
    let mut inner = repo.treebuilder(None).unwrap();
    inner.insert("f.txt", blob, 0o100644).unwrap();
    let mut id = inner.write().unwrap();
    for _ in 0..500 {
        let mut b = repo.treebuilder(None).unwrap();
        b.insert("d", id, 0o040000).unwrap();
        id = b.write().unwrap();
    }
    let template = base.get_name("template").unwrap().id();
    let mut t = repo
        .treebuilder(Some(&repo.find_tree(template).unwrap()))
        .unwrap();
    t.insert("d", id, 0o040000).unwrap();
    let template = t.write().unwrap();
    let mut root = repo.treebuilder(Some(&base)).unwrap();
    root.insert("template", template, 0o040000).unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let sig = git2::Signature::now("T", "t@e.x").unwrap();
    let commit = repo.commit(None, &sig, &sig, "deep", &tree, &[]).unwrap();
    repo.tag_lightweight("v1.0.0", &repo.find_object(commit, None).unwrap(), false)
        .unwrap();
    let out = env
        .cmd(&[
            "new",
            "p",
            "--yes",
            "--vcs",
            "none",
            "--template",
            &format!("file://{}", dir.display()),
        ])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("is nested more than 32 directories deep"),
        "{}",
        stderr_of(&out)
    );
}
