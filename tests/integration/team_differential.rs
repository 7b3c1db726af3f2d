//! Team templates render as handlebars renders them: a seeded generator
//! writes templates full of the constructs a team may use (whitespace
//! control, standalone lines with `\n` and `\r\n`, nested blocks with
//! `else`, triple braces, comments, inline partials, `@index`/`@first`/
//! `../`, escapes and raw blocks), `cargo nixcuda new --template DIR`
//! renders them with answers full of `"`, `\`, `${x}` and `{{y}}`, and each
//! file must equal, byte for byte, what the handlebars crate renders from
//! the same source with the same helpers and answers. A template the
//! generator makes that handlebars itself refuses is replaced by another.

use serde_json::{Value, json};

use crate::support::{Env, stderr_of, write};

const PROJECT: &str = "diff-proj";
const SEED: u64 = 0x5eed_2024_c0de_0001;
/// Templates per `new` run, and runs: a few processes, many files each.
const PER_BATCH: usize = 120;
const BATCHES: usize = 3;

const MANIFEST: &str = "id: differential\nversion: 1.0.0\ndescription: generated templates\nquestions:\n  - key: title\n    type: string\n    prompt: Title\n  - key: short\n    type: string\n    prompt: Short\n  - key: list\n    type: string\n    prompt: List\n  - key: flag\n    type: bool\n    prompt: Flag\n  - key: off\n    type: bool\n    prompt: Off\n";

