"""Generated kernels never run user text and never reuse user names (issue 11, findings 1 and 4).

The reproductions first (each failed on main before the fix: code ran, a value was
wrong, or the source did not import), then property tests: random user names
(keywords, builtins, ``np``, ``t0``, ``x0``, ``v0``, quotes, backslashes, every line
break, unicode) for variables, parameters, matrix arguments and sizes. Every
generated source must parse, contain only generator-owned identifiers (checked
token by token), run no user text, and agree with SymPy / NumPy at random points.
"""

from __future__ import annotations

import importlib
import io
import keyword
import re
import tokenize

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc as sc
from symcalc.codegen.array_api import compile_array_api
from symcalc.errors import InputError, ProblemFileError, SymcalcError
from symcalc.expr.structure import logistic_loss, norm_squared

compile_module = importlib.import_module(
    "symcalc.codegen.kernels"
)  # the module (sc.compile is the function)

LINE_BREAKS = ["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
RNG = np.random.default_rng(11)


# ---------------------------------------------------------------------------
# What generated code may contain
# ---------------------------------------------------------------------------
# the generator's own identifiers: argument, output and local names of the kernel functions,
# the helpers and the batch-first convenience API (none comes from the user)
_FIXED_NAMES = {
    "_np",
    "numpy",
    "xp",
    "xs",
    "zero",
    "out",
    "out_value",
    "out_gradient",
    "out_hessian",
    "value",
    "gradient",
    "hessian",
    "value_and_gradient",
    "value_gradient_hessian",
    "value_batch",  # matrix form: the same functions for a batch of the variable
    "gradient_batch",
    "hessian_batch",
    "value_and_gradient_batch",
    "value_gradient_hessian_batch",
    "optimize",
    "value_",
    "gradient_",
    "hessian_",
    "f",
    "grad",
    "hess",
    "N_VARIABLES",
    "_prepare",
    "x",
    "params",
    "p",
    "dtype",
    "batch",
    "copy",
    "axis",
    "axis1",
    "axis2",
    "_sigmoid",
    "_logsumexp",
    "_logsumexp_vec",
    "_gram",
    "_logdet_chol",
    "_diag",
    "_fill",
    "z",
    "e",
    "m",
    "t",
    "a",
    "v",
    "_",
    "terms",
    "total",
    "sum",
    "ValueError",
    "None",
    "True",
    "False",
    # matrix-form kernels (codegen.inplace, row_blocks, vec_lowering, the batched helpers)
    "_sigmoid_inplace",
    "_inplace",
    "_inplace_binary",
    "_inplace_binary_right",
    "_commutation",
    "_logsumexp_rows",
    "_softmax_hessian",
    "_softmax_hessian_rows",
    "gradient_batch_rows",
    "b",
    "block",
    "h",
    "i",
    "j",
    "k",
    "n",
    "eye",
    "top",
    "rest",
    "indexing",
    "keepdims",
    "over",
    "part",
    "q0",
    "q1",
    "q2",
    "q3",
    "range",
    "rows",
    "start",
    "type",
}
# generator-numbered names: variables v0, parameters p0, sizes d0, temporaries t0, power-ladder
# bases tb0 and ladder steps v0_p3 / t2_m2 / p1_inv
_NUMBERED = re.compile(r"(?:[vpdt]|tb)\d+(?:_(?:[pm]\d+|inv))?")


def generator_owned(name: str) -> bool:
    return name in _FIXED_NAMES or keyword.iskeyword(name) or bool(_NUMBERED.fullmatch(name))


def assert_safe_source(source: str) -> None:
    """source parses, and every identifier in it (outside comments and string literals)
    is the generator's own; attributes (after a '.') are NumPy's / the namespace's."""
    compile(source, "<kernel>", "exec")  # valid Python (ast.parse and the byte compiler)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for prev, tok in zip([None] + tokens, tokens):
        if tok.type != tokenize.NAME:
            continue
        if prev is not None and prev.type == tokenize.OP and prev.string == ".":
            assert tok.string.isidentifier() and tok.string.isascii(), tok
            continue
        assert generator_owned(tok.string), f"identifier {tok.string!r} at line {tok.start[0]}"
    # every line break in the file is a real newline (no \r or \u2028 can split a comment)
    assert not any(ch in source for ch in LINE_BREAKS if ch != "\n")


def sentinel_code(path) -> str:
    return f"__import__('pathlib').Path({str(path)!r}).touch()"


# ---------------------------------------------------------------------------
# Reproductions (finding 4: user names reused in generated code)
# ---------------------------------------------------------------------------
def test_a_symbol_named_def_does_not_collide_with_a_real_x0():
    d, x0 = sp.Symbol("def"), sp.Symbol("x0")
    k = sc.compile(10 * d + x0, [d, x0])  # def was renamed x0 and read the real x0 (11, not 31)
    assert float(k.value(np.array([3.0, 1.0]))) == 31.0
    np.testing.assert_array_equal(k.gradient(np.array([3.0, 1.0])), [10.0, 1.0])
    assert_safe_source(k.source)


def _labels_t0_problem():
    X = sc.matrix_symbol("X", "m", "n")
    w, t0 = sc.vector("w", "n"), sc.vector("t0", "m")
    Xn = RNG.normal(size=(6, 3))
    tn = (RNG.random(6) > 0.5).astype(float)
    wn = RNG.normal(size=3)
    z = Xn @ wn
    value = np.sum(np.logaddexp(0, z)) - tn @ z
    gradient = Xn.T @ (1 / (1 + np.exp(-z)) - tn)
    return logistic_loss(X, w, t0), w, [X, t0], (wn, Xn, tn), value, gradient


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_a_vector_named_t0_does_not_collide_with_a_cse_temporary(backend):
    f, w, params, args, value, gradient = _labels_t0_problem()
    k = sc.compile(f, w, params=params, backend=backend)  # the temporary t0 = X @ w overwrote t0
    v, g = k.value_and_gradient(*args)
    assert np.isclose(float(k.value(*args)), value, rtol=1e-12)
    assert np.isclose(float(v), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), gradient, rtol=1e-12, atol=1e-14)
    assert_safe_source(k.source)


