"""Call sites whose form cannot wait: the static half's reading of a call's receiver and arguments.

The rule table names callables; some of them block only in some forms, and
the runtime half lets the others through by the call's arguments
(``nonblocking_if``) or by the stream it writes to (the console). The static
half matches the callee, so without this module it reports those forms too.
Each entry here names one primitive (or family) and one form that, read from
the source at the call site, provably cannot wait; anything it cannot prove
(an argument it cannot read, a receiver that may hold another value, a
``**kwargs``) stays a finding. A call of the same callable in a blocking form
is still reported: the primitive is never dropped, only the call site.

- ``io.*`` methods on ``sys.stdout``/``sys.stderr`` (or their ``buffer``):
  console writes, which the runtime half exempts (``blockgate.rules.forms.
  is_console``).
- ``queue.Queue.get``/``put`` with ``block`` false or a zero timeout, and
  ``put`` on a queue every assignment of the receiver builds unbounded (no
  ``maxsize``, or one of 0 or less): the runtime rules' ``_queue_get_ready``
  and ``_queue_put_ready``, read from the source.
- ``httpx.Client``/``httpx.AsyncClient`` given a ``transport`` and no proxy:
  httpx then builds no SSL context and reads no proxy settings (its
  ``_init_transport`` returns the transport given). A transport built as
  ``httpx.HTTPTransport(...)``/``AsyncHTTPTransport(...)`` on that line, or
  assigned so to the name given, builds one itself, so that call stays a
  finding.
- archives and compressed files over an in-memory buffer: ``zipfile.ZipFile``,
  ``tarfile.open``/``TarFile``, ``gzip``, ``bz2`` and ``lzma`` files (and their
  ``open``) given an ``io.BytesIO``/``StringIO`` as their file, and the methods
  of such an object (named by a plain assignment or a ``with ... as``): they
  read and write memory only. The methods that go to the disk by a name
  (``ZipFile.write``/``extract``/``extractall``, ``TarFile.add``/``extract``/
  ``extractall``/``gettarinfo``) stay findings.
- ``pathlib.Path.absolute`` on an absolute path and ``os.path.abspath`` of
  one: CPython 3.10-3.13 return such a path as it is, with no ``getcwd``
  (``posixpath.abspath`` joins the current directory only ``if not
  isabs(path)``; ``Path.absolute`` returns ``self`` when ``is_absolute()``).
  Absolute here: what ``resolve()``, ``absolute()``, ``Path.cwd()``,
  ``Path.home()``, ``os.path.abspath``, ``realpath`` and ``getcwd`` return, a
  module's ``__file__`` (the path finder makes its directory absolute:
  ``FileFinder`` on 3.10-3.13), and what ``dirname``, ``.parent``, ``/`` and
  ``os.path.join`` with driveless string constants make of those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from astroid import nodes

from blockgate.static.primitives import PrimitiveTable, public_name
from blockgate.static.resolvers import MAX_STEPS, Target, dotted

CONSOLE = frozenset({"sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__"})

# Queues whose ``maxsize`` decides whether ``put`` can wait; a SimpleQueue never does.
BOUNDED_QUEUES = frozenset({"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"})
UNBOUNDED_QUEUES = frozenset({"queue.SimpleQueue"})

HTTPX_CLIENTS = frozenset({"httpx.Client", "httpx.AsyncClient"})
# Transports whose construction builds an SSL context (the blocking part of a client's construction).
HTTPX_NETWORK_TRANSPORTS = frozenset({"HTTPTransport", "AsyncHTTPTransport"})

MEMORY_FILES = frozenset({"io.BytesIO", "io.StringIO"})
# An archive or compressed file's constructors -> (position, keyword) of the file they work on.
ARCHIVES: dict[str, tuple[int, str]] = {
    "zipfile.ZipFile": (0, "file"),
    "zipfile.PyZipFile": (0, "file"),
    "tarfile.open": (2, "fileobj"),
    "tarfile.TarFile": (2, "fileobj"),
    "tarfile.TarFile.open": (2, "fileobj"),
    "gzip.GzipFile": (3, "fileobj"),
    "gzip.open": (0, "filename"),
    "bz2.BZ2File": (0, "filename"),
    "bz2.open": (0, "filename"),
    "lzma.LZMAFile": (0, "filename"),
    "lzma.open": (0, "filename"),
}
ARCHIVE_CLASSES = ("zipfile.", "tarfile.", "gzip.", "bz2.", "lzma.")
# Their methods that open, stat or write files on the disk by name, whatever the archive's file.
DISK_METHODS = frozenset({"write", "writepy", "extract", "extractall", "add", "gettarinfo"})

# Calls that return an absolute path whatever their argument.
ABSOLUTE_RESULTS = frozenset(
    {"os.path.abspath", "os.path.realpath", "os.getcwd"}
    | {"pathlib.Path.resolve", "pathlib.Path.absolute", "pathlib.Path.cwd", "pathlib.Path.home"}
)
PATH_CLASSES = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"})


class Resolver(Protocol):
    """What this module asks of the walk's resolver (``resolvers.AstroidResolver``)."""

    def targets(self, expr: Any) -> list[Target]: ...

    def instance_classes(self, expr: Any) -> list[Any]: ...


