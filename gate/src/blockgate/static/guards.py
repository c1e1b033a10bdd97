"""Branches a call provably leaves untaken: a test of a parameter the caller does not give.

``Datasette.__init__`` loads plugins under ``if self.plugins_dir:``, where
``self.plugins_dir = plugins_dir`` and the parameter defaults to None; a chain
that enters it from ``Datasette([], immutables=files)`` never takes that
branch. The walk still reports what the branch calls (a chain found another
way may take it, and the report keeps what it cannot rule out), but it
prefers a chain that can take the branch, and says so when none can.

A guard is an ``if`` whose test reads one parameter of the function as true:
the parameter itself, ``param is not None``, either among the operands of an
``and``, or ``self.attr`` (the same tests) where the only assignment of
``self.attr`` in the class and its ancestors is ``self.attr = param``, made at
the top level of this function's body before the ``if`` (a method called in
between assigns nothing else to it). The parameter must not be assigned again
in the function, unless only under guards of other parameters that the same
call leaves false too. A call leaves a guard false when it gives no value for
the parameter and its default is a false constant (None for ``is not None``),
or gives such a constant; a ``*args`` or ``**kwargs`` at the call, or a call
this module cannot map onto the parameters, proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from astroid import nodes

from blockgate.static.forms import splatted


@dataclass(frozen=True)
class Guard:
    """One ``if`` of a function whose body runs only when ``parameter`` is true (or not None)."""

    node: Any  # the astroid If
    parameter: str
    none_only: bool  # ``is not None``: only None leaves it false
    # Each other assignment of the parameter in the function, as the guards it sits under: the
    # call must leave one of them false, or the parameter may no longer hold what it passed.
    reassigned: tuple[tuple[Guard, ...], ...] = ()

    def describe(self) -> str:
        return f"`if {self.node.test.as_string()}:` (line {self.node.lineno})"


def guards(function: Any) -> list[Guard]:
    """Every guard of ``function``'s own body (nested functions and classes excluded)."""
    if not isinstance(function, nodes.FunctionDef) or function.args.args is None:
        return []
    extra = _reassignments(function)
    plain = _guards_on(function, {p: () for p, more in extra.items() if not more})
    # A parameter assigned again only under guards of plain parameters keeps the caller's value
    # on a call that leaves one of those false (datasette: ``if config_dir and ...: plugins_dir =``).
    usable: dict[str, tuple[tuple[Guard, ...], ...]] = {p: () for p, more in extra.items() if not more}
    for parameter, more in extra.items():
        held = tuple(tuple(enclosing(function, binding, plain)) for binding in more)
        if more and all(held):
            usable[parameter] = held
    return _guards_on(function, usable)


def _guards_on(function: Any, parameters: dict[str, tuple[tuple[Guard, ...], ...]]) -> list[Guard]:
    copies = _attribute_copies(function, set(parameters))
    found = []
    for node in function.nodes_of_class(
        nodes.If, skip_klass=(nodes.FunctionDef, nodes.ClassDef, nodes.Lambda)
    ):
        for test in _conjuncts(node.test):
            none_only = False
            if (
                isinstance(test, nodes.Compare)
                and len(test.ops) == 1
                and test.ops[0][0] == "is not"
                and isinstance(test.ops[0][1], nodes.Const)
                and test.ops[0][1].value is None
            ):
                test, none_only = test.left, True
            parameter = _parameter_read(test, set(parameters), copies, node)
            if parameter is not None:
                found.append(Guard(node, parameter, none_only, parameters[parameter]))
    return found


def enclosing(function: Any, site: Any, found: list[Guard]) -> list[Guard]:
    """The guards whose body holds ``site`` (a node of ``function``'s own body)."""
    if not found:
        return []
    by_node = {id(g.node): g for g in found}
    held: list[Guard] = []
    child, node = site, site.parent
    while node is not None and node is not function:
        if isinstance(node, nodes.If) and id(node) in by_node and child in node.body:
            held.extend(g for g in found if g.node is node)
        child, node = node, node.parent
    return held


def left_false(guard: Guard, function: Any, call: Any, bound: bool) -> str | None:
    """Why ``call`` (an astroid Call entering ``function``; ``bound``: the first parameter is the
    object, not an argument) leaves ``guard`` false, or None when that is not proven."""
    if not isinstance(call, nodes.Call) or splatted(call):
        return None
    how = _passed_false(guard, function, call, bound)
    if how is None:
        return None
    for held in guard.reassigned:
        kept = next(((g, w) for g in held if (w := left_false(g, function, call, bound))), None)
        if kept is None:
            return None  # the function may assign the parameter again on this call
        how += f"; it sets `{guard.parameter}` again only under {kept[0].describe()}, and {kept[1]}"
    return how


