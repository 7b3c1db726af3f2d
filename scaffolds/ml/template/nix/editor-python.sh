#!/usr/bin/env bash
# Editors and Jupyter find the environment's Python at one path that stays:
# .nixcuda/python (.vscode/settings.json, pyrightconfig.json, `just
# kernel`), a script this writes that runs the environment's Python with
# src/ importable and the shell's CUDA variables. .nixcuda/python-env is a
# garbage-collector root (`nix-store --add-root`, which registers it
# indirectly): `nix-collect-garbage` keeps the environment while the link is
# there, and the next shell with other packages moves it. .nixcuda/ is not
# committed. The dev shell runs it from the project's top directory, in
# flake.nix and in shell.nix: nix/editor-python.sh NIX_ENV SHELL_FILE
python=$1
shell_file=$2

mkdir -p .nixcuda
if [ "$(readlink .nixcuda/python-env)" != "$python" ]; then
  nix-store --realise "$python" --add-root "$PWD/.nixcuda/python-env" >/dev/null 2>&1 ||
    ln -sfn "$python" .nixcuda/python-env
fi
script=$(
  printf '#!/bin/sh\n# Written by the dev shell (%s) for editors and Jupyter.\n' "$shell_file"
  printf 'export PYTHONPATH=%q\n' "$PWD/src"
  for var in TF_USE_LEGACY_KERAS TRITON_LIBCUDA_PATH TRITON_PTXAS_PATH JUPYTER_PATH; do
    if [ -n "${!var:-}" ]; then
      printf 'export %s=%q\n' "$var" "${!var}"
    fi
  done
  printf 'exec %q "$@"\n' "$PWD/.nixcuda/python-env/bin/python"
)
if [ "$(cat .nixcuda/python 2>/dev/null)" != "$script" ]; then
  printf '%s\n' "$script" >.nixcuda/python.tmp &&
    chmod +x .nixcuda/python.tmp &&
    mv -f .nixcuda/python.tmp .nixcuda/python
fi
