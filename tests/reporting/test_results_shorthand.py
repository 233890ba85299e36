"""Issue 16 follow-ups: the results section reads as the chain above it, and margin notes are
shown in full (wrapped, never elided with "...")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import symcalc as sc
from symcalc.reporting.chain import chain_lines
from symcalc.reporting.context import study_context

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["logistic_regression", "softmax_regression", "least_squares", "ridge", "score_matching"]


@pytest.fixture(scope="module")
def contexts():
    out = {}
    for name in EXAMPLES:
        study = sc.load_problem(ROOT / "examples" / f"{name}.toml").run()
        out[name] = (study, study_context(study, False, None, lambda m: None)[0])
    return out


def _final(ctx: dict, title: str) -> str:
    chain = next(c for c in ctx["chains"] if c["title"] == title)
    return str(chain["rows"][-1]["rhs"])


def test_the_logistic_hessian_reads_the_same_in_the_chain_and_the_results(contexts):
    _, ctx = contexts["logistic_regression"]
    hessian = next(r for r in ctx["results"] if r["title"] == "Hessian")
    in_chain = _final(ctx, "Hessian")
    assert r"\operatorname{diag}\left(y \odot y \odot s\right)" in in_chain
    assert in_chain in str(hessian["display"])
    assert "U_{1}" not in str(hessian["display"]) and "diag}\\left(- y" not in str(
        hessian["display"]
    )
    assert "$s$" in str(hessian["words"])  # the name is said to come from the derivation


@pytest.mark.parametrize("name", ["logistic_regression", "least_squares", "ridge"])
def test_every_result_is_the_last_line_of_its_chain(contexts, name):
    _, ctx = contexts[name]
    for r in ctx["results"]:
        if any(c["title"] == r["title"] for c in ctx["chains"]):
            assert _final(ctx, r["title"]) in str(r["display"]), r["title"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_margin_notes_are_never_elided(contexts, name):
    _, ctx = contexts[name]
    rules = [r["rule"] for c in ctx["chains"] for r in c["rows"] if r["rule"]]
    assert rules and not any("..." in r or "…" in r for r in rules)


def test_a_margin_note_names_every_rule_and_reference_of_its_steps(contexts):
    study, ctx = contexts["logistic_regression"]
    first = ctx["chains"][0]["rows"][1]["rule"]
    for words in ("constant factors", "chain through elementwise softplus", "trace is linear"):
        assert words in first
    for ref in ("MC (34)", "MC (38)", "MC (36)"):
        assert ref in first


def test_a_long_margin_note_wraps_in_the_pdf_macro_and_keeps_references_whole():
    body = chain_lines(
        [dict(lhs="f", rhs="x", rule="a, b, c, d, e, f, g; MC (34), MN T. 9.2")], set()
    )
    assert r"\rulenote a, b, c, d, e, f, g; MC" in body and r"\endrulenote}" in body
    assert "MC\u00a0(34)" in body and "MN\u00a0T.\u00a09.2" in body


def test_the_html_page_shows_the_full_margin_note():
    page = sc.report(ROOT / "examples" / "logistic_regression.toml").to_html()
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())  # the note's lines, read in order
    assert "chain through elementwise softplus, trace is linear; MC (34), MC (38), MC (36)" in words
    assert "rulenote" not in page and "..." not in words
