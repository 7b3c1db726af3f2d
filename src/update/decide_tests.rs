//! Every case of `decide`, one row each: the three sides, the rename, and
//! what must come out.

use super::*;

const BASE: &[u8] = b"a\nb\nc\nd\ne\nf\ng\n";
const OURS: &[u8] = b"a\nb mine\nc\nd\ne\nf\ng\n";
const THEIRS: &[u8] = b"a\nb\nc\nd\ne\nf new\ng\n";
const MERGED: &[u8] = b"a\nb mine\nc\nd\ne\nf new\ng\n";
const OURS_D: &[u8] = b"a\nb\nc\nd mine\ne\nf\ng\n";
const THEIRS_D: &[u8] = b"a\nb\nc\nd new\ne\nf\ng\n";

fn file(contents: &[u8]) -> Ours {
    Ours::File {
        contents: contents.to_vec(),
        executable: false,
    }
}

fn theirs(contents: &[u8]) -> Option<Theirs<'_>> {
    Some(Theirs {
        contents,
        executable: false,
    })
}

/// What a row expects, short enough for a table.
#[derive(Debug, PartialEq)]
enum Want {
    Nothing,
    /// Action name, where the file ends up, what is written.
    Is(&'static str, &'static str, Written),
}

#[derive(Debug, PartialEq)]
enum Written {
    Keep,
    Bytes(&'static [u8]),
    /// Written, with conflict markers.
    Markers,
    Delete,
}

fn name(action: &FileAction) -> &'static str {
    match action {
        FileAction::Create => "create",
        FileAction::Update => "update",
        FileAction::Merge => "merge",
        FileAction::Conflict => "conflict",
        FileAction::Blocked { .. } => "blocked",
        FileAction::Delete => "delete",
        FileAction::Rename { .. } => "rename",
        FileAction::Kept { .. } => "kept",
    }
}

fn summary(decision: Option<Decision>) -> Want {
    let Some(d) = decision else {
        return Want::Nothing;
    };
    let written = match &d.change {
        Change::Keep => Written::Keep,
        Change::Delete => Written::Delete,
        Change::Write { contents, .. } if contents.windows(7).any(|w| w == b"<<<<<<<") => {
            Written::Markers
        }
        Change::Write { contents, .. } => Written::Bytes(contents.clone().leak()),
    };
    let path: &'static str = d.path.to_string_lossy().into_owned().leak();
    Want::Is(name(&d.action), path, written)
}

