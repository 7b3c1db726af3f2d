//! What packagers install beside the binary: shell completion scripts that
//! complete both `cargo nixcuda ...` and `cargo-nixcuda ...` (options and
//! their values, not only subcommand names), and man pages.

use std::path::Path;

use clap::CommandFactory;

use crate::error::{Error, Result};

/// The command as typed directly: `cargo-nixcuda ...`.
fn direct_tree() -> clap::Command {
    crate::cli::Cli::command().bin_name("cargo-nixcuda")
}

/// The tree the scripts complete: with the values `offered` lists.
fn completed(cmd: clap::Command) -> clap::Command {
    super::offered::offer(cmd)
}

/// The command tree as cargo runs it: `cargo` with a `nixcuda` subcommand.
fn cargo_tree() -> clap::Command {
    let nixcuda = completed(crate::cli::Cli::command().name("nixcuda"));
    clap::Command::new("cargo")
        .disable_help_subcommand(true)
        .subcommand(nixcuda)
}

/// The raw clap_complete script for `cmd` (into memory first: clap_complete
/// panics when a write fails).
fn generated(shell: clap_complete::Shell, mut cmd: clap::Command, bin: &str) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, bin, &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

// bash: clap_complete's function walks COMP_WORDS from the command name, so
// it is generated for the `cargo nixcuda` tree; `cargo-nixcuda ...` is
// rewritten into that form. `cargo` keeps its own completion for every other
// subcommand: the one registered before (or, with bash-completion's lazy
// loading, the one loaded on first use) is called for them.
const BASH_REGISTER: &str = r#"
# bash splits `-d KEY=VALUE` at `=` (COMP_WORDBREAKS): the words are joined
# back for clap's function, and what it offers is cut to the part after the
# `=`, which is the part bash replaces.
_cargo_nixcuda_split() {
    local n=$COMP_CWORD key= opt= value= keep
    if [[ ${COMP_WORDS[n]} == = ]]; then
        key=${COMP_WORDS[n-1]} opt=${COMP_WORDS[n-2]-} keep=$((n - 1))
    elif (( n >= 3 )) && [[ ${COMP_WORDS[n-1]} == = ]]; then
        key=${COMP_WORDS[n-2]} opt=${COMP_WORDS[n-3]} value=${COMP_WORDS[n]} keep=$((n - 2))
    fi
    if [[ -z $key || ( $opt != -d && $opt != --define ) ]]; then
        _cargo_nixcuda "$@"
        return
    fi
    local COMP_WORDS=("${COMP_WORDS[@]:0:keep}" "$key=$value")
    local COMP_CWORD=$keep
    _cargo_nixcuda "$1" "$key=$value" "$opt"
    COMPREPLY=("${COMPREPLY[@]#"$key="}")
}

# cargo-nixcuda ...: completed as `cargo nixcuda ...`.
_cargo_nixcuda_direct() {
    local COMP_WORDS=(cargo nixcuda "${COMP_WORDS[@]:1}")
    local COMP_CWORD=$((COMP_CWORD + 1))
    _cargo_nixcuda_split cargo "$2" "$3"
}

# cargo nixcuda ...: here; any other cargo command: cargo's own completion.
_cargo_nixcuda_cargo() {
    if [[ ${COMP_WORDS[1]-} == nixcuda ]] && (( COMP_CWORD >= 2 )); then
        _cargo_nixcuda_split "$@"
        return
    fi
    if [[ -z ${_cargo_nixcuda_previous-} ]]; then
        _cargo_nixcuda_previous=-
        complete -r cargo 2>/dev/null
        if declare -F _comp_load >/dev/null; then
            _comp_load cargo
        elif declare -F _completion_loader >/dev/null; then
            _completion_loader cargo
        fi
        _cargo_nixcuda_previous=$(_cargo_nixcuda_function_of cargo)
        complete -F _cargo_nixcuda_cargo -o bashdefault -o default cargo
    fi
    if [[ $_cargo_nixcuda_previous != - ]]; then
        "$_cargo_nixcuda_previous" "$@"
    fi
}

