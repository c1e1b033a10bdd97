"""The blockbuster-compatible facade: a blockbuster suite gets the gate by changing one import.

``blockbuster_ctx`` here takes blockbuster's signature and yields the armed
gate, which is also blockbuster's handle: ``activate()``/``deactivate()`` for
the whole gate, and ``functions[name]`` (blockbuster's keys, ``"os.stat"``,
and the gate's own rules' names) with ``can_block_in(file, functions)``,
``can_block_functions``, ``activate()``/``deactivate()`` and ``activated``
(``blockgate.handle``). Those run-time exemptions carry blockbuster's
meaning: a matching frame anywhere on the stack allows the call. They belong
to one rule of one gate; the rule table's own exemptions keep the gate's
stricter walk (they count only between the blocking call and the first
scanned frame).

``blockgate.swap`` is a pytest plugin that makes the same change with no file
edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from blockgate.arming import ModuleList, strict_gate
from blockgate.detector import ArmedGate
from blockgate.errors import GateSetupError


@contextmanager
def blockbuster_ctx(
    scanned_modules: ModuleList = None, *, excluded_modules: ModuleList = None
) -> Iterator[ArmedGate]:
    """``blockbuster.blockbuster_ctx``'s signature over ``strict_gate``: a suite's fixture changes one import.

    One difference: blockbuster scans every module when none is named; the
    gate refuses (it blames the first scanned frame, and with everything
    scanned that is the library's own frame), so name the package.
    """
    if scanned_modules is None or (
        not isinstance(scanned_modules, (str, ModuleType)) and not scanned_modules
    ):
        raise GateSetupError("blockbuster_ctx: name the modules to scan; the gate does not scan everything")
    with strict_gate(scanned_modules, excluded_modules=excluded_modules) as gate:
        yield gate
