"""Name and receiver resolution: what a callee, a receiver, an annotation resolves to.

astroid answers (``AstroidResolver``, the default, chosen by measurement);
``JediResolver`` is kept for the comparison that chose it
(``gate/maintenance/static_resolvers.py``). Both serve the same walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import astroid
from astroid import bases, nodes


@dataclass
class Module:
    """One module of the scanned packages: its source, and astroid's tree once built."""

    name: str
    path: str  # relative to the root, posix
    source: str
    tree: Any = None  # astroid Module
    aliases: dict[str, str] = field(default_factory=dict)


class Inventory(Protocol):
    """What the resolvers ask of the walk (``walk.Inventory``): its files, and where names are defined."""

    root: Path
    files: dict[str, tuple[str, Path, str]]

    def module_named(self, name: str) -> Any: ...

    def owns(self, node: Any) -> bool: ...

    def module_of(self, node: Any) -> Module: ...

    def aliases_of(self, node: Any) -> dict[str, str]: ...

    def definition_at(self, path: Path, line: int, name: str) -> Any: ...


ACTIVE: list[Inventory] = []  # the inventory whose package modules astroid builds on import


_hooked: list[bool] = []


def load_astroid() -> None:
    """Teach astroid to build the scanned modules from their source (once per process)."""
    if not _hooked:
        astroid.MANAGER.register_failed_import_hook(_build_on_import)
        _hooked.append(True)


def _build_on_import(name: str) -> Any:
    """astroid found no module ``name`` on sys.path: a scanned module is built from its source."""
    for inventory in ACTIVE:
        if name in inventory.files:
            return inventory.module_named(name)
    raise astroid.AstroidBuildingError(f"no module {name}", modname=name)


def is_function(node: Any) -> bool:
    return isinstance(node, (nodes.FunctionDef, nodes.Lambda))


def qualname(node: Any) -> str:
    """``Class.method``, ``outer.inner``, ``outer.<lambda>``: the name inside its module."""
    names = []
    while node is not None and not isinstance(node, nodes.Module):
        if isinstance(node, (nodes.ClassDef, nodes.FunctionDef)):
            names.append(node.name)
        elif isinstance(node, nodes.Lambda):
            names.append("<lambda>")
        node = node.parent
    return ".".join(reversed(names)) or "<module>"


def dotted(node: Any) -> str:
    parts = []
    while isinstance(node, nodes.Attribute):
        parts.append(node.attrname)
        node = node.expr
    if isinstance(node, nodes.Name):
        parts.append(node.name)
    return ".".join(reversed(parts))


def own_nodes(function: Any) -> Iterator[Any]:
    """Every node of a function's own body: not inside nested functions, lambdas or classes,
    which run only when they are called."""
    body = [function.body] if isinstance(function, nodes.Lambda) else list(function.body)
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (nodes.FunctionDef, nodes.Lambda, nodes.ClassDef)):
            continue
        stack.extend(reversed(list(node.get_children())))


def is_property(function: Any) -> bool:
    decorators = function.decorators.nodes if getattr(function, "decorators", None) else []
    return any(dotted(d).rsplit(".", 1)[-1] in ("property", "cached_property") for d in decorators)


def is_abstract(function: Any) -> bool:
    decorators = function.decorators.nodes if getattr(function, "decorators", None) else []
    return any(dotted(d).endswith("abstractmethod") for d in decorators)


# How many assignments and annotations a receiver's type is followed through.
MAX_STEPS = 6

# pathlib methods and attributes whose result is a path of the receiver's class (astroid infers
# few of them): ``root.joinpath("a").mkdir()`` is ``Path.mkdir``.
PATH_METHODS = frozenset(
    {"joinpath", "with_name", "with_stem", "with_suffix", "with_segments", "relative_to", "absolute"}
    | {"resolve", "expanduser", "readlink"}
)
PATH_ATTRIBUTES = frozenset({"parent"})


@dataclass(frozen=True)
class Target:
    """What a callee expression resolves to: a package function or class, or an outside name."""

    node: Any = None  # astroid FunctionDef, Lambda or ClassDef of a scanned module
    external: str | None = None  # qualified name of a definition outside the scanned packages


