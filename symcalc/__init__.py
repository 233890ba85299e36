"""symcalc: exact derivatives that are right, readable and fast.

>>> import sympy as sp, symcalc as sc
>>> x, y = sp.symbols("x y")
>>> sc.gradient(x**2 * y, [x, y])
Matrix([
[2*x*y],
[ x**2]])

The public names are loaded lazily, so ``import symcalc`` stays fast: a stage
module (compile, report, verify, ...) is imported the first time one of its
names is used.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> module that defines it (one line each; keep sorted by module)
_API = {
    # records shared by all stages
    "Rule": "core", "Step": "core", "Check": "core", "Derivation": "core",
    # errors
    "SymcalcError": "errors", "InputError": "errors", "ShapeError": "errors",
    "NotConservativeError": "errors", "NotCriticalError": "errors", "NoRuleError": "errors",
    "ParseError": "errors", "SelfCheckError": "errors", "TeXNotFoundError": "errors",
    "LaTeXBuildError": "errors", "ProblemFileError": "errors",
    # named functions
    "sigmoid": "functions", "softplus": "functions",
    # calculus on explicit symbols (and dispatch to the matrix engine)
    "gradient": "calculus", "hessian": "calculus", "jacobian": "calculus",
    "divergence": "calculus", "laplacian": "calculus", "curl": "calculus",
    "is_conservative": "calculus", "potential": "calculus",
    # the landscape
    "critical_points": "landscape", "classify": "landscape", "descent_rate": "landscape",
    "Classification": "landscape", "DescentRate": "landscape", "CriticalPoints": "landscape",
    # vectorization
    "vec": "vectorize", "unvec": "vectorize", "vech": "vectorize",
    "duplication_matrix": "vectorize", "elimination_matrix": "vectorize",
    "commutation_matrix": "vectorize",
    # the derivation engine and the matrix calculus
    "derive": "derive",
    "symmetric": "structure", "positive_definite": "structure", "diagonal": "structure",
    "matrix_symbol": "structure", "vector": "structure", "structure_of": "structure",
    "as_scalar": "structure", "elementwise": "structure", "hadamard": "structure",
    "hadamard_power": "structure", "ones": "structure", "sum_entries": "structure",
    "dot": "structure", "quadratic_form": "structure", "norm": "structure",
    "norm_squared": "structure", "logsumexp": "structure", "softmax": "structure",
    "softmax_cross_entropy": "structure", "logistic_loss": "structure", "squared_error": "structure",
    "CommutationMatrix": "matrix_calculus", "Vec": "matrix_calculus", "symmetrizer": "matrix_calculus",
    "gaussian_logpdf": "densities",
    # verification and parsing
    "verify": "verify", "verify_gradient": "verify", "verify_hessian": "verify",
    "verify_jacobian": "verify", "Verdict": "verify",
    "parse": "parse", "parse_latex": "parse",
    # compilation
    "compile": "compile", "Kernel": "compile", "MatrixKernel": "compile",
    "compile_array_api": "array_api", "ArrayKernel": "array_api",
    # problem files and reports
    "load_problem": "problem", "Problem": "problem", "Study": "problem",
    "text": "text",
    "report": "report", "Report": "report",
}

__all__ = sorted(_API) + ["__version__"]


class _Package(types.ModuleType):
    """Keeps ``symcalc.compile`` (and derive, verify, parse, report) the *function*.

    Importing the stage module ``symcalc.compile`` makes Python set the package
    attribute ``compile`` to the module; for the stage modules named after their
    main function, the function is stored instead. (``importlib.import_module``
    still returns the module.)
    """

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _API.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'symcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"symcalc.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
