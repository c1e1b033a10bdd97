"""The strict blocking-IO gate: blockbuster's default rules plus ours, one switch.

``strict_gate(scanned_modules=None)`` arms, for the duration of a ``with``
block, every rule of blockbuster's default table and every rule of
``rules.RULES``, scoped to the scanned modules (default: ``runlog``). A call
to a blocking primitive made on a thread that runs an asyncio event loop, by
code of a scanned module (directly or through sync helpers and libraries it
calls), raises ``GateBlockingError``, a ``blockbuster.BlockingError``; its
message names the primitive and the first scanned frame (file:line in
function). Every patch is undone on exit, also when the body raises or is
interrupted; the audit hook (which Python cannot remove) goes inert.

Three names, one mechanism, from the outside in:

* ``strict_gate(scanned_modules=None)`` is the contract: every rule (the
  blockbuster defaults and the whole project table), scoped to the scanned
  modules. The conftest arms it around each gate test; other projects use it.
* ``armed_gate(scanned_modules, rules=..., blockbuster_defaults=...)`` is what
  ``strict_gate`` calls, with a chosen subset of rules: the meta-tests arm one
  rule at a time with it. Both yield an ``ArmedGate``, the detector that is
  listening and what it has seen (``hits``).
* ``installed()`` arms nothing: it keeps the checkers patched in, inert, for as
  long as it is held, so that arming a gate per test phase is a few dictionary
  updates instead of a hundred patches. A checker that no armed gate listens
  to calls straight through. Without it, each gate installs its checkers on
  entry and removes them on exit (reference-counted, so gates nest).

The ``ArmedGate`` is also blockbuster's handle, so that a suite written for
blockbuster changes one import (``blockbuster_ctx`` from here instead of from
blockbuster): ``activate()``/``deactivate()`` for the whole gate, and
``functions[name]`` (blockbuster's keys, ``"os.stat"``, and the project rules'
names) with ``can_block_in(file, functions)``, ``can_block_functions``,
``activate()``/``deactivate()`` and ``activated``. Those exemptions carry
blockbuster's meaning: a matching frame anywhere on the stack allows the call.
They belong to one rule of one gate, set at run time; the rule table's own
exemptions (``rules.EXEMPT_CALLERS``, each rule's ``exempt_callers``, the
blockbuster table's) keep the gate's stricter walk: they count only between
the blocking call and the first scanned frame.

Import policy: a blocking call made while the import system runs a module's
code on the loop (a first or lazy import; ``_find_and_load`` on the stack) is
import work under ``IMPORT_WORK``, the default and blockbuster's view, and
judged like any other call under ``REPORT``: a lazy import on the loop is a
one-off stall, and code that reads files at import time makes it longer.

Why not ``blockbuster.BlockBuster`` itself: its wrapper raises a bare
``BlockingError("Blocking call to X")`` without the frame that made the call,
and it has no way to watch audit events. The gate reuses blockbuster's rule
table (names, exemptions, predicates) and installs its own checker.

Fail closed: arming raises ``GateSetupError`` if a scanned module cannot be
imported, or if any rule that applies to this interpreter cannot be installed.

This module needs nothing but blockbuster (and its forbiddenfruit) at import
time: it can be loaded from its file path, outside pytest and outside the
repository's package layout.
"""

import functools
import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import threading
from asyncio import events as _asyncio_events
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import blockbuster

try:
    from . import rules as _rules
except ImportError:  # loaded from its file path, not as part of a package

    def _load_rules() -> ModuleType:
        path = Path(__file__).with_name("rules.py")
        spec = importlib.util.spec_from_file_location("_blocking_gate_rules", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    _rules = _load_rules()

RULES = _rules.RULES
EXEMPT_CALLERS = _rules.EXEMPT_CALLERS
Patch = _rules.Patch
Audit = _rules.Audit
DEFAULT_SCANNED_MODULES = ("runlog",)

# What a blocking call made by code the import system runs on the loop is.
IMPORT_WORK = "import-work"  # allowed: blockbuster's view, the default
REPORT = "report"  # judged like any other call
IMPORT_POLICIES = (IMPORT_WORK, REPORT)
_IMPORT_FRAME = ("<frozen importlib._bootstrap>", "_find_and_load")

try:  # CPython: methods of C types (io.FileIO, ...) are patched through it
    import forbiddenfruit
except ImportError:  # pragma: no cover - PyPy
    forbiddenfruit = None

_get_running_loop = _asyncio_events._get_running_loop


class GateBlockingError(blockbuster.BlockingError):
    """A blocking call made on the event loop by scanned code."""

    def __init__(self, primitive: str, filename: str, lineno: int, function: str, detail: str = "") -> None:
        self.primitive = primitive
        self.filename = filename
        self.lineno = lineno
        self.function = function
        self.detail = detail
        message = f"{primitive} from {self.where}; offload it with asyncio.to_thread"
        super().__init__(f"{message}\n{detail}" if detail else message)

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}()"

    def __reduce__(self) -> tuple[Any, ...]:  # survive pickling (pytest-xdist)
        return (type(self), (self.primitive, self.filename, self.lineno, self.function, self.detail))


