"""Arming: install the checkers a set of rules needs, and enlist a gate to listen to them.

Three names, one mechanism, from the outside in:

* ``strict_gate(scanned_modules=None)`` is the contract: every rule
  (blockbuster's defaults and the whole rule table, ``blockgate.rules``),
  scoped to the scanned modules (default: the ones the pytest plugin was
  configured with, ``gate_modules``). The plugin arms it around each gate
  test's setup, call and teardown.
* ``armed_gate(scanned_modules, rules=..., blockbuster_defaults=...)`` is what
  ``strict_gate`` calls, with a chosen subset of rules: the rule table's own
  tests arm one rule at a time with it. Both yield an ``ArmedGate``.
* ``installed()`` arms nothing: it keeps the checkers patched in, inert, for as
  long as it is held, so that arming a gate per test phase is a few dictionary
  updates instead of a few hundred patches. Without it, each gate installs its
  checkers on entry and removes them on exit (reference-counted, so gates nest).

Every patch is undone on exit, also when the body raises; the audit hook
(which Python cannot remove) goes inert. Fail closed: arming raises
``GateSetupError`` if a scanned module cannot be imported, or if a rule that
applies to this interpreter cannot be installed.

Why not ``blockbuster.BlockBuster`` itself: its wrapper raises a bare
``BlockingError("Blocking call to X")`` without the frame that made the call,
and it cannot watch audit events. The gate reuses blockbuster's rule table
(names, exemptions, predicates) and installs its own checker.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import blockbuster

from blockgate.detector import (
    IMPORT_POLICIES,
    IMPORT_WORK,
    ArmedGate,
    ExemptionTable,
    _ensure_audit_hook,
    _make_checker,
    _patch_lock,
    _patches,
    exemption_table,
)
from blockgate.errors import GateSetupError
from blockgate.lazy import fresh_caches
from blockgate.rebinding import rebind
from blockgate.rules import EXEMPT_CALLERS, RULES, Audit, Patch
from blockgate.rules.forms import not_a_disk_file

try:  # CPython: methods of C types (io.FileIO, ...) are patched through it
    import forbiddenfruit
except ImportError:  # pragma: no cover - PyPy
    forbiddenfruit = None

# What strict_gate() scans when it is given no module: set by the pytest
# plugin from ``gate_modules`` / ``--gate-modules`` (``configure_modules``).
_configured_modules: tuple[str, ...] = ()


def configure_modules(modules: Sequence[str]) -> None:
    """Make ``modules`` what ``strict_gate()`` scans by default (the plugin's configuration)."""
    global _configured_modules
    _configured_modules = tuple(modules)


def configured_modules() -> tuple[str, ...]:
    return _configured_modules


# -- patches -------------------------------------------------------------------


# How a checker was put in place: setattr; forbiddenfruit's curse (methods of C types); or, for
# ``__enter__``/``__exit__`` of a C type, which curse refuses (it only knows dunders with a slot),
# a write into the type's dict (no slot to update: the with statement looks them up by name).
SETATTR, CURSE, TYPE_DICT = "setattr", "curse", "type dict"
_BY_NAME_ONLY = frozenset(("__enter__", "__exit__"))


@dataclass
class _Installed:
    owner: Any
    name: str
    raw: Any  # what owner.__dict__ held (None when inherited)
    how: str  # SETATTR, CURSE or TYPE_DICT
    original: Any  # the callable the checker stands in for (what scanned code may hold)
    checker: Any  # what the checker is, as found on the owner (a function, or bound through a type)
    refs: int = 1


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
        original = raw.__func__
        checker = make(original)
        replacement: Any = type(raw)(checker)
    else:
        original = getattr(owner, name)
        replacement = checker = make(original)
    try:
        setattr(owner, name, replacement)
        how = SETATTR
    except TypeError:
        if forbiddenfruit is None:
            raise GateSetupError(f"cannot patch {owner!r}.{name} without forbiddenfruit") from None
        if name in _BY_NAME_ONLY:
            _write_type_dict(owner, name, replacement)
            how = TYPE_DICT
        else:
            _curse(owner, name, replacement)
            how = CURSE
    return _Installed(owner, name, own, how, original, checker)


def _curse(owner: type, name: str, value: Any) -> None:
    """forbiddenfruit's ``curse``, without the ``_c_<name>`` copy of the old value it leaves in the type.

    curse keeps what it replaced under ``_c_<name>`` in the C type's own dict, and nothing ever
    removes it: after a disarm, the type would still hold the checker (and all its closure holds)
    until the interpreter frees its static types at exit, when the io module is half torn down.
    blockbuster's deactivate leaves exactly that (its write checker's closure holds sys.stdout),
    and a process that used it can die of SIGSEGV at exit. The gate puts that entry back as it was.
    """
    namespace = forbiddenfruit.patchable_builtin(owner)
    copy_name = f"_c_{name}"
    had, before = copy_name in namespace, namespace.get(copy_name)
    forbiddenfruit.curse(owner, name, value)
    if had:
        namespace[copy_name] = before
    else:
        namespace.pop(copy_name, None)
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(owner))


