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

What stays out of reach, listed in the blind spots: references held by code
outside the scanned modules (a library's ``from os import read``), and
references deeper than one container (a dict inside a list inside a dict).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from typing import Any

from blockgate.detector import _patch_lock, _patches

Undo = Callable[[], None]

# Bound methods of C types come in these kinds; a Python method bound to its object is a MethodType.
_BOUND = (types.BuiltinMethodType, types.MethodWrapperType, types.MethodType)


class _Table:
    """The installed checkers, by the original they stand in for and by (type, method name)."""

    def __init__(self) -> None:
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


class _Rebinding:
    """The changes one arming made, each with what undoes it."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.undo: list[Undo] = []

    def attribute(self, owner: Any, name: str, value: Any) -> None:
        new = self.table.replacement(value)
        if new is None:
            return
        try:
            setattr(owner, name, new)
        except (AttributeError, TypeError):  # a read-only attribute: nothing to rebind there
            return

        def undo() -> None:
            if vars(owner).get(name) is new:
                setattr(owner, name, value)

        self.undo.append(undo)

    def item(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        new = self.table.replacement(value)
        if new is None:
            return
        mapping[key] = new

        def undo() -> None:
            if mapping.get(key) is new:
                mapping[key] = value

        self.undo.append(undo)

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

    def _dict(self, mapping: dict[Any, Any]) -> None:
        for key, value in list(mapping.items()):
            self.item(mapping, key, value)

    def klass(self, cls: type) -> None:
        for name, value in list(vars(cls).items()):
            if isinstance(value, _PLAIN) or (name.startswith("__") and name.endswith("__")):
                continue
            if isinstance(value, staticmethod):
                new = self.table.replacement(value.__func__)
                if new is not None:
                    setattr(cls, name, staticmethod(new))
                    self.undo.append(functools.partial(setattr, cls, name, value))
            elif isinstance(value, types.FunctionType):
                self.function(value)
            else:
                self.attribute(cls, name, value)

    def module(self, module: types.ModuleType) -> None:
        for name, value in list(vars(module).items()):
            if isinstance(value, _PLAIN) or (name.startswith("__") and name.endswith("__")):
                continue  # constants; the module's own machinery (__builtins__ is the builtins' dict)
            if isinstance(value, types.FunctionType):
                if value.__module__ == module.__name__:
                    self.function(value)
            elif isinstance(value, type):
                if value.__module__ == module.__name__:
                    self.klass(value)
            elif isinstance(value, dict):
                self._dict(value)
            else:
                self.attribute(module, name, value)


def rebind(paths: tuple[str, ...], excluded: tuple[str, ...] = ()) -> Undo:
    """Point the scanned modules' early references at the installed checkers; return what undoes it."""
    rebinding = _Rebinding(_Table())
    if rebinding.table.by_original:
        for module in _scanned(paths, excluded):
            rebinding.module(module)

    def undo() -> None:
        for step in reversed(rebinding.undo):
            step()

    return undo
