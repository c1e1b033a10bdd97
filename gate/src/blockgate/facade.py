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

``BlockBuster(scanned_modules, *, excluded_modules=None)`` is blockbuster's
class over the gate, for a suite that builds it itself: ``functions`` holds a
handle per rule before any arming (so exemptions set up front apply), and a
rule added the blockbuster way, ``bb.functions[name] =
BlockBusterFunction(module, "name", ...)``, is armed with the others by the
next ``activate()``. ``activate()`` arms the gate, ``deactivate()`` disarms
it; each ``activate()`` after a ``deactivate()`` arms a new one.

``blockgate.swap`` is a pytest plugin that makes the same change with no file
edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType

import blockbuster

from blockgate.arming import ModuleList, RuleSpec, _module_names, _plan, added_rule, armed_gate
from blockgate.detector import IMPORT_WORK, ArmedGate
from blockgate.errors import GateBlockingError, GateSetupError
from blockgate.handle import GateFunction
from blockgate.rules import RULES


def _named(scanned_modules: ModuleList, what: str) -> None:
    if scanned_modules is None or (
        not isinstance(scanned_modules, (str, ModuleType)) and not scanned_modules
    ):
        raise GateSetupError(f"{what}: name the modules to scan; the gate does not scan everything")


@contextmanager
def blockbuster_ctx(
    scanned_modules: ModuleList = None, *, excluded_modules: ModuleList = None
) -> Iterator[BlockBuster]:
    """``blockbuster.blockbuster_ctx``'s signature over the gate: a suite's fixture changes one import.

    Yields an active ``BlockBuster`` (its ``gate`` holds what the gate saw).
    One difference: blockbuster scans every module when none is named; the
    gate refuses (it blames the first scanned frame, and with everything
    scanned that is the library's own frame), so name the package.
    """
    _named(scanned_modules, "blockbuster_ctx")
    blockbuster_ = BlockBuster(scanned_modules, excluded_modules=excluded_modules)
    blockbuster_.activate()
    try:
        yield blockbuster_
    finally:
        blockbuster_.deactivate()


class BlockBuster:
    """``blockbuster.BlockBuster`` over the gate: the same constructor, ``functions``, ``activate``, ``deactivate``.

    Differences, on purpose: it names its modules (the gate does not scan
    everything); its errors name the frame that made the call; an added rule
    judges calls made through the scanned modules, like every rule of the
    gate. ``gate`` is the armed gate while active (its ``hits``), else None.
    """

    def __init__(
        self,
        scanned_modules: ModuleList = None,
        *,
        excluded_modules: ModuleList = None,
        import_policy: str = IMPORT_WORK,
    ) -> None:
        _named(scanned_modules, "BlockBuster")
        self.scanned_modules = _module_names(scanned_modules)
        self.excluded_modules = _module_names(excluded_modules)
        self.import_policy = import_policy
        self.muted: set[str] = set()
        self.gate: ArmedGate | None = None
        self._stack: ExitStack | None = None
        keys: dict[str, list[str]] = {}
        for name, key in _plan(RULES, True).names:
            keys.setdefault(name, []).append(key)
        # A rule's handle, or a BlockBusterFunction the suite added (armed at the next activate()).
        self.functions: dict[str, GateFunction | blockbuster.BlockBusterFunction] = {
            name: GateFunction(self, name, tuple(group)) for name, group in keys.items()
        }

    @property
    def active(self) -> bool:
        return self.gate is not None and self.gate.active

    def activate(self) -> None:
        """Arm the gate with every rule, and the rules added to ``functions``; a no-op while armed."""
        if self.gate is not None:
            return
        added: list[RuleSpec] = []
        handles: dict[str, GateFunction] = {}
        for name, function in self.functions.items():
            if isinstance(function, GateFunction):
                handles[name] = function
                continue
            spec, (_, key) = added_rule(function)
            added.append(spec)
            handle = GateFunction(self, function.full_name, (key,))
            handle.can_block_functions = function.can_block_functions  # one list: later can_block_in counts
            handles[f"added:{name}"] = handle
        stack = ExitStack()
        gate = stack.enter_context(
            armed_gate(
                self.scanned_modules,
                rules=RULES,
                blockbuster_defaults=True,
                excluded_modules=self.excluded_modules or None,
                import_policy=self.import_policy,
                added=added,
            )
        )
        gate.adopt(handles)
        gate.muted = self.muted
        self.gate, self._stack = gate, stack

    def deactivate(self) -> None:
        """Disarm the gate; ``activate()`` arms a new one.

        An added ``BlockBusterFunction`` that activated itself (blockbuster's
        way for a rule added to an active instance) is deactivated too, as
        blockbuster's ``deactivate()`` does.
        """
        for function in self.functions.values():
            if isinstance(function, blockbuster.BlockBusterFunction):
                function.deactivate()
        if self._stack is not None:
            stack, self._stack, self.gate = self._stack, None, None
            stack.close()

    @property
    def hits(self) -> list[GateBlockingError]:
        """Every blocking error the armed gate raised (empty while inactive)."""
        return self.gate.hits if self.gate is not None else []
