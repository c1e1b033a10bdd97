"""The pytest plugin: arm ``strict_gate`` around every gate test's setup, call and teardown.

Registered by the distribution's ``pytest11`` entry point, so its options and
ini keys exist in every run, whatever the folders are called, and its header
line comes first. It stays inert until configured:

* ``gate_modules`` (``--gate-modules``): the packages scanned; a blocking
  call counts when its stack passes through one of them.
* Where the gate applies: tests under ``gate_paths`` (``--gate-paths``),
  folders relative to the ini file, and tests marked ``@pytest.mark.blockgate``,
  wherever they are. Other tests run unguarded in the same session.
* ``gate_import_policy`` (``--gate-imports``): whether a blocking call made
  while an import runs module code on the loop is import work (``import-work``,
  the default, blockbuster's view) or reported (``report``).
* ``@pytest.mark.allow_blocking_io(reason=...)`` opts one gate test out; the
  reason is required and the summary lists it.

Fail closed: the gate is trial-armed at configure time (a scanned module that
cannot be imported, or a rule that cannot be installed, stops the run with
exit 4); a gated test without ``gate_modules``, or a run that names a gate
folder and selects no gated test, is a usage error too; a blocking call that
scanned code (or a library) caught and swallowed still fails the test, while
one the test itself caught on purpose (``pytest.raises``) does not.

Ends red, promptly: see ``left_running``. ``--gate=off`` (``BLOCKGATE=off``)
disarms the gate, only to measure its overhead; header and summary say so.

Hooks appear in the order pytest calls them: options, configure, header,
collection, the per-test protocol, session finish, summary, unconfigure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from blockgate.arming import configure_modules, installed, strict_gate
from blockgate.contexts import context_for
from blockgate.detector import IMPORT_POLICIES, IMPORT_WORK, ArmedGate
from blockgate.errors import GateBlockingError, GateSetupError, SwallowedBlockingError
from blockgate.left_running import LeftRunning, end_now, end_process_at_shutdown

GATE_MARKER = "blockgate"
OPT_OUT_MARKER = "allow_blocking_io"
ENVIRONMENT_SWITCH = "BLOCKGATE"

_settings = pytest.StashKey["Settings"]()
_opted_out = pytest.StashKey[list[str]]()
_held = pytest.StashKey[contextlib.ExitStack]()
_counts = pytest.StashKey[dict[str, int]]()
_running = pytest.StashKey[LeftRunning]()


class Settings:
    """The plugin's configuration for one session, read once from options and ini keys."""

    def __init__(self, config: pytest.Config) -> None:
        self.modules: list[str] = config.getoption("gate_modules") or config.getini("gate_modules")
        here = config.invocation_params.dir
        given = config.getoption("gate_paths")
        paths = [here / p for p in given] if given else config.getini("gate_paths")
        self.paths: list[Path] = [Path(p).resolve() for p in paths]
        self.armed = config.getoption("gate") == "on"
        policy = config.getoption("gate_imports") or config.getini("gate_import_policy")
        if policy not in IMPORT_POLICIES:
            raise pytest.UsageError(
                f"gate_import_policy = {policy}: expected one of {', '.join(IMPORT_POLICIES)}"
            )
        self.import_policy: str = policy
        self.installed = False  # the checkers are patched in for the session (at the first gate test)

    @property
    def configured(self) -> bool:
        return bool(self.modules)

    def in_gate(self, item: pytest.Item) -> bool:
        path = Path(item.path)
        return (
            any(path.is_relative_to(p) for p in self.paths)
            or item.get_closest_marker(GATE_MARKER) is not None
        )

    def guarded(self, item: pytest.Item) -> bool:
        return self.armed and self.in_gate(item) and item.get_closest_marker(OPT_OUT_MARKER) is None

    def where(self) -> str:
        folders = [_display(p) + "/" for p in self.paths]
        return ", ".join([*(f"tests under {f}" for f in folders), f"tests marked @pytest.mark.{GATE_MARKER}"])


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("blockgate", "blocking-IO gate (blockgate)")
    group.addoption(
        "--gate-modules",
        action="append",
        dest="gate_modules",
        default=None,
        metavar="MODULE",
        help="a package to scan for blocking calls; repeat for several (default: the gate_modules ini value)",
    )
    group.addoption(
        "--gate-paths",
        action="append",
        dest="gate_paths",
        default=None,
        metavar="DIR",
        help="a folder whose tests run under the gate; repeat for several (default: the gate_paths ini value)",
    )
    group.addoption(
        "--gate",
        choices=("on", "off"),
        default=os.environ.get(ENVIRONMENT_SWITCH, "on"),
        help=f"'off' disarms the gate, only to measure its overhead (also {ENVIRONMENT_SWITCH}=off). Default: on",
    )
    group.addoption(
        "--gate-imports",
        choices=IMPORT_POLICIES,
        dest="gate_imports",
        default=None,
        help="a blocking call made while an import runs module code on the loop: 'import-work' allows it "
        "(blockbuster's view), 'report' fails it like any other (default: the gate_import_policy ini value, "
        f"{IMPORT_WORK})",
    )
    parser.addini("gate_modules", "packages the blocking-IO gate scans", type="linelist", default=[])
    parser.addini(
        "gate_paths",
        "folders (relative to this file) whose tests run under the blocking-IO gate",
        type="paths",
        default=[],
    )
    parser.addini(
        "gate_import_policy",
        f"what a blocking call during an import on the loop is: {' or '.join(IMPORT_POLICIES)}",
        default=IMPORT_WORK,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{GATE_MARKER}: run this test under the blocking-IO gate")
    config.addinivalue_line(
        "markers",
        f"{OPT_OUT_MARKER}(reason): opt a gate test out of the blocking-IO gate; reason is required",
    )
    settings = config.stash[_settings] = Settings(config)
    config.stash[_opted_out] = []
    config.stash[_held] = contextlib.ExitStack()
    config.stash[_running] = LeftRunning()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistRelay(config.stash[_running]), "blockgate-xdist")
    if settings.paths and not settings.modules:
        raise pytest.UsageError(
            "blockgate: gate_paths is set but no module is scanned: name your package in gate_modules "
            "(or --gate-modules)"
        )
    if not (settings.configured and settings.armed):
        return
    configure_modules(settings.modules)
    try:
        # The trial arm fails closed now, and counts what a test's gate holds.
        with strict_gate(settings.modules, import_policy=settings.import_policy) as gate:
            config.stash[_counts] = gate.armed_counts()
    except GateSetupError as exc:
        raise pytest.UsageError(f"blocking gate cannot be armed: {exc}") from exc