class SwallowedBlockingError(GateBlockingError):
    """The gate raised, code other than the test caught the error, and the test carried on.

    The blocking call happened all the same; ``detail`` says which code caught
    each error (and, apart, the errors the test itself caught on purpose).
    """


@dataclass(frozen=True)
class Catch:
    """Where a raised ``GateBlockingError`` stopped: the frame that handled it.

    Read from the error's own traceback, whose outermost entry is the frame
    whose ``except`` (or ``with`` block, as in ``pytest.raises``) caught it.
    ``kind`` is ``"scanned"`` (backend code swallowed it), ``"library"`` (the
    standard library or an installed package did) or ``"test"`` (anything
    else: the test, its fixtures, its helpers). Only ``"test"`` is expected.
    """

    kind: str
    where: str


class GateSetupError(RuntimeError):
    """The gate cannot be armed as configured: it refuses to run half-armed."""


# An exemption table: function name -> file-name suffixes where that function may block.
ExemptionTable = dict[str, tuple[str, ...]]


def exemption_table(*groups: Iterable[tuple[str, Iterable[str]]]) -> ExemptionTable:
    table: dict[str, list[str]] = {}
    for group in groups:
        for suffix, functions in group:
            for function in functions:
                table.setdefault(function, []).append(suffix)
    return {name: tuple(suffixes) for name, suffixes in table.items()}


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

    def __init__(self, gate: "ArmedGate", name: str, keys: tuple[str, ...]) -> None:
        self.full_name = name
        self.keys = keys  # the installed checkers (or audit rules) this name stands for
        self.can_block_functions: list[tuple[str, Iterable[str]]] = []
        self._gate = gate

    def can_block_in(self, filename: str, functions: str | Iterable[str]) -> "GateFunction":
        names = {functions} if isinstance(functions, str) else set(functions)
        self.can_block_functions.append((filename, names))
        return self

    @property
    def activated(self) -> bool:
        return self._gate.active and not (self._gate.muted & set(self.keys))

    def activate(self) -> "GateFunction":
        self._gate.muted.difference_update(self.keys)
        return self

    def deactivate(self) -> "GateFunction":
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


