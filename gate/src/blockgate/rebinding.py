"""References that scanned code took before the gate was armed, rebound to their checkers while it is armed.

A patch replaces a name on its owner (``time.sleep``, ``_thread.lock.acquire``):
it reaches every call that looks the name up when it runs, and misses every
reference taken before the gate was armed, which is how much real code is
written:

* ``from time import sleep``, ``from os import stat`` at module import;
* a default argument (``def f(sleep=time.sleep)``), a callable kept in a
  module-level dict or as a class attribute, a ``functools.partial`` made at
  import, a closure over one;
* a bound method of an object made before arming (``ACQUIRE = lock.acquire``,
  ``RECV = sock.recv``, ``EXECUTE = conn.execute``): the method was looked up
  once, on the type as it was then.

While a gate is armed, ``rebind`` finds those references in the scanned
modules (their globals, their classes, their functions' defaults and
closures, dicts and partials they hold at top level) and points them at the
installed checkers; ``undo`` points them back, unless something else changed
them meanwhile (a test's ``monkeypatch``). A checker that no armed gate
listens to calls straight through, so a rebound reference behaves as before
everywhere but on a guarded loop.

A suite arms at every test phase, and most armings find nothing new to
rebind: a container (a module's, a class's or a dict's namespace) found
holding no reference is remembered with what it held, and passed over while
it holds the same objects; when a whole scan found no reference, the next
arming compares everything it looked at in one pass (``_World``). Equal
contents are checked by identity where ``==`` could say otherwise, closure
cells are read again, and an assignment to a function's defaults is counted
by the audit hook: what Python code can change is seen. Defaults set from C
(``PyFunction_SetDefaults`` raises no audit event) are not seen until
something else in the scanned modules changes. A change to the installed
checkers starts afresh.

What stays out of reach, listed in the blind spots: references held by code
outside the scanned modules (a library's ``from os import read``), and
references deeper than one container (a dict inside a list inside a dict).
"""

from __future__ import annotations

import functools
import itertools
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

from blockgate.detector import DefaultsAssigned, _ensure_audit_hook, _patch_lock, _patches

Undo = Callable[[], None]

# Bound methods of C types come in these kinds; a Python method bound to its object is a MethodType.
_BOUND = (types.BuiltinMethodType, types.MethodWrapperType, types.MethodType)


class _Table:
    """The installed checkers, by the original they stand in for and by (type, method name)."""

    def __init__(self) -> None:
        self.version = _patches.version  # the installed set it was read from
        self.by_original: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, checker)
        self.by_method: dict[tuple[type, str], Any] = {}
        with _patch_lock:
            # In install order, blockbuster's defaults first: where two rules stand for one
            # callable (os.stat and its posix twin), the reference gets the public name's checker.
            for item in _patches.values():
                self.by_original.setdefault(id(item.original), (item.original, item.checker))
                if isinstance(item.owner, type):
                    self.by_method.setdefault((item.owner, item.name), item.checker)

    def replacement(self, value: Any) -> Any:
        """What ``value`` is rebound to, or None when it is no reference to a patched callable."""
        found = self.by_original.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        if isinstance(value, functools.partial):
            inner = self.replacement(value.func)
            return None if inner is None else functools.partial(inner, *value.args, **value.keywords)
        if isinstance(value, _BOUND):
            owner = getattr(value, "__self__", None)
            if owner is None or isinstance(owner, types.ModuleType):
                return None  # a module's function: matched by identity above
            name = getattr(value, "__name__", None)
            for klass in type(owner).__mro__:
                checker = self.by_method.get((klass, name))  # type: ignore[arg-type]
                if checker is not None:
                    return types.MethodType(checker, owner)
        return None


_tables: list[_Table] = []  # the last one read, while the installed set stays as it was


def _table() -> _Table:
    with _patch_lock:
        if not _tables or _tables[0].version != _patches.version:
            _tables[:] = [_Table()]
            _seen.clear()  # what was judged against the old checkers is judged again
        return _tables[0]


# Values that are never a reference to a callable: most of a module's and a class's attributes.
_PLAIN = (type(None), bool, int, float, str, bytes, tuple, frozenset, types.ModuleType)