class CallForms:
    """Whether a call site of a primitive is in a form that cannot wait (see the module docstring)."""

    def __init__(
        self,
        resolver: Resolver,
        primitives: PrimitiveTable,
        aliases_of: Callable[[Any], dict[str, str]],
        subclasses: Callable[[Any], list[Any]],
    ) -> None:
        self.resolver = resolver
        self._primitives = primitives  # a primitive's rule spelling, wherever it is defined
        self._aliases_of = aliases_of  # a node -> its module's import aliases
        self._subclasses = subclasses  # a scanned class -> its scanned subclasses

    def cannot_wait(self, call: Any, primitive: str) -> bool:
        func = call.func
        if primitive.startswith("io.") and isinstance(func, nodes.Attribute):
            return self._is_console(func.expr, 0)
        if primitive in ("queue.Queue.get", "queue.SimpleQueue.get"):
            return self._get_returns_at_once(call)
        if primitive == "queue.Queue.put":
            return self._put_returns_at_once(call)
        if primitive in HTTPX_CLIENTS:
            return self._client_on_a_given_transport(call)
        if primitive in ARCHIVES:
            return self._on_a_memory_file(call)
        if primitive.startswith(ARCHIVE_CLASSES) and isinstance(func, nodes.Attribute):
            return func.attrname not in DISK_METHODS and self._memory_archive(func.expr, 0)
        if primitive == "pathlib.Path.absolute" and isinstance(func, nodes.Attribute):
            return self._is_absolute(func.expr, 0)
        if primitive == "os.path.abspath":
            first = argument(call, 0, "path")
            return first is not None and self._is_absolute(first, 0)
        return False

    # names
    def names(self, func: Any) -> set[str]:
        """What a callee is: the public names astroid resolves it to, else its spelling through
        the module's imports (``from queue import Queue`` spells ``queue.Queue``)."""
        found = {self._spelling(t.external) for t in self.resolver.targets(func) if t.external}
        if found:
            return found
        spelled = dotted(func)
        if not spelled:
            return set()
        head, _, rest = spelled.partition(".")
        head = self._aliases_of(func).get(head, head)
        return {head + (f".{rest}" if rest else "")}

    def _spelling(self, qualified: str) -> str:
        """The rule table's name for a primitive (3.13 defines ``Path.cwd`` as
        ``pathlib._abc.PathBase.cwd``), else the public name of the definition."""
        primitive = self._primitives.lookup(qualified)
        return primitive.name if primitive is not None else _os_path(public_name(qualified))

    def values(self, expr: Any) -> list[Any] | None:
        """Every value ``expr`` (a name, or an attribute of an object) can hold, as the source
        assigns them; None when one binding is not a plain assignment (a parameter, a loop
        variable, an unpacking): then nothing about the value is known."""
        if isinstance(expr, nodes.Name):
            try:
                scope, _ = expr.lookup(expr.name)
            except Exception:
                return None
            return _assigned(scope.locals.get(expr.name, []))
        if isinstance(expr, nodes.Attribute):
            owners = [c for c in self.resolver.instance_classes(expr.expr) if not isinstance(c, str)]
            bindings: list[Any] = []
            for owner in owners:
                try:
                    lineage = [owner, *owner.ancestors(), *self._subclasses(owner)]
                except Exception:  # an ancestor astroid cannot infer
                    return None
                for klass in lineage:
                    bindings += klass.instance_attrs.get(expr.attrname, [])
                    bindings += klass.locals.get(expr.attrname, [])
            return _assigned(bindings) if owners else None
        return None

    # the console
    def _is_console(self, expr: Any, depth: int) -> bool:
        if isinstance(expr, nodes.Attribute) and expr.attrname == "buffer":
            expr = expr.expr
        if self._spelled(expr) in CONSOLE:
            return True
        return self._every_value(expr, depth, self._is_console)

    def _spelled(self, expr: Any) -> str:
        spelled = dotted(expr)
        head, _, rest = spelled.partition(".")
        head = self._aliases_of(expr).get(head, head)
        return head + (f".{rest}" if rest else "")

    def _every_value(self, expr: Any, depth: int, test: Callable[[Any, int], bool]) -> bool:
        """``test`` holds for every value the name or attribute ``expr`` can hold."""
        if depth >= MAX_STEPS or not isinstance(expr, (nodes.Name, nodes.Attribute)):
            return False
        values = self.values(expr)
        return bool(values) and all(test(v, depth + 1) for v in values or ())

    # queues
    def _get_returns_at_once(self, call: Any) -> bool:
        return _falsy(argument(call, 0, "block")) or _not_positive(argument(call, 1, "timeout"))

    def _put_returns_at_once(self, call: Any) -> bool:
        if _falsy(argument(call, 1, "block")) or _not_positive(argument(call, 2, "timeout")):
            return True
        func = call.func
        return isinstance(func, nodes.Attribute) and self._every_value(func.expr, 0, self._unbounded_queue)

    def _unbounded_queue(self, value: Any, _depth: int) -> bool:
        if isinstance(value, nodes.Const) and value.value is None:
            return True  # not a queue yet: its put raises, it never waits
        if not isinstance(value, nodes.Call):
            return False
        built = self.names(value.func)
        if built and built <= UNBOUNDED_QUEUES:
            return True
        if not built or not built <= BOUNDED_QUEUES:
            return False
        if splatted(value):
            return False
        maxsize = argument(value, 0, "maxsize")
        return maxsize is None or _not_positive(maxsize)

    # httpx
    def _client_on_a_given_transport(self, call: Any) -> bool:
        if splatted(call):
            return False
        given = {k.arg: k.value for k in call.keywords or ()}
        transport = given.get("transport")
        if transport is None or _is_none(transport):
            return False
        if any(not _is_none(given[k]) for k in ("proxy", "proxies") if k in given):
            return False  # a proxy gets a transport of its own, with an SSL context
        # A network transport built here, or assigned to the name given, built an SSL context:
        # the client line stays the finding (the transport's construction is no primitive).
        built = [transport, *(self.values(transport) or ())]
        return not any(isinstance(value, nodes.Call) and self._network_transport(value) for value in built)

    def _network_transport(self, call: Any) -> bool:
        return any(name.rsplit(".", 1)[-1] in HTTPX_NETWORK_TRANSPORTS for name in self.names(call.func))

    # archives over memory
    def _on_a_memory_file(self, call: Any) -> bool:
        """A constructor call whose file is an in-memory buffer built on that line or assigned so."""
        names = self.names(call.func)
        if not names or splatted(call):
            return False
        for name in names:
            if name not in ARCHIVES:
                return False
            position, keyword = ARCHIVES[name]
            given = argument(call, position, keyword)
            if given is None or not self._memory_file(given):
                return False
        return True

    def _memory_file(self, expr: Any) -> bool:
        built = [expr] if isinstance(expr, nodes.Call) else self.values(expr) or []
        return bool(built) and all(
            isinstance(v, nodes.Call) and bool(n := self.names(v.func)) and n <= MEMORY_FILES for v in built
        )

    def _memory_archive(self, expr: Any, depth: int) -> bool:
        """Every value the receiver holds is an archive over memory (``with ... as`` included:
        these classes' ``__enter__`` returns the object itself)."""
        if isinstance(expr, nodes.Call):
            return self._on_a_memory_file(expr)
        if isinstance(expr, nodes.Name):
            try:
                scope, _ = expr.lookup(expr.name)
            except Exception:
                return False
            bindings = scope.locals.get(expr.name, [])
            entered = [
                item
                for b in bindings
                if isinstance(b.parent, nodes.With)
                for item, bound in b.parent.items
                if bound is b
            ]
            if entered and len(entered) == len(bindings):
                return all(self._memory_archive(item, depth + 1) for item in entered)
        return self._every_value(expr, depth, self._memory_archive)

    # absolute paths
    def _is_absolute(self, expr: Any, depth: int) -> bool:
        if depth >= MAX_STEPS:
            return False
        if isinstance(expr, nodes.Call):
            names = self.names(expr.func)
            if names and names <= ABSOLUTE_RESULTS:
                return True
            first = argument(expr, 0, None)
            if first is None or splatted(expr):
                return False
            if names and names <= {"os.path.dirname"} | PATH_CLASSES:
                return self._is_absolute(first, depth + 1)
            if names and names <= {"os.path.join"}:
                rest = list(expr.args[1:])
                return self._is_absolute(first, depth + 1) and all(_driveless(a) for a in rest)
            return False
        if isinstance(expr, nodes.BinOp) and expr.op == "/":
            return _driveless(expr.right) and self._is_absolute(expr.left, depth + 1)
        if isinstance(expr, nodes.Attribute):
            if expr.attrname == "parent":
                return self._is_absolute(expr.expr, depth + 1)
            if expr.attrname == "__file__":
                return any(isinstance(v, nodes.Module) for v in _inferred(expr.expr))
        if isinstance(expr, nodes.Name) and expr.name == "__file__":
            try:
                scope, _ = expr.lookup("__file__")
            except Exception:
                return False
            if isinstance(scope, nodes.Module) and not scope.locals.get("__file__"):
                return True  # the module's own __file__, never reassigned
        return self._every_value(expr, depth, self._is_absolute)