struct Row {
    what: &'static str,
    base: Option<&'static [u8]>,
    ours: Ours,
    theirs: Option<&'static [u8]>,
    /// The new path of a declared rename, and whether it is free.
    rename: Option<(&'static str, bool)>,
    want: Want,
}

fn row(
    what: &'static str,
    base: Option<&'static [u8]>,
    ours: Ours,
    theirs: Option<&'static [u8]>,
    want: Want,
) -> Row {
    Row {
        what,
        base,
        ours,
        theirs,
        rename: None,
        want,
    }
}

fn run(row: &Row) -> Option<Decision> {
    let (new_path, free) = match row.rename {
        Some((to, free)) => (Path::new(to), free),
        None => (Path::new("f.txt"), true),
    };
    decide(&Sides {
        path: Path::new("f.txt"),
        new_path,
        base: row.base,
        ours: &row.ours,
        theirs: row.theirs.and_then(theirs),
        new_path_free: free,
        their_label: "t@2.0.0",
    })
    .unwrap()
}

#[test]
fn every_case_of_base_ours_and_theirs() {
    use Want::{Is, Nothing};
    use Written::{Bytes, Delete, Keep, Markers};
    let blocked = || Ours::Blocked("is a directory in your tree".into());
    #[rustfmt::skip]
    let rows = vec![
        // Absent on every side but one.
        row("only theirs: created", None, Ours::Absent, Some(THEIRS), Is("create", "f.txt", Bytes(THEIRS))),
        row("only base: nothing left to do", Some(BASE), Ours::Absent, None, Nothing),
        row("only ours: not the scaffold's", None, file(OURS), None, Nothing),
        // The user deleted the file.
        row("deleted by the user, unchanged upstream", Some(BASE), Ours::Absent, Some(BASE), Is("kept", "f.txt", Keep)),
        row("deleted by the user, changed upstream", Some(BASE), Ours::Absent, Some(THEIRS), Is("kept", "f.txt", Keep)),
        // Equal or changed on each side.
        row("all equal", Some(BASE), file(BASE), Some(BASE), Nothing),
        row("changed upstream only", Some(BASE), file(BASE), Some(THEIRS), Is("update", "f.txt", Bytes(THEIRS))),
        row("changed by the user only", Some(BASE), file(OURS), Some(BASE), Nothing),
        row("the same change on both sides", Some(BASE), file(THEIRS), Some(THEIRS), Nothing),
        row("changed on both sides, apart", Some(BASE), file(OURS), Some(THEIRS), Is("merge", "f.txt", Bytes(MERGED))),
        row("changed on both sides, overlapping", Some(BASE), file(OURS_D), Some(THEIRS_D), Is("conflict", "f.txt", Markers)),
        // Removed upstream.
        row("removed upstream, untouched", Some(BASE), file(BASE), None, Is("delete", "f.txt", Delete)),
        row("removed upstream, changed by the user", Some(BASE), file(OURS), None, Is("kept", "f.txt", Keep)),
        // The user added a file at a path the new version adds.
        row("added on both sides, equal", None, file(THEIRS), Some(THEIRS), Nothing),
        row("added on both sides, different", None, file(OURS_D), Some(THEIRS_D), Is("conflict", "f.txt", Markers)),
        // Binary files are never merged.
        row("binary, changed on both sides", Some(b"\0base"), file(b"\0ours"), Some(b"\0theirs"), Is("conflict", "f.txt", Keep)),
        row("binary, changed upstream only", Some(b"\0base"), file(b"\0base"), Some(b"\0theirs"), Is("update", "f.txt", Bytes(b"\0theirs"))),
        // Something that is not a file stands in the way.
        row("blocked, the new version has the file", Some(BASE), blocked(), Some(THEIRS), Is("blocked", "f.txt", Keep)),
        row("blocked, the new version dropped the file", Some(BASE), blocked(), None, Nothing),
    ];
    #[rustfmt::skip]
    let renames = vec![
        Row { rename: Some(("g.txt", true)), ..row("renamed, untouched", Some(BASE), file(BASE), Some(THEIRS), Is("rename", "g.txt", Bytes(THEIRS))) },
        Row { rename: Some(("g.txt", true)), ..row("renamed, the user's edits follow", Some(BASE), file(OURS), Some(THEIRS), Is("rename", "g.txt", Bytes(MERGED))) },
        Row { rename: Some(("g.txt", true)), ..row("renamed, unchanged content moves too", Some(BASE), file(BASE), Some(BASE), Is("rename", "g.txt", Bytes(BASE))) },
        Row { rename: Some(("g.txt", true)), ..row("renamed with conflicts: moved, marked", Some(BASE), file(OURS_D), Some(THEIRS_D), Is("conflict", "g.txt", Markers)) },
        Row { rename: Some(("g.txt", false)), ..row("renamed onto a taken path: stays", Some(BASE), file(OURS), Some(THEIRS), Is("kept", "f.txt", Keep)) },
        Row { rename: Some(("g.txt", true)), ..row("renamed, deleted by the user", Some(BASE), Ours::Absent, Some(THEIRS), Is("kept", "f.txt", Keep)) },
    ];
    let mut failures = Vec::new();
    for row in rows.iter().chain(&renames) {
        let got = summary(run(row));
        if got != row.want {
            failures.push(format!("{}: want {:?}, got {:?}", row.what, row.want, got));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn conflicts_carry_the_three_sides_for_the_index() {
    let ours = file(OURS_D);
    let sides = |base| Sides {
        path: Path::new("f.txt"),
        new_path: Path::new("g.txt"),
        base,
        ours: &ours,
        theirs: theirs(THEIRS_D),
        new_path_free: true,
        their_label: "t@2.0.0",
    };
    let d = decide(&sides(Some(BASE))).unwrap().unwrap();
    assert_eq!(d.from.as_deref(), Some(Path::new("f.txt")));
    let stages = d.stages.expect("a conflict has stages");
    assert_eq!(stages.base.as_deref(), Some(BASE));
    assert_eq!(stages.ours, OURS_D);
    assert_eq!(stages.theirs, THEIRS_D);
    // Added on both sides: no common ancestor (git's "AA").
    let d = decide(&Sides {
        new_path: Path::new("f.txt"),
        ..sides(None)
    })
    .unwrap()
    .unwrap();
    assert_eq!(d.stages.unwrap().base, None);
    // A clean result has none.
    let clean = file(OURS);
    let d = decide(&Sides {
        ours: &clean,
        theirs: theirs(THEIRS),
        ..sides(Some(BASE))
    })
    .unwrap()
    .unwrap();
    assert_eq!(d.stages, None);
}

#[test]
fn the_executable_bit_is_the_users_on_existing_files_and_the_templates_on_new_ones() {
    let mode = |ours: &Ours, their_exec: bool, new_path: &str, base| {
        let d = decide(&Sides {
            path: Path::new("f.txt"),
            new_path: Path::new(new_path),
            base,
            ours,
            theirs: Some(Theirs {
                contents: THEIRS,
                executable: their_exec,
            }),
            new_path_free: true,
            their_label: "t@2.0.0",
        })
        .unwrap()
        .unwrap();
        match d.change {
            Change::Write { executable, .. } => executable,
            other => panic!("{other:?}"),
        }
    };
    let exec_ours = Ours::File {
        contents: BASE.to_vec(),
        executable: true,
    };
    assert!(mode(&Ours::Absent, true, "f.txt", None), "new: template's");
    assert!(!mode(&Ours::Absent, false, "f.txt", None));
    assert!(mode(&exec_ours, false, "f.txt", Some(BASE)), "user's kept");
    assert!(!mode(&file(BASE), true, "f.txt", Some(BASE)), "user's kept");
    assert!(
        mode(&file(BASE), true, "g.txt", Some(BASE)),
        "moved: new path"
    );
}
