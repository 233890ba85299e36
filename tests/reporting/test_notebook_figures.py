"""The notebooks show their figures inline: executed (a copy, with nbclient), each has image outputs.

nbmake runs the notebooks in place and keeps no outputs; this test executes a
copy of each with the same kernel and reads what a reader of the notebook would
see. No backend is forced in the notebooks, so the kernel's inline backend draws.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-5]_*.ipynb"))


def _images(nb) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if any(k.startswith("image/") for k in out.get("data", {}))
    )


def test_no_notebook_forces_a_backend():
    for path in NOTEBOOKS:
        assert 'matplotlib.use("Agg")' not in path.read_text(encoding="utf-8"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_executed_notebook_has_image_outputs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    assert _images(nb) == 0, "notebooks are stored without outputs"
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    assert _images(nb) >= 1, f"{path.name} drew no inline figure"
