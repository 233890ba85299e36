"""Rules of the loss landscape: the descent identity and the second-derivative test.

One record each; ``symcalc.analysis.landscape`` applies them and records them as steps,
the report prints them.

>>> from symcalc.rules.landscape import LANDSCAPE_RULES
>>> LANDSCAPE_RULES["gradient_flow"].title
'Gradient flow'
"""

from __future__ import annotations

from symcalc.records import Rule
from symcalc.rules.table import RuleTable

LANDSCAPE_RULES = RuleTable("landscape", "gradient flow and critical points")

LANDSCAPE_RULES.add(
    Rule(
        "chain_rule_along_path",
        "Chain rule along a path",
        r"\frac{\mathrm{d}}{\mathrm{d}t} L(\mathbf{x}(t)) = \sum_i \frac{\partial L}{\partial x_i}\,"
        r"\dot x_i = \nabla L^\top \dot{\mathbf{x}}",
        "chain",
    )
)
LANDSCAPE_RULES.add(
    Rule("gradient_flow", "Gradient flow", r"\dot{\mathbf{x}} = -\nabla L(\mathbf{x})", "theorem")
)
LANDSCAPE_RULES.add(
    Rule(
        "descent_identity",
        "Descent identity",
        r"\frac{\mathrm{d}L}{\mathrm{d}t} = \nabla L^\top(-\nabla L) = -\lVert\nabla L\rVert^2 \le 0",
        "theorem",
    )
)
LANDSCAPE_RULES.add(
    Rule(
        "stationarity",
        "First-order condition",
        r"\nabla L(\mathbf{x}^\ast) = \mathbf{0}",
        "theorem",
    )
)
LANDSCAPE_RULES.add(
    Rule(
        "second_derivative_test",
        "Second-derivative test",
        r"H \succ 0 \Rightarrow \text{minimum},\; H \prec 0 \Rightarrow \text{maximum},\;"
        r"\text{eigenvalues of both signs} \Rightarrow \text{saddle},\; \text{otherwise degenerate}",
        "theorem",
    )
)
