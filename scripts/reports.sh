#!/usr/bin/env bash
# The main job: install what is needed, then build the derivation report (PDF) of every
# bundled example (examples/*.toml) into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
python scripts/build_reports.py --out reports "$@"
echo "Reports written to $(pwd)/reports/"
