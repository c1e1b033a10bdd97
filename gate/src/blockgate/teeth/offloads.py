"""Teeth, offloads: revert each offload site, prove a gate test goes red with a blocking error.

For every site of the offload inventory (``blockgate.offloads``), a
mutant reverts that one site to a direct call on the loop::

    await asyncio.to_thread(f, *a, **kw)          ->  f(*a, **kw)
    await loop.run_in_executor(ex, f, *a)         ->  f(*a)
    await anyio.to_thread.run_sync(f, *a)         ->  f(*a)
    await run_in_threadpool(f, *a, **kw)          ->  f(*a, **kw)

(lambdas and ``functools.partial`` targets are called the same way). Then the
gate tests that ran the site (from the per-test coverage contexts of a gate
run under coverage; all gate tests when there is no data) run against
the mutant, and the site is:

* killed: a test failed with the gate's blocking error;
* survived: every test passed (the gate does not guard this offload);
* invalid: tests failed, none with a blocking error (the mutant or a test is wrong);
* unsupported: the site is not in a form that can be reverted (not directly
  awaited, say). Only "killed" passes.

Mutants never touch the files: the module is re-compiled in memory from its
source with the one call rewritten, and the ``__code__`` of the outermost
function holding the site is swapped in the running interpreter, then
restored. One pytest session (one collection) serves every mutant, and only
the covering tests run, so the check costs a small multiple of one gate run.

Each mutant is also read by the static half (``blockgate.static``): the
reverted call must surface as a new blocking call reachable from the loop,
unless the accepted file's ``[[outside]]`` table says why it cannot (the
blocking work happens inside a library, which the static half does not read).

Run through ``python -m blockgate.teeth`` (``blockgate.teeth.__main__``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blockgate import text_table
from blockgate.offloads import FORMS, OffloadSite, import_aliases, inventory, offload_kind, target_of

ANYIO_OPTIONS = {"cancellable", "abandon_on_cancel", "limiter"}
KILLS_ENOUGH = 3  # stop running a site's tests after this many kills


class Unsupported(Exception):
    """The site cannot be reverted mechanically."""


@dataclass
class Verdict:
    site: OffloadSite
    verdict: str = "unsupported"
    killed_by: list[str] = field(default_factory=list)
    failed_otherwise: list[str] = field(default_factory=list)
    tests_run: int = 0
    detail: str = ""
    static: str = "unsupported"  # the static half: "seen", "NOT SEEN" or "unsupported"
    static_new: list[str] = field(default_factory=list)  # the new loop-reachable candidates
    static_detail: str = ""

    @property
    def passed(self) -> bool:
        # "waived": no gate test ran it, and the accepted file's [[requires]] says why (its
        # service is not configured here); the static half must still see the reversal.
        return self.verdict in ("killed", "waived") and self.static in ("seen", "outside")

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.site.to_dict(),
            "verdict": self.verdict,
            "killed_by": self.killed_by,
            "failed_otherwise": self.failed_otherwise,
            "tests_run": self.tests_run,
            "detail": self.detail,
            "static": self.static,
            "static_new": self.static_new,
            "static_detail": self.static_detail,
        }


# -- building a mutant -------------------------------------------------------------


def module_name(path: Path, source_root: Path) -> str:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def direct_call(call: ast.Call, aliases: dict[str, str]) -> ast.Call:
    """The offload ``call`` reverted: its target called with the arguments it forwards."""
    kind = offload_kind(call, aliases)
    target = target_of(call, kind) if kind else None
    if kind is None or target is None:
        raise Unsupported("offload call without a target")
    form = FORMS[kind]
    keywords = call.keywords
    if not form.forwards_keywords and keywords:
        raise Unsupported(f"{kind} takes no keyword arguments to forward")
    if kind == "anyio.run_sync":
        keywords = [k for k in keywords if k.arg not in ANYIO_OPTIONS]
    return ast.Call(func=target, args=call.args[form.target_index + 1 :], keywords=keywords)


class _Revert(ast.NodeTransformer):
    def __init__(self, line: int, col: int, aliases: dict[str, str]) -> None:
        self.line, self.col, self.aliases = line, col, aliases
        self.done = False

    def visit_Await(self, node: ast.Await) -> ast.AST:
        call = node.value
        if isinstance(call, ast.Call) and (call.lineno, call.col_offset) == (self.line, self.col):
            self.done = True
            return ast.copy_location(direct_call(call, self.aliases), node)
        return self.generic_visit(node)


def mutant_source(source: str, site: OffloadSite) -> str:
    """The module's text with the site reverted, every other line where it was: what the static
    half reads. The direct call is parenthesised and padded with the lines the offload spanned."""
    tree = ast.parse(source)
    aliases = import_aliases(tree)
    awaited = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Await)
            and isinstance(n.value, ast.Call)
            and n.value.lineno == site.line
            and offload_kind(n.value, aliases)
        ),
        None,
    )
    if awaited is None:
        raise Unsupported("no awaited offload call at this line")
    assert awaited.end_lineno is not None and awaited.end_col_offset is not None
    assert isinstance(awaited.value, ast.Call)  # chosen above: an awaited offload call
    replacement = "(" + ast.unparse(direct_call(awaited.value, aliases))
    replacement += "\n" * (awaited.end_lineno - awaited.lineno) + ")"
    lines = source.splitlines(keepends=True)
    first = lines[awaited.lineno - 1].encode("utf-8")  # AST columns count UTF-8 bytes
    last = lines[awaited.end_lineno - 1].encode("utf-8")
    return (
        "".join(lines[: awaited.lineno - 1])
        + first[: awaited.col_offset].decode("utf-8")
        + replacement
        + last[awaited.end_col_offset :].decode("utf-8")
        + "".join(lines[awaited.end_lineno :])
    )


def mutant_code(source: str, filename: str, site: OffloadSite) -> types.CodeType:
    tree = ast.parse(source, filename=filename)
    aliases = import_aliases(tree)
    call = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and n.lineno == site.line and offload_kind(n, aliases)
        ),
        None,
    )
    if call is None:
        raise Unsupported("the inventory's call is not in the source any more")
    if not site.awaited:
        raise Unsupported("the offload is not directly awaited, so there is no call to put in its place")
    revert = _Revert(call.lineno, call.col_offset, aliases)
    tree = ast.fix_missing_locations(revert.visit(tree))
    if not revert.done:
        raise Unsupported("no awaited offload call at this position")
    return compile(tree, filename, "exec", dont_inherit=True)


def _find_code(code: types.CodeType, name: str, firstline: int) -> types.CodeType | None:
    """The code object named ``name`` defined at ``firstline``, anywhere in ``code``'s constants."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and const.co_firstlineno == firstline:
                return const
            found = _find_code(const, name, firstline)
            if found is not None:
                return found
    return None


