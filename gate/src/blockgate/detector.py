"""The detector: who listens, how a blocking call is judged, and the error it raises.

A *checker* stands in for each patched callable (``arming`` installs them);
one process-wide audit hook stands in for each audit event. Both ask the
armed gates (``_active``) whether the call is theirs to judge: only on a
thread that runs an event loop, and only when a gate listens to that rule.
The gate then walks out from the call's frame (``ArmedGate.blame``): the first
frame of a scanned module makes it a blocking call of that module, unless an
exempt frame (the rule's, or one every rule shares) comes first.

Import policy: a blocking call made while the import system runs a module's
code on the loop (``_find_and_load`` on the stack) is import work under
``IMPORT_WORK``, the default and blockbuster's view, and judged like any
other call under ``REPORT``.

Who caught an error (``ArmedGate.caught``) is read from the error's own
traceback: the plugin fails a test whose blocking call was caught and
swallowed by scanned code or a library, not one the test caught on purpose.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import sysconfig
import threading
from asyncio import events as _asyncio_events
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from blockgate.errors import Catch, GateBlockingError, GateSetupError
from blockgate.handle import GateFunction

# What a blocking call made by code the import system runs on the loop is.
IMPORT_WORK = "import-work"  # allowed: blockbuster's view, the default
REPORT = "report"  # judged like any other call
IMPORT_POLICIES = (IMPORT_WORK, REPORT)
_IMPORT_FRAME = ("<frozen importlib._bootstrap>", "_find_and_load")

_get_running_loop = _asyncio_events._get_running_loop

ExemptionTable = dict[str, tuple[str, ...]]


def exemption_table(*groups: Iterable[tuple[str, Iterable[str]]]) -> ExemptionTable:
    table: dict[str, list[str]] = {}
    for group in groups:
        for suffix, functions in group:
            for function in functions:
                table.setdefault(function, []).append(suffix)
    return {name: tuple(suffixes) for name, suffixes in table.items()}


def _under_import(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == _IMPORT_FRAME[1] and code.co_filename == _IMPORT_FRAME[0]:
            return True
        frame = frame.f_back
    return False


@dataclass(eq=False)  # one gate is one listener: compared by identity (``_active.remove``)
class ArmedGate:
    """What ``strict_gate`` yields: the armed detector, what it has seen, and blockbuster's handle.

    ``activate()``/``deactivate()`` arm and disarm this gate inside its
    ``with`` block (the block's end disarms it in any case); ``functions``
    maps each rule's name to its ``GateFunction``.
    """

    scanned_modules: tuple[str, ...]
    scanned_paths: tuple[str, ...]
    blockbuster_rules: list[str] = field(default_factory=list)
    project_rules: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    hits: list[GateBlockingError] = field(default_factory=list)  # every error raised, even if swallowed
    rule_keys: set[str] = field(default_factory=set)  # the installed checkers this gate listens to
    import_policy: str = IMPORT_WORK
    excluded_paths: tuple[
        str, ...
    ] = ()  # under a scanned path, yet not scanned (blockbuster's excluded_modules)
    muted: set[str] = field(default_factory=set)  # rule keys deactivated through ``functions``
    active: bool = False  # listening: armed and not deactivated
    closed: bool = False  # its ``with`` block has ended: it cannot listen again
    # (handle name, rule key) pairs; the handles are made when first asked for (most gates never are).
    _names: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    _functions: dict[str, GateFunction] | None = field(default=None, repr=False)
    _by_key: dict[str, GateFunction] = field(default_factory=dict, repr=False)
    _audit_entries: list[tuple[Any, ArmedGate, ExemptionTable]] = field(default_factory=list, repr=False)

    @property
    def functions(self) -> dict[str, GateFunction]:
        """blockbuster's handle: each rule's ``GateFunction``, by name (blockbuster's names and the gate's)."""
        if self._functions is None:
            keys: dict[str, list[str]] = {}
            for name, key in self._names:
                keys.setdefault(name, []).append(key)
            self.adopt({name: GateFunction(self, name, tuple(group)) for name, group in keys.items()})
        assert self._functions is not None
        return self._functions

    def adopt(self, functions: dict[str, GateFunction]) -> None:
        """Take ``functions`` as this gate's handles (a ``BlockBuster`` facade keeps its own across arms)."""
        self._functions = functions
        self._by_key = {key: function for function in functions.values() for key in function.keys}

    def activate(self) -> None:
        """Listen again (blockbuster's ``BlockBuster.activate``); a no-op while listening."""
        if self.active:
            return
        if self.closed:
            raise GateSetupError("activate(): this gate's with block has ended; arm a new one")
        for entry in self._audit_entries:
            _audit_rules.setdefault(entry[0].event, []).append(entry)
        _active.append(self)
        me = frozenset((id(self),))
        for key in self.rule_keys:
            listeners = _listeners_of(key)
            listeners.gates += (self,)
            listeners.ids = listeners.ids | me if listeners.ids else me
        self.active = True

    def deactivate(self) -> None:
        """Stop listening until ``activate()`` (blockbuster's ``BlockBuster.deactivate``)."""
        if not self.active:
            return
        self.active = False
        _active.remove(self)
        for key in self.rule_keys:
            listeners = _listeners[key]
            if len(listeners.gates) == 1:
                listeners.gates, listeners.ids = (), frozenset()
            else:
                listeners.gates = tuple(gate for gate in listeners.gates if gate is not self)
                listeners.ids = frozenset(map(id, listeners.gates))
        for entry in self._audit_entries:
            _audit_rules[entry[0].event].remove(entry)
            if not _audit_rules[entry[0].event]:
                del _audit_rules[entry[0].event]

    def blame(self, frame: FrameType | None, exempt: ExemptionTable) -> FrameType | None:
        """The first scanned frame walking out from ``frame``, unless an exempt frame comes first."""
        scanned = self.scanned_paths
        excluded = self.excluded_paths
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename
            if filename.startswith(scanned) and not (excluded and filename.startswith(excluded)):
                return frame
            suffixes = exempt.get(code.co_name)
            if suffixes is not None and filename.replace("\\", "/").endswith(suffixes):
                return None
            if filename.startswith(_TOOLING_PREFIXES):
                return None
            frame = frame.f_back
        return None

    def caught(self, hit: GateBlockingError) -> Catch:
        """Which code caught ``hit``: see ``Catch``. An error with no traceback counts as swallowed."""
        tb = hit.__traceback__
        if tb is None:
            return Catch("scanned", "an unknown frame (the error carries no traceback)")
        code = tb.tb_frame.f_code
        where = f"{_display(code.co_filename)}:{tb.tb_lineno} in {code.co_name}()"
        if code.co_filename.startswith(self.scanned_paths):
            return Catch("scanned", where)
        if code.co_filename.startswith(_library_prefixes()) or code.co_filename.startswith("<"):
            return Catch("library", where)
        return Catch("test", where)

    def armed_counts(self) -> dict[str, int]:
        """What this gate holds right now, counted from the live state, not from the rule table.

        ``blockbuster`` and ``project_patches``: installed checkers this gate
        listens to; ``project_audit``: audit rules registered for this gate;
        ``not_applicable``: rules skipped on this interpreter. The first three
        are zero unless the gate is armed.
        """
        counts = {"blockbuster": 0, "project_patches": 0, "project_audit": 0}
        if not self.active:
            return {**counts, "not_applicable": len(self.not_applicable)}
        with _patch_lock:
            for key in self.rule_keys:
                if key in _patches:
                    counts["blockbuster" if key.startswith("blockbuster:") else "project_patches"] += 1
        counts["project_audit"] = sum(
            1 for entries in _audit_rules.values() for _, gate, _ in entries if gate is self
        )
        return {**counts, "not_applicable": len(self.not_applicable)}

    def check(self, primitive: str, frame: FrameType | None, exempt: ExemptionTable, key: str = "") -> None:
        if key in self.muted:
            return
        culprit = self.blame(frame, exempt)
        if culprit is not None:
            # Only a call about to be blamed pays for the walks of the whole stack.
            if self.import_policy == IMPORT_WORK and _under_import(frame):
                return
            function = self._by_key.get(key)  # empty until someone asked for the handles
            if function is not None and function.allows(frame):
                return
            error = GateBlockingError(
                primitive, _display(culprit.f_code.co_filename), culprit.f_lineno, culprit.f_code.co_name
            )
            self.hits.append(error)
            raise error


def _tooling_prefixes() -> tuple[str, ...]:
    # Coverage's tracer calls back into Python (path checks, stat) from inside
    # the measured frames; those calls are the measurement, not the backend.
    spec = importlib.util.find_spec("coverage")
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple(os.path.join(str(Path(p)), "") for p in spec.submodule_search_locations)


_TOOLING_PREFIXES = _tooling_prefixes()


@functools.cache
def _library_prefixes() -> tuple[str, ...]:
    # The standard library and installed packages: code the test did not write.
    paths = sysconfig.get_paths()
    roots = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}
    found = {os.path.join(spelling, "") for root in roots for spelling in (root, os.path.realpath(root))}
    return tuple(sorted(found))