/// The answers, as `-d` gives them and as the template sees them.
fn answers() -> (Vec<(&'static str, &'static str)>, Value) {
    let d = vec![
        ("title", r#"Quote " back \ ${x} {{y}} end"#),
        ("short", "b"),
        ("list", r#"a,"b",\c,${d},{{e}}"#),
        ("flag", "true"),
        ("off", "false"),
    ];
    let ctx = json!({
        "title": d[0].1, "short": d[1].1, "list": d[2].1,
        "flag": true, "off": false, "project_name": PROJECT,
    });
    (d, ctx)
}

/// The reproduced cases of issue 24, and what handlebars gives for them.
const REPRODUCED: &[(&str, Option<&str>)] = &[
    ("a\n\n{{~short}}", Some("ab")),
    (
        "{{#*inline \"owner\"}}by {{title}}{{/inline}}\nline\n{{> owner}}\n",
        None,
    ),
    (
        "{{#if flag}}\n\n{{ #if flag}}\nyes\n{{/if}}\n{{/if}}\n",
        None,
    ),
];

/// xorshift64: the same templates on every run.
struct Gen {
    state: u64,
    eol: &'static str,
}

/// What names a template can read where it is.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Root,
    /// Inside `{{#each (split list ",")}}`: `this` is a part of the list.
    Each,
    /// Inside `{{#with title}}`: `this` is the title.
    With,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// `{{` and `}}` with optional `~`.
    fn braces(&mut self) -> (String, String) {
        let open = self.pick(&["{{", "{{", "{{~"]);
        let close = self.pick(&["}}", "}}", "~}}"]);
        (open.to_string(), close.to_string())
    }

    /// The same, with optional blanks inside, where handlebars allows them.
    fn spaced_braces(&mut self) -> (String, String) {
        let open = self.pick(&["{{", "{{~", "{{ ", "{{~ "]);
        let close = self.pick(&["}}", "~}}", " }}", " ~}}"]);
        (open.to_string(), close.to_string())
    }

    fn line_end(&mut self) -> &'static str {
        if self.below(8) == 0 {
            self.pick(&["\n", "\r\n"])
        } else {
            self.eol
        }
    }

    fn text(&mut self) -> String {
        let eol = self.line_end();
        let pieces = [
            "a", "b c", " ", "  ", "\t", "}", "{x", "x}y", "\"q\"", "$", "${z}", "\\n", "  -", eol,
            eol,
        ];
        (0..1 + self.below(3)).map(|_| self.pick(&pieces)).collect()
    }

    fn value(&mut self, scope: Scope) -> String {
        let names: &[&str] = match scope {
            Scope::Root => &[
                "title",
                "short",
                "list",
                "flag",
                "project_name",
                "nix_str title",
                "json list",
                "toml_str short",
                "snake_case project_name",
                "@root.short",
            ],
            Scope::Each => &[
                "this",
                "@index",
                "@first",
                "@last",
                "../title",
                "../short",
                "json this",
                "@root.flag",
                ".",
            ],
            Scope::With => &["this", "../short", "nix_str this", "@root.list"],
        };
        let name = self.pick(names);
        let (open, close) = self.spaced_braces();
        match self.below(6) {
            0 => format!("{{{{{{{name}}}}}}}"),
            _ => format!("{open}{name}{close}"),
        }
    }

    fn condition(&mut self, scope: Scope) -> &'static str {
        match scope {
            Scope::Root => self.pick(&[
                "flag",
                "off",
                "title",
                "(eq short \"b\")",
                "(and flag (not off))",
                "(or off (ne short \"c\"))",
            ]),
            Scope::Each => self.pick(&["@first", "@last", "this", "(eq this \"a\")", "../flag"]),
            Scope::With => self.pick(&["this", "../off", "(eq this \"x\")"]),
        }
    }

    /// A tag that opens or closes a block, on its own line now and then
    /// (a standalone line).
    fn tag(&mut self, body: &str) -> String {
        let (open, close) = self.braces();
        let tag = format!("{open}{body}{close}");
        if self.below(3) == 0 {
            format!("{}{tag}{}", self.line_end(), self.line_end())
        } else {
            tag
        }
    }

    fn block(&mut self, scope: Scope, depth: usize) -> String {
        let inner = |g: &mut Gen, scope| g.template(scope, depth + 1);
        let else_part = |g: &mut Gen, scope| {
            if g.below(2) == 0 {
                let tag = g.tag("else");
                format!("{tag}{}", inner(g, scope))
            } else {
                String::new()
            }
        };
        match self.below(5) {
            0 | 1 => {
                let helper = self.pick(&["if", "unless"]);
                let blank = self.pick(&["#", "#", "#", "#", "#", " #"]);
                let cond = self.condition(scope);
                let open = format!("{blank}{helper} {cond}");
                let (open, body, other) =
                    (self.tag(&open), inner(self, scope), else_part(self, scope));
                format!("{open}{body}{other}{}", self.tag(&format!("/{helper}")))
            }
            2 if scope != Scope::Each => {
                let open = self.tag("#each (split @root.list \",\")");
                let (body, other) = (inner(self, Scope::Each), else_part(self, scope));
                format!("{open}{body}{other}{}", self.tag("/each"))
            }
            3 if scope == Scope::Root => {
                let open = self.tag("#with title");
                let (body, other) = (inner(self, Scope::With), else_part(self, scope));
                format!("{open}{body}{other}{}", self.tag("/with"))
            }
            _ => self.value(scope),
        }
    }

    fn item(&mut self, scope: Scope, depth: usize) -> String {
        match self.below(10) {
            0..=2 => self.text(),
            3 | 4 => self.value(scope),
            5 | 6 if depth < 4 => self.block(scope, depth),
            7 => {
                // handlebars 6.4 has no `{{~!`: a comment trims only after.
                let (_, close) = self.braces();
                let comment = self.pick(&["! note ", "!-- a {{x}} comment --", "!"]);
                format!("{{{{{comment}{close}")
            }
            8 => self
                .pick(&[
                    "\\{{title}}",
                    "{{{{raw}}}} {{not}} {{#if}} {{{{/raw}}}}",
                    "\\{{#if flag}}",
                ])
                .to_string(),
            _ => self.line_end().to_string(),
        }
    }

    fn template(&mut self, scope: Scope, depth: usize) -> String {
        (0..1 + self.below(5))
            .map(|_| self.item(scope, depth))
            .collect()
    }

    /// A whole file: now and then inline partials first, called later.
    fn file(&mut self) -> String {
        self.eol = if self.below(3) == 0 { "\r\n" } else { "\n" };
        let mut out = String::new();
        let partials = if self.below(3) == 0 {
            1 + self.below(2)
        } else {
            0
        };
        for i in 0..partials {
            let body = self.template(Scope::Root, 2);
            let (open, close) = self.braces();
            out.push_str(&format!(
                "{open}#*inline \"owner{i}\"{close}{body}{open}/inline{close}{}",
                self.line_end()
            ));
        }
        for _ in 0..2 + self.below(4) {
            out.push_str(&self.template(Scope::Root, 0));
            if partials > 0 && self.below(3) == 0 {
                let (open, close) = self.braces();
                let name = self.below(partials);
                let eol = self.line_end();
                out.push_str(&format!("{eol}{open}> owner{name}{close}{eol}"));
            }
        }
        out
    }
}

/// handlebars alone: the oracle, with the tool's helpers and settings.
fn handlebars() -> handlebars::Handlebars<'static> {
    let mut hb = handlebars::Handlebars::new();
    cargo_nixcuda::scaffold::helpers::register(&mut hb);
    hb
}

