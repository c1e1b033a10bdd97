"""One rule of one armed gate, as blockbuster's handle presents it: ``gate.functions["os.stat"]``.

A suite written for blockbuster tunes single rules at run time
(``bb.functions["os.stat"].can_block_in("lib.py", "f")``, ``.deactivate()``).
The gate's ``ArmedGate.functions`` offers the same objects, so such a suite
keeps working when the gate replaces blockbuster (see ``facade``).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import FrameType
from typing import Protocol


class Listening(Protocol):
    """What a handle reads and changes of its gate (``detector.ArmedGate``)."""

    @property
    def active(self) -> bool:  # the gate listens: armed and not deactivated
        ...

    muted: set[str]  # the rule keys its handles deactivated


class GateFunction:
    """One rule of one armed gate, as blockbuster's ``BlockBusterFunction`` presents it.

    ``can_block_in(filename, functions)`` exempts calls whose stack holds, at
    any depth, a frame running one of ``functions`` in a file whose path ends
    with ``filename``: blockbuster's meaning, for this rule and this gate
    only. ``can_block_functions`` is that list of ``(filename, functions)``,
    read at every check, so appending to it works as in blockbuster; unlike
    blockbuster's, it starts empty: the rule table's exemptions stay in the
    table. ``deactivate()`` stops this gate from listening to the rule,
    ``activate()`` resumes.
    """

    def __init__(self, gate: Listening, name: str, keys: tuple[str, ...]) -> None:
        self.full_name = name
        self.keys = keys  # the installed checkers (or audit rules) this name stands for
        self.can_block_functions: list[tuple[str, Iterable[str]]] = []
        self._gate = gate

    def can_block_in(self, filename: str, functions: str | Iterable[str]) -> GateFunction:
        names = {functions} if isinstance(functions, str) else set(functions)
        self.can_block_functions.append((filename, names))
        return self

    @property
    def activated(self) -> bool:
        return self._gate.active and not (self._gate.muted & set(self.keys))

    def activate(self) -> GateFunction:
        self._gate.muted.difference_update(self.keys)
        return self

    def deactivate(self) -> GateFunction:
        self._gate.muted.update(self.keys)
        return self

    def allows(self, frame: FrameType | None) -> bool:
        """A frame anywhere on the stack matches one of this rule's run-time exemptions."""
        exemptions = self.can_block_functions
        if not exemptions:
            return False
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename.replace("\\", "/")
            for suffix, names in exemptions:
                if code.co_name in names and filename.endswith(suffix):
                    return True
            frame = frame.f_back
        return False

    def __repr__(self) -> str:
        return f"<GateFunction {self.full_name} activated={self.activated}>"
