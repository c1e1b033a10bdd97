"""The static half of the gate: every blocking call the event loop can reach, joined with what the gate ran.

The runtime gate proves only what its tests execute. This tool reads the
scanned packages' source (it never imports or runs them) and lists each call
to a blocking primitive that code running on the loop thread can reach:

* Entry points: every ``async def`` of the scanned packages, and every sync
  callable handed to the loop to run on its own thread (``LOOP_CALLBACKS`` of
  the offload model: ``call_soon``, ``call_later``, ``call_at``,
  ``add_done_callback``...).
* Reachability follows calls across the whole package: functions of any
  module (imports, aliases, relative imports), methods through ``self`` and
  ``cls`` (inherited ones too), methods of objects whose type is known
  (constructed, annotated, assigned in ``__init__``), constructors, static and
  class methods, ``__enter__``/``__exit__`` of sync ``with`` statements,
  property getters, ``__call__`` of called objects, nested functions, lambdas
  and ``functools.partial`` objects that are called, and decorated functions. Names and receiver types are resolved by astroid
  (chosen over jedi by measurement: see README, "The static half"); this
  module only walks the structure and reads annotations astroid leaves aside.
* A callable handed to an offload (the offload model in
  ``tools/offload_inventory.py``) is passed, not called, so nothing behind it
  is reachable; neither is an awaited call (a coroutine runs when its own
  ``async def`` does, and that is an entry point of its own).
* Primitives: the gate's rule table is the only list. blockbuster's default
  table plus ``tests_blocking/rules.py`` (patch targets; audit events through
  the callables that raise them). A call is a primitive only when it resolves
  to one: a package method called ``open`` or ``rename`` is that method.

Output: ``<out>/static-inventory.json`` (``{"candidates": [...]}``) and
``static-inventory.md``; the last line is
``static inventory: N blocking calls reachable from the loop``, or with
``--coverage`` (the gate env's data with per-test contexts)
``static inventory: N reachable from the loop, G ran under the gate, U never did``.
With ``--coverage`` the run fails (exit 1) on an unguarded candidate that
``tests_blocking/unguarded.toml`` does not list with a reason, and on an
entry of that file that matches no unguarded candidate (stale).

Usage: python -m tools.static_inventory [--root DIR] [--package NAME ...]
       [--coverage DATA] [--changed-since REV] [--out DIR]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.offload_inventory import (
    LOOP_CALLBACKS,
    OFFLOAD_METHODS,
    OFFLOADS,
    OffloadSite,
    import_aliases,
    offload_form,
    sites_in_source,
    sites_in_tree,
)

REPO = Path(__file__).resolve().parents[1]
RULES_FILE = REPO / "tests_blocking" / "rules.py"
GATE_FILE = REPO / "tests_blocking" / "gate.py"
UNGUARDED_FILE = REPO / "tests_blocking" / "unguarded.toml"
PROGRESS_AFTER = 2.0  # seconds before a terminal run starts showing progress


# -- the primitives: the gate's rule table ------------------------------------------------


def load_rules(path: Path = RULES_FILE) -> tuple[Any, ...]:
    """``RULES`` of the gate's rule table, loaded from its file (it imports only the stdlib)."""
    spec = importlib.util.spec_from_file_location("_static_inventory_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.RULES)


def rule_names(rule: Any) -> tuple[str, ...]:
    """The dotted callables a rule catches: a Patch's target, an Audit's raisers."""
    raised_by = getattr(rule, "raised_by", None)
    if raised_by is not None:
        return tuple(raised_by)
    return (rule.target,)


def blockbuster_names() -> tuple[str, ...]:
    import blockbuster

    return tuple(blockbuster.BlockBuster().functions)


# Defining modules that are not the public one a rule names.
_PRIVATE_MODULES = {"posix": "os", "nt": "os", "genericpath": "os.path", "posixpath": "os.path"}


def public_name(qualified: str) -> str:
    """``pathlib._local.Path.stat`` -> ``pathlib.Path.stat``, ``_io.open`` -> ``io.open``,
    ``posix.stat`` -> ``os.stat``: the spelling a rule uses for a defining module."""
    head, _, rest = qualified.partition(".")
    if head in _PRIVATE_MODULES:
        return f"{_PRIVATE_MODULES[head]}.{rest}" if rest else _PRIVATE_MODULES[head]
    parts = qualified.split(".")
    kept = [parts[0].lstrip("_") or parts[0]]
    kept += [p for p in parts[1:-1] if not (p.startswith("_") and not p.startswith("__"))]
    return ".".join([*kept, parts[-1]]) if len(parts) > 1 else kept[0]


def defining_names(dotted: str) -> list[str]:
    """Where the stdlib object ``dotted`` is really defined (``module.qualname``), found by
    importing the stdlib module that holds it. Never imports scanned code: rules name the stdlib."""
    parts = dotted.split(".")
    obj: Any = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return []
        break
    else:
        return []
    owner = getattr(obj, "__objclass__", None)
    module = getattr(owner, "__module__", None) or getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    return [f"{module}.{qualname}"] if isinstance(module, str) and isinstance(qualname, str) else []


@dataclass(frozen=True)
class Primitive:
    name: str  # the rule table's spelling, e.g. builtins.open, pathlib.Path.stat
    rules: tuple[str, ...]  # the rules that catch it: project rule names, then blockbuster:<key>


class PrimitiveTable:
    """Every callable the gate's rules catch, findable by any name its definition goes by."""

    def __init__(self, rules: Iterable[Any], blockbuster: Iterable[str]) -> None:
        self._by_key: dict[str, str] = {}
        self._rules: dict[str, list[str]] = {}
        self._identity: dict[str, str] = {}
        for rule in rules:
            for name in rule_names(rule):
                self._add(name, rule.name)
        for name in blockbuster:
            self._add(name, f"blockbuster:{name}")

    def _add(self, name: str, rule: str) -> None:
        identities = defining_names(name)
        # Two spellings of one object (io.open, builtins.open) are one primitive: the first named.
        canonical = next((self._identity[i] for i in identities if i in self._identity), None)
        # A rule may name a callable by its defining module (posix.stat, the
        # twin of os.stat): the primitive keeps the public spelling.
        shown = public_name(name) if name.partition(".")[0] in _PRIVATE_MODULES else name
        canonical = canonical or self._by_key.get(name) or self._by_key.get(shown) or shown
        for identity in identities:
            self._identity.setdefault(identity, canonical)
        for key in {name, public_name(name), *identities, *map(public_name, identities)}:
            self._by_key.setdefault(key, canonical)
        rules = self._rules.setdefault(canonical, [])
        if rule not in rules:
            rules.append(rule)

    def lookup(self, qualified: str) -> Primitive | None:
        for key in (qualified, public_name(qualified)):
            name = self._by_key.get(key)
            if name is not None:
                return Primitive(name, tuple(self._rules[name]))
        return None

    def names(self) -> list[str]:
        return sorted(self._rules)

    def last_parts(self) -> set[str]:
        """The final names (``stat``, ``open``, ``Popen``) any spelling of a primitive ends with."""
        return {key.rsplit(".", 1)[-1] for key in self._by_key}


def primitive_table(rules_file: Path = RULES_FILE) -> PrimitiveTable:
    return PrimitiveTable(load_rules(rules_file), blockbuster_names())


# -- the scanned source ---------------------------------------------------------------------


@dataclass
class Module:
    name: str
    path: str  # relative to the root, posix
    source: str
    tree: Any = None  # astroid Module
    aliases: dict[str, str] = field(default_factory=dict)


def package_files(root: Path, packages: Iterable[str]) -> list[tuple[str, Path]]:
    """(module name, file) of every module of ``packages`` under ``root``."""
    found = []
    for package in packages:
        base = root.joinpath(*package.split("."))
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                found.append((".".join(parts), path))
        elif base.with_suffix(".py").is_file():
            found.append((package, base.with_suffix(".py")))
        else:
            raise SystemExit(f"static inventory: no package or module {package!r} under {root}")
    return found


def default_packages() -> list[str]:
    """The packages the gate scans: ``DEFAULT_SCANNED_MODULES`` of tests_blocking/gate.py."""
    tree = ast.parse(GATE_FILE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DEFAULT_SCANNED_MODULES" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return ["runlog"]


# -- structure: functions, their calls, and a name for each ----------------------------------

# astroid is imported lazily: ``--help`` and the review's imports stay cheap.
_astroid: Any = None
_nodes: Any = None
_bases: Any = None


_ACTIVE: list[Inventory] = []  # the inventory whose package modules astroid builds on import


def _load_astroid() -> None:
    global _astroid, _nodes, _bases
    if _astroid is None:
        import astroid
        from astroid import bases, nodes

        _astroid, _nodes, _bases = astroid, nodes, bases
        astroid.MANAGER.register_failed_import_hook(_build_on_import)


def _build_on_import(name: str) -> Any:
    """astroid found no module ``name`` on sys.path: a scanned module is built from its source."""
    for inventory in _ACTIVE:
        if name in inventory.files:
            return inventory.module_named(name)
    raise _astroid.AstroidBuildingError(f"no module {name}", modname=name)


_DEFINED = re.compile(r"\b(?:def|class)\s+(\w+)")
_PROPERTY = re.compile(
    r"@(?:[\w.]*\.)?(?:property|cached_property)\b[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*(?:async\s+)?def\s+(\w+)"
)
_ENTRY = re.compile(r"\basync\s+def\b|\.\s*(?:" + "|".join(LOOP_CALLBACKS) + r")\b")
# Every offload form of the model names its function or method in the file (an import at least).
_OFFLOAD_WORDS = re.compile(
    r"\b(?:" + "|".join(sorted({n.rsplit(".", 1)[-1] for n in OFFLOADS} | set(OFFLOAD_METHODS))) + r")\b"
)


def _is_function(node: Any) -> bool:
    return isinstance(node, (_nodes.FunctionDef, _nodes.Lambda))


def qualname(node: Any) -> str:
    """``Class.method``, ``outer.inner``, ``outer.<lambda>``: the name inside its module."""
    names = []
    while node is not None and not isinstance(node, _nodes.Module):
        if isinstance(node, (_nodes.ClassDef, _nodes.FunctionDef)):
            names.append(node.name)
        elif isinstance(node, _nodes.Lambda):
            names.append("<lambda>")
        node = node.parent
    return ".".join(reversed(names)) or "<module>"


def dotted(node: Any) -> str:
    parts = []
    while isinstance(node, _nodes.Attribute):
        parts.append(node.attrname)
        node = node.expr
    if isinstance(node, _nodes.Name):
        parts.append(node.name)
    return ".".join(reversed(parts))


def own_nodes(function: Any) -> Iterator[Any]:
    """Every node of a function's own body: not inside nested functions, lambdas or classes,
    which run only when they are called."""
    body = [function.body] if isinstance(function, _nodes.Lambda) else list(function.body)
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (_nodes.FunctionDef, _nodes.Lambda, _nodes.ClassDef)):
            continue
        stack.extend(reversed(list(node.get_children())))


def _is_property(function: Any) -> bool:
    decorators = function.decorators.nodes if getattr(function, "decorators", None) else []
    return any(dotted(d).rsplit(".", 1)[-1] in ("property", "cached_property") for d in decorators)


def is_abstract(function: Any) -> bool:
    decorators = function.decorators.nodes if getattr(function, "decorators", None) else []
    return any(dotted(d).endswith("abstractmethod") for d in decorators)


@dataclass(frozen=True)
class Target:
    """What a callee expression resolves to: a package function or class, or an outside name."""

    node: Any = None  # astroid FunctionDef, Lambda or ClassDef of a scanned module
    external: str | None = None  # qualified name of a definition outside the scanned packages


# -- resolvers: astroid (the one used) and jedi (measured against it) ------------------------


class AstroidResolver:
    """Callees and receiver types through astroid's inference, plus the annotations it ignores."""

    name = "astroid"

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def _infer(self, expr: Any) -> list[Any]:
        try:
            return [v for v in expr.infer() if not isinstance(v, _astroid.util.UninferableBase)]
        except (_astroid.InferenceError, RecursionError, StopIteration):
            return []
        except Exception:  # astroid's brains can fail on odd code; a failed inference is unknown
            return []

    def _target(self, value: Any) -> Target | None:
        while isinstance(value, (_bases.BoundMethod, _bases.UnboundMethod)):
            value = value._proxied
        if isinstance(value, _astroid.objects.PartialFunction):
            # Its body is the wrapped function's: that function is what runs.
            if value.body and _is_function(value.body[0].parent):
                value = value.body[0].parent
            else:
                return None
        if (
            isinstance(value, _bases.Instance)
            and isinstance(value._proxied, _nodes.ClassDef)
            and self.inventory.owns(value._proxied)
        ):
            # Calling an object of a package class runs its __call__.
            calls = [m for m in self._method(value._proxied, "__call__") if m.node is not None]
            return calls[0] if calls else None
        if isinstance(value, (_nodes.FunctionDef, _nodes.Lambda, _nodes.ClassDef)):
            if self.inventory.owns(value):
                return Target(node=value)
            if isinstance(value, _nodes.Lambda) and not isinstance(value, _nodes.FunctionDef):
                return None
            return Target(external=value.qname())
        return None

    def targets(self, expr: Any) -> list[Target]:
        found = [t for t in map(self._target, self._infer(expr)) if t is not None]
        if not found and isinstance(expr, _nodes.Attribute):
            for cls in self._annotated_classes(expr.expr):
                found.extend(self._method(cls, expr.attrname))
        return list(dict.fromkeys(found))

    def _method(self, cls: Any, name: str) -> list[Target]:
        if isinstance(cls, str):
            return [Target(external=f"{cls}.{name}")]
        try:
            members = cls.getattr(name)
        except (_astroid.AttributeInferenceError, _astroid.InferenceError):
            return []
        return [t for t in map(self._target, members) if t is not None]

    def instance_classes(self, expr: Any) -> list[Any]:
        """The classes of the objects ``expr`` evaluates to (for ``with expr:``)."""
        found = [
            v._proxied
            for v in self._infer(expr)
            if isinstance(v, _bases.Instance) and isinstance(v._proxied, _nodes.ClassDef)
        ]
        return found or [c for c in self._annotated_classes(expr) if not isinstance(c, str)]

    # Annotations: astroid infers values, not declared types; a parameter, an attribute
    # or a function's result annotated with a class is an instance of that class.
    def _annotated_classes(self, expr: Any, depth: int = 0) -> list[Any]:
        annotations: list[Any] = []
        if depth > 4:  # a chain of assignments, never a cycle
            return []
        if isinstance(expr, _nodes.BinOp) and expr.op == "/":
            # Path arithmetic keeps the path's class (astroid does not infer PurePath.__truediv__).
            return [
                cls
                for cls in self._classes_of(expr.left, depth + 1)
                if not isinstance(cls, str) and cls.qname().startswith("pathlib.")
            ]
        if isinstance(expr, _nodes.Name):
            try:
                _, assignments = expr.lookup(expr.name)
            except Exception:
                assignments = []
            for assigned in assignments:
                parent = assigned.parent
                if isinstance(parent, _nodes.Arguments):
                    annotations.append(_argument_annotation(parent, assigned))
                elif isinstance(parent, _nodes.AnnAssign):
                    annotations.append(parent.annotation)
                elif isinstance(parent, _nodes.Assign) and isinstance(parent.value, _nodes.Call):
                    annotations.extend(self._returns(parent.value))
                elif isinstance(parent, _nodes.Assign) and isinstance(parent.value, _nodes.BinOp):
                    return self._annotated_classes(parent.value, depth + 1)
        elif isinstance(expr, _nodes.Attribute):
            for owner in self._infer(expr.expr):
                if isinstance(owner, _bases.Instance) and isinstance(owner._proxied, _nodes.ClassDef):
                    annotations.extend(_attribute_annotations(owner._proxied, expr.attrname))
        elif isinstance(expr, _nodes.Call):
            annotations.extend(self._returns(expr))
        classes: list[Any] = []
        for annotation in annotations:
            classes.extend(self._annotation_classes(annotation))
        return classes

    def _classes_of(self, expr: Any, depth: int) -> list[Any]:
        inferred = [
            v._proxied
            for v in self._infer(expr)
            if isinstance(v, _bases.Instance) and isinstance(v._proxied, _nodes.ClassDef)
        ]
        return inferred or self._annotated_classes(expr, depth)

    def _returns(self, call: Any) -> list[Any]:
        out = []
        for target in self.targets(call.func):
            if isinstance(target.node, _nodes.FunctionDef) and target.node.returns is not None:
                out.append(target.node.returns)
        return out

    def _annotation_classes(self, annotation: Any) -> list[Any]:
        if annotation is None:
            return []
        if isinstance(annotation, _nodes.Const) and isinstance(annotation.value, str):
            try:
                parsed = _astroid.extract_node(annotation.value)
            except Exception:
                return []
            parsed.parent = annotation.parent
            annotation = parsed
        if isinstance(annotation, _nodes.BinOp) and annotation.op == "|":
            return self._annotation_classes(annotation.left) + self._annotation_classes(annotation.right)
        if isinstance(annotation, _nodes.Subscript) and dotted(annotation.value).endswith("Optional"):
            return self._annotation_classes(annotation.slice)
        classes = [v for v in self._infer(annotation) if isinstance(v, _nodes.ClassDef)]
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


def _argument_annotation(arguments: Any, name: Any) -> Any:
    for names, declared in (
        (arguments.posonlyargs, arguments.posonlyargs_annotations),
        (arguments.args, arguments.annotations),
        (arguments.kwonlyargs, arguments.kwonlyargs_annotations),
    ):
        for arg, annotation in zip(names or (), declared or (), strict=False):
            if arg is name:
                return annotation
    return None


def _attribute_annotations(cls: Any, attribute: str) -> list[Any]:
    found = []
    for klass in [cls, *cls.ancestors()]:
        for node in klass.body:
            if (
                isinstance(node, _nodes.AnnAssign)
                and isinstance(node.target, _nodes.AssignName)
                and node.target.name == attribute
            ):
                found.append(node.annotation)
        for assigned in klass.instance_attrs.get(attribute, []):
            if isinstance(assigned.parent, _nodes.AnnAssign):
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
        if isinstance(expr, _nodes.Attribute):
            line, column = expr.end_lineno, expr.end_col_offset - len(expr.attrname)
        elif isinstance(expr, _nodes.Name):
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
        callee = expr.func if isinstance(expr, _nodes.Call) else expr
        classes = []
        for name in self._names(callee):
            try:
                values = name.execute() if isinstance(expr, _nodes.Call) else name.infer()
            except Exception:
                continue
            for value in values:
                if value.module_path is None:
                    continue
                node = self.inventory.definition_at(Path(value.module_path), value.line, value.name)
                if isinstance(node, _nodes.ClassDef):
                    classes.append(node)
        return classes


RESOLVERS = {"astroid": AstroidResolver, "jedi": JediResolver}


# -- the inventory ------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    module: str
    path: str
    qualname: str
    line: int
    end_line: int
    is_async: bool

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"


@dataclass
class Calls:
    """What one function does when it runs: the functions it enters and the primitives it calls."""

    enters: list[tuple[int, Any]] = field(default_factory=list)  # (line, astroid function node)
    primitives: list[tuple[int, Primitive]] = field(default_factory=list)


class Progress:
    """One self-overwriting status line on a terminal, once a run lasts a couple of seconds."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self._last = 0.0
        self.shown = False

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER or now - self._last < 0.2:
            return
        self._last = now
        self.shown = True
        sys.stderr.write(f"\rstatic inventory: {text}\033[K")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class Inventory:
    """The scanned packages parsed by astroid, their functions, and the calls each makes."""

    def __init__(
        self,
        root: Path,
        packages: list[str],
        primitives: PrimitiveTable,
        *,
        resolver: str = "astroid",
        sources: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        _load_astroid()
        self.root = root.resolve()
        self.packages = packages
        self.primitives = primitives
        self.progress = progress or Progress()
        self.modules: dict[str, Module] = {}  # the package modules astroid has built, indexed
        self._by_path: dict[str, Module] = {}
        self.files: dict[str, tuple[str, Path, str]] = {}  # module -> (relative path, file, source)
        self.aliases: dict[str, dict[str, str]] = {}  # module -> its import aliases
        self.offload_sites: list[OffloadSite] = []
        self.functions: dict[Any, Function] = {}
        self._definitions: dict[tuple[str, int], list[Any]] = {}
        self._calls: dict[Any, Calls] = {}
        _ACTIVE[:] = [self]
        self._parse(sources or {})
        self.resolver = RESOLVERS[resolver](self)

    # parsing: every file by the stdlib's parser; by astroid only the modules with entry points,
    # and the others when inference imports them (most of a large package is never needed).
    def _parse(self, sources: dict[str, str]) -> None:
        manager = _astroid.MANAGER
        # A module name may have been built from another root (another fixture, a mutant).
        for name in list(manager.astroid_cache):
            if self.is_package_module(name):
                del manager.astroid_cache[name]
        self.property_names: set[str] = set()
        # A method call can only reach a package function or a primitive if its name is one of
        # theirs: other calls (``.append``, ``.get``) need no inference, which is most of the cost.
        self.callable_names = set(self.primitives.last_parts())
        files = package_files(self.root, self.packages)
        seeds = []
        for done, (name, path) in enumerate(files, 1):
            relative = path.relative_to(self.root).as_posix()
            source = sources[relative] if relative in sources else path.read_text(encoding="utf-8")
            self.files[name] = (relative, path, source)
            # A first look by text, a superset of what the AST holds (a name in a string only
            # costs an inference): the stdlib parser runs on few files, astroid on fewer.
            self.callable_names.update(_DEFINED.findall(source))
            self.property_names.update(_PROPERTY.findall(source))
            seed = relative in sources or bool(_ENTRY.search(source))  # a mutant: astroid uses ours
            if _OFFLOAD_WORDS.search(source):
                tree = ast.parse(source, filename=str(path))
                self.aliases[name] = import_aliases(tree)
                self.offload_sites.extend(sites_in_tree(tree, relative, self.aliases[name]))
            if seed:
                seeds.append(name)
            self.progress.update(f"read {done}/{len(files)} files")
        # A copy of the package installed elsewhere would be what astroid imports: build all now.
        build = list(self.files) if self._installed_elsewhere() else seeds
        for done, name in enumerate(build, 1):
            self.module_named(name)
            self.progress.update(f"parsed {done}/{len(build)} files with entry points")

    def is_package_module(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.packages)

    def _installed_elsewhere(self) -> bool:
        from astroid.modutils import file_from_modpath

        for package in self.packages:
            try:
                found = file_from_modpath(package.split("."))
            except ImportError:
                continue
            if found and not Path(os.path.realpath(found)).is_relative_to(self.root):
                return True
        return False

    def module_named(self, name: str) -> Any:
        """The astroid module of a package module: built from our source once, then indexed."""
        if name in self.modules:
            return self.modules[name].tree
        from astroid.builder import AstroidBuilder

        _, path, source = self.files[name]
        tree = AstroidBuilder(_astroid.MANAGER).string_build(source, name, str(path))
        _astroid.MANAGER.cache_module(tree)
        self._index(name, tree)
        return tree

    def _index(self, name: str, tree: Any) -> None:
        relative, path, source = self.files[name]
        if name not in self.aliases:
            self.aliases[name] = import_aliases(ast.parse(source, filename=str(path)))
        module = Module(name, relative, source, tree, self.aliases[name])
        self.modules[name] = module
        self._by_path[os.path.realpath(path)] = module
        for node in tree.nodes_of_class((_nodes.FunctionDef, _nodes.Lambda, _nodes.ClassDef)):
            if _is_function(node):
                self.functions[node] = Function(
                    name,
                    relative,
                    qualname(node),
                    node.lineno,
                    node.tolineno,
                    isinstance(node, _nodes.AsyncFunctionDef),
                )
            if isinstance(node, (_nodes.FunctionDef, _nodes.ClassDef)):
                self._definitions.setdefault((relative, node.lineno), []).append(node)

    def owns(self, node: Any) -> bool:
        try:
            tree = node.root()
            name = tree.name
            if name not in self.modules:
                # astroid built it on an import: ours if it is this root's file (an editable install).
                if name not in self.files or os.path.realpath(tree.file or "") != os.path.realpath(
                    self.files[name][1]
                ):
                    return False
                self._index(name, tree)
            elif self.modules[name].tree is not tree:
                return False
            return node in self.functions or isinstance(node, _nodes.ClassDef)
        except Exception:
            return False

    def module_of(self, node: Any) -> Module:
        return self.modules[node.root().name]

    def aliases_of(self, node: Any) -> dict[str, str]:
        module = self.modules.get(node.root().name)
        return module.aliases if module else {}

    def definition_at(self, path: Path, line: int, name: str) -> Any:
        module = self._by_path.get(os.path.realpath(path))
        if module is None:
            wanted = os.path.realpath(path)
            for module_name, (_, file, _) in self.files.items():
                if os.path.realpath(file) == wanted:
                    self.module_named(module_name)
                    module = self.modules[module_name]
                    break
            else:
                return None
        for node in self._definitions.get((module.path, line), []):
            if node.name == name:
                return node
        return None

    # entry points
    def entry_points(self) -> list[Any]:
        """Every async def (but abstract ones, which never run) and every loop callback."""
        # Only modules with an async def or a loop callback hold entry points: all built by now.
        entries = [node for node, fn in self.functions.items() if fn.is_async and not is_abstract(node)]
        for module in list(self.modules.values()):
            for call in module.tree.nodes_of_class(_nodes.Call):
                func = call.func
                if isinstance(func, _nodes.Attribute) and func.attrname in LOOP_CALLBACKS:
                    index = LOOP_CALLBACKS[func.attrname]
                    if len(call.args) > index:
                        for node in self._callables(call.args[index]):
                            if node not in entries:
                                entries.append(node)
        return entries

    # what a function calls
    def calls(self, function: Any) -> Calls:
        cached = self._calls.get(function)
        if cached is not None:
            return cached
        calls = Calls()
        aliases = self.aliases_of(function)
        for node in own_nodes(function):
            if isinstance(node, _nodes.Call):
                self._call(node, aliases, calls)
            elif (
                isinstance(node, _nodes.Attribute)
                and node.attrname in self.property_names
                and not (isinstance(node.parent, _nodes.Call) and node.parent.func is node)
            ):
                # Reading a property runs its getter, here on the loop.
                for cls in self.resolver.instance_classes(node.expr):
                    calls.enters.extend(
                        (node.lineno, f) for f in self._class_methods(cls, node.attrname) if _is_property(f)
                    )
            elif isinstance(node, _nodes.With):
                for item, _ in node.items:
                    for cls in self.resolver.instance_classes(item):
                        for method in ("__enter__", "__exit__"):
                            calls.enters.extend((node.lineno, f) for f in self._class_methods(cls, method))
        self._calls[function] = calls
        return calls

    def _call(self, call: Any, aliases: dict[str, str], calls: Calls) -> None:
        if isinstance(call.parent, _nodes.Await):
            return  # a coroutine: it runs as an entry point of its own, never as a blocking call
        func = call.func
        spelled = dotted(func)
        head, _, rest = spelled.partition(".")
        resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
        method = func.attrname if isinstance(func, _nodes.Attribute) else None
        if spelled and offload_form(resolved, method) is not None:
            return  # the target is handed over, not called; its arguments are calls of their own
        if method is not None and method not in self.callable_names:
            return
        for target in self._callee_targets(func):
            if target.external is not None:
                primitive = self.primitives.lookup(target.external)
                if primitive is not None:
                    calls.primitives.append((call.lineno, primitive))
            elif isinstance(target.node, _nodes.ClassDef):
                calls.enters.extend((call.lineno, f) for f in self._class_methods(target.node, "__init__"))
            elif target.node is not None and not isinstance(target.node, _nodes.AsyncFunctionDef):
                calls.enters.append((call.lineno, target.node))

    def _callee_targets(self, func: Any) -> list[Target]:
        if isinstance(func, _nodes.Lambda) and not isinstance(func, _nodes.FunctionDef):
            return [Target(node=func)]  # (lambda: ...)()
        wrapped = self._partial_origin(func)
        if wrapped is not None:
            return self._callee_targets(wrapped)  # partial(f, ...)() and p = partial(f); p()
        return self.resolver.targets(func)

    def _partial_origin(self, expr: Any) -> Any:
        """The function a ``functools.partial`` object wraps, when ``expr`` is one."""
        if isinstance(expr, _nodes.Name):
            try:
                _, assignments = expr.lookup(expr.name)
            except Exception:
                return None
            values = [
                a.parent.value
                for a in assignments
                if isinstance(a.parent, _nodes.Assign) and isinstance(a.parent.value, _nodes.Call)
            ]
            expr = values[0] if len(values) == 1 and len(assignments) == 1 else None
        if isinstance(expr, _nodes.Call) and expr.args:
            callee = self.resolver.targets(expr.func)
            if any(t.external == "functools.partial" for t in callee):
                return expr.args[0]
        return None

    def _callables(self, expr: Any) -> list[Any]:
        """The package functions an expression that is passed as a callable stands for."""
        if isinstance(expr, _nodes.Lambda) and not isinstance(expr, _nodes.FunctionDef):
            return [expr]
        wrapped = self._partial_origin(expr)
        if wrapped is not None:
            return self._callables(wrapped)
        return [
            t.node
            for t in self.resolver.targets(expr)
            if t.node is not None and _is_function(t.node) and not isinstance(t.node, _nodes.AsyncFunctionDef)
        ]

    def _class_methods(self, cls: Any, name: str) -> list[Any]:
        if isinstance(cls, str) or not self.owns(cls):
            return []
        try:
            members = cls.getattr(name)
        except (_astroid.AttributeInferenceError, _astroid.InferenceError):
            return []
        return [m for m in members if isinstance(m, _nodes.FunctionDef) and m in self.functions]


@dataclass
class Candidate:
    path: str
    line: int
    function: str
    primitive: str
    rule: str
    rules: list[str]
    entries: list[str]
    chain: list[str]
    chain_functions: list[Function] = field(repr=False)

    def key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.function, self.primitive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "function": self.function,
            "primitive": self.primitive,
            "rule": self.rule,
            "rules": self.rules,
            "entries": self.entries,
            "chain": self.chain,
        }


@dataclass
class Result:
    candidates: list[Candidate]
    loop_functions: list[Function]  # every function the loop can run
    loop_nodes: list[Any]  # the same, as astroid nodes: loop_lines() reads their bodies
    offloads: list[OffloadSite]
    entry_count: int
    file_count: int
    seconds: float


def reach(inventory: Inventory) -> Result:
    """Walk from every entry point; collect the primitives met on the way."""
    started = time.perf_counter()
    entries = inventory.entry_points()
    found: dict[tuple[str, int, str, str], Candidate] = {}
    loop: dict[Any, None] = {}
    for done, entry in enumerate(sorted(entries, key=lambda n: _sort_key(inventory, n)), 1):
        inventory.progress.update(f"followed {done}/{len(entries)} entry points")
        entry_fn = inventory.functions[entry]
        parents: dict[Any, Any] = {entry: None}
        queue = deque([entry])
        while queue:
            node = queue.popleft()
            loop.setdefault(node)
            calls = inventory.calls(node)
            for line, primitive in calls.primitives:
                fn = inventory.functions[node]
                chain_nodes = _path_to(parents, node)
                key = (fn.path, line, fn.qualname, primitive.name)
                candidate = found.get(key)
                if candidate is None:
                    chain_functions = [inventory.functions[n] for n in chain_nodes]
                    found[key] = candidate = Candidate(
                        path=fn.path,
                        line=line,
                        function=fn.qualname,
                        primitive=primitive.name,
                        rule=primitive.rules[0],
                        rules=list(primitive.rules),
                        entries=[],
                        chain=[f.name for f in chain_functions] + [primitive.name],
                        chain_functions=chain_functions,
                    )
                if entry_fn.name not in candidate.entries:
                    candidate.entries.append(entry_fn.name)
            for _line, callee in calls.enters:
                if callee not in parents:
                    parents[callee] = node
                    queue.append(callee)
    inventory.progress.done()
    loop_functions = [inventory.functions[n] for n in loop]
    return Result(
        candidates=sorted(found.values(), key=lambda c: (c.path, c.line, c.primitive)),
        loop_functions=sorted(loop_functions, key=lambda f: (f.path, f.line)),
        loop_nodes=list(loop),
        offloads=list(inventory.offload_sites),
        entry_count=len(entries),
        file_count=len(inventory.files),
        seconds=time.perf_counter() - started,
    )


def _sort_key(inventory: Inventory, node: Any) -> tuple[str, int, str]:
    fn = inventory.functions[node]
    return (fn.path, fn.line, fn.qualname)


def _path_to(parents: dict[Any, Any], node: Any) -> list[Any]:
    chain = []
    while node is not None:
        chain.append(node)
        node = parents[node]
    return list(reversed(chain))


def loop_lines(inventory: Inventory, functions: list[Any]) -> dict[str, set[int]]:
    """Statement lines of the loop functions' own bodies that coverage can record (only the
    runtime join needs them: coverage's parser is not free on a large package)."""
    executable: dict[str, set[int]] = {}
    lines: dict[str, set[int]] = {}
    for node in functions:
        module = inventory.module_of(node)
        if module.path not in executable:
            executable[module.path] = _statement_lines(module.source)
        own = {n.fromlineno for n in own_nodes(node) if n.is_statement}
        if isinstance(node, _nodes.Lambda) and not isinstance(node, _nodes.FunctionDef):
            own = {node.fromlineno}
        lines.setdefault(module.path, set()).update(own & executable[module.path])
    return lines


def _statement_lines(source: str) -> set[int]:
    """The lines coverage measures: coverage's own parser, so docstrings and the like agree."""
    from coverage.parser import PythonParser

    parser = PythonParser(text=source)
    parser.parse_source()
    return set(parser.statements)


def scan(
    root: Path,
    packages: list[str],
    primitives: PrimitiveTable | None = None,
    *,
    resolver: str = "astroid",
    sources: dict[str, str] | None = None,
) -> Result:
    """The static inventory of ``packages`` under ``root`` (``sources`` replace files' text)."""
    started = time.perf_counter()
    table = primitives or primitive_table()
    inventory = Inventory(root, packages, table, resolver=resolver, sources=sources)
    result = reach(inventory)
    result.seconds = time.perf_counter() - started
    return result


# -- the runtime join ------------------------------------------------------------------------


class CoverageLines:
    """Line -> gate test ids for files under the root, from one coverage data file."""

    def __init__(self, data_file: Path, root: Path) -> None:
        import coverage

        from tools.offload_review import gate_contexts

        self._gate_contexts = gate_contexts
        self.root = root
        self.data = coverage.CoverageData(basename=str(data_file))
        self.data.read()
        self.measured = list(self.data.measured_files())
        self.by_real = {os.path.realpath(f): f for f in self.measured}
        self._cache: dict[str, dict[int, list[str]]] = {}

    def _measured(self, path: str) -> str | None:
        found = self.by_real.get(os.path.realpath(self.root / path))
        if found is None:
            # Installed copies (site-packages/runlog/...) hold the same package-relative path.
            suffix = "/" + path
            matches = [f for f in self.measured if f.replace(os.sep, "/").endswith(suffix)]
            found = matches[0] if len(matches) == 1 else None
        return found

    def tests_at(self, path: str, *lines: int) -> list[str]:
        measured = self._measured(path)
        if measured is None:
            return []
        if measured not in self._cache:
            self._cache[measured] = self.data.contexts_by_lineno(measured)
        contexts = [c for line in lines for c in self._cache[measured].get(line, [])]
        return self._gate_contexts(contexts)


def statement_starts(source: str) -> dict[int, int]:
    """Line -> first line of the innermost statement holding it: the line coverage records."""
    starts: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            end = node.end_lineno or node.lineno
            for line in range(node.lineno, end + 1):
                if line not in starts or starts[line] < node.lineno:
                    starts[line] = node.lineno
    return starts


def join_coverage(
    candidates: list[Candidate],
    lines_on_loop: dict[str, set[int]],
    sources: dict[str, str],
    data_file: Path,
    root: Path,
) -> dict[str, Any]:
    """Mark each candidate guarded (with its gate tests) or unguarded; loop-side line coverage."""
    index = CoverageLines(data_file, root)
    starts = {path: statement_starts(text) for path, text in sources.items()}
    joined = []
    for candidate in candidates:
        statement = starts.get(candidate.path, {}).get(candidate.line, candidate.line)
        tests = index.tests_at(candidate.path, candidate.line, statement)
        joined.append({"status": "guarded" if tests else "unguarded", "tests": tests})
    ran: dict[str, list[int]] = {}
    missed: dict[str, list[int]] = {}
    for path, lines in sorted(lines_on_loop.items()):
        for line in sorted(lines):
            (ran if index.tests_at(path, line) else missed).setdefault(path, []).append(line)
    return {
        "candidates": joined,
        "loop_lines": {
            "total": sum(len(v) for v in lines_on_loop.values()),
            "ran": sum(len(v) for v in ran.values()),
            "never_ran": missed,
        },
    }


# -- tests_blocking/unguarded.toml ---------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass(frozen=True)
class Accepted:
    path: str
    function: str
    primitive: str
    reason: str


def accepted_unguarded(path: Path) -> tuple[list[Accepted], list[str]]:
    """The file's entries, and the errors in it (an entry without a reason, an unknown key)."""
    if not path.exists():
        return [], []
    entries, errors = [], []
    for n, raw in enumerate(read_toml(path).get("unguarded", []), 1):
        missing = [k for k in ("path", "function", "primitive", "reason") if not str(raw.get(k, "")).strip()]
        unknown = sorted(set(raw) - {"path", "function", "primitive", "reason"})
        if missing or unknown:
            errors.append(
                f"{path.name} entry {n}: "
                + "; ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"unknown key {', '.join(unknown)}"] if unknown else [])
                )
            )
            continue
        entries.append(Accepted(raw["path"], raw["function"], raw["primitive"], raw["reason"]))
    return entries, errors


