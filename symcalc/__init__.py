"""symcalc: exact derivatives that are right, readable and fast.

>>> import sympy as sp, symcalc as sc
>>> x, y = sp.symbols("x y")
>>> sc.gradient(x**2 * y, [x, y])
Matrix([
[2*x*y],
[ x**2]])

The public names are listed once, below, with the stage module that defines
each; they are loaded lazily, so ``import symcalc`` stays fast (the command
line's ``--help`` loads neither SymPy nor NumPy): a stage module is imported the
first time one of its names is used. The stage packages are named with nouns
(``symcalc.codegen``, ``symcalc.verification``, ...), so no module shadows a
public function: ``symcalc.compile`` is always the function.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (one line each; keep sorted by module)
_API = {
    # records shared by all stages
    "Rule": "records",
    "Step": "records",
    "Check": "records",
    "Derivation": "records",
    # errors
    "SymcalcError": "errors",
    "InputError": "errors",
    "ShapeError": "errors",
    "NotConservativeError": "errors",
    "NotCriticalError": "errors",
    "NoRuleError": "errors",
    "ParseError": "errors",
    "SelfCheckError": "errors",
    "TeXNotFoundError": "errors",
    "LaTeXBuildError": "errors",
    "ProblemFileError": "errors",
    "BudgetExceededError": "errors",
    # named functions
    "sigmoid": "expr.functions",
    "softplus": "expr.functions",
    "log_sigmoid": "expr.functions",
    "relu": "expr.functions",
    "leaky_relu": "expr.functions",
    "gelu": "expr.functions",
    "heaviside": "expr.functions",
    # derivatives on explicit symbols (and dispatch to the matrix engine)
    "gradient": "derivation.api",
    "hessian": "derivation.api",
    "jacobian": "derivation.api",
    "divergence": "analysis.fields",
    "laplacian": "analysis.fields",
    "curl": "analysis.fields",
    "is_conservative": "analysis.fields",
    "potential": "analysis.fields",
    # the landscape
    "critical_points": "analysis.landscape",
    "classify": "analysis.landscape",
    "descent_rate": "analysis.landscape",
    "Classification": "analysis.landscape",
    "DescentRate": "analysis.landscape",
    "CriticalPoints": "analysis.landscape",
    # vectorization
    "vec": "expr.vectorize",
    "unvec": "expr.vectorize",
    "vech": "expr.vectorize",
    "duplication_matrix": "expr.vectorize",
    "elimination_matrix": "expr.vectorize",
    "commutation_matrix": "expr.vectorize",
    # the derivation engine and the matrix calculus
    "derive": "derivation.walker",
    "symmetric": "expr.structure",
    "positive_definite": "expr.structure",
    "diagonal": "expr.structure",
    "matrix_symbol": "expr.structure",
    "vector": "expr.structure",
    "structure_of": "expr.structure",
    "as_scalar": "expr.structure",
    "elementwise": "expr.structure",
    "hadamard": "expr.structure",
    "hadamard_power": "expr.structure",
    "ones": "expr.structure",
    "sum_entries": "expr.structure",
    "mean": "expr.structure",
    "layer_norm": "expr.structure",
    "dot": "expr.structure",
    "quadratic_form": "expr.structure",
    "norm": "expr.structure",
    "norm_squared": "expr.structure",
    "logsumexp": "expr.structure",
    "softmax": "expr.structure",
    "softmax_cross_entropy": "expr.structure",
    "logistic_loss": "expr.structure",
    "squared_error": "expr.structure",
    "hvp": "derivation.secondorder",
    "gauss_newton": "derivation.secondorder",
    "CommutationMatrix": "derivation.matrix",
    "Vec": "derivation.matrix",
    "symmetrizer": "derivation.matrix",
    "gaussian_logpdf": "expr.densities",
    # verification and parsing
    "verify": "verification.claims",
    "verify_gradient": "verification.claims",
    "verify_hessian": "verification.claims",
    "verify_jacobian": "verification.claims",
    "Verdict": "verification.verdict",
    "check_derivation": "verification.derivation_check",
    "DerivationCheck": "verification.derivation_check",
    "parse": "parsing.parser",
    "parse_latex": "parsing.parser",
    # compilation
    "compile": "codegen.kernels",
    "Kernel": "codegen.explicit_kernel",
    "MatrixKernel": "codegen.matrix_kernel",
    "compile_array_api": "codegen.array_api",
    "lambdify": "codegen.evaluation",
    "ArrayKernel": "codegen.array_api",
    # problem files and reports
    "load_problem": "study.load",
    "Problem": "study.schema",
    "Study": "study.results",
    "text": "printing.text",
    "report": "reporting.build",
    "Report": "reporting.build",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'symcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"symcalc.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
