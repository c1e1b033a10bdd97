"""A pytest plugin for the injection check: one blocking call at the top of a scanned coroutine.

Loaded with ``-p blockgate.teeth.inject`` in a gate run of its own (see
``blockgate.teeth.coroutines``). It swaps code in memory, like the teeth
check does for offload sites: the module is re-compiled from its source with a
statement inserted as the first line of a function's body, and the live
function's ``__code__`` (the outermost def holding it) is replaced. No file is
written. Two modes:

* ``--inject-record FILE``: every listed coroutine notes which test entered
  it; the map ``{coroutine: [node ids]}`` is written to FILE at session end.
  It chooses the tests that the next mode runs. Once pytest is done, this
  process ends with the session's exit status and without the interpreter's
  teardown (see ``pytest_unconfigure``).
* ``--inject-blocking COROUTINE``: that coroutine calls ``os.stat(".")`` on
  entry, on the loop, from scanned code; the gate must turn every test that
  reaches it red with a blocking error.

A coroutine is named ``path::qualname`` (``src/shop/x.py::Store.put``),
path relative to ``--inject-root``. ``--inject-outcomes FILE`` writes each test's
outcome: ``passed``, ``blocking`` (it failed with a ``BlockingError``) or the
phase and type of any other failure.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import sys
import types
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

BLOCKING_CALL = '__import__("os").stat(".")'
_entered: dict[str, set[str]] = defaultdict(set)
_current_test: list[str] = [""]


def entered(coroutine: str) -> None:
    """Called by the recording statement: the running test reached ``coroutine``."""
    _entered[coroutine].add(_current_test[0])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("inject", "one blocking call injected into a scanned coroutine (blockgate teeth)")
    group.addoption("--inject-root", type=Path, help="folder the coroutine paths are relative to")
    group.addoption("--inject-source", type=Path, help="folder holding the scanned package(s)")
    group.addoption("--inject-record", type=Path, help="write {coroutine: [node ids]} to this file")
    group.addoption("--inject-blocking", metavar="COROUTINE", help="path::qualname to inject into")
    group.addoption("--inject-outcomes", type=Path, help="write {node id: outcome} to this file")


class Coroutine:
    """One ``async def`` of the scanned packages, as the offload inventory lists it."""

    def __init__(self, name: str, root: Path, source: Path) -> None:
        self.name = name
        path, self.qualname = name.split("::", 1)
        self.file = root / path
        parts = list(self.file.relative_to(source).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        self.module_name = ".".join(parts)


def _insert_first(tree: ast.Module, qualname: str, statement: str) -> None:
    """Put ``statement`` (one or more) before the first statement of ``qualname``'s body (after its docstring)."""

    def find(body: list[ast.stmt], names: list[str]) -> ast.AsyncFunctionDef | None:
        for node in body:
            if (
                isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name == names[0]
            ):
                if len(names) == 1:
                    return node if isinstance(node, ast.AsyncFunctionDef) else None
                return find(node.body, names[1:])
        return None

    function = find(tree.body, qualname.split("."))
    if function is None:
        raise LookupError(f"no async def {qualname}")
    body = function.body
    first = (
        1
        if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        else 0
    )
    new = ast.parse(statement).body
    for node in new:  # on the line of the statement it precedes: no other line moves
        ast.increment_lineno(node, body[first].lineno - 1)
    body[first:first] = new


def _code_named(code: types.CodeType, name: str, firstline: int) -> types.CodeType | None:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and const.co_firstlineno == firstline:
                return const
            found = _code_named(const, name, firstline)
            if found is not None:
                return found
    return None


def _outermost_function(module: types.ModuleType, qualname: str) -> types.FunctionType:
    owner: Any = module
    for part in qualname.split("."):
        value = owner.__dict__[part] if hasattr(owner, "__dict__") else getattr(owner, part)
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, type):
            owner = value
            continue
        while hasattr(value, "__wrapped__"):
            value = value.__wrapped__
        if not isinstance(value, types.FunctionType):
            raise LookupError(f"{qualname}: {part} is not a plain function")
        return value
    raise LookupError(f"{qualname} is not inside a function")


