"""Printers: LaTeX, symcalc's text notation, escaping of user text."""
