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
from blockgate.static.guards import Guard, bound, enclosing, guards, left_false
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
    # Why every chain found reaches it only through a branch it leaves untaken ('' when one can).
    behind: str = ""

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
            "behind": self.behind,
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
    """Walk from every entry point; collect the primitives met on the way.

    A function is walked once per entry point for each set of its guards that the call entering
    it leaves false (``guards``): most have none, so once. Calls a chain reaches only through
    such a branch are walked after all the others, and a candidate first found there is
    reported with why (``behind``) unless another chain reaches it without one.
    """
    started = time.perf_counter()
    entries = inventory.entry_points()
    found: dict[tuple[str, int, str, str], Candidate] = {}
    loop: dict[Any, None] = {}
    branches = _Branches(inventory)
    for done, entry in enumerate(sorted(entries, key=lambda n: _sort_key(inventory, n)), 1):
        inventory.progress.update(f"followed {done}/{len(entries)} entry points")
        entry_fn = inventory.functions[entry]
        start: _State = (entry, frozenset(), False)
        parents: dict[_State, _State | None] = {start: None}
        why_behind: dict[_State, str] = {}
        widened: dict[Any, Any] = {}  # an override entered by widened dispatch -> the method called
        taken: deque[_State] = deque([start])
        untaken: deque[_State] = deque()
        while taken or untaken:
            state = taken.popleft() if taken else untaken.popleft()
            node, dead, _ = state
            loop.setdefault(node)
            calls = inventory.calls(node)
            fn = inventory.functions[node]
            for line, primitive, site in calls.primitives:
                behind = why_behind.get(state) or branches.untaken(node, site, dead)
                key = (fn.path, line, fn.qualname, primitive.name)
                candidate = found.get(key)
                if candidate is None or (candidate.behind and not behind):
                    chain_nodes = [s[0] for s in _path_to(parents, state)]
                    chain = [_step(inventory, n, widened) for n in chain_nodes] + [primitive.name]
                    if candidate is None:
                        found[key] = candidate = Candidate(
                            path=fn.path,
                            line=line,
                            function=fn.qualname,
                            primitive=primitive.name,
                            rule=primitive.rules[0],
                            rules=list(primitive.rules),
                            entries=[],
                            chain=chain,
                            chain_functions=[inventory.functions[n] for n in chain_nodes],
                            direct=fn.is_async,
                            behind=behind,
                        )
                    else:  # a chain that can take every branch on the way replaces one that cannot
                        candidate.chain = chain
                        candidate.chain_functions = [inventory.functions[n] for n in chain_nodes]
                        candidate.behind = ""
                if entry_fn.name not in candidate.entries:
                    candidate.entries.append(entry_fn.name)
            for _line, callee, site in calls.enters:
                behind = why_behind.get(state) or branches.untaken(node, site, dead)
                following: _State = (callee, branches.left_false(fn, callee, site), bool(behind))
                if following not in parents:
                    parents[following] = state
                    if behind:
                        why_behind[following] = behind
                        untaken.append(following)
                    else:
                        taken.append(following)
                    if callee in calls.widened:
                        widened[callee] = calls.widened[callee]
    inventory.progress.done()
    loop_functions = [inventory.functions[n] for n in loop]
    return Result(
        # Calls made in an async def itself first: a call deeper in a chain may sit behind a
        # branch its entry point never takes, one in the coroutine's own body runs on the loop.
        # Last, those every chain found reaches only through a branch it leaves untaken.
        candidates=sorted(
            found.values(), key=lambda c: (bool(c.behind), not c.direct, c.path, c.line, c.primitive)
        ),
        loop_functions=sorted(loop_functions, key=lambda f: (f.path, f.line)),
        loop_nodes=list(loop),
        offloads=list(inventory.offload_sites),
        entry_count=len(entries),
        file_count=len(inventory.files),
        seconds=time.perf_counter() - started,
        skipped=dict(sorted(inventory.skipped.items())),
    )


# A function as the walk meets it: its node, the guards of it the entering call leaves false
# (each with why), and whether the chain got there only through a branch left untaken.
_State = tuple[Any, frozenset[tuple[Guard, str]], bool]


class _Branches:
    """Which guards of a function a call leaves false, and whether a call site sits under one."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._guards: dict[Any, list[Guard]] = {}
        self._left: dict[tuple[Any, Any], frozenset[tuple[Guard, str]]] = {}

    def guards(self, function: Any) -> list[Guard]:
        if function not in self._guards:
            self._guards[function] = guards(function)
        return self._guards[function]

    def left_false(self, caller: Function, callee: Any, site: Any) -> frozenset[tuple[Guard, str]]:
        if not isinstance(site, nodes.Call) or not self.guards(callee):
            return frozenset()
        key = (callee, site)
        if key not in self._left:
            found = set()
            passes_object = bound(callee, site, _names_a_class)
            if passes_object is not None:
                for guard in self.guards(callee):
                    how = left_false(guard, callee, site, passes_object)
                    if how:
                        found.add((guard, f"the call at {caller.path}:{site.lineno} {how}"))
            self._left[key] = frozenset(found)
        return self._left[key]

    def untaken(self, function: Any, site: Any, dead: frozenset[tuple[Guard, str]]) -> str:
        """Why ``site`` never runs on this chain ('' when it may)."""
        if not dead:
            return ""
        held = enclosing(function, site, self.guards(function))
        for guard, how in sorted(dead, key=lambda d: d[0].node.lineno):
            if guard in held:
                name = self.inventory.functions[function].name
                return f"{guard.describe()} in {name} is false on this chain: {how}"
        return ""


def _names_a_class(expr: Any) -> bool:
    try:
        return any(isinstance(v, nodes.ClassDef) for v in expr.infer())
    except Exception:  # astroid cannot infer it: not known to be a class
        return False


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
