"""Sleeping and signals: waits on a timer or on a signal's arrival.

``time.sleep`` is blockbuster's; the signal waits (``sigwait``,
``sigtimedwait``, ``pause``) and ``signal.sigwaitinfo`` are ours, and a
zero timeout passes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from blockgate.rules.model import POSIX_SYSTEMS, Audit, Patch, Probe, Scene, options
from blockgate.rules.scenes import lookup


def _signals_timeout_zero(_sigset: Any, timeout: float) -> bool:
    return timeout <= 0


def _sigwait_pending(which: str) -> Callable[[Scene], Any]:
    """Block SIGUSR1, make it pending on this thread, then wait for it: returns at once."""

    def call(scene: Scene) -> Any:
        import signal

        sig = signal.SIGUSR1
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
        try:
            signal.pthread_kill(threading.get_ident(), sig)
            return getattr(signal, which)({sig}, *(() if which != "sigtimedwait" else (0.5,)))
        finally:
            if sig in signal.sigpending():  # the gate stopped the wait: discard the signal
                # (ignoring a pending signal discards it, POSIX; macOS has no sigtimedwait)
                signal.signal(sig, signal.signal(sig, signal.SIG_IGN))
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    call.__name__ = f"signal_{which}"
    return call


_prebound_sleep = time.sleep  # bound before any gate is armed: only the audit event sees it


def _usr1() -> Any:
    import signal

    return signal.SIGUSR1


RULES: tuple[Patch | Audit, ...] = (
    # -- sleeping and signals -------------------------------------------------------
    Audit(
        "sleep",
        "time.sleep",
        "stops the whole loop; from 3.13 also catches a sleep bound before arming",
        fires=Probe(lambda s: _prebound_sleep(0)),
        min_version=(3, 13),
        raised_by=("time.sleep",),
    ),
    *(
        Patch(
            "sleep",
            f"signal.{which}",
            "waits for a signal to arrive",
            fires=Probe(_sigwait_pending(which)),
            systems=POSIX_SYSTEMS,
            platform_has_it=hasattr(signal, which),  # macOS has sigwait only
            **(
                options(
                    nonblocking_if=_signals_timeout_zero,
                    passes=Probe(lambda s: lookup("signal.sigtimedwait")({_usr1()}, 0)),
                )
                if which == "sigtimedwait"
                else options()
            ),
        )
        for which in ("sigwait", "sigwaitinfo", "sigtimedwait")
    ),
    Patch(
        "metadata",
        "time.tzset",
        "reads the time zone file from disk",
        fires=Probe(lambda s: lookup("time.tzset")()),
        platform_has_it=hasattr(time, "tzset"),
    ),
)