# -- --changed-since ---------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"static inventory: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Changes:
    base: str
    lines: dict[str, set[int]]  # root-relative path -> changed lines of the current file (or the
    # lines next to a deletion)
    removed_offloads: list[OffloadSite]

    def touches(self, path: str, first: int, last: int) -> bool:
        return any(first <= line <= last for line in self.lines.get(path, ()))


def changes_since(rev: str, root: Path, packages: list[str], current: list[OffloadSite]) -> Changes:
    root = root.resolve()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    base = _git(root, "merge-base", rev, "HEAD").strip()
    prefix = root.relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    lines: dict[str, set[int]] = {}
    path = None
    for text in _git(top, "diff", "--no-color", "--no-ext-diff", "-U0", base, "--", ".").splitlines():
        if text.startswith("+++ "):
            name = text[4:]
            path = name[2:] if name.startswith("b/") else ""
            path = path[len(prefix) :] if path and path.startswith(prefix) else None
        elif text.startswith("@@") and path is not None:
            match = _HUNK.match(text)
            if match:
                start, count = int(match.group(3)), int(match.group(4) or "1")
                changed = lines.setdefault(path, set())
                if count:
                    changed.update(range(start, start + count))
                else:  # only deleted: the lines around the gap changed their function
                    changed.update((start, start + 1))
    # Offload sites at the base that are gone now (matched by what they are, not where).
    before: list[OffloadSite] = []
    listed = _git(top, "ls-tree", "-r", "--name-only", base).splitlines()
    for name in listed:
        if not name.endswith(".py") or not name.startswith(prefix):
            continue
        relative = name[len(prefix) :]
        module = relative[:-3].replace("/", ".").removesuffix(".__init__")
        if not any(module == p or module.startswith(p + ".") for p in packages):
            continue
        try:
            before.extend(sites_in_source(_git(top, "show", f"{base}:{name}"), relative))
        except SyntaxError:
            continue
    now = [_site_identity(s) for s in current]
    removed = []
    for site in before:
        identity = _site_identity(site)
        if identity in now:
            now.remove(identity)
        else:
            removed.append(site)
    return Changes(base, lines, removed)