# The scanned modules, found by file, kept while sys.modules keeps its size (an import adds one).
_found: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[int, list[types.ModuleType]]] = {}


def _scanned(paths: tuple[str, ...], excluded: tuple[str, ...]) -> list[types.ModuleType]:
    size = len(sys.modules)
    cached = _found.get((paths, excluded))
    if cached is not None and cached[0] == size:
        return cached[1]
    modules = []
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.startswith(paths):
            continue
        if not (excluded and filename.startswith(excluded)):
            modules.append(module)
    _found[(paths, excluded)] = (size, modules)
    return modules


# Types whose == can be True only against their own kind, where the scan judges alike any two
# of that kind that compare equal: constants and containers it never looks into (a str, a
# tuple, a list), a bound method bound to the same object and function, a builtin function or
# a partial (equal only to itself). An old item of another type (a dict, whose contents the scan
# reads; a class with its own __eq__) is compared by identity.
_IDENTITY_LIKE: frozenset[Any] = frozenset(
    {
        object.__eq__,
        *(
            kind.__eq__
            for kind in (
                str,
                bytes,
                int,
                float,
                complex,
                bool,
                tuple,
                frozenset,
                list,
                set,
                *_BOUND,
                types.BuiltinFunctionType,
                functools.partial,
            )
        ),
    }
)


class _Seen:
    """A container that a scan found holding no reference of its own, and what it held then.

    While it holds the same objects (``held``: its keys, then its values), it
    holds nothing new, and only what it contains that can change inside is
    looked at again: its functions that have defaults or a closure
    (``functions``), those that have neither if one was given defaults since
    (``bare``), and its classes and dicts (``others``).
    """

    __slots__ = ("bare", "container", "functions", "held", "others", "watched")

    def __init__(self, container: Any, held: tuple[Any, ...], nested: list[Any]) -> None:
        self.container = container
        self.held = held
        functions = [value for value in nested if isinstance(value, types.FunctionType)]
        # Functions with no defaults and no closure: only an assignment to their defaults
        # could give them a reference (a closure is fixed when the function is made).
        self.bare = [f for f in functions if not (f.__defaults__ or f.__kwdefaults__ or f.__closure__)]
        self.functions = [f for f in functions if f.__defaults__ or f.__kwdefaults__ or f.__closure__]
        self.others = [value for value in nested if not isinstance(value, types.FunctionType)]
        # Where == could call a new item equal to an old one that is not the same object
        # (a dict with equal contents, a matcher that equals anything): compared by identity.
        self.watched = tuple(i for i, item in enumerate(held) if type(item).__eq__ not in _IDENTITY_LIKE)


_DEFAULTS = operator.attrgetter("__defaults__")
_KWDEFAULTS = operator.attrgetter("__kwdefaults__")

# Containers judged against the current table (``_table`` empties it), by id.
_seen: dict[int, _Seen] = {}


def _contents(mapping: Any) -> tuple[Any, ...]:
    return (*mapping, *mapping.values())


def _unchanged(container: Any, mapping: Any) -> _Seen | None:
    seen = _seen.get(id(container))
    if seen is None or seen.container is not container:
        return None
    # Tuples compare item by item, and an item that is the same object compares equal without
    # running its __eq__: unchanged contents cost one pass in C. An old item whose __eq__
    # could equal a new object of another kind is compared by identity instead (``watched``).
    current = _contents(mapping)
    try:
        if current != seen.held:
            return None
    except Exception:  # a replaced item's __eq__ raised: it changed
        return None
    held = seen.held
    for i in seen.watched:
        if current[i] is not held[i]:
            return None
    return seen


