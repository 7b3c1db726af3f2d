//! What `new` and `init` print last: the scaffold's own `next_steps`
//! template, or, for a scaffold without one, the steps its rendered files
//! call for (so a template without `.envrc` is never told to `direnv allow`).

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fs::RenderedFile;
use crate::scaffold::Scaffold;

/// The lines under "Next steps:", each indented by two spaces. `users`:
/// the paths already in the directory (`init`), whose files are the user's,
/// not the scaffold's instructions.
pub fn render(
    scaffold: &Scaffold,
    ctx: &Value,
    dir: &Path,
    files: &[RenderedFile],
    users: &dyn Fn(&Path) -> bool,
) -> Result<String> {
    let path = crate::shell::quote(&dir.display().to_string());
    let text = match &scaffold.manifest.next_steps {
        Some(template) => {
            let mut ctx = ctx.clone();
            ctx["path"] = Value::String(path);
            crate::scaffold::render::render_string(template, &ctx).map_err(|e| Error::Render {
                file: format!("{}/scaffold.yaml (next_steps)", scaffold.origin),
                message: e,
            })?
        }
        None => from_files(&path, files, users),
    };
    Ok(text
        .trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The steps the rendered files call for.
fn from_files(path: &str, files: &[RenderedFile], users: &dyn Fn(&Path) -> bool) -> String {
    let has = |name: &str| files.iter().any(|f| f.path == Path::new(name));
    let mut steps = Vec::new();
    if path != "." {
        steps.push(format!("cd {path}"));
    }
    match (has(".envrc"), has("flake.nix")) {
        (true, true) => steps.push("direnv allow      # or: nix develop".into()),
        (true, false) => steps.push("direnv allow".into()),
        (false, true) => steps.push("nix develop".into()),
        (false, false) => {}
    }
    if has("flake.nix") {
        steps.push(
            "git add flake.lock && git commit -m 'Lock nixpkgs'   # after the first lock writes flake.lock"
                .into(),
        );
    }
    if has("README.md") && !users(Path::new("README.md")) {
        steps.push("read README.md".into());
    }
    steps.push(
        "cargo nixcuda check   # later: is a newer template version out? `cargo nixcuda update` moves to it"
            .into(),
    );
    steps.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> RenderedFile {
        RenderedFile {
            path: path.into(),
            contents: Vec::new(),
            executable: false,
        }
    }

    #[test]
    fn the_default_names_only_what_the_files_have() {
        let none = |_: &Path| false;
        let bare = from_files("demo", &[file("README.md"), file("src/a.py")], &none);
        assert!(bare.starts_with("cd demo\n"), "{bare}");
        assert!(!bare.contains("direnv"), "{bare}");
        assert!(!bare.contains("nix develop"), "{bare}");
        assert!(bare.contains("read README.md"), "{bare}");
        let nix = from_files(".", &[file("flake.nix"), file(".envrc")], &none);
        assert!(!nix.contains("cd "), "{nix}");
        assert!(nix.contains("direnv allow"), "{nix}");
        assert!(nix.contains("flake.lock"), "{nix}");
        assert!(!nix.contains("README"), "{nix}");
        // `init` beside the user's README: not theirs to read for the steps.
        let theirs = |p: &Path| p == Path::new("README.md");
        let kept = from_files(".", &[file("README.md"), file("flake.nix")], &theirs);
        assert!(!kept.contains("README"), "{kept}");
    }
}