@pytest.mark.parametrize("name", ["np", "lambda", "_np", "xs", "out", "value", "t0"])
def test_a_parameter_may_be_named_like_numpy_a_keyword_or_a_generator_name(name):
    x = sp.Symbol("x")
    lam = sp.Symbol(name, positive=True)
    k = sc.compile(
        lam * sp.exp(x) + x**2, [x], params=[lam]
    )  # np shadowed NumPy, lambda a SyntaxError
    assert np.isclose(float(k.value(np.array([1.0]), 2.0)), 2 * np.e + 1)
    assert_safe_source(k.source)
    ka = compile_array_api(lam * sp.exp(x) + x**2, [x], params=[lam])
    assert np.isclose(float(ka.value(np.array([1.0]), 2.0)), 2 * np.e + 1)
    assert_safe_source(ka.source)


@pytest.mark.parametrize("name", ["np", "lambda", "_np", "xp", "t0"])
@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_a_matrix_form_penalty_may_be_named_np_or_lambda(name, backend):
    X = sc.matrix_symbol("X", "m", "n")
    w, y = sc.vector("w", "n"), sc.vector("y", "m")
    lam = sp.Symbol(name, positive=True)
    k = sc.compile(
        logistic_loss(X, w, y) + lam * norm_squared(w), w, params=[X, y, lam], backend=backend
    )
    Xn, yn, wn = RNG.normal(size=(5, 3)), (RNG.random(5) > 0.5) * 1.0, RNG.normal(size=3)
    z = Xn @ wn
    expected = np.sum(np.logaddexp(0, z)) - yn @ z + 0.3 * wn @ wn
    assert np.isclose(float(k.value(wn, Xn, yn, 0.3)), expected, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(k.gradient(wn, Xn, yn, 0.3)),
        Xn.T @ (1 / (1 + np.exp(-z)) - yn) + 0.6 * wn,
        rtol=1e-12,
    )
    assert_safe_source(k.source)


