//! The user config with team templates: favorites, default answers, and
//! what `cargo nixcuda config` shows.

use crate::support::{Env, TemplateRepo, read, write};

#[test]
fn favorites_and_default_answers_come_from_the_config() {
    let env = Env::new();
    let tpl = TemplateRepo::basic(&env, "tpl").dir;
    let config = env.home.path().join(".config/cargo-nixcuda/config.yaml");
    write(
        &config,
        &format!(
            "defaults:\n  flavor: fancy\n  description: From the config\n  unknown_elsewhere: x\ntemplates:\n  work: {}\n",
            tpl.display()
        ),
    );
    env.ok(&["new", "p", "--template", "work", "--yes"]);
    let readme = read(&env.path("p/README.md"));
    assert!(
        readme.contains("flavor: fancy") && readme.contains("From the config"),
        "{readme}"
    );
    env.ok(&[
        "new",
        "q",
        "--template",
        "work",
        "--yes",
        "-d",
        "flavor=plain",
    ]);
    assert!(
        read(&env.path("q/README.md")).contains("flavor: plain"),
        "-d wins"
    );

    let out = env.ok(&["config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&config.display().to_string()), "{text}");
    assert!(text.contains("XDG_CONFIG_HOME"), "{text}");
    assert!(text.contains("flavor = fancy  (config file)"), "{text}");
    assert!(
        text.contains(&format!("work = {}", tpl.display())),
        "{text}"
    );
    assert!(text.contains("default_scaffold: ml  (built-in)"), "{text}");
    let out = env.ok(&["config", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exists"], true);
    assert_eq!(json["defaults"]["flavor"], "fancy");

    // A broken config names its file and line.
    write(&config, "defaults:\n  flavor: fancy\nbogus: 1\n");
    let err = env.fail(&["config"]);
    assert!(err.contains(&format!("{}:3", config.display())), "{err}");
}

#[test]
fn config_without_a_file_shows_the_built_in_defaults() {
    let env = Env::new();
    let out = env.ok(&["config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("default_scaffold: ml  (built-in)"), "{text}");
}

#[test]
fn a_config_default_the_question_refuses_is_named_not_dropped_silently() {
    let env = Env::new();
    let config = env.home.path().join(".config/cargo-nixcuda/config.yaml");
    // A NUL in the description, which the question refuses; the author is fine.
    write(
        &config,
        "defaults:\n  description: \"a\\0b\"\n  author: Grace Hopper\n",
    );
    let out = env.ok(&["new", "p", "--yes", "--vcs", "none"]);
    let err = crate::support::stderr_of(&out);
    assert!(
        err.contains("`defaults.description`") && err.contains(&config.display().to_string()),
        "{err}"
    );
    assert!(!err.contains("defaults.author"), "{err}");
    let record = read(&env.path("p/.nixcuda.yaml"));
    assert!(record.contains("Grace Hopper"), "{record}");
    assert!(!record.contains("a\\0b"), "{record}");
}
