#!/usr/bin/env python3
"""Times `cargo nixcuda new --yes` of the default scaffold with the release
binary, git init and first commit included, and prints the median.

    python3 scripts/bench-new.py [RUNS] [-- extra new arguments]
    python3 scripts/bench-new.py --update [RUNS]

With --update it times `cargo nixcuda update --yes` of a default project made
with ml@1.0.0 to the newest version instead (each run on a fresh project).

Beside each `new` it times the floor, `cp -a` of the project just made (its
`.git` included when there is one), in the same loop, and prints the ratio.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    args = sys.argv[1:]
    update = "--update" in args
    args = [a for a in args if a != "--update"]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    runs = int(args[0]) if args else 50
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "cargo-nixcuda")
    home = tempfile.mkdtemp(prefix="bench-home-")
    with open(os.path.join(home, ".gitconfig"), "w") as f:
        f.write("[user]\n\tname = Bench\n\temail = bench@example.org\n")
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    work = tempfile.mkdtemp(prefix="bench-new-")
    times = []
    floor = []
    try:
        for i in range(runs + 3):
            dest = os.path.join(work, f"p{i}")
            if update:
                subprocess.run([binary, "nixcuda", "new", dest, "--yes", "-q",
                                "--scaffold", "ml@1.0.0"], env=env, check=True)
                command = [binary, "nixcuda", "update", "--yes", "-q", "--path", dest]
            else:
                command = [binary, "nixcuda", "new", dest, "--yes", "-q", *extra]
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, stdin=subprocess.DEVNULL)
            elapsed = (time.perf_counter() - start) * 1000
            copied = None
            if not update:
                copy = dest + "-copy"
                start = time.perf_counter()
                subprocess.run(["cp", "-a", dest, copy], check=True)
                copied = (time.perf_counter() - start) * 1000
                shutil.rmtree(copy)
            if i >= 3:  # the first runs warm the page cache
                times.append(elapsed)
                if copied is not None:
                    floor.append(copied)
            shutil.rmtree(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    times.sort()
    if update:
        print(f"cargo nixcuda update --yes (default project, ml@1.0.0 -> newest), {runs} runs")
    else:
        files = "default scaffold" + (f" {' '.join(extra)}" if extra else "")
        git = "no git" if "none" in extra else "git init + commit included"
        print(f"cargo nixcuda new --yes ({files}), {runs} runs, {git}")
    print(f"  median {statistics.median(times):.2f} ms   min {times[0]:.2f} ms   "
          f"p90 {times[int(len(times) * 0.9) - 1]:.2f} ms   max {times[-1]:.2f} ms")
    if floor:
        ratio = statistics.median(times) / statistics.median(floor)
        print(f"  floor (cp -a of the result) median {statistics.median(floor):.2f} ms;"
              f" ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
