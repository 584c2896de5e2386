#!/usr/bin/env bash
# Installs mmeval, every plugin under plugins/ (editable, with dev extras) into the active Python
# environment. The CPU build of torch 2.13.0 goes in first and a constraint keeps it there, so pip
# never swaps it for a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python}
command -v "$py" >/dev/null || py=python3
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet "torch==2.13.0"
targets=(-e ".[dev]")
for p in plugins/*/pyproject.toml; do
    [ -e "$p" ] && targets+=(-e "$(dirname "$p")[dev]")
done
"$py" -m pip install --quiet -c constraints.txt "${targets[@]}"
"$py" -c "import torch, mmeval; print(f'mmeval {mmeval.__version__} installed (torch {torch.__version__})')"