@pytest.hookimpl(trylast=True)  # called last, printed first: pytest writes the header lines reversed
def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[_settings]
    if not settings.configured:
        return [f"blocking gate: inert (no gate_modules configured; {GATE_MARKER} installed)"]
    if not settings.armed:
        return ["blocking gate: DISARMED (--gate=off): this run proves nothing about blocking IO"]
    counts = config.stash[_counts]
    return [
        f"blocking gate: scanning {', '.join(settings.modules)}; "
        f"rules armed: {counts['blockbuster']} blockbuster defaults + "
        f"{counts['project_patches'] + counts['project_audit']} gate rules "
        f"({counts['project_patches']} patches, {counts['project_audit']} audit events; "
        f"{counts['not_applicable']} not applicable on this Python)",
        f"blocking gate: applies to {settings.where()}",
        "blocking gate: imports on the loop: "
        + (
            "import work, allowed (a blocking call while an import runs module code passes)"
            if settings.import_policy == IMPORT_WORK
            else "reported (a blocking call while an import runs scanned module code fails)"
        ),
    ]


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: count what will run
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    settings = config.stash[_settings]
    gated = [item for item in items if settings.in_gate(item)]
    if gated and not settings.configured:
        raise pytest.UsageError(
            f"blockgate: {gated[0].nodeid} is a gate test, but no module is scanned: "
            "name your package in gate_modules (or --gate-modules)"
        )
    missing = []
    for item in gated:
        marker = item.get_closest_marker(OPT_OUT_MARKER)
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
        if not isinstance(reason, str) or not reason.strip():
            missing.append(item.nodeid)
        else:
            config.stash[_opted_out].append(f"{item.nodeid}: {reason}")
    if missing:
        raise pytest.UsageError(
            f"@pytest.mark.{OPT_OUT_MARKER} needs reason='why this test may block': " + ", ".join(missing)
        )
    named = _named_gate_paths(config, settings)
    if named and not gated and not config.getoption("collectonly"):
        raise pytest.UsageError(
            f"the blocking gate selected no test under {', '.join(named)}: "
            "a gate run that runs no gate test proves nothing"
        )


