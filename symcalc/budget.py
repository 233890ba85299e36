"""Time budgets: every entry point that reads user input stops at its budget.

A budget is enforced *in the calling thread*: when time is up, a watchdog timer
raises an exception inside the thread that is doing the work (between two Python
bytecodes, as ``KeyboardInterrupt`` would), the work unwinds, and the call raises
:class:`~symcalc.errors.BudgetExceededError`. Nothing runs on after the call
returns: there is no worker thread left computing, and the watchdog is cancelled
when the block ends.

>>> import time
>>> from symcalc.budget import within
>>> from symcalc.errors import BudgetExceededError
>>> try:
...     with within(0.2, "a busy loop"):
...         while True:
...             pass
... except BudgetExceededError as exc:
...     print(exc)
a busy loop took longer than its budget of 0.2 s (pass budget=... to allow more)
>>> with within(None, "no limit"):   # None: no budget
...     1 + 1
2

Budgets nest: an inner block never outlives the block around it (it gets the
smaller of its own budget and what is left of the outer one).

Limits: code that spends a long time inside one C call (a SymEngine LLVM
compilation, one BLAS call) is interrupted when that call returns; an import in
progress is never interrupted (the interrupt comes when it has finished). The default
budgets (:data:`DEFAULT_BUDGETS`) are generous for real work and listed in
``docs/security.md``.
"""

from __future__ import annotations

import _thread
import ctypes
import functools
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable

from symcalc.errors import BudgetExceededError, InputError, SymcalcError

__all__ = ["within", "remaining", "budgeted", "DEFAULT_BUDGETS", "BudgetExceededError"]

#: Seconds each public entry point may take by default (``budget=None`` lifts the limit).
DEFAULT_BUDGETS: dict[str, float] = {
    "parse": 10.0,
    "gradient": 300.0,
    "hessian": 300.0,
    "jacobian": 300.0,
    "derive": 300.0,
    "divergence": 300.0,
    "laplacian": 300.0,
    "curl": 300.0,
    "is_conservative": 300.0,
    "potential": 300.0,
    "descent_rate": 300.0,
    "critical_points": 10.0,
    "classify": 5.0,  # exact eigenvalues; numeric ones after this
    "compile": 600.0,
    "load_problem": 60.0,
    "Problem.run": 1800.0,
    "report": 1800.0,
    "verify": 60.0,
}

#: After the deadline, the watchdog raises again this often (seconds) in case library code
#: swallowed the first interrupt (a bare ``except:``).
_REPEAT = 0.05


class _Expired(BaseException):
    """Raised inside the working thread at its deadline.

    A BaseException (like KeyboardInterrupt), so that library code's
    ``except Exception`` does not swallow it; turned into
    BudgetExceededError where the budget's block ends.
    """


_state = threading.local()


def _forget_deadlines_after_fork() -> None:
    """In a forked child: the parent's deadlines have no watchdog here; drop them."""
    _state.stack = []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_deadlines_after_fork)
_DEFAULT = object()


def _stack() -> list[_Deadline]:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


def _raise_in(thread_id: int) -> None:
    _quiet_unraisable()
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(_Expired)
    )


def _importing(thread_id: int) -> bool:
    """Whether the thread is running an import (a module interrupted half-way stays broken:
    ``symengine`` imported under a too-small budget failed every later import)."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class _DropExpired:
    """sys.unraisablehook that drops an interrupt delivered inside a __del__ or weakref
    callback (Python prints those as "Exception ignored in ..." with a traceback); the
    watchdog raises again _REPEAT seconds later, where it is not ignored."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, unraisable) -> None:
        if not isinstance(unraisable.exc_value, _Expired):
            self.inner(unraisable)


def _quiet_unraisable() -> None:
    if not isinstance(sys.unraisablehook, _DropExpired):
        sys.unraisablehook = _DropExpired(sys.unraisablehook)


