#!/usr/bin/env python3
"""Times `cargo nixcuda new --yes` of the default scaffold with the release
binary, git init and first commit included, beside its floor, and prints
medians and the ratio.

    python3 scripts/bench-new.py [RUNS] [--binary PATH]... [-- extra new arguments]
    python3 scripts/bench-new.py --update [RUNS] [--binary PATH]...
    python3 scripts/bench-new.py --check [RUNS] [--binary PATH]...
    python3 scripts/bench-new.py --team FILES [RUNS] [--binary PATH]...

The floor of `new` is `cp -a` of the project just made (its `.git`
included when there is one), timed in the same loop. With --update it times
`cargo nixcuda update --yes` of a default project made with ml@1.0.0 to the
newest version (each run on a fresh project, with committed edits to
README.md and .gitignore that it merges); its floor is `cp -a` of the files
the update changed. With --check it times `scaffold check` of ml
(every combination). With --team FILES it times `new --template DIR` of a
team template of FILES files (templates of a few kilobytes with a few tags
each, in 10 directories), beside `cp -a` of its result: the cost that grows
with the work. Several --binary paths are timed in turn within each
round (A/B/A/B), so a loaded machine weighs on all of them alike; without
one, the release binary of this checkout is built and timed.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(args):
    mode = "new"
    binaries = []
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    rest = []
    it = iter(args)
    for a in it:
        if a in ("--update", "--check"):
            mode = a[2:]
        elif a == "--team":
            mode = "team"
            extra = ["--team-files", next(it)] + extra
        elif a == "--binary":
            binaries.append(os.path.abspath(next(it)))
        else:
            rest.append(a)
    runs = int(rest[0]) if rest else 50
    return mode, runs, binaries, extra


def timed(command, **kw):
    """(wall-clock ms, CPU ms) of `command`. CPU time (user + system, every
    thread) wobbles less than wall time on a busy machine."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, **kw)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000


def snapshot(root):
    """Path -> (size, mtime_ns) of every file outside .git."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def team_template(root, files):
    """A team template of `files` files under `root`."""
    os.makedirs(os.path.join(root, "template"))
    with open(os.path.join(root, "scaffold.yaml"), "w") as f:
        f.write("id: bench\nversion: 1.0.0\ndescription: a large team template\n"
                "questions:\n  - key: owner\n    type: string\n    prompt: Owner\n"
                "    default: data team\n")
    body = "".join(f"line {i} of a module owned by {{{{owner}}}}\n" for i in range(40))
    for i in range(files):
        d = os.path.join(root, "template", f"part{i % 10}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"module{i}.py.hbs"), "w") as f:
            f.write(f"# {{{{project_name}}}}: module {i}\n{{{{#if owner}}}}{body}{{{{/if}}}}")


def one_run(mode, binary, dest, env, extra):
    """((elapsed ms, CPU ms), floor ms or None) of one run into `dest`."""
    if mode == "check":
        return timed([binary, "nixcuda", "scaffold", "check", os.path.join(ROOT, "scaffolds", "ml"), "-q"], env=env,
                     stdout=subprocess.DEVNULL), None
    if mode == "update":
        subprocess.run([binary, "nixcuda", "new", dest, "--yes", "-q",
                        "--scaffold", "ml@1.0.0"], env=env, check=True)
        # The user's edits, committed: update merges them three ways.
        for name, line in (("README.md", "Notes of this fork."), (".gitignore", "scratch/")):
            with open(os.path.join(dest, name), "a") as f:
                f.write(f"\n{line}\n")
        subprocess.run(["git", "-C", dest, "commit", "-qam", "Local edits"], env=env, check=True)
        before = snapshot(dest)
        measured = timed([binary, "nixcuda", "update", "--yes", "-q", "--path", dest], env=env)
        after = snapshot(dest)
        changed = [p for p, v in after.items() if before.get(p) != v]
        copy = dest + "-copy"
        os.mkdir(copy)
        start = time.perf_counter()
        subprocess.run(["cp", "-a", "--parents", *changed, copy], cwd=dest, check=True)
        floor = (time.perf_counter() - start) * 1000
        return measured, floor
    if mode == "team":
        template = os.path.join(os.path.dirname(dest), "template")
        if not os.path.isdir(template):
            team_template(template, int(extra[1]))
        extra = ["--template", template, *extra[2:]]
    measured = timed([binary, "nixcuda", "new", dest, "--yes", "-q", *extra], env=env)
    floor, _ = timed(["cp", "-a", dest, dest + "-copy"])
    return measured, floor


def report(mode, runs, extra, name, times, floor, cpu):
    times = sorted(times)
    if mode == "update":
        what = f"cargo nixcuda update --yes (default project with edits, ml@1.0.0 -> newest), {runs} runs"
    elif mode == "check":
        what = f"cargo nixcuda scaffold check ml (every combination), {runs} runs"
    elif mode == "team":
        what = f"cargo nixcuda new --yes --template DIR ({extra[1]} files), {runs} runs, git included"
    else:
        files = "default scaffold" + (f" {' '.join(extra)}" if extra else "")
        git = "no git" if "none" in extra else "git init + commit included"
        what = f"cargo nixcuda new --yes ({files}), {runs} runs, {git}"
    print(f"{name}: {what}")
    print(f"  median {statistics.median(times):.2f} ms   min {times[0]:.2f} ms   "
          f"p90 {times[int(len(times) * 0.9) - 1]:.2f} ms   max {times[-1]:.2f} ms   "
          f"CPU (user + system) median {statistics.median(cpu):.2f} ms")
    if floor:
        ratio = statistics.median(times) / statistics.median(floor)
        label = "cp -a of the changed files" if mode == "update" else "cp -a of the result"
        print(f"  floor ({label}) median {statistics.median(floor):.2f} ms; ratio {ratio:.2f}")


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__.strip())
        return
    mode, runs, binaries, extra = parse(sys.argv[1:])
    if not binaries:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        binaries = [os.path.join(ROOT, "target", "release", "cargo-nixcuda")]
    home = tempfile.mkdtemp(prefix="bench-home-")
    with open(os.path.join(home, ".gitconfig"), "w") as f:
        f.write("[user]\n\tname = Bench\n\temail = bench@example.org\n")
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    # Every project is removed at the end, not after its run: deleting
    # thousands of files while timing slows down creating the next ones
    # (ext4 passes over recently freed inodes), the tool's and its floor's
    # alike.
    work = tempfile.mkdtemp(prefix="bench-new-")
    times = {b: [] for b in binaries}
    floor = {b: [] for b in binaries}
    cpu = {b: [] for b in binaries}
    try:
        for i in range(runs + 3):
            for n, binary in enumerate(binaries):
                dest = os.path.join(work, f"p{i}-{n}")
                (elapsed, used), copied = one_run(mode, binary, dest, env, extra)
                if i >= 3:  # the first runs warm the page cache
                    times[binary].append(elapsed)
                    cpu[binary].append(used)
                    if copied is not None:
                        floor[binary].append(copied)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    for binary in binaries:
        report(mode, runs, extra, binary, times[binary], floor[binary], cpu[binary])


if __name__ == "__main__":
    main()
