"""``subprocess``: starting programs and waiting for them."""

from __future__ import annotations

from blockgate.classification.engine import RECORD, Entry, fine

_SUBPROCESS = (
    fine("subprocess.CompletedProcess*", RECORD),
    *(
        fine(f"subprocess.Popen.{m}", "sends a signal (after a non-blocking WNOHANG poll)")
        for m in ("kill", "send_signal", "terminate")
    ),
    fine("subprocess.Popen.poll", "waitpid with WNOHANG: returns at once"),
)


ENTRIES: tuple[Entry, ...] = (*_SUBPROCESS,)