# ---------------------------------------------------------------------------
# Reproductions (finding 1: user text ran as code)
# ---------------------------------------------------------------------------
def _three_kernels(f_scalar, wrt, title):
    """The same title through the NumPy, matrix-form and array-API generators."""
    X = sc.matrix_symbol("X", "m", "n")
    w, y = sc.vector("w", "n"), sc.vector("y", "m")
    return [
        sc.compile(f_scalar, wrt, name=title),
        sc.compile(logistic_loss(X, w, y), w, params=[X, y], name=title),
        compile_array_api(f_scalar, wrt, name=title),
        compile_array_api(logistic_loss(X, w, y), w, params=[X, y], name=title),
    ]


def test_a_title_with_triple_quotes_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = sp.Symbol("x")
    title = '"""; import os; os.system("touch SENTINEL"); """'
    title2 = f"'''; {sentinel_code(tmp_path / 'SENTINEL2')}; '''"
    for t in (title, title2):
        for k in _three_kernels(x**2, [x], t):
            assert k.module.__doc__.splitlines()[0] == t  # the title, verbatim, as data
            assert_safe_source(k.source)
    assert not (tmp_path / "SENTINEL").exists() and not (tmp_path / "SENTINEL2").exists()


@pytest.mark.parametrize(
    "title", ["bad \\x escape", "\\N{oops}", "ends with a backslash \\", "\x00 nul"]
)
def test_a_title_with_backslash_escapes_is_kept_verbatim(title):
    x = sp.Symbol("x")
    for k in _three_kernels(x**2, [x], title):  # \x made the docstring invalid (a SyntaxError)
        assert k.module.__doc__.splitlines()[0] == title.split("\n")[0]
        assert_safe_source(k.source)


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_line_break_then_code_in_a_name_or_title_runs_nothing(brk, tmp_path):
    sentinel = tmp_path / "SENTINEL"
    payload = f"x{brk}    {sentinel_code(sentinel)}  #"
    v = sp.Symbol(payload)  # the name reaches the per-entry comments (# df/d<name>)
    a = sp.Symbol(f"a{brk}{sentinel_code(sentinel)}")
    f = a * v**2 + sp.exp(v)
    ks = [
        sc.compile(f, [v], params=[a], name=payload),
        sc.compile(f, [v], params=[a], backend="native", name=payload),
        compile_array_api(f, [v], params=[a], name=payload),
    ]
    X = sp.MatrixSymbol(
        f"X{brk}{sentinel_code(sentinel)}", sp.Symbol("m", integer=True, positive=True), 2
    )
    w = sp.MatrixSymbol(payload, 2, 1)
    y = sp.MatrixSymbol("y", X.shape[0], 1)
    ks += [
        sc.compile(logistic_loss(X, w, y), w, params=[X, y], name=payload),
        compile_array_api(logistic_loss(X, w, y), w, params=[X, y], name=payload),
    ]
    for k in ks:
        assert_safe_source(k.source)
    for k in ks[:3]:
        assert np.isclose(float(k.value(np.array([1.0]), 2.0)), 2 + np.e)
        assert np.isclose(float(np.asarray(k.gradient(np.array([1.0]), 2.0)).ravel()[0]), 4 + np.e)
    Xn, yn = np.eye(3, 2), np.array([1.0, 0.0, 1.0])
    for k in ks[3:]:
        assert np.isclose(float(k.value(np.zeros(2), Xn, yn)), 3 * np.log(2))
    assert not sentinel.exists()


def test_the_kernel_file_name_carries_no_user_text(tmp_path):
    w = sp.MatrixSymbol("../../escaped", 2, 1)
    k = sc.compile(norm_squared(w), w)
    assert k.path.parent == compile_module.cache_dir() and "escaped" not in k.path.name
    assert np.isclose(float(k.value(np.array([1.0, 2.0]))), 5.0)


