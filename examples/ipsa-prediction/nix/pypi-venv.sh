#!/usr/bin/env bash
# The `pypi` group of pyproject.toml (`cargo nixcuda add --pypi NAME`):
# pylock.pypi.toml installed into .venv, a virtual environment over the Nix
# Python environment. It sees every Nix package, and the lock holds none of
# them (cargo nixcuda leaves them out of it), so Nix's CUDA builds stay the
# ones imported. The dev shell runs it: nix/pypi-venv.sh NIX_PYTHON UV
set -euo pipefail
python=$1
uv=$2
venv=.venv

# A venv of another Nix Python (after `nix flake update`) is made again.
if [ "$(cat "$venv/nixcuda-base" 2>/dev/null)" != "$python" ]; then
  rm -rf "$venv"
  "$python" -m venv --system-site-packages --without-pip "$venv"
  # The base environment's package directories, after the venv's own: a
  # venv sees its base interpreter's installation, where a Nix environment
  # (like any virtual environment) keeps its packages on top of that.
  purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$python" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith("-packages")))' \
    >"$purelib/_nixcuda_base.pth"
  printf '%s\n' "$python" >"$venv/nixcuda-base"
fi
"$uv" pip sync --quiet --python "$venv/bin/python" pylock.pypi.toml
