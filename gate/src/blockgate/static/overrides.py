"""Widened dispatch: the overrides a call through ``self`` or ``cls`` may run.

A base class's template method calling ``self.helper()`` runs the subclass's
``helper`` when the object is the subclass; astroid resolves the call to the
base's method only (often abstract). The walk follows, besides it, every
override that the scanned packages' subclasses of that class define, at any
depth, and the chain says where dispatch was widened. Subclasses are found by
text first (a ``class`` statement naming a base of that name), so only the
modules that may hold one are built, then checked by astroid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import astroid
from astroid import nodes

from blockgate.static.resolvers import dotted, is_abstract

# ``class Name(Base, mod.Other[T], metaclass=M):``: every word of the bases may name a base.
SUBCLASS = re.compile(r"^[ \t]*class\s+\w+\s*\(([^)]*)\)", re.MULTILINE)
WORD = re.compile(r"\w+")


class Overrides:
    """The scanned subclasses' overrides of a method, from an index of ``class`` statements."""

    def __init__(self, build: Callable[[str], Any], functions: dict[Any, Any]) -> None:
        self._build = build  # module name -> its astroid tree (raises AstroidBuildingError)
        self._functions = functions  # the walk's functions: only scanned methods are followed
        self._modules: dict[str, set[str]] = {}  # a base's name -> modules that may subclass it
        self._found: dict[tuple[Any, Any], list[Any]] = {}
        self._below: dict[Any, list[Any]] = {}

    def index(self, module: str, source: str) -> None:
        for bases in SUBCLASS.findall(source):
            for word in WORD.findall(bases):
                self._modules.setdefault(word, set()).add(module)

    def of(self, method: Any, caller: Any = None) -> list[Any]:
        """The methods that run for ``method``'s name on objects of the scanned subclasses (any
        depth) of its class, but ``method`` itself. With ``caller`` (the method making the call
        through ``self``), only on subclasses that inherit ``caller``: one that overrides the
        caller too never runs this call (aiohttp's ``IOBasePayload`` overrides both
        ``as_bytes`` and the ``decode`` that ``Payload.as_bytes`` calls)."""
        key = (method, caller)
        cached = self._found.get(key)
        if cached is not None:
            return cached
        found: list[Any] = []
        for sub in self.subclasses(method.parent):
            if caller is not None and _resolved(sub, caller.name) is not caller:
                continue
            runs = _resolved(sub, method.name)
            if (
                runs is not None
                and runs is not method
                and runs in self._functions
                and not is_abstract(runs)
                and runs not in found
            ):
                found.append(runs)
        self._found[key] = found
        return found

    def subclasses(self, cls: Any) -> list[Any]:
        """Every scanned class below ``cls``, at any depth."""
        cached = self._below.get(cls)
        if cached is not None:
            return cached
        seen = {cls}
        below: list[Any] = []
        queue = [cls]
        while queue:
            base = queue.pop()
            for module in sorted(self._modules.get(base.name, ())):
                try:
                    tree = self._build(module)
                except astroid.AstroidBuildingError:
                    continue  # skipped: it does not parse here
                for sub in tree.nodes_of_class(nodes.ClassDef):
                    if sub not in seen and _subclasses(sub, base):
                        seen.add(sub)
                        below.append(sub)
                        queue.append(sub)
        self._below[cls] = below
        return below


def _resolved(cls: Any, name: str) -> Any:
    """What ``name`` is on ``cls``'s objects: the first definition along its MRO."""
    try:
        found = cls.getattr(name)
    except (astroid.AttributeInferenceError, astroid.InferenceError):
        return None
    return found[0] if found and isinstance(found[0], nodes.FunctionDef) else None


def open_dispatch(func: Any, method: Any) -> tuple[bool, Any]:
    """(whether the call ``func(...)``, resolved to ``method``, may run an override instead,
    the method it is made from through ``self`` or ``cls``, if so). Open: a call through
    ``self`` or ``cls`` (a base-class method runs on subclass objects), or of an abstract method
    (it never runs; its overrides do). A receiver of one inferred class, ``super()`` and
    ``Base.method(self)`` name what runs."""
    if not isinstance(method.parent, nodes.ClassDef) or not isinstance(func, nodes.Attribute):
        return False, None
    caller = None
    scope = func.scope()
    while isinstance(scope, nodes.Lambda) and not isinstance(scope, nodes.FunctionDef):
        scope = scope.parent.scope()  # a lambda inside a method sees the method's self
    if (
        isinstance(func.expr, nodes.Name)
        and isinstance(scope, nodes.FunctionDef)
        and isinstance(scope.parent, nodes.ClassDef)
        and not _is_static(scope)
    ):
        arguments = [*(scope.args.posonlyargs or []), *(scope.args.args or [])]
        if arguments and arguments[0].name == func.expr.name:
            caller = scope
    return caller is not None or is_abstract(method), caller


def _is_static(function: Any) -> bool:
    decorators = function.decorators.nodes if function.decorators else []
    return any(dotted(d).rsplit(".", 1)[-1] == "staticmethod" for d in decorators)


def _subclasses(cls: Any, base: Any) -> bool:
    """``cls`` names ``base`` among its direct bases (inferred: an alias or a module attribute too)."""
    try:
        return any(b is base or b.qname() == base.qname() for b in cls.ancestors(recurs=False))
    except Exception:  # a base astroid cannot infer: not known to be a subclass
        return False
