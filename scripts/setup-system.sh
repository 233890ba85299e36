#!/usr/bin/env bash
# System packages symcalc's reports and tests need on Debian: TeX Live (pdflatex, latexmk,
# Latin Modern) and poppler-utils (pdftotext, pdftoppm). About 200 MB; skipped when present.
set -euo pipefail
if command -v latexmk >/dev/null && command -v pdflatex >/dev/null && command -v pdftotext >/dev/null; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  texlive-latex-recommended texlive-fonts-recommended latexmk lmodern poppler-utils
