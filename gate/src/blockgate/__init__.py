"""blockgate: a strict blocking-IO gate for asyncio code.

``strict_gate(scanned_modules)`` arms blockbuster's default rules plus the
gate's own table (``blockgate.rules``) for a ``with`` block: a blocking call
made on an event loop's thread by code of a scanned module raises
``GateBlockingError`` (a ``blockbuster.BlockingError``), naming the call and
the scanned frame that made it. The pytest plugin (``blockgate.plugin``,
registered on install) arms it around every gate test's setup, call and
teardown. ``blockbuster_ctx`` takes blockbuster's signature (``facade``).
"""

from __future__ import annotations

from blockgate.arming import armed_gate, installed, rule_counts, strict_gate
from blockgate.detector import IMPORT_POLICIES, IMPORT_WORK, REPORT, ArmedGate
from blockgate.errors import Catch, GateBlockingError, GateSetupError, SwallowedBlockingError
from blockgate.facade import blockbuster_ctx
from blockgate.handle import GateFunction

__version__ = "0.1.0"

__all__ = [
    "IMPORT_POLICIES",
    "IMPORT_WORK",
    "REPORT",
    "ArmedGate",
    "Catch",
    "GateBlockingError",
    "GateFunction",
    "GateSetupError",
    "SwallowedBlockingError",
    "armed_gate",
    "blockbuster_ctx",
    "installed",
    "rule_counts",
    "strict_gate",
]