def _under_import(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == _IMPORT_FRAME[1] and code.co_filename == _IMPORT_FRAME[0]:
            return True
        frame = frame.f_back
    return False


@dataclass
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
    functions: dict[str, GateFunction] = field(default_factory=dict)  # blockbuster's handle, by rule name
    muted: set[str] = field(default_factory=set)  # rule keys deactivated through ``functions``
    active: bool = False  # listening: armed and not deactivated
    closed: bool = False  # its ``with`` block has ended: it cannot listen again
    _by_key: dict[str, GateFunction] = field(default_factory=dict, repr=False)
    _audit_entries: list[tuple[Any, "ArmedGate", ExemptionTable]] = field(default_factory=list, repr=False)

    def _name_rules(self, names: Iterable[tuple[str, str]]) -> None:
        """Build ``functions`` from (handle name, rule key) pairs."""
        keys: dict[str, list[str]] = {}
        for name, key in names:
            keys.setdefault(name, []).append(key)
        for name, group in keys.items():
            function = GateFunction(self, name, tuple(group))
            self.functions[name] = function
            for key in group:
                self._by_key[key] = function

    def activate(self) -> None:
        """Listen again (blockbuster's ``BlockBuster.activate``); a no-op while listening."""
        if self.active:
            return
        if self.closed:
            raise GateSetupError("activate(): this gate's with block has ended; arm a new one")
        for entry in self._audit_entries:
            _audit_rules.setdefault(entry[0].event, []).append(entry)
        _active.append(self)
        self.active = True

    def deactivate(self) -> None:
        """Stop listening until ``activate()`` (blockbuster's ``BlockBuster.deactivate``)."""
        if not self.active:
            return
        self.active = False
        _active.remove(self)
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
            function = self._by_key.get(key)
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


def _make_checker(
    key: str,
    primitive: str,
    original: Callable[..., Any],
    nonblocking_if: Callable[..., bool] | None,
    exempt: ExemptionTable,
) -> Callable[..., Any]:
    def checker(*args: Any, **kwargs: Any) -> Any:
        if not _active or _state.checking or _get_running_loop() is None:
            return original(*args, **kwargs)
        cleared = _state.cleared
        listening = [g for g in _active if key in g.rule_keys and id(g) not in cleared]
        if not listening:
            return original(*args, **kwargs)
        _state.checking = True
        try:
            if nonblocking_if is None or not nonblocking_if(*args, **kwargs):
                frame = sys._getframe(1)
                for gate in reversed(listening):
                    gate.check(primitive, frame, exempt, key)
        finally:
            _state.checking = False
        _state.cleared = cleared.union(map(id, listening))
        try:
            return original(*args, **kwargs)
        finally:
            _state.cleared = cleared

    checker.__name__ = getattr(original, "__name__", primitive.rsplit(".", 1)[-1])
    checker.__qualname__ = getattr(original, "__qualname__", checker.__name__)
    checker.__doc__ = getattr(original, "__doc__", None)
    checker.__wrapped__ = original  # type: ignore[attr-defined]
    return checker


# -- audit events: one process-wide hook, consulted only while a gate is armed --

_audit_rules: dict[str, list[tuple[Any, ArmedGate, ExemptionTable]]] = {}
_hook_installed = False
_hook_lock = threading.Lock()


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
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
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit_hook)
            _hook_installed = True


# -- patches -------------------------------------------------------------------


@dataclass
class _Installed:
    owner: Any
    name: str
    raw: Any  # what owner.__dict__ held (None when inherited)
    via_curse: bool
    refs: int = 1


# Installed checkers by rule key; shared by every gate that arms the rule and
# removed when the last one disarms (see ``installed``).
_patches: dict[str, _Installed] = {}
_patch_lock = threading.RLock()