# ---------------------------------------------------------------------------
# Precomputed derivatives: never sympified from text, no symbol outside wrt / params
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_given_derivatives_as_text_are_refused_not_evaluated(backend, tmp_path):
    x = sp.Symbol("x")
    payload = sentinel_code(tmp_path / "SENTINEL")
    with pytest.raises(TypeError, match=r"gradient\[0\] is a string"):
        sc.compile(x**2, [x], gradient=[payload], hessian=[[2]], backend=backend)
    with pytest.raises(TypeError, match=r"hessian\[0\]\[0\] is a string"):
        sc.compile(x**2, [x], gradient=[2 * x], hessian=[[payload]], backend=backend)
    w = sc.vector("w", "n")
    with pytest.raises(TypeError, match="gradient is a string"):
        sc.compile(norm_squared(w), w, gradient=payload, backend=backend)
    assert not (tmp_path / "SENTINEL").exists()


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_given_derivatives_with_unknown_symbols_are_refused(backend):
    x, t0 = (
        sp.Symbol("x"),
        sp.Symbol("t0"),
    )  # t0 would have been printed as is, beside the temporary t0
    with pytest.raises(InputError, match="the given gradient / hessian contains t0"):
        sc.compile(x**2, [x], gradient=[2 * x + t0], hessian=[[2]], backend=backend)
    w, z = sc.vector("w", "n"), sc.vector("t0", "n")
    with pytest.raises(InputError, match="the given gradient contains t0"):
        sc.compile(norm_squared(w), w, gradient=2 * w + z, backend=backend)


def test_the_kernel_printer_prints_no_name_but_the_generators():
    printer = compile_module._kernel_printer()
    assert printer.doprint(sp.Symbol("v0") + sp.Symbol("t3_p2")) in ("v0 + t3_p2", "t3_p2 + v0")
    with pytest.raises(SymcalcError, match="has no code name"):
        printer.doprint(sp.Symbol("__import__('os')") + 1)


# ---------------------------------------------------------------------------
# The loader checks every module before it is written or imported
# ---------------------------------------------------------------------------
def test_the_loader_refuses_invalid_source_before_writing_it():
    source = "def value(xs, out):\n    return out[\n"
    before = set(compile_module.cache_dir().iterdir())
    with pytest.raises(
        SymcalcError, match="internal error: the generated kernel source is not valid Python"
    ):
        compile_module._load_source(source, "broken")
    assert set(compile_module.cache_dir().iterdir()) == before
    with pytest.raises(SymcalcError, match="not valid Python"):
        compile_module._load_source("x = 1\0", "nul")
    with pytest.raises(SymcalcError, match="not valid Python.*UTF-8"):
        compile_module._load_source("x = 1  # \ud800\n", "surrogate")
    with pytest.raises(SymcalcError, match="stem"):
        compile_module._load_source("x = 1\n", "../evil")


# ---------------------------------------------------------------------------
# out= that aliases an input
# ---------------------------------------------------------------------------
def test_out_sharing_memory_with_an_input_is_refused_and_a_separate_out_works():
    x, y = sp.symbols("x y")
    k = sc.compile(x**2 * y + 3 * y, [x, y], params=[])
    Q = np.array([[1.0, 2.0], [3.0, -1.0]])
    expected = np.stack([2 * Q[:, 0] * Q[:, 1], Q[:, 0] ** 2 + 3], axis=-1)
    with pytest.raises(InputError, match="out shares memory with x"):
        k.gradient(Q, out=Q)  # used to zero-fill Q before reading it
    np.testing.assert_array_equal(Q, [[1.0, 2.0], [3.0, -1.0]])  # untouched
    big = np.zeros((2, 2, 2))
    with pytest.raises(InputError, match="out shares memory with x"):
        k.hessian(big[:, :, 0], out=big)  # a view of the same buffer
    out = np.empty_like(Q)
    assert k.gradient(Q, out=out) is out
    np.testing.assert_allclose(out, expected)
    kn = sc.compile(x**2 * y + 3 * y, [x, y], backend="native")
    with pytest.raises(InputError, match="out shares memory with x"):
        kn.gradient(Q, out=Q)
    a = sp.Symbol("a")
    kp = sc.compile(a * x**2, [x], params=[a])
    P = np.ones((4, 1))
    with pytest.raises(InputError, match="out shares memory with parameter a"):
        kp.gradient(np.ones((4, 1)), P[:, 0], out=P)  # the parameter is a view of out