class _Rebinding:
    """The changes one arming made, each with what undoes it."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.undo: list[Undo] = []

    def attribute(self, owner: Any, name: str, value: Any) -> bool:
        """Rebind ``owner.name`` if ``value`` is a reference; True when it is one."""
        new = self.table.replacement(value)
        if new is None:
            return False
        try:
            setattr(owner, name, new)
        except (AttributeError, TypeError):  # a read-only attribute: nothing to rebind there
            return True

        def undo() -> None:
            if vars(owner).get(name) is new:
                setattr(owner, name, value)

        self.undo.append(undo)
        return True

    def item(self, mapping: dict[Any, Any], key: Any, value: Any) -> bool:
        new = self.table.replacement(value)
        if new is None:
            return False
        mapping[key] = new

        def undo() -> None:
            if mapping.get(key) is new:
                mapping[key] = value

        self.undo.append(undo)
        return True

    def function(self, function: types.FunctionType) -> None:
        defaults = function.__defaults__
        if defaults:
            new = tuple(self.table.replacement(d) or d for d in defaults)
            if any(a is not b for a, b in zip(new, defaults, strict=True)):
                function.__defaults__ = new
                self.undo.append(functools.partial(self._restore_defaults, function, new, defaults))
        if function.__kwdefaults__:
            self._dict(function.__kwdefaults__)
        for cell in function.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            new_value = self.table.replacement(value)
            if new_value is not None:
                cell.cell_contents = new_value
                self.undo.append(functools.partial(self._restore_cell, cell, new_value, value))

    @staticmethod
    def _restore_defaults(function: types.FunctionType, new: tuple[Any, ...], old: tuple[Any, ...]) -> None:
        if function.__defaults__ is new:
            function.__defaults__ = old

    @staticmethod
    def _restore_cell(cell: types.CellType, new: Any, old: Any) -> None:
        if cell.cell_contents is new:
            cell.cell_contents = old

    def _again(self, seen: _Seen) -> None:
        """Look again inside what an unchanged container holds."""
        if any(map(_DEFAULTS, seen.bare)) or any(map(_KWDEFAULTS, seen.bare)):
            del _seen[id(seen.container)]  # given defaults since: sorted again at the next scan
            self._nested(seen.bare)
        for function in seen.functions:
            self.function(function)
        self._nested(seen.others)

    def _nested(self, nested: list[Any]) -> None:
        for value in nested:
            if isinstance(value, types.FunctionType):
                self.function(value)
            elif isinstance(value, type):
                self.klass(value)
            else:
                self._dict(value)

    def _dict(self, mapping: dict[Any, Any]) -> None:
        if _unchanged(mapping, mapping) is not None:
            return
        held = _contents(mapping)
        found = False
        for key, value in list(mapping.items()):
            found = self.item(mapping, key, value) or found
        if not found:
            _seen[id(mapping)] = _Seen(mapping, held, [])

    def klass(self, cls: type) -> None:
        self._namespace(cls, self._class_item)

    def module(self, module: types.ModuleType) -> None:
        self._namespace(module, self._module_item)

    def _namespace(self, owner: Any, item: Callable[[Any, str, Any, list[Any]], bool]) -> None:
        """Rebind what ``owner``'s namespace holds (``item`` judges each entry), unless it is unchanged."""
        namespace = vars(owner)
        seen = _unchanged(owner, namespace)
        if seen is not None:
            self._again(seen)
            return
        held = _contents(namespace)
        found = False
        nested: list[Any] = []  # what to look inside: functions, classes, dicts
        for name, value in list(namespace.items()):
            if isinstance(value, _PLAIN) or (name.startswith("__") and name.endswith("__")):
                continue  # constants; the owner's own machinery (a module's __builtins__ is the builtins' dict)
            found = item(owner, name, value, nested) or found
        self._nested(nested)
        if not found:
            _seen[id(owner)] = _Seen(owner, held, nested)

    def _class_item(self, cls: type, name: str, value: Any, nested: list[Any]) -> bool:
        if isinstance(value, staticmethod):
            new = self.table.replacement(value.__func__)
            if new is None:
                return False
            setattr(cls, name, staticmethod(new))
            self.undo.append(functools.partial(setattr, cls, name, value))
            return True
        if isinstance(value, types.FunctionType):
            nested.append(value)
            return False
        return self.attribute(cls, name, value)

    def _module_item(self, module: types.ModuleType, name: str, value: Any, nested: list[Any]) -> bool:
        if isinstance(value, (types.FunctionType, type)):
            if value.__module__ == module.__name__:  # defined here, not imported
                nested.append(value)
            return False
        if isinstance(value, dict):
            nested.append(value)
            return False
        return self.attribute(module, name, value)