def _named_gate_paths(config: pytest.Config, settings: Settings) -> list[str]:
    """The gate folders that command-line arguments point into (a run asked for gate tests)."""
    here = config.invocation_params.dir
    named = []
    for arg in config.args:
        path = (here / arg.split("::", 1)[0]).resolve()
        named += [_display(p) for p in settings.paths if path.is_relative_to(p)]
    return sorted(set(named))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    # Per-test coverage contexts: the offload review reads which gate test ran
    # each line. A test that ran without the gate is labelled so it never
    # counts as "exercised under the gate".
    settings = item.config.stash[_settings]
    cov = _current_coverage()
    if cov is None or not settings.in_gate(item):
        return (yield)
    cov.switch_context(context_for(item.nodeid, settings.guarded(item)))
    try:
        return (yield)
    finally:
        cov.switch_context("")


def _current_coverage() -> Any:
    try:
        import coverage
    except ImportError:
        return None
    return coverage.Coverage.current()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    settings = item.config.stash[_settings]
    if settings.in_gate(item):
        item.config.stash[_running].before(item)
        if settings.guarded(item) and not settings.installed:
            # Keep the checkers installed (inactive) for the rest of the session: arming
            # each test phase is then a few dict updates, not a few hundred patches.
            item.config.stash[_held].enter_context(installed())
            settings.installed = True
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    try:
        return (yield from _run_guarded(item))
    finally:
        if item.config.stash[_settings].in_gate(item):
            item.config.stash[_running].after(item)


def _run_guarded(item: pytest.Item) -> Generator[None, Any, Any]:
    settings = item.config.stash[_settings]
    if not settings.guarded(item):
        return (yield)
    with strict_gate(settings.modules, import_policy=settings.import_policy) as gate:
        try:
            result = yield
        except GateBlockingError:
            raise
        except BaseException as exc:
            blamed = _blame(gate)
            if blamed is not None:
                raise blamed from exc
            raise
    blamed = _blame(gate)
    if blamed is not None:
        raise blamed
    return result


def _blame(gate: ArmedGate) -> SwallowedBlockingError | None:
    """An error for the blocking calls caught by code other than the test, if there were any.

    The test's own ``pytest.raises(GateBlockingError)`` is a smoke test of the
    gate, not a swallowed error; scanned code (or a library) that caught the
    error and carried on hid a blocking call that happened all the same.
    """
    catches = [(hit, gate.caught(hit)) for hit in gate.hits]
    blamed = [(hit, catch) for hit, catch in catches if catch.kind != "test"]
    if not blamed:
        return None
    expected = [(hit, catch) for hit, catch in catches if catch.kind == "test"]
    how = {"scanned": "swallowed by scanned code", "library": "caught inside a library"}
    lines = [f"{len(blamed)} blocking call(s) caught before the test could see them:"]
    lines += [
        f"  {hit.primitive} from {hit.where}: {how[catch.kind]} at {catch.where}" for hit, catch in blamed
    ]
    if expected:
        lines.append(f"{len(expected)} more caught by the test itself on purpose (not counted):")
        lines += [f"  {hit.primitive} from {hit.where}: caught at {catch.where}" for hit, catch in expected]
    first = blamed[0][0]
    return SwallowedBlockingError(
        first.primitive, first.filename, first.lineno, first.function, "\n".join(lines)
    )


class _XdistRelay:
    """Under pytest-xdist: what a worker's tests left running reaches the controller's summary."""

    def __init__(self, left: LeftRunning) -> None:
        self.left = left

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        lines = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY, [])
        self.left.report.extend(f"[{node.gateway.id}] {line}" for line in lines)


_WORKER_OUTPUT_KEY = "blocking_gate_left_running"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = session.config.stash[_running]
    left.settle()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its summary is the controller's
        workeroutput[_WORKER_OUTPUT_KEY] = list(left.report)
    if not left.report:
        return
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if left.still_alive:
        end_process_at_shutdown(left.still_alive, int(session.exitstatus))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    opted_out = config.stash.get(_opted_out, [])
    if opted_out:
        terminalreporter.section("blocking gate: opted out with allow_blocking_io")
        for line in opted_out:
            terminalreporter.line(line)
    left = config.stash.get(_running, None)
    if left is not None and left.report:
        terminalreporter.section("blocking gate: left running at the end of the session", red=True)
        for line in left.report:
            terminalreporter.line(line, red=True)
        if left.still_alive:
            terminalreporter.line(
                "interpreter shutdown would wait for these threads forever: "
                "the process ends at shutdown with a failing exit code instead",
                red=True,
            )
    settings = config.stash.get(_settings, None)
    if settings is not None and settings.configured and not settings.armed:
        terminalreporter.section("blocking gate")
        terminalreporter.line("DISARMED (--gate=off): blocking calls were not checked")


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_held, None)
    if held is not None:
        held.close()
    configure_modules(())
    for end in end_now:
        end()
