"""Running a decision under its budget: in a forked (or fork-server) worker killed at the deadline."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time

from symcalc.inputs import short
from symcalc.verification.decision import _decide, _Job


# ======================================================================================
# Running a job under the budget: a forked worker (killed at the deadline)
# ======================================================================================
def _can_fork() -> bool:
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:
        return False
    return True


_FORKSERVER_OWNER: list[int] = []  # the pid that started our fork server, once it has


def _start_method() -> str:
    """ "fork" while this process has one thread; "forkserver" once it has more (a worker
    thread, or a library with native thread pools such as JAX or PyTorch), because
    forking a multi-threaded process can deadlock the child.

    A process forked from the one that started the fork server inherits a server it
    cannot talk to (CPython keeps the parent's server state): it forks instead.
    """
    native_pools = any(name in sys.modules for name in ("jax", "torch", "tensorflow"))
    if threading.active_count() == 1 and not native_pools:
        return "fork"
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "fork"
    if _FORKSERVER_OWNER and _FORKSERVER_OWNER[0] != os.getpid():
        return "fork"
    return "forkserver"


def _context(job):
    method = _start_method()
    if method == "forkserver":
        try:
            pickle.dumps(job)
        except Exception:  # noqa: BLE001 - an unpicklable claim: fork is the only way left
            method = "fork"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(
            ["symcalc.verification.claims"]
        )  # workers start with SymPy loaded
        _FORKSERVER_OWNER[:] = [os.getpid()]
    return ctx


def _worker(conn, job, budget):
    def send(msg):
        conn.send(msg)

    try:
        _decide(job, budget, send, use_alarm=True)
    except BaseException as exc:  # noqa: BLE001 - report every failure to the parent
        try:
            conn.send(
                dict(
                    final=True,
                    holds=None,
                    method="numeric",
                    explanation=f"the check itself failed: {type(exc).__name__}: {short(exc, 200)}",
                )
            )
        except Exception:
            pass
    finally:
        conn.close()


def _run(job: _Job, budget: float, isolate: bool | None) -> dict:
    if isolate is None:
        isolate = _can_fork()
    if not isolate:
        return _run_inline(job, budget)
    ctx = _context(job)
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(sender, job, budget), daemon=True)
    try:
        proc.start()
    except OSError:  # the fork server could not be reached: fork directly
        receiver.close()
        sender.close()
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(sender, job, budget), daemon=True)
        proc.start()
    sender.close()
    best, final = None, None
    hard_end = time.monotonic() + budget + 1.0  # the worker's own deadline is ``budget``
    try:
        while final is None:
            left = hard_end - time.monotonic()
            if left <= 0:
                break
            if not receiver.poll(min(left, 0.1)):  # in slices: an enclosing budget can interrupt
                continue
            try:
                msg = receiver.recv()
            except (EOFError, OSError):
                break
            if "holds" in msg:
                best = msg
            if msg.get("final"):
                final = msg
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        receiver.close()
    if final is not None and not (
        final.get("timeout")
        and best is not None
        and best is not final
        and best.get("holds") is not None
    ):
        return final
    if best is not None and best.get("holds") is not None:
        return dict(best, final=True)
    if final is not None:
        return final
    return dict(
        final=True,
        holds=None,
        method="numeric",
        timeout=True,
        explanation=f"the time budget ({budget:g} s) ran out",
    )


def _run_inline(job: _Job, budget: float) -> dict:
    """No fork (another OS, or inside a daemon process): run here, alarms only in the main thread."""
    messages = []
    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "setitimer"
    )
    _decide(job, budget, messages.append, use_alarm=use_alarm)
    best = [m for m in messages if "holds" in m]
    final = best[-1] if best else dict(holds=None, method="numeric", explanation="no result")
    if final.get("timeout"):
        earlier = [m for m in best if m.get("holds") is not None]
        if earlier:
            return earlier[-1]
    return final