def _write_type_dict(owner: type, name: str, value: Any) -> None:
    """Set (or, for None, remove) ``name`` in a C type's own dict, and tell the type cache."""
    namespace = forbiddenfruit.patchable_builtin(owner)
    if value is None:
        namespace.pop(name, None)
    else:
        namespace[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(owner))


def _uninstall(item: _Installed) -> None:
    if item.how == TYPE_DICT:
        _write_type_dict(item.owner, item.name, item.raw)
    elif item.how == CURSE and item.raw is None:
        forbiddenfruit.reverse(item.owner, item.name)
    elif item.how == CURSE:
        _curse(item.owner, item.name, item.raw)
    elif item.raw is None:
        delattr(item.owner, item.name)
    else:
        setattr(item.owner, item.name, item.raw)


_defaults_cache: list[tuple[str, blockbuster.BlockBusterFunction]] = []
# blockbuster's own class, bound before blockgate.swap can put the gate's in its place.
_BLOCKBUSTER_TABLE = blockbuster.BlockBuster


def _blockbuster_default_rules() -> list[tuple[str, blockbuster.BlockBusterFunction]]:
    # Built once: only the table is used (names, owners, predicates,
    # exemptions); the callables are read afresh at each install. The keys
    # are the names blockbuster's handle uses ("os.scandir", "threading.Lock.acquire").
    if not _defaults_cache:
        _defaults_cache.extend(_BLOCKBUSTER_TABLE().functions.items())
    return _defaults_cache


def _applies(rule: Patch | Audit) -> bool:
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
class RuleSpec:
    key: str
    owner: Any
    name: str
    primitive: str
    nonblocking_if: Callable[..., bool] | None
    exempt: ExemptionTable


@dataclass(frozen=True)
class _Plan:
    """What arming a set of rules means on this interpreter; computed once per set."""

    patches: tuple[RuleSpec, ...]
    audits: tuple[tuple[Any, ExemptionTable], ...]
    names: tuple[tuple[str, str], ...]  # (handle name, rule key): what ``ArmedGate.functions`` offers
    blockbuster_rules: tuple[str, ...]
    project_rules: tuple[str, ...]
    not_applicable: tuple[str, ...]


# The last plan made, with the rule tuple it was made for: a suite arms the same tuple (RULES)
# at every test phase, and hashing its several hundred rules (``_resolve``'s cache) each time
# costs more than the rest of arming.
_last_plan: list[tuple[tuple[Any, ...], bool, _Plan]] = []


def _plan(rules: Iterable[Any], blockbuster_defaults: bool) -> _Plan:
    """What arming ``rules`` means here; raise GateSetupError if one cannot be installed."""
    rules = rules if isinstance(rules, tuple) else tuple(rules)
    if _last_plan and _last_plan[0][0] is rules and _last_plan[0][1] == blockbuster_defaults:
        return _last_plan[0][2]
    plan = _resolve(rules, blockbuster_defaults)
    _last_plan[:] = [(rules, blockbuster_defaults, plan)]
    return plan