def argument(call: Any, position: int, keyword: str | None) -> Any:
    """The node passed as parameter ``keyword`` (or at ``position``) of a method or function
    call, or None when it is not given (or not readable: after a ``*args``)."""
    for given in call.keywords or ():
        if keyword is not None and given.arg == keyword:
            return given.value
    args = list(call.args or ())
    if any(isinstance(a, nodes.Starred) for a in args[: position + 1]):
        return None
    return args[position] if position < len(args) else None


def splatted(call: Any) -> bool:
    """A ``*args`` or ``**kwargs`` may pass anything: no form is provable."""
    return any(isinstance(a, nodes.Starred) for a in call.args or ()) or any(
        k.arg is None for k in call.keywords or ()
    )


def _assigned(bindings: list[Any]) -> list[Any] | None:
    values = []
    for bound in bindings:
        parent = bound.parent
        plain = isinstance(parent, nodes.Assign) and bound in parent.targets
        annotated = (
            isinstance(parent, nodes.AnnAssign) and parent.value is not None and parent.target is bound
        )
        if not (plain or annotated):
            return None
        values.append(parent.value)
    return values or None


def _os_path(name: str) -> str:
    """astroid infers ``os.path.join`` as both flavours' (``posixpath.join``, ``ntpath.join``), and
    on 3.13 a ``Path`` method as both ``Path``'s and its base's (``pathlib._abc.PathBase.resolve``)."""
    head, _, rest = name.partition(".")
    if head in ("posixpath", "ntpath", "genericpath") and rest:
        return f"os.path.{rest}"
    if name.startswith("pathlib.PathBase."):
        return "pathlib.Path." + name.removeprefix("pathlib.PathBase.")
    return name


def _inferred(expr: Any) -> Iterator[Any]:
    try:
        yield from expr.infer()
    except Exception:  # astroid cannot infer it: nothing is known
        return


def _is_none(node: Any) -> bool:
    return isinstance(node, nodes.Const) and node.value is None


def _falsy(node: Any) -> bool:
    """A constant the callee reads as false (``block=False``): a name or an expression may be true."""
    return isinstance(node, nodes.Const) and not node.value and not isinstance(node.value, str)


def _not_positive(node: Any) -> bool:
    return (
        isinstance(node, nodes.Const)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and node.value <= 0
    )


def _driveless(node: Any) -> bool:
    """A string constant that cannot move a joined path to another drive (``"D:x"`` on Windows)."""
    return isinstance(node, nodes.Const) and isinstance(node.value, str) and ":" not in node.value
