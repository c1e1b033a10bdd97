"""Reachability: from every entry point on the loop, the functions it runs and the primitives they call."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astroid import nodes

from blockgate.offloads import (
    OffloadSite,
)
from blockgate.static.primitives import PrimitiveTable, primitive_table
from blockgate.static.resolvers import own_nodes
from blockgate.static.walk import Function, Inventory


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
    direct: bool = False  # made in an async def's own body: on the loop whatever its branches

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
            "direct": self.direct,
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
    skipped: dict[str, str] = field(default_factory=dict)  # relative path -> why it was not read


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
        widened: dict[Any, Any] = {}  # an override entered by widened dispatch -> the method called
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
                        chain=[_step(inventory, n, widened) for n in chain_nodes] + [primitive.name],
                        chain_functions=chain_functions,
                        direct=fn.is_async,
                    )
                if entry_fn.name not in candidate.entries:
                    candidate.entries.append(entry_fn.name)
            for _line, callee in calls.enters:
                if callee not in parents:
                    parents[callee] = node
                    queue.append(callee)
                    if callee in calls.widened:
                        widened[callee] = calls.widened[callee]
    inventory.progress.done()
    loop_functions = [inventory.functions[n] for n in loop]
    return Result(
        # Calls made in an async def itself first: a call deeper in a chain may sit behind a
        # branch its entry point never takes, one in the coroutine's own body runs on the loop.
        candidates=sorted(found.values(), key=lambda c: (not c.direct, c.path, c.line, c.primitive)),
        loop_functions=sorted(loop_functions, key=lambda f: (f.path, f.line)),
        loop_nodes=list(loop),
        offloads=list(inventory.offload_sites),
        entry_count=len(entries),
        file_count=len(inventory.files),
        seconds=time.perf_counter() - started,
        skipped=dict(sorted(inventory.skipped.items())),
    )


def _step(inventory: Inventory, node: Any, widened: dict[Any, Any]) -> str:
    """A chain's step: the function's name, and when it was reached as an override of the
    method the call names, that method (``... (override of pkg.Base.helper)``)."""
    name = inventory.functions[node].name
    if node in widened:
        name += f" (override of {inventory.functions[widened[node]].name}: dispatch widened)"
    return name


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
            executable[module.path] = statement_lines(module.source)
        own = {n.fromlineno for n in own_nodes(node) if n.is_statement}
        if isinstance(node, nodes.Lambda) and not isinstance(node, nodes.FunctionDef):
            own = {node.fromlineno}
        lines.setdefault(module.path, set()).update(own & executable[module.path])
    return lines


def statement_lines(source: str) -> set[int]:
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