class AstroidResolver:
    """Callees and receiver types through astroid's inference, plus the annotations it ignores."""

    name = "astroid"

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def _infer(self, expr: Any) -> list[Any]:
        try:
            return [v for v in expr.infer() if not isinstance(v, astroid.util.UninferableBase)]
        except (astroid.InferenceError, RecursionError, StopIteration):
            return []
        except Exception:  # astroid's brains can fail on odd code; a failed inference is unknown
            return []

    def _target(self, value: Any) -> Target | None:
        while isinstance(value, (bases.BoundMethod, bases.UnboundMethod)):
            value = value._proxied
        if isinstance(value, astroid.objects.PartialFunction):
            # Its body is the wrapped function's: that function is what runs.
            if value.body and is_function(value.body[0].parent):
                value = value.body[0].parent
            else:
                return None
        if (
            isinstance(value, bases.Instance)
            and isinstance(value._proxied, nodes.ClassDef)
            and self.inventory.owns(value._proxied)
        ):
            # Calling an object of a package class runs its __call__.
            calls = [m for m in self._method(value._proxied, "__call__") if m.node is not None]
            return calls[0] if calls else None
        if isinstance(value, (nodes.FunctionDef, nodes.Lambda, nodes.ClassDef)):
            if self.inventory.owns(value):
                return Target(node=value)
            if isinstance(value, nodes.Lambda) and not isinstance(value, nodes.FunctionDef):
                return None
            return Target(external=value.qname())
        return None

    def targets(self, expr: Any) -> list[Target]:
        found = [t for t in map(self._target, self._infer(expr)) if t is not None]
        if len(found) > 1 and isinstance(expr, nodes.Name):
            unbound = self._fallbacks_never_bound(expr)
            if unbound:
                found = [t for t in found if t not in unbound] or found
        if not found and isinstance(expr, nodes.Attribute):
            for cls in self._annotated_classes(expr.expr):
                found.extend(self._method(cls, expr.attrname))
        return list(dict.fromkeys(found))

    def _fallbacks_never_bound(self, name: Any) -> set[Target]:
        """What a name is bound to only in an ``except ImportError`` whose ``try`` imports it
        from a module that has it here (``try: from os.path import samefile`` / ``except
        ImportError: from .utils import samefile_simple as samefile``): on this Python the
        fallback never runs, so a call of the name is never a call of it."""
        try:
            _, bindings = name.lookup(name.name)
        except Exception:
            return set()
        unbound: set[Target] = set()
        for bound in bindings:
            handler = bound.parent if isinstance(bound, (nodes.Import, nodes.ImportFrom)) else None
            handler = handler if isinstance(handler, nodes.ExceptHandler) else None
            if handler is None or not _catches_import_error(handler):
                continue
            attempt = handler.parent
            if not isinstance(attempt, nodes.Try) or not any(
                _imports_here(statement, name.name) for statement in attempt.body
            ):
                continue
            for value in _imported(bound, name.name):
                target = self._target(value)
                if target is not None:
                    unbound.add(target)
        return unbound

    def _method(self, cls: Any, name: str) -> list[Target]:
        if isinstance(cls, str):
            return [Target(external=f"{cls}.{name}")]
        try:
            members = cls.getattr(name)
        except (astroid.AttributeInferenceError, astroid.InferenceError):
            return []
        # A method may be another's alias in the class body (``vrfy = verify``): what it holds.
        members = [v for m in members for v in (self._infer(m) if isinstance(m, nodes.AssignName) else [m])]
        return [t for t in map(self._target, members) if t is not None]

    def instance_classes(self, expr: Any) -> list[Any]:
        """The classes of the objects ``expr`` evaluates to (for ``with expr:``)."""
        found = [
            v._proxied
            for v in self._infer(expr)
            if isinstance(v, bases.Instance) and isinstance(v._proxied, nodes.ClassDef)
        ]
        return found or [c for c in self._annotated_classes(expr) if not isinstance(c, str)]

    # Annotations: astroid infers values, not declared types; a parameter, an attribute
    # or a function's result annotated with a class is an instance of that class, and so is
    # a name or an attribute assigned from one (``self.config = config``, ``root = self._root``).
    def _annotated_classes(self, expr: Any, depth: int = 0) -> list[Any]:
        annotations: list[Any] = []
        if depth > MAX_STEPS:  # a chain of assignments, never a cycle
            return []
        if isinstance(expr, nodes.BinOp) and expr.op == "/":
            # Path arithmetic keeps the path's class (astroid does not infer PurePath.__truediv__).
            return self._paths(expr.left, depth)
        if isinstance(expr, nodes.IfExp):
            return self._classes_of(expr.body, depth + 1) + self._classes_of(expr.orelse, depth + 1)
        if isinstance(expr, nodes.Name):
            try:
                _, assignments = expr.lookup(expr.name)
            except Exception:
                assignments = []
            classes: list[Any] = []
            for assigned in assignments:
                parent = assigned.parent
                if isinstance(parent, nodes.Arguments):
                    annotations.append(argument_annotation(parent, assigned))
                elif isinstance(parent, nodes.AnnAssign):
                    annotations.append(parent.annotation)
                elif isinstance(parent, nodes.Assign) and parent.value is not expr:
                    classes.extend(self._classes_of(parent.value, depth + 1))
            return classes + self._from_annotations(annotations)
        if isinstance(expr, nodes.Attribute):
            if expr.attrname in PATH_ATTRIBUTES:
                return self._paths(expr.expr, depth)
            classes = []
            for owner in self._classes_of(expr.expr, depth + 1):
                if not isinstance(owner, str):
                    classes.extend(self._attribute_classes(owner, expr.attrname, depth))
            return classes
        if isinstance(expr, nodes.Call):
            func = expr.func
            if isinstance(func, nodes.Attribute) and func.attrname in PATH_METHODS:
                paths = self._paths(func.expr, depth)
                if paths:
                    return paths
            annotations.extend(self._returns(expr))
        return self._from_annotations(annotations)

    def _from_annotations(self, annotations: list[Any]) -> list[Any]:
        classes: list[Any] = []
        for annotation in annotations:
            classes.extend(self._annotation_classes(annotation))
        return classes

    def _paths(self, expr: Any, depth: int) -> list[Any]:
        """The pathlib classes of ``expr``: what its path arithmetic and path methods return too."""
        return [
            cls
            for cls in self._classes_of(expr, depth + 1)
            if not isinstance(cls, str) and cls.qname().startswith("pathlib.")
        ]

    def _attribute_classes(self, cls: Any, attribute: str, depth: int) -> list[Any]:
        """The classes an attribute of ``cls`` instances holds: its annotation (a class-level field,
        dataclass or pydantic style), a property's return annotation, or what ``__init__`` and the
        other methods assign to it (``self.config = config``, an annotated parameter)."""
        classes = self._from_annotations(attribute_annotations(cls, attribute))
        if classes:
            return classes
        for klass in [cls, *cls.ancestors()]:
            for assigned in klass.instance_attrs.get(attribute, []):
                parent = assigned.parent
                if isinstance(parent, nodes.Assign) and len(parent.targets) == 1:
                    classes.extend(self._classes_of(parent.value, depth + 1))
        return list(dict.fromkeys(classes))

    def _classes_of(self, expr: Any, depth: int) -> list[Any]:
        inferred = [
            v._proxied
            for v in self._infer(expr)
            if isinstance(v, bases.Instance) and isinstance(v._proxied, nodes.ClassDef)
        ]
        return inferred or self._annotated_classes(expr, depth)

    def _returns(self, call: Any) -> list[Any]:
        out = []
        for target in self.targets(call.func):
            if isinstance(target.node, nodes.FunctionDef) and target.node.returns is not None:
                out.append(target.node.returns)
        return out

    def _annotation_classes(self, annotation: Any) -> list[Any]:
        if annotation is None:
            return []
        if isinstance(annotation, nodes.Const) and isinstance(annotation.value, str):
            try:
                parsed = astroid.extract_node(annotation.value)
            except Exception:
                return []
            parsed.parent = annotation.parent
            annotation = parsed
        if isinstance(annotation, nodes.BinOp) and annotation.op == "|":
            return self._annotation_classes(annotation.left) + self._annotation_classes(annotation.right)
        if isinstance(annotation, nodes.Subscript) and dotted(annotation.value).endswith("Optional"):
            return self._annotation_classes(annotation.slice)
        classes = [v for v in self._infer(annotation) if isinstance(v, nodes.ClassDef)]
        if classes:
            return classes
        # astroid cannot build some C types (sqlite3.Connection): the annotation's spelling,
        # through the module's imports, still names the class.
        spelled = dotted(annotation)
        if spelled:
            aliases = self.inventory.aliases_of(annotation)
            head, _, rest = spelled.partition(".")
            if head in aliases:
                return [aliases[head] + (f".{rest}" if rest else "")]
        return []


IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def _catches_import_error(handler: Any) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, nodes.Tuple) else [caught] if caught is not None else []
    return any(dotted(n) in IMPORT_ERRORS for n in names)


def _imported_name(statement: Any, local: str) -> tuple[str, str | None] | None:
    """(module, name in it) that an import statement binds to ``local``; name None: a module."""
    for original, alias in statement.names:
        if (alias or original.split(".")[0]) != local:
            continue
        if isinstance(statement, nodes.ImportFrom):
            return statement.modname, original
        return original if alias else original.split(".")[0], None
    return None


def _imports_here(statement: Any, local: str) -> bool:
    """An import that binds ``local`` and succeeds on this Python: the module is found (by
    astroid, without running it) and, for ``from m import n``, defines ``n``."""
    if not isinstance(statement, (nodes.Import, nodes.ImportFrom)):
        return False
    imported = _imported_name(statement, local)
    if imported is None or (isinstance(statement, nodes.ImportFrom) and statement.level):
        return False  # a relative import is the package's own: it may fail by design
    module_name, attribute = imported
    try:
        module = statement.do_import_module(module_name)
        if attribute is not None:
            module.getattr(attribute)
    except Exception:  # not found here, or no such name: the fallback is what runs
        return False
    return True


def _imported(statement: Any, local: str) -> list[Any]:
    """The definitions an import statement binds to ``local`` (none when astroid cannot say)."""
    imported = _imported_name(statement, local)
    if imported is None:
        return []
    module_name, attribute = imported
    try:
        module = statement.do_import_module(module_name)
        if attribute is None:
            return [module]
        return [v for m in module.getattr(attribute) for v in m.infer()]
    except Exception:
        return []