# The -F function `complete -p NAME` shows, or `-`.
_cargo_nixcuda_function_of() {
    local spec
    spec=$(complete -p "$1" 2>/dev/null) || { echo -; return; }
    spec=${spec#* -F }
    if [[ $spec == "complete "* || $spec == _cargo_nixcuda_cargo* ]]; then
        echo -
    else
        echo "${spec%% *}"
    fi
}

if [[ $(_cargo_nixcuda_function_of cargo) != - ]]; then
    _cargo_nixcuda_previous=$(_cargo_nixcuda_function_of cargo)
fi
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _cargo_nixcuda_direct -o nosort -o bashdefault -o default cargo-nixcuda
else
    complete -F _cargo_nixcuda_direct -o bashdefault -o default cargo-nixcuda
fi
complete -F _cargo_nixcuda_cargo -o bashdefault -o default cargo
"#;

fn bash() -> String {
    let raw = generated(clap_complete::Shell::Bash, cargo_tree(), "cargo");
    // Drop clap's `complete -F _cargo ... cargo` (it would replace cargo's own
    // completion) and rename its `_cargo`, which is cargo's own function name.
    let body = raw
        .split("\nif [[ \"${BASH_VERSINFO[0]}\"")
        .next()
        .unwrap_or(&raw);
    let body = body.replacen("_cargo() {", "_cargo_nixcuda() {", 1);
    format!("{body}{BASH_REGISTER}")
}

// zsh: `_cargo-nixcuda` for the direct form; `cargo nixcuda ...` shifts the
// words and calls it, any other cargo command goes to the function that was
// registered for cargo (cargo's `_cargo`, autoloaded by compinit).
const ZSH_REGISTER: &str = r#"
_cargo_nixcuda_cargo() {
    if (( CURRENT > 2 )) && [[ $words[2] == nixcuda ]]; then
        shift words
        (( CURRENT-- ))
        words[1]=cargo-nixcuda
        _cargo-nixcuda "$@"
    elif [[ -n $_cargo_nixcuda_previous ]]; then
        $_cargo_nixcuda_previous "$@"
    fi
}
if [[ $_comps[cargo] != _cargo_nixcuda_cargo ]]; then
    typeset -g _cargo_nixcuda_previous=${_comps[cargo]:-}
fi
compdef _cargo_nixcuda_cargo cargo
"#;

fn zsh() -> String {
    let raw = generated(
        clap_complete::Shell::Zsh,
        completed(direct_tree()),
        "cargo-nixcuda",
    );
    let tail = "    compdef _cargo-nixcuda cargo-nixcuda\nfi\n";
    match raw.strip_suffix(tail) {
        Some(head) => format!("{head}    compdef _cargo-nixcuda cargo-nixcuda\n{ZSH_REGISTER}fi\n"),
        None => raw,
    }
}

// fish: the generated completions are for `cargo-nixcuda`; `cargo nixcuda
// ...` asks fish for those of the same line typed as `cargo-nixcuda ...`.
const FISH_REGISTER: &str = r#"
function __fish_cargo_nixcuda_after_cargo
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and test "$tokens[2]" = nixcuda
end

function __fish_cargo_nixcuda_as_direct
    set -l tokens (commandline -opc)
    set -e tokens[1..2]
    complete -C (string join ' ' -- cargo-nixcuda (string escape -- $tokens) (commandline -ct))
end

complete -c cargo -n __fish_cargo_nixcuda_after_cargo -f -a '(__fish_cargo_nixcuda_as_direct)'
"#;

fn fish() -> String {
    let raw = generated(
        clap_complete::Shell::Fish,
        completed(direct_tree()),
        "cargo-nixcuda",
    );
    format!("{raw}{FISH_REGISTER}")
}

/// The completion script for `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    match shell {
        clap_complete::Shell::Bash => bash(),
        clap_complete::Shell::Zsh => zsh(),
        clap_complete::Shell::Fish => fish(),
        other => generated(other, completed(direct_tree()), "cargo-nixcuda"),
    }
}

/// Prints the completion script for `shell`.
pub fn write(shell: clap_complete::Shell) -> Result<()> {
    crate::printer::out_bytes(script(shell).as_bytes());
    Ok(())
}

/// The man pages: `cargo-nixcuda.1`, and one per subcommand
/// (`cargo-nixcuda-new.1`, ...), as (file name, roff text).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let mut page = cmd.clone().display_name(name.to_string());
        page.build();
        let mut roff = Vec::new();
        // Into memory: a Vec never fails to take the bytes.
        let source = format!("cargo-nixcuda {}", env!("CARGO_PKG_VERSION"));
        let _ = clap_mangen::Man::new(page).source(source).render(&mut roff);
        out.push((format!("{name}.1"), roff));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() != "help" {
                walk(sub, &format!("{name}-{}", sub.get_name()), out);
            }
        }
    }
    let mut cmd = direct_tree().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "cargo-nixcuda", &mut out);
    out
}

/// `man`: the main page on stdout, or every page into `dir`.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let pages = man_pages();
    let Some(dir) = dir else {
        crate::printer::out_bytes(&pages[0].1);
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    for (name, roff) in &pages {
        let path = dir.join(name);
        crate::fs::write_atomic(&path, roff)?;
    }
    Ok(())
}
