"""symcalc: exact derivatives that are right, readable and fast.

>>> import sympy as sp, symcalc as sc
>>> x, y = sp.symbols("x y")
>>> sc.gradient(x**2 * y, [x, y])
Matrix([
[2*x*y],
[ x**2]])

The public names are listed in one table, below, with the stage module that
defines each, and spelled out as explicit re-exports for type checkers (the
``TYPE_CHECKING`` block; a test keeps the two equal). They are loaded lazily: even
the core stages import SymPy (a quarter of a second), and ``import symcalc`` and
the command line's ``--help`` load neither SymPy nor NumPy; a stage module is
imported the first time one of its names is used. The stage packages are named with nouns
(``symcalc.codegen``, ``symcalc.verification``, ...), so no module shadows a
public function: ``symcalc.compile`` is always the function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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
    "MultiMatrixKernel": "codegen.multi_kernel",
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

if TYPE_CHECKING:  # the same names, spelled out for type checkers, IDEs and readers
    from symcalc.analysis.fields import curl as curl
    from symcalc.analysis.fields import divergence as divergence
    from symcalc.analysis.fields import is_conservative as is_conservative
    from symcalc.analysis.fields import laplacian as laplacian
    from symcalc.analysis.fields import potential as potential
    from symcalc.analysis.landscape import Classification as Classification
    from symcalc.analysis.landscape import CriticalPoints as CriticalPoints
    from symcalc.analysis.landscape import DescentRate as DescentRate
    from symcalc.analysis.landscape import classify as classify
    from symcalc.analysis.landscape import critical_points as critical_points
    from symcalc.analysis.landscape import descent_rate as descent_rate
    from symcalc.codegen.array_api import ArrayKernel as ArrayKernel
    from symcalc.codegen.array_api import compile_array_api as compile_array_api
    from symcalc.codegen.evaluation import lambdify as lambdify
    from symcalc.codegen.explicit_kernel import Kernel as Kernel
    from symcalc.codegen.kernels import compile as compile
    from symcalc.codegen.matrix_kernel import MatrixKernel as MatrixKernel
    from symcalc.codegen.multi_kernel import MultiMatrixKernel as MultiMatrixKernel
    from symcalc.derivation.api import gradient as gradient
    from symcalc.derivation.api import hessian as hessian
    from symcalc.derivation.api import jacobian as jacobian
    from symcalc.derivation.matrix import CommutationMatrix as CommutationMatrix
    from symcalc.derivation.matrix import Vec as Vec
    from symcalc.derivation.matrix import symmetrizer as symmetrizer
    from symcalc.derivation.secondorder import gauss_newton as gauss_newton
    from symcalc.derivation.secondorder import hvp as hvp
    from symcalc.derivation.walker import derive as derive
    from symcalc.errors import BudgetExceededError as BudgetExceededError
    from symcalc.errors import InputError as InputError
    from symcalc.errors import LaTeXBuildError as LaTeXBuildError
    from symcalc.errors import NoRuleError as NoRuleError
    from symcalc.errors import NotConservativeError as NotConservativeError
    from symcalc.errors import NotCriticalError as NotCriticalError
    from symcalc.errors import ParseError as ParseError
    from symcalc.errors import ProblemFileError as ProblemFileError
    from symcalc.errors import SelfCheckError as SelfCheckError
    from symcalc.errors import ShapeError as ShapeError
    from symcalc.errors import SymcalcError as SymcalcError
    from symcalc.errors import TeXNotFoundError as TeXNotFoundError
    from symcalc.expr.densities import gaussian_logpdf as gaussian_logpdf
    from symcalc.expr.functions import gelu as gelu
    from symcalc.expr.functions import heaviside as heaviside
    from symcalc.expr.functions import leaky_relu as leaky_relu
    from symcalc.expr.functions import log_sigmoid as log_sigmoid
    from symcalc.expr.functions import relu as relu
    from symcalc.expr.functions import sigmoid as sigmoid
    from symcalc.expr.functions import softplus as softplus
    from symcalc.expr.structure import as_scalar as as_scalar
    from symcalc.expr.structure import diagonal as diagonal
    from symcalc.expr.structure import dot as dot
    from symcalc.expr.structure import elementwise as elementwise
    from symcalc.expr.structure import hadamard as hadamard
    from symcalc.expr.structure import hadamard_power as hadamard_power
    from symcalc.expr.structure import layer_norm as layer_norm
    from symcalc.expr.structure import logistic_loss as logistic_loss
    from symcalc.expr.structure import logsumexp as logsumexp
    from symcalc.expr.structure import matrix_symbol as matrix_symbol
    from symcalc.expr.structure import mean as mean
    from symcalc.expr.structure import norm as norm
    from symcalc.expr.structure import norm_squared as norm_squared
    from symcalc.expr.structure import ones as ones
    from symcalc.expr.structure import positive_definite as positive_definite
    from symcalc.expr.structure import quadratic_form as quadratic_form
    from symcalc.expr.structure import softmax as softmax
    from symcalc.expr.structure import softmax_cross_entropy as softmax_cross_entropy
    from symcalc.expr.structure import squared_error as squared_error
    from symcalc.expr.structure import structure_of as structure_of
    from symcalc.expr.structure import sum_entries as sum_entries
    from symcalc.expr.structure import symmetric as symmetric
    from symcalc.expr.structure import vector as vector
    from symcalc.expr.vectorize import commutation_matrix as commutation_matrix
    from symcalc.expr.vectorize import duplication_matrix as duplication_matrix
    from symcalc.expr.vectorize import elimination_matrix as elimination_matrix
    from symcalc.expr.vectorize import unvec as unvec
    from symcalc.expr.vectorize import vec as vec
    from symcalc.expr.vectorize import vech as vech
    from symcalc.parsing.parser import parse as parse
    from symcalc.parsing.parser import parse_latex as parse_latex
    from symcalc.printing.text import text as text
    from symcalc.records import Check as Check
    from symcalc.records import Derivation as Derivation
    from symcalc.records import Rule as Rule
    from symcalc.records import Step as Step
    from symcalc.reporting.build import Report as Report
    from symcalc.reporting.build import report as report
    from symcalc.study.load import load_problem as load_problem
    from symcalc.study.results import Study as Study
    from symcalc.study.schema import Problem as Problem
    from symcalc.verification.claims import verify as verify
    from symcalc.verification.claims import verify_gradient as verify_gradient
    from symcalc.verification.claims import verify_hessian as verify_hessian
    from symcalc.verification.claims import verify_jacobian as verify_jacobian
    from symcalc.verification.derivation_check import DerivationCheck as DerivationCheck
    from symcalc.verification.derivation_check import check_derivation as check_derivation
    from symcalc.verification.verdict import Verdict as Verdict

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
