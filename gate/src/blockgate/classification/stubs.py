"""The public callables of the IO modules on another system, read from typeshed's stdlib stubs.

The classification's authority is the running interpreter
(``classification.public_callables``); on macOS and Windows it runs in the
workflow only. This module lets the Linux machine check those systems too: the
stubs bundled with ``typeshed_client`` say, per Python version and per
``sys.platform``, which functions and classes each module has (typeshed_client
evaluates the stubs' ``sys.platform`` and ``sys.version_info`` branches for the
context it is given).

The enumeration follows the runtime one; where stubs and runtime differ in
shape, these rules bridge them:

* a module's names: its stub's ``__all__`` when it has one (``os.path``
  takes ``posixpath``'s or ``ntpath``'s), minus underscored names; else its
  public names whose definition, followed through re-exports and aliases,
  lives in the stub itself or a private module (the C accelerator:
  ``_socket``, ``_io``), or, for ``posix`` and ``nt``, in ``os`` (typeshed
  writes those two as re-exports of ``os``; at run time ``os`` takes them from
  there). So ``sqlite3.DateFromTicks`` (defined in ``sqlite3.dbapi2``) and
  ``select.error`` (``OSError``) are not counted, as at run time;
* callable: a ``def`` (overloads included), a class, a variable annotated as a
  class or a callable (``type[X]``, ``Callable[...]``) or as an instance of a
  class with ``__call__`` (``shutil.rmtree``), or a name assigned another
  callable (``error = OSError``, ``Lock = context._default_context.Lock``:
  followed through modules, classes and annotated variables); constants and
  other variables are not;
* an alias of a class (``SocketType = socket``) lists that class's methods;
* a class's methods: its public ``def``\\ s and nested classes, inherited ones
  included (its bases are looked up in the stubs), but not properties (a
  property is not callable at run time) nor what ``object``, the builtin
  types, ``enum``, ``typing``, ``abc`` or ``types`` define (the stubs'
  ``_typeshed`` and ``typing_extensions`` count as ``typing``);
* exceptions and enums are types, not IO: their methods are not listed, and
  the type itself is reported with its kind, so the test can give it the
  verdict ``type_entries`` gives at run time.

Where the stubs say more than the runtime has, two small tables below name
the cases (``FACTORIES_AT_RUN_TIME``: a class in the stubs, a factory function
at run time; ``NOT_METHODS_AT_RUN_TIME``: a method in the stubs, an instance
attribute or nothing at run time), each up to the Python it holds for.
Compared on Linux (3.10-3.13), stub and runtime enumeration agree except for
names the stubs add (``io.IOBase.read``, ``posix.stat_result``, build options
such as ``sqlite3.Connection.load_extension``, security backports such as
``tarfile.TarFile.makelink_with_filter``), which the table classifies anyway,
and ``shelve.DbfilenameShelf.clear`` on 3.13, which the stubs omit.

Stubs describe the public interface, so a name the runtime exposes without
documenting it may be missing here; that is why the runtime census stays the
authority on each system.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

import typeshed_client
from typeshed_client.parser import ImportedName, NameInfo, OverloadedName, get_dunder_all_from_info

from blockgate import classification
from blockgate.classification import engine

SYSTEMS = ("darwin", "win32")
VERSIONS = ((3, 10), (3, 11), (3, 12), (3, 13))

_FOREIGN = {*engine._FOREIGN_OWNERS, "_typeshed", "typing_extensions"}
_ENUM_ROOTS = {("enum", n) for n in ("Enum", "IntEnum", "Flag", "IntFlag", "StrEnum", "ReprEnum")}
_PROPERTY = {"property", "cached_property", "setter", "getter", "deleter"}
_CALLABLE_ANNOTATIONS = {"type", "Type", "Callable"}


# What the stubs declare as a class's method but the runtime sets on each instance in
# __init__ (so runtime enumeration of the class, and the classification, never see it),
# or, for imaplib, a method the stubs list and CPython does not have: up to which Python.
NOT_METHODS_AT_RUN_TIME = {
    name: (3, 99)
    for name in (
        "threading.Condition.acquire",
        "threading.Condition.release",
        "threading.Timer.function",
        *(
            f"multiprocessing.synchronize.{cls}.{method}"
            for cls in ("BoundedSemaphore", "Condition", "Lock", "RLock", "Semaphore")
            for method in ("acquire", "release")
        ),
        *(
            f"urllib.request.{cls}.add_password"
            for cls in ("AbstractBasicAuthHandler", "HTTPBasicAuthHandler", "ProxyBasicAuthHandler")
        ),
        "imaplib.IMAP4_SSL.ssl",
    )
}
# ... and up to a Python (the stubs declare them unconditionally; "only on 3.11+" says their comment).
NOT_METHODS_AT_RUN_TIME.update(
    {f"tempfile.SpooledTemporaryFile.{m}": (3, 10) for m in ("readable", "seekable", "writable")}
)


# What the stubs declare as a class and the runtime makes with a factory function (so it
# has no methods to enumerate), up to the Python given (threading.Lock is a class from 3.13).
FACTORIES_AT_RUN_TIME = {
    "threading.Lock": (3, 12),
    "threading.RLock": (3, 99),
    "select.poll": (3, 99),
    "multiprocessing.Queue": (3, 99),
    "multiprocessing.JoinableQueue": (3, 99),
    "multiprocessing.SimpleQueue": (3, 99),
}


@dataclass(frozen=True)
class Found:
    name: str  # dotted, as the classification writes it
    kind: str  # "callable", "exception" or "enum"


@functools.cache
def _context(version: tuple[int, int], system: str) -> typeshed_client.finder.SearchContext:
    # No search path: the stdlib stubs bundled with typeshed_client, nothing installed.
    return typeshed_client.get_search_context(version=version, platform=system, search_path=[])


@functools.cache
def _names(module: str, version: tuple[int, int], system: str) -> dict[str, NameInfo]:
    return typeshed_client.get_stub_names(module, search_context=_context(version, system)) or {}


def _definition(module: str, name: str, version: tuple[int, int], system: str) -> tuple[str, NameInfo] | None:
    """Where ``module.name`` is defined: follows re-exports; None if the stubs lack it here."""
    for _ in range(10):
        info = _names(module, version, system).get(name)
        if info is None or not isinstance(info.ast, ImportedName):
            return (module, info) if info is not None else None
        target = info.ast
        module = ".".join(target.module_name)
        if target.name is None:  # `import x`: a module, not a callable
            return None
        name = target.name
    return None


def _dotted(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value)
        return f"{head}.{expr.attr}" if head else None
    if isinstance(expr, ast.Subscript):  # Generic[T], Protocol[T]: the base is the value
        return _dotted(expr.value)
    return None


def _lookup(module: str, dotted: str, version: tuple[int, int], system: str) -> tuple[str, NameInfo] | None:
    """A name as written in ``module``'s stub (``x``, ``mod.x``, ``obj.attr``), resolved to its definition.

    A bare name the module does not define is a builtin (``error = OSError``).
    """
    parts = dotted.split(".")
    head = parts[0]
    info = _names(module, version, system).get(head)
    home = _module_named(info, version, system)
    if home is not None and len(parts) > 1:
        # `import x` or `from pkg import x` binds a module: the longest module prefix, then attributes
        cut = 1
        while cut < len(parts) - 1 and _names(f"{home}.{'.'.join(parts[1 : cut + 1])}", version, system):
            cut += 1
        found = _definition(".".join([home, *parts[1:cut]]), parts[cut], version, system)
        rest = parts[cut + 1 :]
    else:
        found = _definition(module, head, version, system) or _definition("builtins", head, version, system)
        rest = parts[1:]
    for part in rest:  # through a class, or a variable annotated with a class
        if found is None:
            return None
        home, info = found
        if isinstance(info.ast, ast.AnnAssign):
            found = _lookup(home, _dotted(info.ast.annotation) or "", version, system)
            if found is None:
                return None
            home, info = found
        found = next(
            (
                (h, c.child_nodes[part])
                for h, c in _ancestry(home, info, version, system)
                if c.child_nodes is not None and part in c.child_nodes
            ),
            None,
        )
    return found


def _module_named(info: NameInfo | None, version: tuple[int, int], system: str) -> str | None:
    """The module an imported name binds, if it binds one (``import x``, ``from pkg import sub``)."""
    if info is None or not isinstance(info.ast, ImportedName):
        return None
    source = ".".join(info.ast.module_name)
    if info.ast.name is None:
        return source
    submodule = f"{source}.{info.ast.name}"
    return submodule if _names(submodule, version, system) else None


def _is_callable(
    module: str,
    info: NameInfo,
    version: tuple[int, int],
    system: str,
    scope: dict[str, NameInfo] | None = None,
    depth: int = 0,
) -> bool:
    """``scope``: the class body the name is in (an alias there names a sibling first)."""
    node = info.ast
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return not _is_property(node)
    if isinstance(node, OverloadedName):
        return not any(
            isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_property(d)
            for d in node.definitions
        )
    if isinstance(node, ast.ClassDef):
        return True
    if isinstance(node, ast.AnnAssign):
        annotation = node.annotation
        if isinstance(annotation, ast.Subscript) and _dotted(annotation.value) in ("ClassVar", "Final"):
            annotation = annotation.slice
        if isinstance(annotation, ast.Subscript):
            head = _dotted(annotation.value) or ""
            return head.rsplit(".", 1)[-1] in _CALLABLE_ANNOTATIONS
        # an instance of a class with __call__ (shutil.rmtree: _RmtreeProtocol)
        kind = _lookup(module, _dotted(annotation) or "", version, system)
        return kind is not None and "__call__" in (kind[1].child_nodes or {})
    if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Name, ast.Attribute)) and depth < 5:
        alias = _dotted(node.value) or ""
        if scope is not None and alias in scope and scope[alias] is not info:
            return _is_callable(module, scope[alias], version, system, scope, depth + 1)
        target = _lookup(module, alias, version, system)
        return target is not None and _is_callable(target[0], target[1], version, system, None, depth + 1)
    return False


def _is_property(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any((_dotted(d) or "").rsplit(".", 1)[-1] in _PROPERTY for d in node.decorator_list)


def _ancestry(
    module: str, info: NameInfo, version: tuple[int, int], system: str
) -> list[tuple[str, NameInfo]]:
    """The class and its bases found in the stubs, depth first (an approximation of the MRO)."""
    seen: list[tuple[str, NameInfo]] = []
    todo = [(module, info)]
    while todo:
        home, cls = _unalias(*todo.pop(0), version, system)
        if any(cls is c for _, c in seen) or not isinstance(cls.ast, ast.ClassDef):
            continue
        seen.append((home, cls))
        for base in cls.ast.bases:
            found = _lookup(home, _dotted(base) or "", version, system)
            if found is not None:
                todo.append(found)
    return seen


def _unalias(home: str, info: NameInfo, version: tuple[int, int], system: str) -> tuple[str, NameInfo]:
    """Through ``x = y`` aliases (``error = BadZipfile = BadZipFile``) to what they name."""
    for _ in range(5):
        if not (isinstance(info.ast, ast.Assign) and isinstance(info.ast.value, (ast.Name, ast.Attribute))):
            break
        target = _lookup(home, _dotted(info.ast.value) or "", version, system)
        if target is None:
            break
        home, info = target
    return home, info


def _kind(module: str, info: NameInfo, version: tuple[int, int], system: str) -> str:
    for home, cls in _ancestry(module, info, version, system):
        if home == "builtins" and cls.name in ("BaseException", "Exception"):
            return "exception"
        if (home, cls.name) in _ENUM_ROOTS:
            return "enum"
    return "callable"


def _methods(module: str, info: NameInfo, version: tuple[int, int], system: str) -> list[str]:
    found: list[str] = []
    for home, cls in _ancestry(module, info, version, system):
        if home in _FOREIGN:
            continue
        for name, child in (cls.child_nodes or {}).items():
            if name.startswith("_") or name in found:
                continue
            if _is_callable(home, child, version, system, cls.child_nodes):
                found.append(name)
    return found


def _own(module: str, name: str, version: tuple[int, int], system: str) -> bool:
    """Defined by the module or its C accelerator, as ``classification._own`` decides at run time."""
    info = _names(module, version, system)[name]
    where = _definition(module, name, version, system)
    if not info.is_exported or where is None:
        return False
    home, definition = where
    if isinstance(definition.ast, ast.Assign) and isinstance(definition.ast.value, (ast.Name, ast.Attribute)):
        # an alias: at run time the object names the home of what it aliases (error = OSError: builtins)
        where = _lookup(home, _dotted(definition.ast.value) or "", version, system)
        if where is None:
            return False
        home = where[0]
    # typeshed writes posix's and nt's functions in os, and re-exports them
    return home == module or home.startswith("_") or (module in ("posix", "nt") and home == "os")


def public_callables(module: str, version: tuple[int, int], system: str) -> list[Found]:
    """Like ``classification.public_callables(module)``, for ``system`` on Python ``version``."""
    names = _names(module, version, system)
    if not names:
        return []  # no stub for this module here (typeshed's VERSIONS), or nothing on this system
    dunder_all = _definition(module, "__all__", version, system)  # os.path takes posixpath's
    listed = get_dunder_all_from_info(dunder_all[1]) if dunder_all is not None else None
    if module in classification.ONLY:
        candidates = list(classification.ONLY[module])
    elif listed is not None:
        candidates = listed
    else:
        candidates = [n for n in names if not n.startswith("_") and _own(module, n, version, system)]
    found: list[Found] = []
    for name in candidates:
        if name.startswith("_"):  # os lists _exit in __all__
            continue
        where = _definition(module, name, version, system)
        if where is None or not _is_callable(where[0], where[1], version, system):
            continue
        home, info = where
        home, info = _unalias(home, info, version, system)  # SocketType = socket: its methods too
        kind = _kind(home, info, version, system) if isinstance(info.ast, ast.ClassDef) else "callable"
        found.append(Found(f"{module}.{name}", kind))
        factory = FACTORIES_AT_RUN_TIME.get(f"{module}.{name}")
        if (
            kind == "callable"
            and isinstance(info.ast, ast.ClassDef)
            and (factory is None or version > factory)
        ):
            found.extend(
                Found(f"{module}.{name}.{m}", "callable")
                for m in _methods(home, info, version, system)
                if version > NOT_METHODS_AT_RUN_TIME.get(f"{module}.{name}.{m}", (0, 0))
            )
    return found


def census(version: tuple[int, int], system: str) -> dict[str, dict[str, list[str]]]:
    """Per module, the stub names of each verdict on ``system`` with Python ``version``, like
    ``classification.census()`` here (exceptions and enums are types: not blocking)."""
    table = [
        e
        for e in (
            *classification.rule_entries(version, system),
            *classification.BLOCKBUSTER,
            *classification.TABLE,
        )
        if e.applies(version, system)
    ]
    index = classification.Index(table)
    result: dict[str, dict[str, list[str]]] = {}
    for module in classification.MODULES:
        counts: dict[str, list[str]] = {v: [] for v in (*classification.VERDICTS, "unclassified", "conflict")}
        for found in public_callables(module, version, system):
            if found.kind != "callable":
                counts[classification.NOT_BLOCKING].append(found.name)
                continue
            entries = index.classify(found.name)
            verdicts = {e.verdict for e in entries}
            key = "unclassified" if not entries else "conflict" if len(verdicts) > 1 else entries[0].verdict
            counts[key].append(found.name)
        result[module] = counts
    return result