def swap_target(module: types.ModuleType, site: OffloadSite) -> tuple[Any, str]:
    """The live function whose code holds the site: the outermost def on the qualname path."""
    owner: Any = module
    for part in site.function.split("."):
        value = inspect.getattr_static(owner, part, None)
        if value is None:
            raise Unsupported(f"cannot reach {site.function} from {module.__name__}")
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, type):
            owner = value
            continue
        function = inspect.unwrap(value)
        if not isinstance(function, types.FunctionType):
            raise Unsupported(f"{site.function}: {part} is not a plain function")
        return function, function.__qualname__
    raise Unsupported(f"{site.function} is not inside a function")


class Mutant:
    """Swap a function's code for the mutant's; restore on exit."""

    def __init__(self, site: OffloadSite, source_root: Path, rootdir: Path) -> None:
        module = importlib.import_module(module_name(rootdir / site.path, source_root))
        filename = module.__file__  # the gate scopes by file name: keep the module's own
        assert filename is not None
        self.function, qualname = swap_target(module, site)
        compiled = mutant_code(Path(filename).read_text(encoding="utf-8"), filename, site)
        code = _find_code(compiled, self.function.__code__.co_name, self.function.__code__.co_firstlineno)
        if code is None:
            raise Unsupported(f"no compiled code for {qualname}")
        if code.co_freevars != self.function.__code__.co_freevars:
            raise Unsupported(f"{qualname}: closure differs in the mutant")
        self.code = code
        self.original = self.function.__code__

    def __enter__(self) -> Mutant:
        self.function.__code__ = self.code
        return self

    def __exit__(self, *exc: object) -> None:
        self.function.__code__ = self.original