class _World:
    """All that a scan of some modules looked at, when it found no reference anywhere.

    An arming that finds every container holding the same objects (one pass
    in C over live views of their keys and values), every closure cell the
    same object, and no function's defaults assigned since (the audit hook
    counts those: a function's defaults are otherwise immutable tuples, and
    its keyword defaults are among the containers) has nothing to rebind.
    Any change sends it through the container-by-container scan.
    """

    __slots__ = ("assigned", "cells", "contents", "held", "modules", "version", "views", "watched")

    def __init__(
        self, modules: list[types.ModuleType], version: int, assigned: int, seen: list[_Seen]
    ) -> None:
        self.modules = modules
        self.version = version
        self.assigned = assigned  # the count before the scan began
        functions = [f for entry in seen for f in (*entry.bare, *entry.functions)]
        seen = seen + [
            _Seen(f.__kwdefaults__, _contents(f.__kwdefaults__), []) for f in functions if f.__kwdefaults__
        ]
        views: list[Any] = []
        watched: list[int] = []
        offset = 0
        for entry in seen:
            mapping = entry.container if isinstance(entry.container, dict) else vars(entry.container)
            watched.extend(offset + i for i in entry.watched)
            offset += len(entry.held)
            views += (mapping.keys(), mapping.values())
        self.views = views
        self.held = tuple(itertools.chain.from_iterable(views))
        self.watched = operator.itemgetter(*watched) if watched else None
        self.cells = [cell for f in functions for cell in f.__closure__ or ()]
        self.contents = tuple(map(_CELL, self.cells))  # ValueError for an empty cell: no world

    def same(self, modules: list[types.ModuleType], version: int) -> bool:
        """The same modules, judged against the same checkers, and nothing in them changed."""
        if modules is not self.modules or version != self.version or DefaultsAssigned.count != self.assigned:
            return False
        current = tuple(itertools.chain.from_iterable(self.views))
        try:
            if current != self.held:
                return False
            contents = tuple(map(_CELL, self.cells))
        except Exception:  # a replaced item's __eq__ raised, or a cell was emptied: it changed
            return False
        if not all(map(operator.is_, contents, self.contents)):
            return False
        if self.watched is not None:
            now, then = self.watched(current), self.watched(self.held)
            if not isinstance(now, tuple):
                now, then = (now,), (then,)
            if not all(map(operator.is_, now, then)):
                return False
        return True


_CELL = operator.attrgetter("cell_contents")


def _world_of(modules: list[types.ModuleType], version: int, assigned: int) -> _World | None:
    """The world the scan just left, if every container in it was found holding nothing."""
    seen: list[_Seen] = []
    pending: list[Any] = list(modules)
    while pending:
        container = pending.pop()
        entry = _seen.get(id(container))
        if entry is None or entry.container is not container:
            return None
        seen.append(entry)
        pending.extend(entry.others)
    try:
        return _World(modules, version, assigned, seen)
    except ValueError:  # an empty closure cell: checked one function at a time
        return None


_worlds: dict[tuple[tuple[str, ...], tuple[str, ...]], _World] = {}


def rebind(paths: tuple[str, ...], excluded: tuple[str, ...] = ()) -> Undo:
    """Point the scanned modules' early references at the installed checkers; return what undoes it."""
    _ensure_audit_hook()  # it counts the assignments to defaults that a world relies on
    assigned = DefaultsAssigned.count
    rebinding = _Rebinding(_table())
    if rebinding.table.by_original:
        modules = _scanned(paths, excluded)
        world = _worlds.pop((paths, excluded), None)
        if world is None or not world.same(modules, rebinding.table.version):
            # Something may hold a reference: scan (containers that did not change are passed over).
            for module in modules:
                rebinding.module(module)
            world = _world_of(modules, rebinding.table.version, assigned) if not rebinding.undo else None
        if world is not None:
            _worlds[(paths, excluded)] = world

    def undo() -> None:
        for step in reversed(rebinding.undo):
            step()

    return undo