def _display(filename: str) -> str:
    """Relative to the working directory when the file is under it, else as it is."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative


# -- the per-thread switch shared by every checker ---------------------------


class _State(threading.local):
    checking = False  # a check runs on this thread: the primitives it uses pass
    # Gates that already cleared the call now running on this thread: what
    # that call does inside (a stdout write reaching the raw file, an exempt
    # import reading bytecode) shares their verdict. Gates that did not judge
    # it (they do not arm that rule) still judge what it does inside.
    cleared: frozenset[int] = frozenset()


_state = _State()


_active: list[ArmedGate] = []  # armed gates, innermost last


class _Listeners:
    """The armed gates that listen to one rule key, innermost last: what its checker reads first.

    Kept by ``activate``/``deactivate``, so that a call on the loop finds its
    listeners (and their ids, to compare with the gates that already cleared
    the call running) without filtering every armed gate each time.
    """

    __slots__ = ("gates", "ids")

    def __init__(self) -> None:
        self.gates: tuple[ArmedGate, ...] = ()
        self.ids: frozenset[int] = frozenset()


_listeners: dict[str, _Listeners] = {}


def _listeners_of(key: str) -> _Listeners:
    found = _listeners.get(key)
    if found is None:
        found = _listeners.setdefault(key, _Listeners())
    return found


def _make_checker(
    key: str,
    primitive: str,
    original: Callable[..., Any],
    nonblocking_if: Callable[..., bool] | None,
    exempt: ExemptionTable,
) -> Callable[..., Any]:
    listeners = _listeners_of(key)
    state = _state

    def checker(*args: Any, **kwargs: Any) -> Any:
        # The common cases first, cheapest test first: nobody listens, not on a loop's thread,
        # a check running, the gates listening have cleared the call this one runs inside.
        gates = listeners.gates
        if not gates or _get_running_loop() is None or state.checking:
            return original(*args, **kwargs)
        cleared = state.cleared
        if not cleared:
            now_cleared = listeners.ids
        elif listeners.ids <= cleared:
            return original(*args, **kwargs)
        else:
            gates = tuple(gate for gate in gates if id(gate) not in cleared)
            now_cleared = cleared.union(map(id, gates))
        state.checking = True
        try:
            if nonblocking_if is None or not nonblocking_if(*args, **kwargs):
                frame = sys._getframe(1)
                for gate in reversed(gates):
                    gate.check(primitive, frame, exempt, key)
        finally:
            state.checking = False
        state.cleared = now_cleared
        try:
            return original(*args, **kwargs)
        finally:
            state.cleared = cleared

    checker.__name__ = getattr(original, "__name__", primitive.rsplit(".", 1)[-1])
    checker.__qualname__ = getattr(original, "__qualname__", checker.__name__)
    checker.__doc__ = getattr(original, "__doc__", None)
    checker.__wrapped__ = original  # type: ignore[attr-defined]
    return checker


# -- audit events: one process-wide hook, consulted only while a gate is armed --

_audit_rules: dict[str, list[tuple[Any, ArmedGate, ExemptionTable]]] = {}
_hook_installed = False
_hook_lock = threading.Lock()


class DefaultsAssigned:
    """How many times a function's defaults were assigned since the audit hook was added.

    Functions announce it (the ``object.__setattr__`` audit event): the
    rebinding scan reads this instead of every function's defaults, reading
    which is itself an audit event.
    """

    count = 0


_DEFAULTS_NAMES = ("__defaults__", "__kwdefaults__")


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "object.__setattr__" and len(args) > 1 and args[1] in _DEFAULTS_NAMES:
        DefaultsAssigned.count += 1
    if not _audit_rules:
        return
    rules = _audit_rules.get(event)
    if not rules or _state.checking or _get_running_loop() is None:
        return
    cleared = _state.cleared
    _state.checking = True
    try:
        frame = sys._getframe(1)
        for rule, gate, exempt in tuple(rules):
            if id(gate) not in cleared and (rule.nonblocking_if is None or not rule.nonblocking_if(args)):
                gate.check(f"{event} (audit event)", frame, exempt, rule.name)
    finally:
        _state.checking = False


def _ensure_audit_hook() -> None:
    # Audit hooks cannot be removed; one hook is added per process and does
    # nothing while no gate is armed.
    global _hook_installed
    if _hook_installed:
        return
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit_hook)
            _hook_installed = True


# Installed checkers by rule key (``arming`` keeps them); shared by every gate
# that arms the rule, removed when the last one disarms.
class _Installed(dict[str, Any]):
    """The installed checkers by rule key; ``version`` changes whenever one is installed or removed."""

    version = 0

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1


_patches = _Installed()
_patch_lock = threading.RLock()
