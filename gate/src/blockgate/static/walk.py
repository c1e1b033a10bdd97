"""The walk: the scanned packages parsed by astroid, their functions, and the calls each makes."""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astroid
from astroid import nodes

from blockgate.offloads import (
    LOOP_CALLBACKS,
    OFFLOAD_METHODS,
    OFFLOADS,
    OffloadSite,
    import_aliases,
    offload_form,
    sites_in_tree,
)
from blockgate.static.forms import CallForms
from blockgate.static.overrides import Overrides, open_dispatch
from blockgate.static.primitives import Primitive, PrimitiveTable
from blockgate.static.resolvers import (
    ACTIVE,
    RESOLVERS,
    Module,
    Resolver,
    Target,
    dotted,
    is_abstract,
    is_function,
    is_property,
    load_astroid,
    own_nodes,
    qualname,
)

PROGRESS_AFTER = 2.0  # seconds before a terminal run starts showing progress


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


def default_packages(root: Path) -> list[str]:
    """Every package (a folder with ``__init__.py``) and module directly under ``root``."""
    found = [
        p.name if p.is_dir() else p.stem
        for p in sorted(root.iterdir())
        if (p.is_dir() and (p / "__init__.py").is_file()) or (p.suffix == ".py" and p.stem != "setup")
    ]
    if not found:
        raise SystemExit(f"static inventory: no package under {root}; name one with --package")
    return found


DEFINED = re.compile(r"\b(?:def|class)\s+(\w+)")
IMPORTED = re.compile(r"^[ \t]*(?:from[ \t]+(\w+)|import[ \t]+([\w. \t,]+))", re.MULTILINE)


def imported_modules(source: str) -> set[str]:
    """The top-level modules a source's import statements name (by text: a superset is fine)."""
    found = set()
    for origin, names in IMPORTED.findall(source):
        if origin:
            found.add(origin)
        else:
            found.update(name.split()[0].split(".")[0] for name in names.split(",") if name.strip())
    return found


PROPERTY = re.compile(
    r"@(?:[\w.]*\.)?(?:property|cached_property)\b[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*(?:async\s+)?def\s+(\w+)"
)


ENTRY = re.compile(r"\basync\s+def\b|\.\s*(?:" + "|".join(LOOP_CALLBACKS) + r")\b")


