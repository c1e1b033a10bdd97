"""The static inventory of offload sites: where backend code moves sync work off the loop.

An offload site is a call to ``asyncio.to_thread(f, ...)``,
``<loop>.run_in_executor(executor, f, ...)`` or
``anyio.to_thread.run_sync(f, ...)``, found by reading the AST (no import, so
the inventory cannot be fooled by what the code does at import time). Each
site records its enclosing function (the "offloaded method"), the target it
offloads, the line of the statement that holds it (the line coverage
records), and whether the call is directly awaited (the form the teeth check
can revert).

Used by the offload review (``tools/offload_review.py``) and the teeth check
(``tools/teeth.py``), so both speak about the same sites.
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
    kind: str  # "to_thread", "run_in_executor" or "anyio.run_sync"
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


def offload_kind(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """The offload kind of ``call``, or None. ``aliases`` maps local names to what they import."""
    name = _dotted(call.func)
    head, _, rest = name.partition(".")
    resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
    if resolved == "asyncio.to_thread":
        return "to_thread"
    if resolved == "anyio.to_thread.run_sync":
        return "anyio.run_sync"
    if isinstance(call.func, ast.Attribute) and call.func.attr == "run_in_executor":
        return "run_in_executor"
    return None


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
    index = 1 if kind == "run_in_executor" else 0
    return call.args[index] if len(call.args) > index else None


def sites_in_source(source: str, path: str) -> list[OffloadSite]:
    tree = ast.parse(source, filename=path)
    aliases = import_aliases(tree)
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