class StaticHalf:
    """The static inventory on each mutant: the reverted call must surface as a new blocking call
    reachable from the loop, through the function that held the offload."""

    def __init__(
        self, source_root: Path, rootdir: Path, sites: list[OffloadSite], outside: dict[str, str]
    ) -> None:
        from blockgate.static import primitive_table, scan

        self.outside = outside
        self.scan = scan
        self.source_root, self.rootdir = source_root, rootdir
        self.packages = sorted({self._relative(s).split("/")[0].removesuffix(".py") for s in sites})
        self.table = primitive_table()
        self.baseline = (
            {c.key() for c in self.scan(source_root, self.packages, self.table).candidates}
            if self.packages
            else set()
        )

    def _relative(self, site: OffloadSite) -> str:
        return self.relative(site, self.rootdir, self.source_root)

    @staticmethod
    def relative(site: OffloadSite, rootdir: Path, source_root: Path) -> str:
        return (rootdir / site.path).resolve().relative_to(source_root).as_posix()

    def check(self, verdict: Verdict) -> None:
        site = verdict.site
        path = self._relative(site)
        try:
            mutated = mutant_source((self.source_root / path).read_text(encoding="utf-8"), site)
        except Unsupported as exc:
            verdict.static, verdict.static_detail = "unsupported", str(exc)
            return
        result = self.scan(self.source_root, self.packages, self.table, sources={path: mutated})
        module = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        holder = f"{module}.{site.function}"
        new = [
            c
            for c in result.candidates
            if c.key() not in self.baseline and any(step.split(" ", 1)[0] == holder for step in c.chain)
        ]
        verdict.static = "seen" if new else "NOT SEEN"
        verdict.static_new = [f"{c.primitive} at {c.path}:{c.line}" for c in new]
        if not new:
            verdict.static_detail = "no new blocking call reachable from the loop"
            why = self.outside.get(f"{path}::{site.function}")
            if why:
                verdict.static, verdict.static_detail = "outside", why


# -- which tests ------------------------------------------------------------------


def default_data_file(rootdir: Path) -> Path | None:
    reports = rootdir / "reports"
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    for name in ("blocking", f"blocking-{version}"):
        candidate = reports / name / ".coverage"
        if candidate.exists():
            return candidate
    others = sorted(reports.glob("blocking*/.coverage"))
    return others[0] if others else None


def stale(data_file: Path, source: Path) -> list[Path]:
    """Source files changed after the coverage data was written: their line numbers may have moved."""
    written = data_file.stat().st_mtime
    return [p for p in source.rglob("*.py") if p.stat().st_mtime > written]


def covering_tests(
    data_file: Path | None, sites: list[OffloadSite], repo: Path
) -> dict[OffloadSite, list[str]] | None:
    if data_file is None or not data_file.exists():
        return None
    import coverage

    from blockgate.contexts import gate_contexts

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    by_real = {os.path.realpath(f): f for f in data.measured_files()}
    result = {}
    for site in sites:
        measured = by_real.get(os.path.realpath(repo / site.path))
        lines = data.contexts_by_lineno(measured) if measured else {}
        result[site] = gate_contexts(lines.get(site.statement_line, []))
    return result


# -- running -------------------------------------------------------------------------


class TeethPlugin:
    """Replaces pytest's run loop: every mutant against its covering items."""

    def __init__(
        self,
        sites: list[OffloadSite],
        covering: dict[OffloadSite, list[str]] | None,
        source_root: Path,
        rootdir: Path,
        waived: dict[str, str] | None = None,
    ) -> None:
        self.sites = sites
        self.covering = covering
        self.waived = waived or {}
        self.source_root = source_root
        self.rootdir = rootdir
        self.verdicts: list[Verdict] = []
        self._current: dict[str, str] = {}

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        if call.excinfo is None:
            return
        from blockbuster import BlockingError

        kind = (
            "blocking"
            if call.excinfo.errisinstance(BlockingError)
            else f"{call.when}: {call.excinfo.typename}"
        )
        self._current.setdefault(item.nodeid, kind)

    def pytest_runtestloop(self, session: Any) -> bool:
        from _pytest.runner import runtestprotocol

        items = {item.nodeid: item for item in session.items}
        for site in self.sites:
            verdict = Verdict(site)
            self.verdicts.append(verdict)
            wanted = list(items) if self.covering is None else self.covering.get(site, [])
            selected = [items[n] for n in wanted if n in items]
            why = self.waived.get(
                f"{StaticHalf.relative(site, self.rootdir, self.source_root)}::{site.function}"
            )
            if not selected and why is not None:
                verdict.verdict, verdict.detail = "waived", why
                continue
            if not selected:
                verdict.verdict = "survived"
                verdict.detail = (
                    "no gate test ran this site" if self.covering is not None else "no gate test collected"
                )
                continue
            try:
                mutant = Mutant(site, self.source_root, self.rootdir)
            except Unsupported as exc:
                verdict.detail = str(exc)
                continue
            with mutant:
                for item in selected:
                    self._current = {}
                    if hasattr(item, "_initrequest"):
                        item._initrequest()  # fresh fixture request for a re-run
                    runtestprotocol(item, nextitem=None, log=False)
                    verdict.tests_run += 1
                    outcome = self._current.get(item.nodeid)
                    if outcome == "blocking":
                        verdict.killed_by.append(item.nodeid)
                        if len(verdict.killed_by) >= KILLS_ENOUGH:
                            break
                    elif outcome is not None:
                        verdict.failed_otherwise.append(f"{item.nodeid} ({outcome})")
            if verdict.killed_by:
                verdict.verdict = "killed"
            elif verdict.failed_otherwise:
                verdict.verdict = "invalid"
            else:
                verdict.verdict = "survived"
        # pytest's closing line counts its own stats; say what ran instead of "no tests ran".
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            runs = sum(v.tests_run for v in self.verdicts)
            # Objects, not None: other plugins (hypothesis's) read every report in the stats.
            reporter.stats["test runs against mutants"] = [types.SimpleNamespace() for _ in range(runs)]
        return True


