#!/usr/bin/env bash
# Installs mmeval and every plugin under plugins/ (editable, with dev extras) into the active Python
# environment. A torch already installed (CPU or CUDA) is kept, and a constraint keeps pip from
# replacing it; without one, torch 2.13.0 is installed first (see README for a CPU-only build).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python}
command -v "$py" >/dev/null || py=python3
"$py" -m pip install --quiet --upgrade pip
if torch_version=$("$py" -c "import torch; print(torch.__version__)" 2>/dev/null); then
    echo "keeping the installed torch $torch_version"
else
    "$py" -m pip install --quiet "torch==2.13.0"
    torch_version=$("$py" -c "import torch; print(torch.__version__)")
fi
pin=$(mktemp)
trap 'rm -f "$pin"' EXIT
echo "torch==$torch_version" > "$pin"
targets=(-e ".[dev]")
for p in plugins/*/pyproject.toml; do
    [ -e "$p" ] && targets+=(-e "$(dirname "$p")[dev]")
done
"$py" -m pip install --quiet -c constraints.txt -c "$pin" "${targets[@]}"
"$py" -c "import torch, mmeval; print(f'mmeval {mmeval.__version__} installed (torch {torch.__version__})')"
