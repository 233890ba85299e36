"""The corpus of hand derivations: every line's verdict, the first wrong line, the diagnosis."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from symcalc.verification.derivation_check import check_derivation

CORPUS = tomllib.loads((Path(__file__).parent / "data" / "check_corpus.toml").read_text())[
    "derivation"
]
_WORD = {True: "ok", False: "wrong", None: "undecided"}


def test_the_corpus_is_large_and_mixed():
    assert len(CORPUS) >= 40
    assert sum(1 for d in CORPUS if d["first_wrong"]) >= 15
    assert sum(1 for d in CORPUS if "[" in d.get("wrt", "")) >= 15  # matrix derivations


@pytest.mark.parametrize("case", CORPUS, ids=[d["name"] for d in CORPUS])
def test_derivation(case):
    r = check_derivation(case["lines"], wrt=case.get("wrt"), symbols=case.get("symbols"))
    assert [_WORD[s.holds] for s in r.steps] == case["verdicts"]
    expected = case["first_wrong"] - 1 if case["first_wrong"] else None
    assert r.first_wrong == expected
    if expected is not None:
        step = r.steps[expected]
        assert step.slip == (case["slip"] or None), step.diagnosis
        if case["slip"]:
            assert step.diagnosis
        assert step.counterexample or step.method == "symbolic"
