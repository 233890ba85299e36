# Sourced by reports.sh and test.sh: system packages, then .venv with symcalc installed
# (not editable) with the extras named in $SYMCALC_EXTRAS (e.g. "[test]").
bash scripts/setup-system.sh
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q ".${SYMCALC_EXTRAS:-}"