# ---------------------------------------------------------------------------
# Property tests: random user names
# ---------------------------------------------------------------------------
_NASTY = (
    [
        "np",
        "_np",
        "numpy",
        "xp",
        "xs",
        "zero",
        "out",
        "out_value",
        "value",
        "gradient",
        "f",
        "grad",
        "N_VARIABLES",
        "_prepare",
        "_sigmoid",
        "t0",
        "t1",
        "tb0",
        "x0",
        "x1",
        "v0",
        "v1",
        "p0",
        "p1",
        "d0",
        "v0_p3",
        "t0_inv",
        "print",
        "sum",
        "exec",
        "__import__",
        "__builtins__",
        "len",
        "e",
        "m",
        "a'b",
        'a"b',
        '"""',
        "'''",
        "\\",
        "\\x",
        "\\N",
        "a b",
        "1x",
        "x-y",
        "θ",
        "α_1",
        "名前",
        "\ud800",
        "#",
        "x#y",
        "\x00",
        "\t",
    ]
    + list(keyword.kwlist)
    + [f"x{brk}    __import__('os')._exit(3)  #" for brk in LINE_BREAKS]
)
_names = st.one_of(st.sampled_from(_NASTY), st.text(min_size=1, max_size=6))


def _reference(expr, point):
    return float(sp.N(expr.xreplace(point), 30))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(_names, min_size=3, max_size=4, unique=True),
    n_vars=st.integers(min_value=1, max_value=2),
    seed=st.integers(0, 2**16),
)
def test_random_names_explicit_kernels_match_sympy(names, n_vars, seed):
    syms = [sp.Symbol(nm, real=True) for nm in names]
    wrt, params = syms[: n_vars + 1], syms[n_vars + 1 :]
    v = wrt
    p = params[0] if params else sp.Integer(2)
    f = (
        p * v[0] ** 2 * v[-1]
        + sp.sin(v[0] * v[-1])
        + sp.exp(-(v[-1] ** 2) / 4)
        + sp.log(1 + sp.exp(v[0]))
        + (v[0] - v[-1]) ** 3
    )
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=len(wrt))
    pv = [float(rng.uniform(0.5, 2.0)) for _ in params]
    point = {s: sp.Float(float(c), 30) for s, c in zip(wrt + params, list(x) + pv)}
    value = _reference(f, point)
    grad = [_reference(sp.diff(f, s), point) for s in wrt]
    hess = [[_reference(sp.diff(f, a, b), point) for b in wrt] for a in wrt]
    kernels = [
        sc.compile(f, wrt, params=params, name=" ".join(names)),
        compile_array_api(f, wrt, params=params, name=" ".join(names)),
    ]
    if seed % 4 == 0:  # the LLVM backend compiles slowly: a quarter of the examples
        kernels.append(sc.compile(f, wrt, params=params, backend="native"))
    for k in kernels:
        assert_safe_source(k.source)
        assert np.isclose(float(k.value(x, *pv)), value, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(k.gradient(x, *pv)), grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(k.hessian(x, *pv)), hess, rtol=1e-10, atol=1e-12)
        vg = k.value_and_gradient(x, *pv)
        assert np.isclose(float(vg[0]), value, rtol=1e-10, atol=1e-12)
    module = kernels[0].module  # the standalone batch-first API of the module
    np.testing.assert_allclose(module.grad(x[None, :], *pv)[0], grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(module.hess(x, *pv), hess, rtol=1e-10, atol=1e-12)


def _penalized_logistic(m_name, n_name, x_name, w_name, y_name, lam_name):
    m = sp.Symbol(m_name, integer=True, positive=True)
    n = sp.Symbol(n_name, integer=True, positive=True)
    X, w, y = (
        sp.MatrixSymbol(x_name, m, n),
        sp.MatrixSymbol(w_name, n, 1),
        sp.MatrixSymbol(y_name, m, 1),
    )
    lam = sp.Symbol(lam_name, positive=True)
    return logistic_loss(X, w, y) + lam * norm_squared(w), w, [m, n, X, w, y, lam]


_PLAIN = _penalized_logistic("m", "n", "X", "w", "y", "lam")
_PLAIN_DERIVATIVES = []  # (gradient, Hessian) of _PLAIN, derived once (the matrix engine takes ~1 s)


def _derivatives_renamed(symbols):
    """The matrix derivatives of _PLAIN with its symbols replaced by `symbols` (sizes first)."""
    from symcalc.derivation import api as calculus

    if not _PLAIN_DERIVATIVES:
        f, w, _ = _PLAIN
        _PLAIN_DERIVATIVES.extend([calculus.gradient(f, w), calculus.hessian(f, w)])
    plain = _PLAIN[2]
    sizes = dict(zip(plain[:2], symbols[:2]))
    swap = {**sizes, **{a: b for a, b in zip(plain[2:], symbols[2:])}}
    return [d.xreplace(swap) for d in _PLAIN_DERIVATIVES]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(_names, min_size=6, max_size=6, unique=True), seed=st.integers(0, 2**16))
