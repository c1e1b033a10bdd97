"""The offload model: where scanned code moves sync work off the loop, and what the loop runs itself.

An offload site is a call to ``asyncio.to_thread(f, ...)``,
``<loop>.run_in_executor(executor, f, ...)``, ``anyio.to_thread.run_sync(f, ...)``
or ``starlette.concurrency.run_in_threadpool(f, ...)``, found by reading the
AST (no import, so
the inventory cannot be fooled by what the code does at import time). Each
site records its enclosing function (the "offloaded method"), the target it
offloads, the line of the statement that holds it (the line coverage
records), and whether the call is directly awaited (the form the teeth check
can revert).

This module is the one model of what an offload looks like (``OFFLOADS``,
``OFFLOAD_METHODS``, ``offload_kind``, ``target_of``) and of which sync
callables the loop runs on its own thread (``LOOP_CALLBACKS``). The offload
review (``blockgate.review``), the teeth check (``blockgate.teeth``) and
the static half (``blockgate.static``) all read it, so a new
offload form is taught here, once.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class OffloadSite:
    path: str  # as given to the inventory (relative to the repo when run from it)
    line: int  # line of the call
    statement_line: int  # first line of the statement holding it: what coverage records
    kind: str  # a kind of OFFLOADS: "to_thread", "run_in_executor", "anyio.run_sync", "run_in_threadpool"
    function: str  # qualified name of the enclosing function, e.g. JsonlRunEventStore.put
    function_is_async: bool
    target: str  # source of the offloaded callable
    awaited: bool  # the call is the direct operand of ``await``

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "where": self.where}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _source(node: ast.expr) -> str:
    # Python 3.10's unparse writes "lambda :"; later versions "lambda:".
    return ast.unparse(node).replace("lambda :", "lambda:")


@dataclass(frozen=True)
class OffloadForm:
    kind: str
    target_index: int  # position of the offloaded callable among the call's positional arguments
    forwards_keywords: bool  # keyword arguments of the call reach the callable


# Offloads named by the function they call (after import aliases are resolved).
OFFLOADS: dict[str, OffloadForm] = {
    "asyncio.to_thread": OffloadForm("to_thread", 0, True),
    "anyio.to_thread.run_sync": OffloadForm("anyio.run_sync", 0, True),
    "starlette.concurrency.run_in_threadpool": OffloadForm("run_in_threadpool", 0, True),
}
# Offloads named by a method, whatever the receiver: a loop is rarely a name we can resolve.
OFFLOAD_METHODS: dict[str, OffloadForm] = {
    "run_in_executor": OffloadForm("run_in_executor", 1, False),
}
FORMS: dict[str, OffloadForm] = {f.kind: f for f in (*OFFLOADS.values(), *OFFLOAD_METHODS.values())}

# The opposite of an offload: sync callables the loop runs on its own thread.
# Method name -> position of the callback among the positional arguments.
LOOP_CALLBACKS: dict[str, int] = {
    "call_soon": 0,
    "call_soon_threadsafe": 0,  # scheduled from another thread, run on the loop's
    "call_later": 1,
    "call_at": 1,
    "add_done_callback": 0,
}


def resolve_dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    """The dotted name ``node`` spells, with its first part replaced by what it imports."""
    name = _dotted(node)
    head, _, rest = name.partition(".")
    return aliases.get(head, head) + (f".{rest}" if rest else "")


def offload_form(dotted: str, method: str | None) -> OffloadForm | None:
    """The offload a callee is: ``dotted`` its resolved name, ``method`` its attribute name if any."""
    if dotted in OFFLOADS:
        return OFFLOADS[dotted]
    if method is not None:
        return OFFLOAD_METHODS.get(method)
    return None


def offload_kind(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """The offload kind of ``call``, or None. ``aliases`` maps local names to what they import."""
    method = call.func.attr if isinstance(call.func, ast.Attribute) else None
    form = offload_form(resolve_dotted(call.func, aliases), method)
    return form.kind if form else None


def import_aliases(tree: ast.Module) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def target_of(call: ast.Call, kind: str) -> ast.expr | None:
    index = FORMS[kind].target_index
    return call.args[index] if len(call.args) > index else None


def sites_in_source(source: str, path: str) -> list[OffloadSite]:
    tree = ast.parse(source, filename=path)
    return sites_in_tree(tree, path, import_aliases(tree))


def sites_in_tree(tree: ast.Module, path: str, aliases: dict[str, str]) -> list[OffloadSite]:
    """The offload sites of a parsed module (``aliases``: its ``import_aliases``)."""
    sites: list[OffloadSite] = []

    def visit(
        node: ast.AST, scope: list[ast.AST], statement: ast.stmt | None, parent: ast.AST | None
    ) -> None:
        if isinstance(node, ast.stmt):
            statement = node
        if isinstance(node, ast.Call):
            kind = offload_kind(node, aliases)
            if kind is not None:
                functions = [s for s in scope if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
                enclosing = functions[-1] if functions else None
                target = target_of(node, kind)
                sites.append(
                    OffloadSite(
                        path=path,
                        line=node.lineno,
                        statement_line=statement.lineno if statement else node.lineno,
                        kind=kind,
                        function=".".join(
                            s.name
                            for s in scope
                            if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                        )
                        or "<module>",
                        function_is_async=isinstance(enclosing, ast.AsyncFunctionDef),
                        target=_source(target) if target is not None else "<missing>",
                        awaited=isinstance(parent, ast.Await),
                    )
                )
        inner = (
            [*scope, node]
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            else scope
        )
        for child in ast.iter_child_nodes(node):
            visit(child, inner, statement, node)

    visit(tree, [], None, None)
    return sites


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def inventory(root: Path, relative_to: Path | None = None) -> list[OffloadSite]:
    """Every offload site under ``root``, in file and line order."""
    sites = []
    for path in python_files(root):
        shown = path.relative_to(relative_to) if relative_to else path
        sites.extend(sites_in_source(path.read_text(encoding="utf-8"), shown.as_posix()))
    return sites


@dataclass(frozen=True)
class AsyncFunction:
    path: str
    function: str
    line: int  # the def line
    body_line: int  # first statement of the body (skipping a docstring): runs iff the coroutine ran


def async_functions(root: Path, relative_to: Path | None = None) -> list[AsyncFunction]:
    found = []
    for path in python_files(root):
        shown = (path.relative_to(relative_to) if relative_to else path).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=shown)

        def visit(node: ast.AST, scope: list[str], shown: str = shown) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    names = [*scope, child.name]
                    abstract = any(
                        _dotted(d).endswith("abstractmethod") for d in getattr(child, "decorator_list", [])
                    )
                    if isinstance(child, ast.AsyncFunctionDef) and not abstract:
                        body = child.body
                        if (
                            len(body) > 1
                            and isinstance(body[0], ast.Expr)
                            and isinstance(getattr(body[0], "value", None), ast.Constant)
                        ):
                            body = body[1:]
                        found.append(AsyncFunction(shown, ".".join(names), child.lineno, body[0].lineno))
                    visit(child, names)
                else:
                    visit(child, scope)

        visit(tree, [])
    return found
