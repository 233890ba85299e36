#!/usr/bin/env bash
# System packages symcalc's reports and tests need on Debian: TeX Live (pdflatex, latexmk,
# Latin Modern), poppler-utils (pdftotext, pdftoppm) and a headless Chromium (the HTML report's
# browser test). About 400 MB; each part is skipped when present.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
PACKAGES=()
if ! command -v latexmk >/dev/null || ! command -v pdflatex >/dev/null || ! command -v pdftotext >/dev/null; then
  PACKAGES+=(texlive-latex-recommended texlive-fonts-recommended latexmk lmodern poppler-utils)
fi
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
  PACKAGES+=(chromium-headless-shell)
fi
if ! command -v cc >/dev/null; then
  PACKAGES+=(gcc libc6-dev)  # the native backend's C Hessian (symcalc/codegen/c_kernel.py)
fi
if [ "${#PACKAGES[@]}" -eq 0 ]; then
  exit 0
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
