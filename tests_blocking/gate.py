"""The strict blocking-IO gate: blockbuster's default rules plus ours, one switch.

``strict_gate(scanned_modules=None)`` arms, for the duration of a ``with``
block, every rule of blockbuster's default table and every rule of
``rules.RULES``, scoped to the scanned modules (default: ``runlog``). A call
to a blocking primitive made on a thread that runs an asyncio event loop, by
code of a scanned module (directly or through sync helpers and libraries it
calls), raises ``GateBlockingError``, a ``blockbuster.BlockingError``; its
message names the primitive and the first scanned frame (file:line in
function). Every patch and hook is undone on exit, also when the body raises.

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

import importlib
import importlib.util
import inspect
import os
import sys
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
GLOBAL_EXEMPTIONS = _rules.GLOBAL_EXEMPTIONS
Patch = _rules.Patch
Audit = _rules.Audit
DEFAULT_SCANNED_MODULES = ("runlog",)

try:  # CPython: methods of C types (io.FileIO, ...) are patched through it
    import forbiddenfruit
except ImportError:  # pragma: no cover - PyPy
    forbiddenfruit = None

_get_running_loop = _asyncio_events._get_running_loop


class GateBlockingError(blockbuster.BlockingError):
    """A blocking call made on the event loop by scanned code."""

    def __init__(self, primitive: str, filename: str, lineno: int, function: str) -> None:
        self.primitive = primitive
        self.filename = filename
        self.lineno = lineno
        self.function = function
        super().__init__(f"{primitive} from {self.where}; offload it with asyncio.to_thread")

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}()"

    def __reduce__(self) -> tuple[Any, ...]:  # survive pickling (pytest-xdist)
        return (type(self), (self.primitive, self.filename, self.lineno, self.function))


class GateSetupError(RuntimeError):
    """The gate cannot be armed as configured: it refuses to run half-armed."""


@dataclass
class ArmedGate:
    """What ``strict_gate`` yields: the armed detector and what it has seen."""

    scanned_modules: tuple[str, ...]
    scanned_paths: tuple[str, ...]
    blockbuster_rules: list[str] = field(default_factory=list)
    project_rules: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    hits: list[GateBlockingError] = field(default_factory=list)  # every error raised, even if swallowed

    def blame(
        self, frame: FrameType | None, exemptions: Iterable[tuple[str, frozenset[str]]]
    ) -> FrameType | None:
        """The first scanned frame walking out from ``frame``, unless an exempt frame comes first."""
        rule_exemptions = tuple(exemptions)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(self.scanned_paths):
                return frame
            normalized = filename.replace("\\", "/")
            name = frame.f_code.co_name
            for suffix, functions in (*rule_exemptions, *GLOBAL_EXEMPTIONS):
                if name in functions and normalized.endswith(suffix):
                    return None
            if normalized.startswith(_TOOLING_PREFIXES):
                return None
            frame = frame.f_back
        return None

    def check(
        self, primitive: str, frame: FrameType | None, exemptions: Iterable[tuple[str, frozenset[str]]]
    ) -> None:
        culprit = self.blame(frame, exemptions)
        if culprit is not None:
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
    return tuple(str(Path(p)).replace("\\", "/") + "/" for p in spec.submodule_search_locations)


_TOOLING_PREFIXES = _tooling_prefixes()


def _display(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename


# -- the per-thread switch shared by every checker ---------------------------


class _State(threading.local):
    busy = False  # a check is running on this thread: primitives it uses pass


_state = _State()


def _make_checker(
    gate: ArmedGate,
    primitive: str,
    original: Callable[..., Any],
    allow_if: Callable[..., bool] | None,
    exemptions: tuple[Any, ...],
) -> Callable[..., Any]:
    def checker(*args: Any, **kwargs: Any) -> Any:
        if not _state.busy and _get_running_loop() is not None:
            _state.busy = True
            try:
                if allow_if is None or not allow_if(*args, **kwargs):
                    gate.check(primitive, sys._getframe(1), exemptions)
            finally:
                _state.busy = False
        # The call itself runs unguarded by ``busy``: primitives it reaches
        # are checked too, so an outer (nested) gate still sees them.
        return original(*args, **kwargs)

    checker.__name__ = getattr(original, "__name__", primitive.rsplit(".", 1)[-1])
    checker.__qualname__ = getattr(original, "__qualname__", checker.__name__)
    checker.__doc__ = getattr(original, "__doc__", None)
    checker.__wrapped__ = original  # type: ignore[attr-defined]
    return checker


# -- audit events: one process-wide hook, consulted only while a gate is armed --

_audit_rules: dict[str, list[tuple[Any, ArmedGate]]] = {}
_hook_installed = False
_hook_lock = threading.Lock()


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if not _audit_rules:
        return
    rules = _audit_rules.get(event)
    if not rules or _state.busy or _get_running_loop() is None:
        return
    _state.busy = True
    try:
        frame = sys._getframe(1)
        for rule, gate in tuple(rules):
            if rule.allow_if is None or not rule.allow_if(args):
                gate.check(f"{event} (audit event)", frame, rule.allowed_in)
    finally:
        _state.busy = False


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


_defaults_cache: list[blockbuster.BlockBusterFunction] = []


def _blockbuster_default_rules() -> list[blockbuster.BlockBusterFunction]:
    # Built once: only the table is used (names, owners, predicates,
    # exemptions); the callables are read afresh at each install.
    if not _defaults_cache:
        _defaults_cache.extend(blockbuster.BlockBuster().functions.values())
    return _defaults_cache


def _applies(rule: Any) -> bool:
    return sys.version_info[:2] >= rule.min_version


def _scanned_paths(modules: Sequence[str]) -> tuple[str, ...]:
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
            path = os.path.realpath(location)
            paths.append(path + os.sep if os.path.isdir(path) else path)
    return tuple(paths)


def rule_counts() -> dict[str, int]:
    """How many rules arm on this interpreter: blockbuster defaults, project patches, audit events."""
    defaults = sum(1 for f in _blockbuster_default_rules() if f.original_func is not None)
    applicable = [r for r in RULES if _applies(r)]
    return {
        "blockbuster": defaults,
        "project_patches": sum(isinstance(r, Patch) for r in applicable),
        "project_audit": sum(isinstance(r, Audit) for r in applicable),
        "not_applicable": len(RULES) - len(applicable),
    }


@contextmanager
def strict_gate(scanned_modules: Sequence[str] | str | None = None) -> Iterator[ArmedGate]:
    """Arm blockbuster's defaults and every project rule, scoped to ``scanned_modules``.

    ``scanned_modules`` defaults to ``("runlog",)``. Yields the armed detector.
    """
    with armed_gate(scanned_modules, rules=RULES, blockbuster_defaults=True) as gate:
        yield gate


@contextmanager
def armed_gate(
    scanned_modules: Sequence[str] | str | None,
    *,
    rules: Iterable[Any],
    blockbuster_defaults: bool,
) -> Iterator[ArmedGate]:
    """Arm a chosen set of rules. ``strict_gate`` arms them all; meta-tests arm one at a time."""
    if scanned_modules is None:
        modules = DEFAULT_SCANNED_MODULES
    elif isinstance(scanned_modules, str):
        modules = (scanned_modules,)
    else:
        modules = tuple(scanned_modules)
    if not modules:
        raise GateSetupError("the gate needs at least one module to scan")
    gate = ArmedGate(modules, _scanned_paths(modules))
    installed: list[_Installed] = []
    audit_added: list[tuple[Any, ArmedGate]] = []

    def checker_for(name: str, allow_if: Any, exemptions: tuple[Any, ...]) -> Callable[..., Any]:
        return lambda original: _make_checker(gate, name, original, allow_if, exemptions)

    try:
        for function in _blockbuster_default_rules() if blockbuster_defaults else ():
            if function.original_func is None:  # e.g. os.statvfs on Windows
                gate.not_applicable.append(function.full_name)
                continue
            exemptions = tuple((f, frozenset(fs)) for f, fs in function.can_block_functions)
            make = checker_for(function.full_name, function.can_block_predicate, exemptions)
            installed.append(_install(function.module, function.func_name, make))
            gate.blockbuster_rules.append(function.full_name)
        for rule in rules:
            if not _applies(rule):
                gate.not_applicable.append(rule.name)
                continue
            if isinstance(rule, Audit):
                entry = (rule, gate)
                _audit_rules.setdefault(rule.event, []).append(entry)
                audit_added.append(entry)
            else:
                try:
                    owner, name = _resolve_target(rule.target)
                    inspect.getattr_static(owner, name)
                except AttributeError as exc:
                    raise GateSetupError(
                        f"rule {rule.target!r} cannot be installed on Python {sys.version.split()[0]}: {exc}"
                    ) from exc
                installed.append(
                    _install(owner, name, checker_for(rule.target, rule.allow_if, rule.allowed_in))
                )
            gate.project_rules.append(rule.name)
        _ensure_audit_hook()
    except BaseException:
        _disarm(installed, audit_added)
        raise
    try:
        yield gate
    finally:
        _disarm(installed, audit_added)


def _disarm(installed: list[_Installed], audit_added: list[tuple[Any, ArmedGate]]) -> None:
    for item in reversed(installed):
        _uninstall(item)
    for entry in audit_added:
        event = entry[0].event
        _audit_rules[event].remove(entry)
        if not _audit_rules[event]:
            del _audit_rules[event]