@functools.cache
def _resolve(rules: tuple[Any, ...], blockbuster_defaults: bool) -> _Plan:
    """Resolve every rule's target; raise GateSetupError if one cannot be installed here."""
    patches: list[RuleSpec] = []
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
            # blockbuster allows sys.stdout/sys.stderr themselves; their buffer and raw file
            # are the same console, /dev/null never blocks, and a stream that is no OS file
            # (in memory, or a tar member's reader over an archive in memory) does no IO of its
            # own: what it reads from a real file goes through that file's own rules.
            predicate = _or_not_a_disk_file(predicate)
        patches.append(
            RuleSpec(key, function.module, function.func_name, function.full_name, predicate, exempt)
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
            patches.append(RuleSpec(rule.name, owner, name, rule.target, rule.nonblocking_if, exempt))
        project.append(rule.name)
    return _Plan(tuple(patches), tuple(audits), tuple(names), tuple(defaults), tuple(project), tuple(missing))


def _or_not_a_disk_file(predicate: Callable[..., bool]) -> Callable[..., bool]:
    def allow(file: Any, *args: Any, **kwargs: Any) -> bool:
        return not_a_disk_file(file) or predicate(file, *args, **kwargs)

    return allow


def _acquire(spec: RuleSpec) -> None:
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
def _holding(patches: Iterable[RuleSpec]) -> Iterator[None]:
    # One lock for the whole set: a gate armed inside ``installed()`` only counts references.
    held: list[str] = []
    try:
        with _patch_lock:
            for spec in patches:
                item = _patches.get(spec.key)
                if item is None:
                    _acquire(spec)
                else:
                    item.refs += 1
                held.append(spec.key)
        _ensure_audit_hook()
        yield
    finally:
        with _patch_lock:
            for key in reversed(held):
                item = _patches[key]
                if item.refs > 1:
                    item.refs -= 1
                else:
                    _release(key)


@contextmanager
def installed(rules: Iterable[Any] = RULES, *, blockbuster_defaults: bool = True) -> Iterator[None]:
    """Keep the checkers installed, inactive, for a whole session; arms nothing by itself.

    A gate armed inside (``strict_gate``, ``armed_gate``) then finds its
    checkers in place and only registers itself as listening: a few
    dictionary updates instead of patching and restoring a hundred callables.
    The pytest plugin holds this for the session once a gate test runs. Outside any armed
    gate an installed checker only tests an empty list before calling the
    original.
    """
    with _holding(_plan(rules, blockbuster_defaults).patches):
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

    ``scanned_modules`` defaults to the plugin's configured modules; ``excluded_modules`` are
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


def _module_names(modules: ModuleList) -> tuple[str, ...]:
    if modules is None:
        return ()
    if isinstance(modules, (str, ModuleType)):
        modules = [modules]
    return tuple(m if isinstance(m, str) else m.__name__ for m in modules)


def added_rule(function: blockbuster.BlockBusterFunction) -> tuple[RuleSpec, tuple[str, str]]:
    """A rule added the blockbuster way (``bb.functions[name] = BlockBusterFunction(...)``), as the gate arms it.

    Its predicate is its ``nonblocking_if``; its ``can_block_functions`` stay
    on its handle, with blockbuster's meaning (a matching frame anywhere on the
    stack allows the call). Like every rule of the gate, it judges calls made
    through the gate's scanned modules.
    """
    if function.original_func is None:
        raise GateSetupError(f"added rule {function.full_name}: {function.func_name} does not exist here")
    key = f"added:{function.full_name}"
    spec = RuleSpec(
        key,
        function.module,
        function.func_name,
        function.full_name,
        function.can_block_predicate,
        exemption_table(EXEMPT_CALLERS),
    )
    return spec, (function.full_name, key)


@contextmanager
def armed_gate(
    scanned_modules: ModuleList,
    *,
    rules: Iterable[Any],
    blockbuster_defaults: bool,
    excluded_modules: ModuleList = None,
    import_policy: str = IMPORT_WORK,
    added: Iterable[RuleSpec] = (),
) -> Iterator[ArmedGate]:
    """Arm a chosen set of rules, scoped to ``scanned_modules``; yields the ``ArmedGate``.

    ``strict_gate`` is this with every rule; the meta-tests arm one rule at a
    time; ``added`` are rules added at run time (``added_rule``). Checkers not
    yet installed (no ``installed()`` held) are installed on entry and removed
    on exit, reference-counted so that gates nest.
    """
    modules = _configured_modules if scanned_modules is None else _module_names(scanned_modules)
    if not modules:
        raise GateSetupError(
            "the gate needs at least one module to scan: name it (strict_gate(['mypkg'])), "
            "or configure the pytest plugin (gate_modules = mypkg)"
        )
    if import_policy not in IMPORT_POLICIES:
        raise GateSetupError(f"import policy {import_policy!r}: expected one of {', '.join(IMPORT_POLICIES)}")
    excluded = _module_names(excluded_modules)
    plan = _plan(rules, blockbuster_defaults)
    patches = [*plan.patches, *added]
    gate = ArmedGate(
        modules,
        _scanned_paths(modules),
        blockbuster_rules=list(plan.blockbuster_rules),
        project_rules=list(plan.project_rules),
        not_applicable=list(plan.not_applicable),
        rule_keys={spec.key for spec in patches},
        import_policy=import_policy,
        excluded_paths=_scanned_paths(excluded) if excluded else (),
    )
    gate._names = plan.names
    gate._audit_entries = [(rule, gate, exempt) for rule, exempt in plan.audits]
    with _holding(patches), fresh_caches():
        gate.activate()
        # References scanned code took before now point at the checkers while the gate is armed.
        undo = rebind(gate.scanned_paths, gate.excluded_paths)
        try:
            yield gate
        finally:
            undo()
            gate.deactivate()
            gate.closed = True
