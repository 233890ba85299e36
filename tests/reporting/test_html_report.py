"""The HTML report: self-contained, and rendered by a real browser (headless Chromium).

The browser test loads the page from a file (no server, no network), measures
every <math> element's box with a small probe script appended to a copy of the
page, dumps the DOM, takes a screenshot and reads the console: MathML must be
drawn with non-zero size and the page must log no error.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symcalc as sc
from symcalc.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="scripts/setup-system.sh installs chromium-headless-shell"
)

PROBE = """<script>
window.addEventListener("load", () => {
  const boxes = [...document.querySelectorAll("math")].map(m => {
    const r = m.getBoundingClientRect(); return Math.round(r.width) + "x" + Math.round(r.height); });
  document.body.setAttribute("data-math-boxes", boxes.join(","));
});
</script>"""


@pytest.fixture(scope="module")
def gaussian_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "gaussian.html"
    sc.report(ROOT / "examples" / "gaussian.toml").to_html(out)
    return out


def test_the_page_is_self_contained(gaussian_page):
    page = gaussian_page.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    # the only URLs are XML namespace names (identifiers, never fetched)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {
        "http://www.w3.org/1998/Math/MathML",
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://creativecommons.org/ns#",
        "http://purl.org/dc/elements/1.1/",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    }, urls
    assert page.count("<math") >= 10 and "<svg" in page
    # the same records as the PDF: the chain with its rules in the margin, the summary
    assert "identification; MN T. 9.2" in page and "Gaussian identities" in page
    assert "gradient ascent" in page.lower()


def _browser(args: list[str], url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    cmd = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@needs_browser
def test_chromium_draws_the_mathml_and_logs_no_error(gaussian_page, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(
        gaussian_page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    dom = _browser(["--dump-dom"], probed.as_uri(), tmp_path)
    boxes = re.search(r'data-math-boxes="([^"]*)"', dom.stdout)
    assert boxes, "the probe did not run"
    sizes = [tuple(map(int, b.split("x"))) for b in boxes.group(1).split(",")]
    assert len(sizes) >= 10
    assert all(w > 0 and h > 0 for w, h in sizes), sizes
    assert _console_messages(dom.stderr) == []
    shot = tmp_path / "gaussian.png"
    run = _browser(
        [f"--screenshot={shot}", "--window-size=1000,2400"], gaussian_page.as_uri(), tmp_path
    )
    assert shot.exists(), run.stderr[-2000:]
    from PIL import Image

    im = Image.open(shot).convert("L")
    assert im.size == (1000, 2400)
    assert sum(1 for n in im.histogram() if n) > 20, "the screenshot is blank"
    assert _console_messages(run.stderr) == []


@needs_browser
def test_the_console_check_sees_an_error(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><body><script>nope();</script></body>", encoding="utf-8")
    assert _console_messages(_browser(["--dump-dom"], bad.as_uri(), tmp_path).stderr) != []


def test_the_cli_writes_html(tmp_path, capsys):
    out = tmp_path / "p.html"
    problem = ROOT / "tests" / "reporting" / "problems" / "lambda_param.toml"
    assert cli_main(["report", str(problem), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<math" in page and ("λ" in page or "&#x003BB;" in page)