/// Every template of the test with what handlebars renders from it.
fn cases(ctx: &Value) -> (Vec<(String, String)>, usize) {
    let hb = handlebars();
    let mut cases: Vec<(String, String)> = REPRODUCED
        .iter()
        .map(|(source, expected)| {
            let rendered = hb.render_template(source, ctx).unwrap();
            if let Some(expected) = expected {
                assert_eq!(&rendered, expected, "handlebars renders {source:?}");
            }
            (source.to_string(), rendered)
        })
        .collect();
    let mut generator = Gen {
        state: SEED,
        eol: "\n",
    };
    let mut replaced = 0;
    while cases.len() < PER_BATCH * BATCHES {
        let source = generator.file();
        match hb.render_template(&source, ctx) {
            Ok(rendered) => cases.push((source, rendered)),
            Err(_) => replaced += 1,
        }
    }
    (cases, replaced)
}

/// Renders `batch` through `new`: what each file became, or why it was
/// refused. A refusal fails the whole run, so then each file is rendered
/// alone, to name every refused one and compare the others.
fn render_batch(
    env: &Env,
    index: usize,
    batch: &[(String, String)],
    d: &[(&str, &str)],
) -> Vec<Result<Vec<u8>, String>> {
    // Every project is named PROJECT, as the answers say, and removed
    // once read; each run has its own template directory.
    let run = |files: &[(usize, &(String, String))], name: &str| {
        let template = env.path(&format!("{name}-template"));
        write(&template.join("scaffold.yaml"), MANIFEST);
        for (i, (source, _)) in files {
            write(&template.join(format!("template/t{i:03}.txt.hbs")), source);
        }
        let template = template.to_str().unwrap().to_string();
        let pairs: Vec<String> = d.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["new", PROJECT, "--yes", "--vcs", "none", "-q", "--template"];
        args.push(&template);
        for pair in &pairs {
            args.extend(["-d", pair.as_str()]);
        }
        let out = env.cmd(&args).output().unwrap();
        let dir = env.path(PROJECT);
        let rendered = files
            .iter()
            .map(|(i, _)| match out.status.success() {
                true => Ok(std::fs::read(dir.join(format!("t{i:03}.txt"))).unwrap()),
                false => Err(stderr_of(&out).trim().to_string()),
            })
            .collect::<Vec<_>>();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        rendered
    };
    let files: Vec<_> = batch.iter().enumerate().collect();
    let name = format!("batch-{index}");
    let all = run(&files, &name);
    if all.iter().all(Result::is_ok) {
        return all;
    }
    files
        .iter()
        .map(|file| {
            run(
                std::slice::from_ref(file),
                &format!("{name}-alone-{}", file.0),
            )
            .remove(0)
        })
        .collect()
}

#[test]
fn team_templates_render_as_the_handlebars_crate_renders_them() {
    let env = Env::new();
    let (d, ctx) = answers();
    let (cases, replaced) = cases(&ctx);
    assert!(
        replaced < cases.len(),
        "the generator made more invalid templates ({replaced}) than valid ones"
    );
    let mut differences = Vec::new();
    let mut refusals = Vec::new();
    for (index, batch) in cases.chunks(PER_BATCH).enumerate() {
        for ((source, expected), got) in batch.iter().zip(render_batch(&env, index, batch, &d)) {
            match got {
                Ok(got) if got == expected.as_bytes() => {}
                Ok(got) => differences.push(format!(
                    "{source:?}\n  handlebars: {expected:?}\n  new:        {:?}",
                    String::from_utf8_lossy(&got)
                )),
                Err(why) => refusals.push(format!("{source:?}\n  {why}")),
            }
        }
    }
    assert!(
        differences.is_empty() && refusals.is_empty(),
        "of {} templates, {} render differently and {} valid ones are refused:\n{}\n{}",
        cases.len(),
        differences.len(),
        refusals.len(),
        differences
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        refusals
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// `scaffold check` renders through the same path: the reproduced cases
/// are no problem to it.
#[test]
fn scaffold_check_finds_no_problem_in_the_reproduced_cases() {
    let env = Env::new();
    let template = env.path("reproduced");
    write(&template.join("scaffold.yaml"), MANIFEST);
    for (i, (source, _)) in REPRODUCED.iter().enumerate() {
        write(&template.join(format!("template/case{i}.txt.hbs")), source);
    }
    let out = env.ok(&["scaffold", "check", template.to_str().unwrap()]);
    assert!(
        stderr_of(&out).contains("no problems"),
        "{}",
        stderr_of(&out)
    );
}