def run(
    source: Path,
    rootdir: Path,
    pytest_args: list[str],
    data: Path | None,
    outside: dict[str, str],
    waived: dict[str, str] | None = None,
) -> tuple[list[Verdict], float]:
    """Every offload site of ``source`` reverted in turn, against the gate tests ``pytest_args`` collect."""
    import pytest

    started = time.perf_counter()
    sites = inventory(source, relative_to=rootdir)
    covering = covering_tests(data, sites, rootdir)
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    # Both halves see every mutant: the static inventory reads each one's source. It runs before
    # the gate is installed: astroid builds some modules from live C types the gate patches.
    static = StaticHalf(source, rootdir, sites, outside)
    static_verdicts = {}
    for site in sites:
        static_verdicts[site] = Verdict(site)
        static.check(static_verdicts[site])
    plugin = TeethPlugin(sites, covering, source, rootdir, waived)
    code = pytest.main(
        [
            "-p",
            "no:cacheprovider",
            "-q",
            "--no-header",
            "-p",
            "no:randomly",
            # Its terminal summary reads every stats entry as a test report;
            # teeth's closing line counts runs against mutants instead.
            "-p",
            "no:hypothesispytest",
            # A mutant aborts tests mid-request (a schema fuzzer's streams stay open); the
            # objects they leak are reported at session end, which must not crash the verdicts.
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
            # This process is the gate: blockgate was imported before pytest could mark the
            # plugin's modules for assertion rewriting, which they do not need.
            "-W",
            "ignore:Module already imported so cannot be rewritten; blockgate:pytest.PytestAssertRewriteWarning",
            "--rootdir",
            str(rootdir),
            *pytest_args,
        ],
        plugins=[plugin],
    )
    if code not in (0, 1) and not plugin.verdicts:
        raise SystemExit(f"teeth: pytest could not run the gate tests (exit {int(code)})")
    for verdict in plugin.verdicts:
        seen = static_verdicts[verdict.site]
        verdict.static, verdict.static_new, verdict.static_detail = (
            seen.static,
            seen.static_new,
            seen.static_detail,
        )
    return plugin.verdicts, time.perf_counter() - started


def render(verdicts: list[Verdict]) -> tuple[str, str]:
    rows = [("site", "offloaded method", "verdict", "tests run", "static half", "killed by / why")]
    for v in verdicts:
        why = (
            ", ".join(t.split("::", 1)[-1] for t in v.killed_by)
            or "; ".join(v.failed_otherwise[:2])
            or v.detail
        )
        rows.append(
            (
                v.site.where,
                v.site.function,
                v.verdict if v.verdict in ("killed", "waived") else v.verdict.upper(),
                str(v.tests_run),
                _static_cell(v),
                why,
            )
        )
    killed = sum(v.verdict == "killed" for v in verdicts)
    seen = sum(v.static == "seen" for v in verdicts)
    md = [
        f"## Teeth: killed {killed}/{len(verdicts)}, static half saw {seen}/{len(verdicts)}",
        "",
        "| site | offloaded method | verdict | tests run | static half | killed by / why |",
        "|---|---|---|---|---|---|",
    ]
    md += [
        f"| `{r[0]}` | `{r[1]}` | {r[2]} | {r[3]} | {r[4].replace('|', '/')} | {r[5].replace('|', '/')} |"
        for r in rows[1:]
    ]
    return text_table.render(rows, 70), "\n".join(md) + "\n"


def _static_cell(v: Verdict) -> str:
    if v.static == "seen":
        first = v.static_new[0].split(" at ")[0]
        return f"seen: {first}" + (f" (+{len(v.static_new) - 1})" if len(v.static_new) > 1 else "")
    return v.static + (f": {v.static_detail}" if v.static_detail else "")
