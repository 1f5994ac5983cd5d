#!/usr/bin/env bash
# The quality gates: ruff's lint and format check on everything; on the runtime, i.e. the
# modules pyproject.toml lists (tools/runtime_sources.py), mypy's type check, vermin's proof
# that nothing needs a Python newer than 3.8, and the check that only the standard library is
# imported; then the GitHub Action's checks (tools/check_action.py: zizmor, schemas, shellcheck).
#     tools/check.sh .venv/default/bin/python     (a venv with the dev extra; Python 3.11+)
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1

listed=$("$python" tools/runtime_sources.py)
mapfile -t sources <<<"$listed"

echo "=== checks on ${sources[*]}"
"$(dirname "$python")/ruff" check .
"$(dirname "$python")/ruff" format --check .
"$python" -m mypy "${sources[@]}"
"$(dirname "$python")/vermin" -t=3.8- --no-tips --violations --quiet "${sources[@]}"
"$python" tools/check_imports.py
"$python" tools/check_action.py
echo "=== checks passed"