def _site_identity(site: OffloadSite) -> tuple[str, str, str, str]:
    return (site.path, site.function, site.kind, site.target)


def changed_candidates(result: Result, changes: Changes) -> list[Candidate]:
    """Candidates on a changed line, or whose chain passes through a changed function."""
    return [
        c
        for c in result.candidates
        if c.line in changes.lines.get(c.path, ())
        or any(changes.touches(fn.path, fn.line, fn.end_line) for fn in c.chain_functions)
    ]


# -- output ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "/")


def render_markdown(payload: dict[str, Any], last_line: str) -> str:
    title = "## Static inventory: blocking calls reachable from the loop"
    if payload.get("changed_since"):
        title += f" (changed since {payload['changed_since']})"
    out = [title, "", f"**{last_line}**"]
    candidates = payload["candidates"]
    joined = bool(candidates) and "status" in candidates[0]
    if candidates:
        header = "| call | function | primitive | rule | chain |"
        rule = "|---|---|---|---|---|"
        if joined:
            header += " under gate | tests |"
            rule += "---|---|"
        out += ["", header, rule]
        for c in candidates:
            row = (
                f"| `{c['path']}:{c['line']}` | `{c['function']}` | `{c['primitive']}` | `{c['rule']}` "
                f"| {_cell(' -> '.join(c['chain']))} |"
            )
            if joined:
                status = "yes" if c["status"] == "guarded" else "**NO**"
                if c.get("accepted"):
                    status += f" (accepted: {_cell(c['accepted'])})"
                tests = ", ".join(t.split("::", 1)[-1] for t in c["tests"][:2])
                more = f" (+{len(c['tests']) - 2} more)" if len(c["tests"]) > 2 else ""
                row += f" {status} | {_cell(tests + more) or '-'} |"
            out.append(row)
    removed = payload.get("removed_offloads")
    if removed is not None and not removed:
        out += ["", f"No offload site removed since the merge base ({payload['merge_base'][:12]})."]
    if removed:
        out += ["", f"### Offloads removed since the merge base ({payload['merge_base'][:12]})", ""]
        out += [
            f"- `{s['path']}:{s['line']}` `{s['function']}`: `{s['kind']}({s['target']})`" for s in removed
        ]
    loop = payload.get("loop_lines")
    if loop:
        out += [
            "",
            f"Loop-side coverage: {loop['ran']}/{loop['total']} lines that run on the loop ran under the gate.",
        ]
        if loop["never_ran"]:
            out += ["", "### Loop-side lines never run under the gate", ""]
            out += [f"- `{path}`: {', '.join(map(str, lines))}" for path, lines in loop["never_ran"].items()]
    if payload.get("errors"):
        out += ["", "### Errors", ""] + [f"- {e}" for e in payload["errors"]]
    return "\n".join(out) + "\n"


