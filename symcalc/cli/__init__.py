"""The symcalc command: ``symcalc derive | verify | compile | report`` (see docs/cli.md)."""

from symcalc.cli.entry import main

__all__ = ["main"]
