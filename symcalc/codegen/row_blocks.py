"""Row-blocked batch gradients: the data rows in cache-sized blocks.

The batched gradient of a generalised linear model (logistic regression for 64 weight vectors
over m = 20,000 rows) is ``G = s(W Xᵀ) X`` for an elementwise s: a GEMM, a few elementwise
passes over the B x m array, a GEMM. On a large m those passes stream B x m x 8 bytes from
memory each time. The gradient is a sum over the rows of X, so it can run over blocks of rows:
``G = Σ_b s(W X_bᵀ) X_b`` keeps each block's B x block array in cache between the GEMMs.

:func:`row_blocked` recognises that shape in a generated ``gradient_batch`` function (a first
GEMM ``v0 @ P.T``, then only elementwise statements, whose other arrays are vectors along P's
rows, then ``t @ P``) and writes ``gradient_batch_rows(..., block)``; anything else returns None
and the kernel keeps the unblocked function.

>>> lines = [
...     "def gradient_batch(v0, p0, p1):",
...     "    'doc'",
...     "    t0 = (v0 @ p0.T)",
...     "    t1 = _sigmoid_inplace(t0)",
...     "    t2 = _inplace_binary(_np.subtract, t1, p1)",
...     "    gradient_ = (t2 @ (p0.T).T)",
...     "    return gradient_",
... ]
>>> print("\\n".join(row_blocked(lines, {"p0": ("m", "n"), "p1": ("m",)})[2:8]))
    rows = p0.shape[0]
    out = None
    for start in range(0, rows, block):
        q0 = p0[start : start + block]
        q1 = p1[start : start + block]
        t0 = (v0 @ q0.T)
"""

from __future__ import annotations

import ast
import re

__all__ = ["row_blocked", "ELEMENTWISE_CALLS"]

#: calls an elementwise statement may make (NumPy ufuncs and the kernels' stable helpers)
ELEMENTWISE_CALLS = {
    "_sigmoid",
    "_sigmoid_inplace",
    "_inplace",
    "_inplace_binary",
    "_inplace_binary_right",
    "_np.exp",
    "_np.log",
    "_np.log1p",
    "_np.expm1",
    "_np.tanh",
    "_np.logaddexp",
    "_np.subtract",
    "_np.add",
    "_np.multiply",
    "_np.sqrt",
    "_np.abs",
}

_STATEMENT = re.compile(r"^    (\w+) = (.+)$")


def _elementwise(rhs: str, temps: set, vectors: set) -> bool:
    """True when rhs uses only temporaries, row vectors, numbers, arithmetic and the calls
    of :data:`ELEMENTWISE_CALLS` (no products, no indexing, no reductions)."""
    try:
        tree = ast.parse(rhs, mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if ast.unparse(node.func) not in ELEMENTWISE_CALLS or node.keywords:
                return False
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                return False
        elif isinstance(node, ast.Attribute):
            if not (isinstance(node.value, ast.Name) and node.value.id == "_np"):
                return False
        elif isinstance(node, ast.Name):
            if node.id != "_np" and node.id not in temps | vectors and not _is_call_name(node):
                return False
        elif not isinstance(node, (ast.Expression, ast.UnaryOp, ast.USub, ast.Constant, ast.Load)):
            if not isinstance(node, (ast.operator, ast.unaryop)):
                return False
    return True


def _is_call_name(node) -> bool:
    return node.id in ELEMENTWISE_CALLS


def row_blocked(lines: list[str], shapes: dict) -> list[str] | None:
    """The lines of ``<name>_rows(..., block)`` for a gradient_batch function of the GLM shape,
    or None. ``shapes`` maps each parameter's code name to its declared array shape: the data
    matrix P is 2-D, and the only other arrays the elementwise statements may use are the
    1-D parameters along P's rows (a label vector y)."""
    head, body = lines[:2], lines[2:]
    match = re.fullmatch(r"def (\w+)\((.*)\):", head[0])
    if match is None or len(body) < 3 or not body[-1].startswith("    return gradient_"):
        return None
    name, args = match.groups()
    first = _STATEMENT.match(body[0])
    last = _STATEMENT.match(body[-2])
    if first is None or last is None or last.group(1) != "gradient_":
        return None
    data = re.fullmatch(r"\(v0 @ (p\d+)\.T\)", first.group(2))
    if data is None or len(shapes.get(data.group(1), ())) != 2:
        return None
    P = data.group(1)
    rows = shapes[P][0]
    final = re.fullmatch(rf"\((t\d+) @ (?:\({P}\.T\)\.T|{P})\)", last.group(2))
    if final is None:
        return None
    vectors = {p for p, shape in shapes.items() if tuple(shape) == (rows,)}
    temps = {first.group(1)}
    for line in body[1:-2]:
        statement = _STATEMENT.match(line)
        if statement is None or not re.fullmatch(r"t\d+", statement.group(1)):
            return None
        if not _elementwise(statement.group(2), temps, vectors):
            return None
        temps.add(statement.group(1))
    if final.group(1) not in temps:
        return None
    used = sorted({p for p in vectors if re.search(rf"\b{p}\b", "\n".join(body))} | {P})
    rename = {p: "q" + p[1:] for p in used}

    def sliced(text):
        return re.sub(r"\b(" + "|".join(used) + r")\b", lambda m: rename[m.group(1)], text)

    out = [
        f"def {name}_rows({args}, block):",
        "    'the same, over blocks of the data rows (the gradient is a sum over them).'",
        f"    rows = {P}.shape[0]",
        "    out = None",
        "    for start in range(0, rows, block):",
    ]
    out += [f"        {rename[p]} = {p}[start : start + block]" for p in used]
    out += ["    " + sliced(line) for line in body[:-2]]
    out.append(f"        part = ({final.group(1)} @ {rename[P]})")
    out.append("        if out is None:")
    out.append("            out = part")
    out.append("        else:")
    out.append("            out += part")
    out.append("    return out")
    return out