def _resolve_target(target: str) -> tuple[Any, str]:
    """``"io.FileIO.read"`` -> (io.FileIO, "read"): the longest importable module prefix, then attributes."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:-1]:
            owner = getattr(owner, attr)
        return owner, parts[-1]
    raise GateSetupError(f"rule target {target!r}: no importable module")


def _install(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> _Installed:
    raw = inspect.getattr_static(owner, name)
    own = vars(owner).get(name) if isinstance(owner, type) else raw
    if isinstance(raw, (classmethod, staticmethod)):
        replacement: Any = type(raw)(make(raw.__func__))
    else:
        replacement = make(getattr(owner, name))
    try:
        setattr(owner, name, replacement)
        via_curse = False
    except TypeError:
        if forbiddenfruit is None:
            raise GateSetupError(f"cannot patch {owner!r}.{name} without forbiddenfruit") from None
        forbiddenfruit.curse(owner, name, replacement)
        via_curse = True
    return _Installed(owner, name, own, via_curse)


def _uninstall(item: _Installed) -> None:
    if item.via_curse and item.raw is None:
        forbiddenfruit.reverse(item.owner, item.name)
    elif item.via_curse:
        forbiddenfruit.curse(item.owner, item.name, item.raw)
    elif item.raw is None:
        delattr(item.owner, item.name)
    else:
        setattr(item.owner, item.name, item.raw)


_defaults_cache: list[tuple[str, blockbuster.BlockBusterFunction]] = []


def _blockbuster_default_rules() -> list[tuple[str, blockbuster.BlockBusterFunction]]:
    # Built once: only the table is used (names, owners, predicates,
    # exemptions); the callables are read afresh at each install. The keys
    # are the names blockbuster's handle uses ("os.scandir", "threading.Lock.acquire").
    if not _defaults_cache:
        _defaults_cache.extend(blockbuster.BlockBuster().functions.items())
    return _defaults_cache


def _applies(rule: Any) -> bool:
    return rule.applies()


_paths_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def _scanned_paths(modules: Sequence[str]) -> tuple[str, ...]:
    key = tuple(modules)
    if key not in _paths_cache:
        _paths_cache[key] = _resolve_paths(key)
    return _paths_cache[key]


def _resolve_paths(modules: Sequence[str]) -> tuple[str, ...]:
    paths = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise GateSetupError(f"scanned module {name!r} cannot be imported: {exc}") from exc
        locations = list(getattr(module, "__path__", []) or [])
        if not locations and getattr(module, "__file__", None):
            locations = [module.__file__]
        if not locations:
            raise GateSetupError(f"scanned module {name!r} has no file on disk to scope the gate to")
        for location in locations:
            # Code objects carry the path the module was imported by, which
            # may run through a symlink: scope both spellings, or the gate
            # would go blind without a word.
            for path in dict.fromkeys((os.path.abspath(location), os.path.realpath(location))):
                paths.append(os.path.join(path, "") if os.path.isdir(path) else path)
    return tuple(dict.fromkeys(paths))


def rule_counts(scanned_modules: Sequence[str] | str | None = None) -> dict[str, int]:
    """What ``strict_gate`` holds once armed on this interpreter (see ``ArmedGate.armed_counts``)."""
    with strict_gate(scanned_modules) as gate:
        return gate.armed_counts()


@dataclass(frozen=True)
class _RuleSpec:
    key: str
    owner: Any
    name: str
    primitive: str
    nonblocking_if: Callable[..., bool] | None
    exempt: ExemptionTable


@dataclass(frozen=True)
class _Plan:
    """What arming a set of rules means on this interpreter; computed once per set."""

    patches: tuple[_RuleSpec, ...]
    audits: tuple[tuple[Any, ExemptionTable], ...]
    names: tuple[tuple[str, str], ...]  # (handle name, rule key): what ``ArmedGate.functions`` offers
    blockbuster_rules: tuple[str, ...]
    project_rules: tuple[str, ...]
    not_applicable: tuple[str, ...]


@functools.cache
def _plan(rules: tuple[Any, ...], blockbuster_defaults: bool) -> _Plan:
    """Resolve every rule's target; raise GateSetupError if one cannot be installed here."""
    patches: list[_RuleSpec] = []
    audits: list[tuple[Any, ExemptionTable]] = []
    defaults: list[str] = []
    project: list[str] = []
    missing: list[str] = []
    names: list[tuple[str, str]] = []
    for handle_name, function in _blockbuster_default_rules() if blockbuster_defaults else ():
        key = f"blockbuster:{function.full_name}"
        names.append((handle_name, key))  # offered even where not installed: exemptions stay portable
        if function.original_func is None:  # e.g. os.statvfs on Windows
            missing.append(function.full_name)
            continue
        exempt = exemption_table(EXEMPT_CALLERS, function.can_block_functions)
        predicate = function.can_block_predicate
        if function.full_name.startswith("io."):
            # blockbuster allows sys.stdout/sys.stderr themselves; their
            # buffer and raw file are the same console, and /dev/null never blocks.
            predicate = _or_console(predicate)
        patches.append(
            _RuleSpec(key, function.module, function.func_name, function.full_name, predicate, exempt)
        )
        defaults.append(function.full_name)
    for rule in rules:
        names.append((rule.name, rule.name))
        if not _applies(rule):
            missing.append(rule.name)
            continue
        exempt = exemption_table(EXEMPT_CALLERS, rule.exempt_callers)
        if isinstance(rule, Audit):
            audits.append((rule, exempt))
        else:
            try:
                owner, name = _resolve_target(rule.target)
                inspect.getattr_static(owner, name)
            except AttributeError as exc:
                raise GateSetupError(
                    f"rule {rule.target!r} cannot be installed on Python {sys.version.split()[0]}: {exc}"
                ) from exc
            patches.append(_RuleSpec(rule.name, owner, name, rule.target, rule.nonblocking_if, exempt))
        project.append(rule.name)
    return _Plan(tuple(patches), tuple(audits), tuple(names), tuple(defaults), tuple(project), tuple(missing))


def _or_console(predicate: Callable[..., bool]) -> Callable[..., bool]:
    def allow(file: Any, *args: Any, **kwargs: Any) -> bool:
        return _rules.is_console(file) or predicate(file, *args, **kwargs)

    return allow


