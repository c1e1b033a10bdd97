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
        self._found: dict[tuple[Any, str], list[Any]] = {}

    def index(self, module: str, source: str) -> None:
        for bases in SUBCLASS.findall(source):
            for word in WORD.findall(bases):
                self._modules.setdefault(word, set()).add(module)

    def of(self, method: Any) -> list[Any]:
        """The methods of the scanned subclasses (any depth) of ``method``'s class overriding it."""
        cls, name = method.parent, method.name
        cached = self._found.get((cls, name))
        if cached is not None:
            return cached
        found: list[Any] = []
        seen = {cls}
        queue = [cls]
        while queue:
            base = queue.pop()
            for module in sorted(self._modules.get(base.name, ())):
                try:
                    tree = self._build(module)
                except astroid.AstroidBuildingError:
                    continue  # skipped: it does not parse here
                for sub in tree.nodes_of_class(nodes.ClassDef):
                    if sub in seen or not _subclasses(sub, base):
                        continue
                    seen.add(sub)
                    queue.append(sub)
                    found.extend(
                        m
                        for m in sub.locals.get(name, [])
                        if isinstance(m, nodes.FunctionDef) and m in self._functions and not is_abstract(m)
                    )
        self._found[(cls, name)] = found
        return found


def dispatch_is_open(func: Any, method: Any) -> bool:
    """Whether a call may run an override of ``method`` rather than ``method`` itself: it is made
    through ``self`` or ``cls`` (a base-class method runs on subclass objects), or the method is
    abstract (it never runs; its overrides do). A receiver of one inferred class, ``super()``
    and ``Base.method(self)`` name what runs."""
    if not isinstance(method.parent, nodes.ClassDef) or not isinstance(func, nodes.Attribute):
        return False
    if is_abstract(method):
        return True
    receiver = func.expr
    if not isinstance(receiver, nodes.Name):
        return False
    scope = func.scope()
    while isinstance(scope, nodes.Lambda) and not isinstance(scope, nodes.FunctionDef):
        scope = scope.parent.scope()  # a lambda inside a method sees the method's self
    if not isinstance(scope, nodes.FunctionDef) or not isinstance(scope.parent, nodes.ClassDef):
        return False
    arguments = [*(scope.args.posonlyargs or []), *(scope.args.args or [])]
    return bool(arguments) and arguments[0].name == receiver.name and not _is_static(scope)


def _is_static(function: Any) -> bool:
    decorators = function.decorators.nodes if function.decorators else []
    return any(dotted(d).rsplit(".", 1)[-1] == "staticmethod" for d in decorators)


def _subclasses(cls: Any, base: Any) -> bool:
    """``cls`` names ``base`` among its direct bases (inferred: an alias or a module attribute too)."""
    try:
        return any(b is base or b.qname() == base.qname() for b in cls.ancestors(recurs=False))
    except Exception:  # a base astroid cannot infer: not known to be a subclass
        return False
