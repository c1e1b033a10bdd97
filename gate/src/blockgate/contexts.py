"""The coverage contexts the plugin writes and the review reads: which gate test ran a line.

Under ``coverage run``, the plugin switches the dynamic context to
``<node id>|gated`` around each gate test's protocol, or ``<node id>|ungated``
for a gate test that opted out (``allow_blocking_io``): the latter never
counts as run under the gate. A context in any other form (coverage's own
``test_function`` contexts, pytest-cov's ``<node id>|run``) is not a gate test.
"""

from __future__ import annotations

from collections.abc import Iterable

GATED = "|gated"
UNGATED = "|ungated"


def context_for(nodeid: str, guarded: bool) -> str:
    return nodeid + (GATED if guarded else UNGATED)


def gate_contexts(contexts: Iterable[str]) -> list[str]:
    """The node ids of the gate tests among coverage contexts."""
    return sorted({c.removesuffix(GATED) for c in contexts if c.endswith(GATED)})