def _acquire(spec: _RuleSpec) -> None:
    with _patch_lock:
        item = _patches.get(spec.key)
        if item is not None:
            item.refs += 1
            return

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            return _make_checker(spec.key, spec.primitive, original, spec.nonblocking_if, spec.exempt)

        _patches[spec.key] = _install(spec.owner, spec.name, make)


def _release(key: str) -> None:
    with _patch_lock:
        item = _patches[key]
        item.refs -= 1
        if item.refs == 0:
            del _patches[key]
            _uninstall(item)


@contextmanager
def _holding(patches: Iterable[_RuleSpec]) -> Iterator[None]:
    held: list[str] = []
    try:
        for spec in patches:
            _acquire(spec)
            held.append(spec.key)
        _ensure_audit_hook()
        yield
    finally:
        for key in reversed(held):
            _release(key)


@contextmanager
def installed(rules: Iterable[Any] = RULES, *, blockbuster_defaults: bool = True) -> Iterator[None]:
    """Keep the checkers installed, inactive, for a whole session; arms nothing by itself.

    A gate armed inside (``strict_gate``, ``armed_gate``) then finds its
    checkers in place and only registers itself as listening: a few
    dictionary updates instead of patching and restoring a hundred callables.
    The conftest holds this from configure to unconfigure. Outside any armed
    gate an installed checker only tests an empty list before calling the
    original.
    """
    with _holding(_plan(tuple(rules), blockbuster_defaults).patches):
        yield


ModuleList = Sequence[str | ModuleType] | str | ModuleType | None


@contextmanager
def strict_gate(
    scanned_modules: ModuleList = None,
    *,
    excluded_modules: ModuleList = None,
    import_policy: str = IMPORT_WORK,
) -> Iterator[ArmedGate]:
    """Arm blockbuster's defaults and every project rule, scoped to ``scanned_modules``.

    ``scanned_modules`` defaults to ``("runlog",)``; ``excluded_modules`` are
    not scanned even where they lie under a scanned package (blockbuster's
    meaning); ``import_policy`` is ``IMPORT_WORK`` or ``REPORT``. Yields the
    armed detector (an ``ArmedGate``). It is ``armed_gate`` with the full rule set.
    """
    with armed_gate(
        scanned_modules,
        rules=RULES,
        blockbuster_defaults=True,
        excluded_modules=excluded_modules,
        import_policy=import_policy,
    ) as gate:
        yield gate


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


def _module_names(modules: ModuleList) -> tuple[str, ...]:
    if modules is None:
        return ()
    if isinstance(modules, (str, ModuleType)):
        modules = [modules]
    return tuple(m if isinstance(m, str) else m.__name__ for m in modules)


@contextmanager
def armed_gate(
    scanned_modules: ModuleList,
    *,
    rules: Iterable[Any],
    blockbuster_defaults: bool,
    excluded_modules: ModuleList = None,
    import_policy: str = IMPORT_WORK,
) -> Iterator[ArmedGate]:
    """Arm a chosen set of rules, scoped to ``scanned_modules``; yields the ``ArmedGate``.

    ``strict_gate`` is this with every rule; the meta-tests arm one rule at a
    time. Checkers not yet installed (no ``installed()`` held) are installed
    on entry and removed on exit, reference-counted so that gates nest.
    """
    modules = DEFAULT_SCANNED_MODULES if scanned_modules is None else _module_names(scanned_modules)
    if not modules:
        raise GateSetupError("the gate needs at least one module to scan")
    if import_policy not in IMPORT_POLICIES:
        raise GateSetupError(f"import policy {import_policy!r}: expected one of {', '.join(IMPORT_POLICIES)}")
    excluded = _module_names(excluded_modules)
    plan = _plan(tuple(rules), blockbuster_defaults)
    gate = ArmedGate(
        modules,
        _scanned_paths(modules),
        blockbuster_rules=list(plan.blockbuster_rules),
        project_rules=list(plan.project_rules),
        not_applicable=list(plan.not_applicable),
        rule_keys={spec.key for spec in plan.patches},
        import_policy=import_policy,
        excluded_paths=_scanned_paths(excluded) if excluded else (),
    )
    gate._name_rules(plan.names)
    gate._audit_entries = [(rule, gate, exempt) for rule, exempt in plan.audits]
    with _holding(list(plan.patches)):
        gate.activate()
        try:
            yield gate
        finally:
            gate.deactivate()
            gate.closed = True