def render_table(candidates: list[dict[str, Any]]) -> str:
    from tools import text_table

    header = ["call", "function", "primitive", "entries"]
    joined = bool(candidates) and "status" in candidates[0]
    if joined:
        header.append("under gate")
    rows = [tuple(header)]
    for c in candidates:
        entries = c["entries"][0].rsplit(".", 1)[-1] + (
            f" (+{len(c['entries']) - 1})" if len(c["entries"]) > 1 else ""
        )
        row = [f"{c['path']}:{c['line']}", c["function"], c["primitive"], entries]
        if joined:
            row.append(
                ("yes" if c["status"] == "guarded" else "NO") + (" (accepted)" if c.get("accepted") else "")
            )
        rows.append(tuple(row))
    return text_table.render(rows, 60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=REPO / "backend", help="folder holding the packages (default: backend)"
    )
    parser.add_argument(
        "--package",
        action="append",
        dest="packages",
        metavar="NAME",
        help="package to scan; repeat for several (default: the packages the gate scans)",
    )
    parser.add_argument(
        "--coverage", type=Path, help="coverage data with the gate's per-test contexts: join with it"
    )
    parser.add_argument(
        "--changed-since",
        metavar="REV",
        help="only what changed since REV's merge base, plus removed offloads",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "reports" / "static-inventory",
        help="folder for the JSON and Markdown",
    )
    parser.add_argument(
        "--unguarded",
        type=Path,
        default=UNGUARDED_FILE,
        help="accepted unguarded candidates, each with a reason (default: tests_blocking/unguarded.toml)",
    )
    parser.add_argument("--resolver", choices=sorted(RESOLVERS), default="astroid", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    packages = args.packages or default_packages()
    root = args.root.resolve()
    if args.coverage is not None and not args.coverage.exists():
        print(
            f"static inventory: no coverage data at {args.coverage}; run tox -e blocking first",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    table = primitive_table()
    inventory = Inventory(root, packages, table, resolver=args.resolver)
    result = reach(inventory)
    sources = {m.path: m.source for m in inventory.modules.values()}
    candidates = result.candidates
    payload: dict[str, Any] = {
        "root": str(root),
        "packages": packages,
        "python": ".".join(map(str, sys.version_info[:3])),
        "resolver": args.resolver,
    }
    if args.changed_since:
        changes = changes_since(args.changed_since, root, packages, result.offloads)
        candidates = changed_candidates(result, changes)
        payload["changed_since"] = args.changed_since
        payload["merge_base"] = changes.base
        payload["removed_offloads"] = [s.to_dict() for s in changes.removed_offloads]
    rows = [c.to_dict() for c in candidates]
    errors: list[str] = []
    failed = False
    if args.coverage is not None:
        joined = join_coverage(
            candidates,
            loop_lines(inventory, result.loop_nodes),
            sources,
            args.coverage,
            root,
        )
        for row, extra in zip(rows, joined["candidates"], strict=True):
            row.update(extra)
        payload["loop_lines"] = joined["loop_lines"]
        accepted, errors = accepted_unguarded(args.unguarded)
        used: set[Accepted] = set()
        for row in rows:
            for entry in accepted:
                if (entry.path, entry.function, entry.primitive) == (
                    row["path"],
                    row["function"],
                    row["primitive"],
                ):
                    used.add(entry)
                    if row["status"] == "unguarded":
                        row["accepted"] = entry.reason
        for entry in accepted:
            matching = [
                r
                for r in rows
                if (entry.path, entry.function, entry.primitive) == (r["path"], r["function"], r["primitive"])
            ]
            if not matching and not args.changed_since:
                errors.append(
                    f"stale entry in {args.unguarded.name}: {entry.path} {entry.function} {entry.primitive} matches no candidate"
                )
            elif matching and all(r["status"] == "guarded" for r in matching):
                errors.append(
                    f"stale entry in {args.unguarded.name}: {entry.path} {entry.function} {entry.primitive} ran under the gate now"
                )
        unguarded = [r for r in rows if r["status"] == "unguarded" and not r.get("accepted")]
        failed = bool(unguarded or errors)
        guarded = sum(r["status"] == "guarded" for r in rows)
        last = f"static inventory: {len(rows)} reachable from the loop, {guarded} ran under the gate, {len(rows) - guarded} never did"
    else:
        last = f"static inventory: {len(rows)} blocking calls reachable from the loop"
    payload["errors"] = errors
    payload["entry_points"] = result.entry_count
    payload["functions_on_the_loop"] = len(result.loop_functions)
    payload["files"] = result.file_count
    payload["seconds"] = round(time.perf_counter() - started, 2)
    payload["candidates"] = rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "static-inventory.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "static-inventory.md").write_text(render_markdown(payload, last))

    if rows:
        print(render_table(rows))
    print(
        f"\nscanned {result.file_count} files of {', '.join(packages)} under {root}; "
        f"{result.entry_count} entry points, {len(result.loop_functions)} functions on the loop; {payload['seconds']} s"
    )
    for site in payload.get("removed_offloads", []):
        print(
            f"  offload removed since {args.changed_since}: {site['path']}:{site['line']} {site['function']} ({site['kind']})"
        )
    loop = payload.get("loop_lines")
    if loop:
        print(
            f"loop-side coverage: {loop['ran']}/{loop['total']} lines that run on the loop ran under the gate"
        )
        for path, lines in loop["never_ran"].items():
            print(f"  never under the gate: {path}: {', '.join(map(str, lines))}")
    for row in rows:
        if row.get("status") == "unguarded" and not row.get("accepted"):
            print(
                f"  unguarded: {row['path']}:{row['line']} {row['function']} calls {row['primitive']}; "
                f"no gate test ran it (add an anchor, see README)"
            )
    for error in errors:
        print(f"  error: {error}")
    print(f"reports: {args.out / 'static-inventory.json'}, {args.out / 'static-inventory.md'}")
    print(last)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
