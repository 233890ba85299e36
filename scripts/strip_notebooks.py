#!/usr/bin/env python3
"""Strip outputs, execution counts and run metadata from notebooks (in place).

The notebooks are committed without outputs: CI executes them
(``pytest --nbmake notebooks/``), and diffs stay readable.

    python scripts/strip_notebooks.py              # strip notebooks/*.ipynb
    python scripts/strip_notebooks.py --check      # exit 1 if one needs stripping
    python scripts/strip_notebooks.py a.ipynb b.ipynb
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def strip(nb: dict) -> dict:
    """The notebook without outputs, execution counts or per-run metadata.

    >>> nb = {"cells": [{"cell_type": "code", "source": "1", "outputs": [1], "execution_count": 3,
    ...        "metadata": {"execution": {}}}], "metadata": {"kernelspec": {}, "widgets": {}}}
    >>> out = strip(nb)
    >>> out["cells"][0]["outputs"], out["cells"][0]["execution_count"], out["metadata"]
    ([], None, {'kernelspec': {}})
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell["metadata"] = {
            k: v for k, v in cell.get("metadata", {}).items() if k in ("tags", "slideshow")
        }
    nb["metadata"] = {
        k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NOTEBOOK_METADATA
    }
    return nb


def text_of(nb: dict) -> str:
    """nbformat's on-disk layout: indent 1, sorted keys, trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--check", action="store_true", help="report, do not write; exit 1 if any needs stripping"
    )
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    paths = args.paths or sorted((root / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        original = path.read_text(encoding="utf-8")
        stripped = text_of(strip(json.loads(original)))
        if stripped != original:
            dirty.append(path)
            if not args.check:
                path.write_text(stripped, encoding="utf-8")
    for path in dirty:
        print(("needs stripping: " if args.check else "stripped: ") + str(path))
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