def swap_in(coroutines: list[Coroutine], statement_for: dict[str, str]) -> None:
    """Re-compile each module with the statements inserted; swap the code of the functions holding them."""
    by_module: dict[str, list[Coroutine]] = defaultdict(list)
    for coroutine in coroutines:
        by_module[coroutine.module_name].append(coroutine)
    for module_name, members in by_module.items():
        module = importlib.import_module(module_name)
        filename = module.__file__  # the gate scopes by file name: keep the module's own
        assert filename is not None
        tree = ast.parse(Path(filename).read_text(encoding="utf-8"), filename=filename)
        for coroutine in members:
            _insert_first(tree, coroutine.qualname, statement_for[coroutine.name])
        compiled = compile(tree, filename, "exec", dont_inherit=True)
        swapped: set[int] = set()
        for coroutine in members:
            function = _outermost_function(module, coroutine.qualname)
            if id(function) in swapped:
                continue
            original = function.__code__
            code = _code_named(compiled, original.co_name, original.co_firstlineno)
            if code is None or code.co_freevars != original.co_freevars:
                raise LookupError(f"{coroutine.name}: no matching compiled code for {function.__qualname__}")
            function.__code__ = code
            swapped.add(id(function))


def _listed(config: pytest.Config) -> list[Coroutine]:
    from blockgate.offloads import async_functions

    root, source = config.getoption("--inject-root"), config.getoption("--inject-source")
    return [
        Coroutine(f"{f.path}::{f.function}", root, source) for f in async_functions(source, relative_to=root)
    ]


def pytest_configure(config: pytest.Config) -> None:
    source = config.getoption("--inject-source")
    if source is None:
        return
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    coroutines = _listed(config)
    if config.getoption("--inject-record"):
        statement = 'import blockgate.teeth.inject as _inject; _inject.entered("{}")'
        swap_in(coroutines, {c.name: statement.format(c.name) for c in coroutines})
    target = config.getoption("--inject-blocking")
    if target:
        chosen = [c for c in coroutines if c.name == target]
        if not chosen:
            raise pytest.UsageError(f"--inject-blocking: {target} is not an async def under --inject-source")
        swap_in(chosen, {target: BLOCKING_CALL})
    config.stash[_outcomes] = {}


_outcomes = pytest.StashKey[dict[str, str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current_test[0] = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    outcomes = item.config.stash.get(_outcomes, None)
    if outcomes is not None:
        from blockbuster import BlockingError

        if call.excinfo is None:
            outcomes.setdefault(item.nodeid, "passed")
        else:
            kind = (
                "blocking"
                if call.excinfo.errisinstance(BlockingError)
                else f"{call.when}: {call.excinfo.typename}"
            )
            if outcomes.get(item.nodeid, "passed") == "passed":
                outcomes[item.nodeid] = kind
    return report


_finished: list[pytest.Session] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    _finished.append(session)  # its exit status is final once every plugin's hook ran: read at unconfigure
    config = session.config
    record = config.getoption("--inject-record", None)
    if record:
        record.write_text(json.dumps({name: sorted(tests) for name, tests in _entered.items()}, indent=1))
    outcomes_file = config.getoption("--inject-outcomes", None)
    if outcomes_file:
        outcomes_file.write_text(json.dumps(config.stash.get(_outcomes, {}), indent=1))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A recording run ends here, with its session's status, skipping the interpreter's teardown.

    Its records are written and its report printed by now. What the
    injection check judges is the exit of the injected runs, which end the
    normal way; the recording run only picks their tests. Its teardown (every
    anchor's threads, the gate's checkers just removed) crashed it with
    SIGSEGV, now and then, after every test had passed: an exit code from
    the interpreter's teardown of a run that is not under test would fail the
    check for nothing, or, as an expected failure, skip it silently. The gate
    runs of ``tox -e blocking`` still end the normal way, and a crash there
    fails them.
    """
    if config.getoption("--inject-record", None) is None or not _finished:
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(int(_finished[-1].exitstatus))