def test_random_names_matrix_kernels_match_numpy(names, seed):
    f, w, symbols = _penalized_logistic(*names)
    _, _, X, _, y, lam = symbols
    G, H = _derivatives_renamed(
        symbols
    )  # derivation is not under test here: the code generators are
    rng = np.random.default_rng(seed)
    Xn, yn, wn, lv = rng.normal(size=(7, 3)), (rng.random(7) > 0.5) * 1.0, rng.normal(size=3), 0.7
    z = Xn @ wn
    s = 1 / (1 + np.exp(-z))
    value = np.sum(np.logaddexp(0, z)) - yn @ z + lv * wn @ wn
    grad = Xn.T @ (s - yn) + 2 * lv * wn
    hess = Xn.T @ (Xn * (s * (1 - s))[:, None]) + 2 * lv * np.eye(3)
    for k in (
        sc.compile(f, w, params=[X, y, lam], gradient=G, hessian=H, name=" ".join(names)),
        compile_array_api(f, w, params=[X, y, lam], gradient=G, hessian=H, name=" ".join(names)),
    ):
        assert_safe_source(k.source)
        assert np.isclose(float(k.value(wn, Xn, yn, lv)), value, rtol=1e-12)
        np.testing.assert_allclose(
            np.asarray(k.gradient(wn, Xn, yn, lv)), grad, rtol=1e-11, atol=1e-13
        )
        np.testing.assert_allclose(
            np.asarray(k.hessian(wn, Xn, yn, lv)), hess, rtol=1e-11, atol=1e-13
        )
        v, g = k.value_and_gradient(wn, Xn, yn, lv)
        assert np.isclose(float(v), value, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g), grad, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------------
# The same through a problem file (the runner compiles with name=<title>)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("notation", ["components", "matrix"])
def test_a_hostile_problem_title_and_latex_key_run_nothing_through_the_kernel_analysis(
    notation, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL2"
    if notation == "components":
        body = (
            'objective = "lambda*x^2 + y*x"\n[variables]\n'
            f'x = {{ latex = "x\\r    {sentinel_code(sentinel)}  #" }}\ny = {{}}\n'
        )
    else:
        body = (
            'notation = "matrix"\nobjective = "(X*w - y).T*(X*w - y) + lambda*w.T*w"\n[variables]\n'
            f'w = {{ shape = [2], latex = "w\\r    {sentinel_code(sentinel)}  #" }}\n'
            "[constants]\nX = { shape = [3, 2] }\ny = { shape = [3] }\n"
        )
    text = (
        'title = \'"""; import os; os.system("touch SENTINEL"); """\'\n'
        'analyses = ["gradient", "kernel"]\n'
        + body
        + ("[constants]\n" if notation == "components" else "")
        + "lambda = { value = 0.5 }\n"
    )
    # a latex key with a line break is refused when the file is read (texsafe's allow-list) ...
    with pytest.raises(ProblemFileError, match="latex"):
        sc.load_problem(text)
    assert not sentinel.exists()
    # ... and the hostile title alone goes through the kernel analysis as data
    study = sc.load_problem(text.replace("\\r    " + sentinel_code(sentinel) + "  #", "")).run()
    assert study.kernel_source is not None, study.notes
    assert_safe_source(study.kernel_source)
    assert not (tmp_path / "SENTINEL").exists() and not sentinel.exists()