def _clear_pending(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


class _Deadline:
    """One budgeted block of one thread: its deadline and its watchdog.

    The watchdog is a low-level thread (``_thread``), not a ``threading.Thread``: it is
    not counted by ``threading.active_count()``, so code that forks only while the
    process has one thread (verify's isolated workers) keeps forking, as it should:
    the watchdog holds no lock but its own while it raises, and a forked child has no
    watchdog and forgets the deadlines it inherited. (A ``threading.Timer`` made
    verify fall back to its fork server, whose workers re-ran unguarded scripts.)
    """

    def __init__(self, seconds: float, what: str):
        self.seconds = seconds
        self.what = what
        self.deadline = time.monotonic() + seconds
        self.thread_id = threading.get_ident()
        self.lock = _thread.allocate_lock()  # guards active / fired
        self.cancelled = _thread.allocate_lock()  # held while armed; released to cancel
        self.active = True
        self.fired = False

    def arm(self) -> None:
        self.cancelled.acquire()
        _thread.start_new_thread(self._watch, ())

    def _watch(self) -> None:
        """Sleep until the deadline (or a cancel), then interrupt; again every _REPEAT s."""
        delay = self.deadline - time.monotonic()  # from the deadline: the thread may start late
        while not self.cancelled.acquire(timeout=min(max(delay, 0.0), threading.TIMEOUT_MAX)):
            with self.lock:
                if not self.active:
                    return
                if not _importing(self.thread_id):  # never stop an import half-way
                    self.fired = True
                    _raise_in(self.thread_id)
            delay = _REPEAT

    def disarm(self) -> None:
        """No interrupt after this returns: the watchdog is stopped, a pending one cleared."""
        with self.lock:
            was_active, self.active = self.active, False
        if was_active:
            self.cancelled.release()
        if self.fired:
            _clear_pending(self.thread_id)

    def error(self) -> BudgetExceededError:
        return BudgetExceededError(
            f"{self.what} took longer than its budget of {self.seconds:g} s "
            "(pass budget=... to allow more)"
        )


def remaining() -> float | None:
    """Seconds left in the innermost budget of this thread (None when there is none).

    >>> with within(5, "work"):
    ...     0 < remaining() <= 5
    True
    >>> remaining() is None
    True
    """
    stack = _stack()
    if not stack:
        return None
    return max(min(d.deadline for d in stack) - time.monotonic(), 0.0)


def _interrupted_by_us(exc_type: type | None) -> bool:
    """After the watchdog fired: whether what ended the block is its interrupt.

    The interrupt lands wherever the thread is; inside a compiled library (SymEngine's
    conversion, NumPy) it can surface as that library's own error (an AttributeError from
    a half-built object). Once the budget is spent, any error but symcalc's own
    (a SymcalcError says what the user did) is the budget's doing.
    """
    if exc_type is None or issubclass(exc_type, _Expired):
        return True
    return issubclass(exc_type, Exception) and not issubclass(exc_type, SymcalcError)


class within:
    """Run the block within ``seconds`` (None: no limit of its own), else BudgetExceededError.

    ``what`` names the work in the error ("parse", "compile", ...). Inside an
    enclosing budget that ends sooner, the enclosing one decides.
    """

    def __init__(self, seconds: float | None, what: str):
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0
        ):
            raise InputError(
                f"the budget of {what} must be a positive number of seconds or None, "
                f"not {seconds!r}"
            )
        self.seconds = seconds
        self.what = what
        self.deadline: _Deadline | None = None

    def __enter__(self) -> within:
        left = remaining()
        if self.seconds is not None and (left is None or self.seconds < left):
            self.deadline = _Deadline(self.seconds, self.what)
            _stack().append(self.deadline)
            self.deadline.arm()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        d = self.deadline
        if d is None:
            return False
        try:
            d.disarm()
        except _Expired:  # arrived while disarming
            d.disarm()
        _stack().remove(d)
        overdue = exc_type is None and time.monotonic() > d.deadline  # the watchdog ran late
        if overdue or (d.fired and _interrupted_by_us(exc_type)):
            raise d.error() from None
        return False


def _with_budget(sig: inspect.Signature, default: float) -> inspect.Signature:
    """The signature plus a keyword-only ``budget`` (before ``**kwargs``), as help() shows it."""
    params = list(sig.parameters.values())
    extra = inspect.Parameter("budget", inspect.Parameter.KEYWORD_ONLY, default=default)
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    return sig.replace(parameters=params[:at] + [extra] + params[at:])


def budgeted(entry: str) -> Callable:
    """Decorator: the function takes ``budget=`` (seconds; default DEFAULT_BUDGETS[entry]).

    >>> @budgeted("parse")
    ... def slow():
    ...     while True:
    ...         pass
    >>> slow(budget=0.1)
    Traceback (most recent call last):
    ...
    symcalc.errors.BudgetExceededError: parse took longer than its budget of 0.1 s (pass budget=... to allow more)
    >>> import inspect
    >>> inspect.signature(slow)
    <Signature (*, budget=10.0)>
    """

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, budget: float | None | object = _DEFAULT, **kwargs):
            seconds = DEFAULT_BUDGETS[entry] if budget is _DEFAULT else budget
            with within(seconds, entry):  # type: ignore[arg-type]
                return fn(*args, **kwargs)

        run.__signature__ = _with_budget(inspect.signature(fn), DEFAULT_BUDGETS[entry])  # type: ignore[attr-defined]
        run.budget_entry = entry  # type: ignore[attr-defined]
        return run

    return wrap
