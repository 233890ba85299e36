"""The families of named scalar functions, one module each; :mod:`symcalc.expr.registry`
collects their ``SPECS``."""