def _passed_false(guard: Guard, function: Any, call: Any, bound: bool) -> str | None:
    args = function.args
    positional = [a.name for a in (args.posonlyargs or []) + (args.args or [])]
    if bound:
        positional = positional[1:]
    name = guard.parameter
    for keyword in call.keywords or ():
        if keyword.arg == name:
            return _false_constant(keyword.value, guard, f"passes `{name}={keyword.value.as_string()}`")
    if name in positional and positional.index(name) < len(call.args):
        given = call.args[positional.index(name)]
        return _false_constant(given, guard, f"passes {given.as_string()} as `{name}`")
    default = _default(function, name)
    if default is None:
        return None  # no default: such a call raises TypeError, it enters nothing
    return _false_constant(default, guard, f"does not pass `{name}` (default {default.as_string()})")


def _false_constant(node: Any, guard: Guard, how: str) -> str | None:
    if not isinstance(node, nodes.Const):
        return None
    if guard.none_only and node.value is not None:
        return None
    return None if node.value else how


def _default(function: Any, name: str) -> Any:
    args = function.args
    positional = (args.posonlyargs or []) + (args.args or [])
    defaults = args.defaults or []
    for arg, default in zip(positional[len(positional) - len(defaults) :], defaults, strict=True):
        if arg.name == name:
            return default
    for arg, default in zip(args.kwonlyargs or [], args.kw_defaults or [], strict=True):
        if arg.name == name:
            return default
    return None


def _reassignments(function: Any) -> dict[str, list[Any]]:
    """Each parameter -> its bindings in the function other than the parameter itself."""
    args = function.args
    names = [a.name for a in (args.posonlyargs or []) + (args.args or []) + (args.kwonlyargs or [])]
    return {
        n: [b for b in function.locals.get(n, []) if not isinstance(b.parent, nodes.Arguments)] for n in names
    }


def _attribute_copies(function: Any, parameters: set[str]) -> dict[str, tuple[str, int]]:
    """``self.attr`` -> (parameter, line) for attributes the function sets only once, at the top
    level of its body, to a parameter (keyed ``self.attr``, as the test spells it)."""
    args = function.args.args or []
    if not args:
        return {}
    self_name = args[0].name
    assigned: dict[str, list[Any]] = {}
    for node in function.nodes_of_class(
        nodes.AssignAttr, skip_klass=(nodes.FunctionDef, nodes.ClassDef, nodes.Lambda)
    ):
        if isinstance(node.expr, nodes.Name) and node.expr.name == self_name:
            assigned.setdefault(node.attrname, []).append(node)
    cls = function.parent
    if not isinstance(cls, nodes.ClassDef):
        return {}
    copies = {}
    for attribute, targets in assigned.items():
        if len(targets) != 1 or not _assigned_once(cls, attribute, targets[0]):
            continue
        statement = targets[0].parent
        if (
            isinstance(statement, nodes.Assign)
            and statement.parent is function
            and statement.targets == [targets[0]]
            and isinstance(statement.value, nodes.Name)
            and statement.value.name in parameters
        ):
            copies[f"{self_name}.{attribute}"] = (statement.value.name, statement.lineno)
    return copies


def _assigned_once(cls: Any, attribute: str, target: Any) -> bool:
    """``target`` is the one assignment of ``self.<attribute>`` in the methods of ``cls`` and of
    every ancestor astroid can name (a class attribute of that name is a default, not one)."""
    try:
        lineage = [cls, *cls.ancestors()]
    except Exception:  # an ancestor astroid cannot infer may assign it
        return False
    return [a for klass in lineage for a in klass.instance_attrs.get(attribute, [])] == [target]


def _parameter_read(
    test: Any, parameters: set[str], copies: dict[str, tuple[str, int]], branch: Any
) -> str | None:
    if isinstance(test, nodes.Name) and test.name in parameters:
        return str(test.name)
    spelled = (
        f"{test.expr.name}.{test.attrname}"
        if isinstance(test, nodes.Attribute) and isinstance(test.expr, nodes.Name)
        else ""
    )
    if spelled in copies:
        parameter, line = copies[spelled]
        if line < branch.lineno:
            return parameter
    return None


def _conjuncts(test: Any) -> list[Any]:
    if isinstance(test, nodes.BoolOp) and test.op == "and":
        return [part for value in test.values for part in _conjuncts(value)]
    return [test]


def bound(function: Any, call: Any, names_a_class: Callable[[Any], bool]) -> bool | None:
    """Whether ``call`` passes its object as ``function``'s first parameter (a method called on an
    object, a constructor, a class method), or None when the call's form does not say."""
    if not isinstance(function.parent, nodes.ClassDef):
        return False
    decorators = {
        d.as_string().rsplit(".", 1)[-1] for d in (function.decorators.nodes if function.decorators else [])
    }
    if "staticmethod" in decorators:
        return False
    if "classmethod" in decorators:
        return True
    func = call.func
    if not isinstance(func, nodes.Attribute):
        # A constructor (``Datasette(...)`` enters ``__init__``); any other plain name is an alias.
        return True if function.name == "__init__" else None
    if function.name == "__init__" and func.attrname != "__init__":
        return True  # ``module.Class(...)``
    return not names_a_class(func.expr)  # ``Base.method(self, ...)`` passes the object itself
