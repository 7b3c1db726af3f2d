#!/usr/bin/env python3
"""Releases and maintains the embedded scaffold versions (scaffolds/README.md,
"Versions").

The newest version of a scaffold is stored whole (scaffolds/ID/scaffold.yaml
and template/); each older one as versions/VERSION.diff, its difference from
the next newer version. build.rs materialises them all.

  scaffold-version.py release ID VERSION
      Freezes the current newest version as a difference and opens VERSION
      (a copy of it with the new version number) for editing.
  scaffold-version.py refresh ID [--from REV]
      After editing the newest version: rewrites the difference of the
      version below it, which is read from git (REV, default HEAD) so that
      it stays exactly what was released.

Both need git and a clean copy of scaffolds/ID at REV/HEAD; neither touches
anything outside scaffolds/ID.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_LINE = re.compile(r"^version:\s*(\S+)\s*$", re.M)
# One line of context: enough to read a difference, and it keeps all
# stored versions within 1.4 times the newest (3 lines would not).
CONTEXT_LINES = 1


def die(message):
    sys.exit(f"error: {message}")


def parse_version(text):
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        die(f"`{text}` is not a release version (MAJOR.MINOR.PATCH)")
    return tuple(int(p) for p in parts)


def git(args, cwd, **kw):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    base = ["git", "-c", "core.quotepath=false", "-c", "user.name=release",
            "-c", "user.email=release@localhost", "-c", "commit.gpgsign=false"]
    return subprocess.run(base + args, cwd=cwd, env=env, check=True,
                          capture_output=True, text=True, **kw).stdout


def read_tree(scaffold_dir):
    """The newest version on disk: scaffold.yaml and template/**."""
    tree = {"scaffold.yaml": (scaffold_dir / "scaffold.yaml").read_text()}
    for path in sorted((scaffold_dir / "template").rglob("*")):
        if path.is_file():
            tree[path.relative_to(scaffold_dir).as_posix()] = path.read_text()
    return tree


def tree_at(rev, scaffold_id):
    """scaffolds/ID as committed at REV: the newest version and the diffs."""
    prefix = f"scaffolds/{scaffold_id}/"
    names = git(["ls-tree", "-r", "--name-only", rev, prefix], ROOT).splitlines()
    if not names:
        die(f"{prefix} does not exist at {rev}")
    return {n[len(prefix):]: git(["show", f"{rev}:{n}"], ROOT) for n in names}


def write_tree(root, tree):
    for rel, text in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def version_of(tree):
    match = VERSION_LINE.search(tree["scaffold.yaml"])
    if not match:
        die("scaffold.yaml has no `version:` line")
    return match.group(1)


def diff(newer, older):
    """A git diff (renames found) that turns `newer` into `older`."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        git(["init", "-q"], work)
        write_tree(work, newer)
        git(["add", "-A"], work)
        git(["commit", "-q", "-m", "newer"], work)
        for child in work.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        write_tree(work, older)
        git(["add", "-A"], work)
        return git(["diff", "--cached", "-M", f"-U{CONTEXT_LINES}", "--no-color",
                    "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/"], work)


def apply(tree, patch):
    """Applies a stored difference with git (as build.rs does, strictly)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        git(["init", "-q"], work)
        write_tree(work, tree)
        (work / ".stored.diff").write_text(patch)
        git(["apply", "--whitespace=nowarn", ".stored.diff"], work)
        (work / ".stored.diff").unlink()
        result = {}
        for path in sorted(work.rglob("*")):
            rel = path.relative_to(work).as_posix()
            if path.is_file() and not rel.startswith(".git/"):
                result[rel] = path.read_text()
        return result


def stored_versions(scaffold_dir):
    versions = scaffold_dir / "versions"
    if not versions.is_dir():
        return []
    found = [p.name[: -len(".diff")] for p in versions.glob("*.diff")]
    return sorted(found, key=parse_version, reverse=True)


def release(scaffold_id, new_version):
    scaffold_dir = ROOT / "scaffolds" / scaffold_id
    current = read_tree(scaffold_dir)
    old_version = version_of(current)
    if parse_version(new_version) <= parse_version(old_version):
        die(f"{new_version} is not newer than {old_version}")
    opened = dict(current)
    opened["scaffold.yaml"] = VERSION_LINE.sub(
        f"version: {new_version}", current["scaffold.yaml"], count=1)
    (scaffold_dir / "versions").mkdir(exist_ok=True)
    (scaffold_dir / "versions" / f"{old_version}.diff").write_text(diff(opened, current))
    (scaffold_dir / "scaffold.yaml").write_text(opened["scaffold.yaml"])
    print(f"{scaffold_id}@{old_version} is stored as versions/{old_version}.diff; "
          f"{scaffold_id}@{new_version} is open in scaffolds/{scaffold_id}/.\n"
          f"Next: edit it, run `python3 scripts/scaffold-version.py refresh {scaffold_id}`, "
          "accept the new snapshots, re-bless examples/ (scaffolds/README.md).")


def refresh(scaffold_id, rev):
    scaffold_dir = ROOT / "scaffolds" / scaffold_id
    committed = tree_at(rev, scaffold_id)
    committed_newest = {k: v for k, v in committed.items()
                        if k == "scaffold.yaml" or k.startswith("template/")}
    below = sorted((k[len("versions/"): -len(".diff")] for k in committed
                    if k.startswith("versions/") and k.endswith(".diff")),
                   key=parse_version, reverse=True)
    if not below:
        die(f"{scaffold_id} has no stored older version at {rev}")
    previous = apply(committed_newest, committed[f"versions/{below[0]}.diff"])
    if version_of(previous) != below[0]:
        die(f"versions/{below[0]}.diff at {rev} does not give version {below[0]}")
    current = read_tree(scaffold_dir)
    if parse_version(version_of(current)) <= parse_version(below[0]):
        die(f"the newest version must stay above {below[0]}")
    target = scaffold_dir / "versions" / f"{below[0]}.diff"
    target.write_text(diff(current, previous))
    print(f"rewrote {target.relative_to(ROOT)} ({scaffold_id}@{version_of(current)} -> {below[0]})")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="freeze the newest version and open a new one")
    rel.add_argument("id")
    rel.add_argument("version")
    ref = sub.add_parser("refresh", help="rewrite the stored difference below the newest")
    ref.add_argument("id")
    ref.add_argument("--from", dest="rev", default="HEAD")
    args = parser.parse_args()
    if args.command == "release":
        parse_version(args.version)
        release(args.id, args.version)
    else:
        refresh(args.id, args.rev)


if __name__ == "__main__":
    main()