def argument_annotation(arguments: Any, name: Any) -> Any:
    for names, declared in (
        (arguments.posonlyargs, arguments.posonlyargs_annotations),
        (arguments.args, arguments.annotations),
        (arguments.kwonlyargs, arguments.kwonlyargs_annotations),
    ):
        for arg, annotation in zip(names or (), declared or (), strict=False):
            if arg is name:
                return annotation
    return None


def attribute_annotations(cls: Any, attribute: str) -> list[Any]:
    """An attribute's declared types: class-level annotations, annotated assignments in methods,
    and the return annotation of a property of that name."""
    found = []
    for klass in [cls, *cls.ancestors()]:
        for node in klass.body:
            if (
                isinstance(node, nodes.AnnAssign)
                and isinstance(node.target, nodes.AssignName)
                and node.target.name == attribute
            ):
                found.append(node.annotation)
            elif (
                isinstance(node, nodes.FunctionDef)
                and node.name == attribute
                and node.returns is not None
                and is_property(node)
            ):
                found.append(node.returns)
        for assigned in klass.instance_attrs.get(attribute, []):
            if isinstance(assigned.parent, nodes.AnnAssign):
                found.append(assigned.parent.annotation)
    return found


class JediResolver:
    """The same questions through jedi (by source position); kept to measure the choice."""

    name = "jedi"

    def __init__(self, inventory: Inventory) -> None:
        import jedi

        self.inventory = inventory
        self.project = jedi.Project(path=str(inventory.root), added_sys_path=[str(inventory.root)])
        self.environment = jedi.InterpreterEnvironment()
        self._scripts: dict[str, Any] = {}
        self._jedi = jedi

    def _script(self, module: Module) -> Any:
        if module.name not in self._scripts:
            self._scripts[module.name] = self._jedi.Script(
                module.source,
                path=str(self.inventory.root / module.path),
                project=self.project,
                environment=self.environment,
            )
        return self._scripts[module.name]

    def _names(self, expr: Any) -> list[Any]:
        if isinstance(expr, nodes.Attribute):
            line, column = expr.end_lineno, expr.end_col_offset - len(expr.attrname)
        elif isinstance(expr, nodes.Name):
            line, column = expr.lineno, expr.col_offset
        else:
            return []
        module = self.inventory.module_of(expr)
        try:
            return list(self._script(module).infer(line, column))
        except Exception:  # jedi raises on positions it cannot read; unknown, as with astroid
            return []

    def _target(self, name: Any) -> Target | None:
        if name.type not in ("function", "class"):
            return None
        if name.module_path is not None:
            node = self.inventory.definition_at(Path(name.module_path), name.line, name.name)
            if node is not None:
                return Target(node=node)
        return Target(external=name.full_name) if name.full_name else None

    def targets(self, expr: Any) -> list[Target]:
        return list(dict.fromkeys(t for t in map(self._target, self._names(expr)) if t is not None))

    def instance_classes(self, expr: Any) -> list[Any]:
        callee = expr.func if isinstance(expr, nodes.Call) else expr
        classes = []
        for name in self._names(callee):
            try:
                values = name.execute() if isinstance(expr, nodes.Call) else name.infer()
            except Exception:
                continue
            for value in values:
                if value.module_path is None:
                    continue
                node = self.inventory.definition_at(Path(value.module_path), value.line, value.name)
                if isinstance(node, nodes.ClassDef):
                    classes.append(node)
        return classes


Resolver = AstroidResolver | JediResolver
RESOLVERS: dict[str, type[Resolver]] = {"astroid": AstroidResolver, "jedi": JediResolver}