# Every offload form of the model names its function or method in the file (an import at least).
OFFLOAD_WORDS = re.compile(
    r"\b(?:" + "|".join(sorted({n.rsplit(".", 1)[-1] for n in OFFLOADS} | set(OFFLOAD_METHODS))) + r")\b"
)


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

    # (line, astroid function node, the node that enters it: a Call, a property read, a with)
    enters: list[tuple[int, Any, Any]] = field(default_factory=list)
    primitives: list[tuple[int, Primitive, Any]] = field(default_factory=list)  # (line, primitive, call)
    # An override entered because the call's dispatch was widened -> the method the call names.
    widened: dict[Any, Any] = field(default_factory=dict)


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
        load_astroid()
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
        # Files the walk could not read (syntax newer than the running Python, a bad encoding):
        # relative path -> why. One such file must not cost the findings of all the others.
        self.skipped: dict[str, str] = {}
        ACTIVE[:] = [self]
        self._parse(sources or {})
        self.resolver: Resolver = RESOLVERS[resolver](self)
        # A primitive called in a form that cannot wait (a console write, an unbounded queue's
        # put, abspath of an absolute path) is no finding at that call site; the walk asks here.
        self.forms = CallForms(self.resolver, self.primitives, self.aliases_of, self.overrides.subclasses)

    # parsing: every file by the stdlib's parser; by astroid only the modules with entry points,
    # and the others when inference imports them (most of a large package is never needed).
    def _parse(self, sources: dict[str, str]) -> None:
        manager = astroid.MANAGER
        # A module name may have been built from another root (another fixture, a mutant).
        for name in list(manager.astroid_cache):
            if self.is_package_module(name):
                del manager.astroid_cache[name]
        self.property_names: set[str] = set()
        self.callable_names: set[str] = set()
        self.receiver_methods: set[str] = set()
        self.unparsable: set[str] = set()  # module names whose source does not parse here
        self.overrides = Overrides(self.module_named, self.functions)
        # A method call can only reach a package function or a primitive if its name is one of
        # theirs: other calls (``.append``, ``.get``) need no inference, which is most of the cost.
        imported: set[str] = set()  # top-level modules the package's text imports
        files = package_files(self.root, self.packages)
        seeds = []
        for done, (name, path) in enumerate(files, 1):
            relative = path.relative_to(self.root).as_posix()
            try:
                source = sources[relative] if relative in sources else path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                self.skipped[relative] = f"cannot read it: {error}"
                continue
            self.files[name] = (relative, path, source)
            # A first look by text, a superset of what the AST holds (a name in a string only
            # costs an inference): the stdlib parser runs on few files, astroid on fewer.
            self.callable_names.update(DEFINED.findall(source))
            imported.update(imported_modules(source))
            self.property_names.update(PROPERTY.findall(source))
            self.overrides.index(name, source)
            seed = relative in sources or bool(ENTRY.search(source))  # a mutant: astroid uses ours
            if OFFLOAD_WORDS.search(source):
                try:
                    tree = ast.parse(source, filename=str(path))
                except (SyntaxError, ValueError) as error:
                    self._skip(name, error)
                    continue
                self.aliases[name] = import_aliases(tree)
                self.offload_sites.extend(sites_in_tree(tree, relative, self.aliases[name]))
            if seed:
                seeds.append(name)
            self.progress.update(f"read {done}/{len(files)} files")
        # A third-party client's method names cost inference only where the library is imported.
        self.callable_names.update(self.primitives.last_parts(imported))
        self.receiver_methods = self.primitives.receiver_methods(imported)
        # A copy of the package installed elsewhere would be what astroid imports: build all now.
        build = list(self.files) if self._installed_elsewhere() else seeds
        for done, name in enumerate(build, 1):
            if name not in self.unparsable:
                try:
                    self.module_named(name)
                except astroid.AstroidBuildingError:
                    pass  # recorded in skipped; the other files are scanned all the same
            self.progress.update(f"parsed {done}/{len(build)} files with entry points")

    def _skip(self, name: str, error: BaseException) -> None:
        """Record a module the running Python cannot parse; imports of it then infer nothing."""
        self.unparsable.add(name)
        where = f" (line {error.lineno})" if isinstance(error, SyntaxError) and error.lineno else ""
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        self.skipped[self.files[name][0]] = (
            f"Python {sys.version_info.major}.{sys.version_info.minor} cannot parse it: {message}{where}"
        )

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

        relative, path, source = self.files[name]
        if name in self.unparsable:
            raise astroid.AstroidBuildingError(f"{relative}: {self.skipped[relative]}", modname=name)
        try:
            tree = AstroidBuilder(astroid.MANAGER).string_build(source, name, str(path))
        except astroid.AstroidSyntaxError as error:
            self._skip(name, error.error or error)
            raise
        astroid.MANAGER.cache_module(tree)
        self._index(name, tree)
        return tree

    def _index(self, name: str, tree: Any) -> None:
        relative, path, source = self.files[name]
        if name not in self.aliases:
            self.aliases[name] = import_aliases(ast.parse(source, filename=str(path)))
        module = Module(name, relative, source, tree, self.aliases[name])
        self.modules[name] = module
        self._by_path[os.path.realpath(path)] = module
        for node in tree.nodes_of_class((nodes.FunctionDef, nodes.Lambda, nodes.ClassDef)):
            if is_function(node):
                self.functions[node] = Function(
                    name,
                    relative,
                    qualname(node),
                    node.lineno,
                    node.tolineno,
                    isinstance(node, nodes.AsyncFunctionDef),
                )
            if isinstance(node, (nodes.FunctionDef, nodes.ClassDef)):
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
            return node in self.functions or isinstance(node, nodes.ClassDef)
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
                    try:
                        self.module_named(module_name)
                    except astroid.AstroidBuildingError:
                        return None  # skipped: nothing in it can be resolved
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
            for call in module.tree.nodes_of_class(nodes.Call):
                func = call.func
                if isinstance(func, nodes.Attribute) and func.attrname in LOOP_CALLBACKS:
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
            if isinstance(node, nodes.Call):
                self._call(node, aliases, calls)
            elif (
                isinstance(node, nodes.Attribute)
                and node.attrname in self.property_names
                and not (isinstance(node.parent, nodes.Call) and node.parent.func is node)
            ):
                # Reading a property runs its getter, here on the loop.
                for cls in self.resolver.instance_classes(node.expr):
                    calls.enters.extend(
                        (node.lineno, f, node)
                        for f in self._class_methods(cls, node.attrname)
                        if is_property(f)
                    )
            elif isinstance(node, nodes.With):
                for item, _ in node.items:
                    for cls in self.resolver.instance_classes(item):
                        for method in ("__enter__", "__exit__"):
                            calls.enters.extend(
                                (node.lineno, f, node) for f in self._class_methods(cls, method)
                            )
        self._calls[function] = calls
        return calls

    def _call(self, call: Any, aliases: dict[str, str], calls: Calls) -> None:
        if isinstance(call.parent, nodes.Await):
            return  # a coroutine: it runs as an entry point of its own, never as a blocking call
        func = call.func
        spelled = dotted(func)
        head, _, rest = spelled.partition(".")
        resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
        method = func.attrname if isinstance(func, nodes.Attribute) else None
        if spelled and offload_form(resolved, method) is not None:
            return  # the target is handed over, not called; its arguments are calls of their own
        if method is not None and method not in self.callable_names:
            return
        found = False
        targets = self._callee_targets(func)
        if not targets and spelled:
            # Unresolved (the library is not installed here): its spelling may still name a client.
            client = self.primitives.client_spelling(resolved)
            if client is not None:
                self._primitive(call, client, calls)
                return
        for target in targets:
            if target.external is not None:
                primitive = self.primitives.lookup(target.external)
                if primitive is not None:
                    self._primitive(call, primitive, calls)
                    found = True
            elif isinstance(target.node, nodes.ClassDef):
                calls.enters.extend(
                    (call.lineno, f, call) for f in self._class_methods(target.node, "__init__")
                )
            elif target.node is not None and not isinstance(target.node, nodes.AsyncFunctionDef):
                calls.enters.append((call.lineno, target.node, call))
                widen, caller = open_dispatch(func, target.node)
                if widen:
                    for override in self.overrides.of(target.node, caller):
                        if not isinstance(override, nodes.AsyncFunctionDef):
                            calls.enters.append((call.lineno, override, call))
                            calls.widened.setdefault(override, target.node)
        if method in self.receiver_methods and not found:
            primitive = self._receiver_primitive(func.expr, method)
            if primitive is not None:
                self._primitive(call, primitive, calls)

    def _primitive(self, call: Any, primitive: Primitive, calls: Calls) -> None:
        """A call of a primitive is a finding unless its form, read at the call site, cannot wait."""
        if not self.forms.cannot_wait(call, primitive.name):
            calls.primitives.append((call.lineno, primitive, call))

    def _receiver_primitive(self, receiver: Any, method: str) -> Primitive | None:
        """A client method that blocks by the receiver's class (``redis.client.Redis``), wherever
        the method is defined: the nearest listed class of the receiver's decides."""
        for cls in self.resolver.instance_classes(receiver):
            if isinstance(cls, str):
                lineage = [cls]
            else:
                try:
                    lineage = [cls.qname(), *(a.qname() for a in cls.ancestors())]
                except Exception:  # an ancestor astroid cannot infer
                    lineage = [cls.qname()]
            listed = next((name for name in lineage if name in self.primitives.receivers), None)
            if listed is not None:
                return self.primitives.lookup(f"{listed}.{method}")
        return None

    def _callee_targets(self, func: Any) -> list[Target]:
        if isinstance(func, nodes.Lambda) and not isinstance(func, nodes.FunctionDef):
            return [Target(node=func)]  # (lambda: ...)()
        wrapped = self._partial_origin(func)
        if wrapped is not None:
            return self._callee_targets(wrapped)  # partial(f, ...)() and p = partial(f); p()
        return self.resolver.targets(func)

    def _partial_origin(self, expr: Any) -> Any:
        """The function a ``functools.partial`` object wraps, when ``expr`` is one."""
        if isinstance(expr, nodes.Name):
            try:
                _, assignments = expr.lookup(expr.name)
            except Exception:
                return None
            values = [
                a.parent.value
                for a in assignments
                if isinstance(a.parent, nodes.Assign) and isinstance(a.parent.value, nodes.Call)
            ]
            expr = values[0] if len(values) == 1 and len(assignments) == 1 else None
        if isinstance(expr, nodes.Call) and expr.args:
            callee = self.resolver.targets(expr.func)
            if any(t.external == "functools.partial" for t in callee):
                return expr.args[0]
        return None

    def _callables(self, expr: Any) -> list[Any]:
        """The package functions an expression that is passed as a callable stands for."""
        if isinstance(expr, nodes.Lambda) and not isinstance(expr, nodes.FunctionDef):
            return [expr]
        wrapped = self._partial_origin(expr)
        if wrapped is not None:
            return self._callables(wrapped)
        return [
            t.node
            for t in self.resolver.targets(expr)
            if t.node is not None and is_function(t.node) and not isinstance(t.node, nodes.AsyncFunctionDef)
        ]

    def _class_methods(self, cls: Any, name: str) -> list[Any]:
        if isinstance(cls, str) or not self.owns(cls):
            return []
        try:
            members = cls.getattr(name)
        except (astroid.AttributeInferenceError, astroid.InferenceError):
            return []
        return [m for m in members if isinstance(m, nodes.FunctionDef) and m in self.functions]
