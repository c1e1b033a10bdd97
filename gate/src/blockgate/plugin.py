"""The gate's pytest plugin: arm ``strict_gate`` around every gate test.

Scope: only items under ``tests_blocking/`` (this folder), for their whole
protocol (setup, call, teardown), so async fixtures that open stores or start
the app are checked as well as the test body. Items elsewhere (``tests/``)
run unguarded even in the same session.

Fail closed: the gate is trial-armed at configure time (a scanned module that
cannot be imported or a rule that cannot be installed stops the run); a
session that selects no anchor is an error, unless the command line names only
meta-tests (``tests_blocking/meta``: a rule maintainer's run, which the header
says exercises no backend code); a blocking call that scanned code (or a
library) caught and swallowed still fails the test, while one the test itself
caught on purpose (``pytest.raises``) does not.

Ends red, promptly: a gate test that is aborted by a blocking error may leave
threads or child processes running (an open connection's worker thread), and
interpreter shutdown waits for non-daemon threads forever. The plugin notes
what each gate test leaves running; at the end of the session it gives them a
short grace, terminates leftover child processes, names every leftover and the
test that started it in the summary, turns the run red and, if a thread is
still alive when the interpreter shuts down, ends the process with that code
instead of waiting.

Imports on the loop: ``--gate-imports`` / ``gate_import_policy`` chooses
whether a blocking call made while an import runs module code on the loop is
import work (``import-work``, the default, blockbuster's view) or reported
(``report``); the header says which.

Hooks appear in the order pytest calls them: options, configure, header,
collection, the per-test protocol, session finish, summary, unconfigure.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Relative: the folder can be copied into another project under any name.
from .gate import (
    IMPORT_POLICIES,
    IMPORT_WORK,
    ArmedGate,
    GateBlockingError,
    GateSetupError,
    SwallowedBlockingError,
    installed,
    strict_gate,
)

GATE_DIR = Path(__file__).parent
ANCHOR_DIR = GATE_DIR / "anchors"
META_DIR = GATE_DIR / "meta"
MARKER = "allow_blocking_io"
GRACE_SECONDS = 2.0  # what a leftover thread gets to finish on its own at session end
_opted_out = pytest.StashKey[list[str]]()
_held = pytest.StashKey[contextlib.ExitStack]()
_counts = pytest.StashKey[dict[str, int]]()
_running = pytest.StashKey["_LeftRunning"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("blocking-gate", "blocking-IO gate (tests_blocking/)")
    group.addoption(
        "--gate-modules",
        action="append",
        default=None,
        metavar="MODULE",
        help="module to scan for blocking calls; repeat for several (default: the gate_modules ini value, runlog)",
    )
    group.addoption(
        "--gate",
        choices=("on", "off"),
        default=os.environ.get("RUNLOG_GATE", "on"),
        help="'off' disarms the gate (only to measure its overhead; also RUNLOG_GATE=off). Default: on",
    )
    group.addoption(
        "--gate-imports",
        choices=IMPORT_POLICIES,
        default=None,
        help="a blocking call made while an import runs module code on the loop: 'import-work' allows it "
        "(blockbuster's view), 'report' fails it like any other (default: the gate_import_policy ini value, "
        f"{IMPORT_WORK})",
    )
    parser.addini("gate_modules", "modules the blocking-IO gate scans", type="linelist", default=["runlog"])
    parser.addini(
        "gate_import_policy",
        f"what a blocking call during an import on the loop is: {' or '.join(IMPORT_POLICIES)}",
        default=IMPORT_WORK,
    )


def _modules(config: pytest.Config) -> list[str]:
    return config.getoption("--gate-modules") or config.getini("gate_modules")


def _import_policy(config: pytest.Config) -> str:
    policy = config.getoption("--gate-imports") or config.getini("gate_import_policy")
    if policy not in IMPORT_POLICIES:
        raise pytest.UsageError(
            f"gate_import_policy = {policy}: expected one of {', '.join(IMPORT_POLICIES)}"
        )
    return policy


def _armed(config: pytest.Config) -> bool:
    return config.getoption("--gate") == "on"


def _meta_only(config: pytest.Config) -> bool:
    """The command line names only paths under ``tests_blocking/meta``: a rule maintainer's run."""
    if not config.args:
        return False
    here = config.invocation_params.dir
    return all(
        (here / arg.split("::", 1)[0]).resolve().is_relative_to(META_DIR.resolve()) for arg in config.args
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_opted_out] = []
    config.stash[_held] = contextlib.ExitStack()
    config.stash[_running] = _LeftRunning()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistRelay(config.stash[_running]), "blocking-gate-xdist")
    if _armed(config):
        try:
            # Keep the checkers installed (inactive) for the session: arming each
            # test phase is then a few dict updates, not a hundred patches.
            config.stash[_held].enter_context(installed())
            # The trial arm: fails closed now, and counts what a test's gate holds.
            with strict_gate(_modules(config), import_policy=_import_policy(config)) as gate:
                config.stash[_counts] = gate.armed_counts()
        except GateSetupError as exc:
            config.stash[_held].close()
            raise pytest.UsageError(f"blocking gate cannot be armed: {exc}") from exc


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _armed(config):
        return ["blocking gate: DISARMED (--gate=off): this run proves nothing about blocking IO"]
    counts = config.stash[_counts]
    lines = [
        f"blocking gate: scanning {', '.join(_modules(config))}; "
        f"rules armed: {counts['blockbuster']} blockbuster defaults + "
        f"{counts['project_patches'] + counts['project_audit']} project rules "
        f"({counts['project_patches']} patches, {counts['project_audit']} audit events; "
        f"{counts['not_applicable']} not applicable on this Python)",
        "blocking gate: imports on the loop: "
        + (
            "import work, allowed (a blocking call while an import runs module code passes)"
            if _import_policy(config) == IMPORT_WORK
            else "reported (a blocking call while an import runs scanned module code fails)"
        ),
    ]
    if _meta_only(config):
        lines.append(
            f"blocking gate: meta-tests only ({GATE_DIR.name}/meta): the gate's own tests; "
            "the backend is not exercised by this run"
        )
    return lines


def _in_gate(item: pytest.Item) -> bool:
    return Path(item.path).is_relative_to(GATE_DIR)


def _guarded(item: pytest.Item) -> bool:
    return _armed(item.config) and _in_gate(item) and item.get_closest_marker(MARKER) is None


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: count what will run
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    missing = []
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None or not _in_gate(item):
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
        if not isinstance(reason, str) or not reason.strip():
            missing.append(item.nodeid)
        else:
            config.stash[_opted_out].append(f"{item.nodeid}: {reason}")
    if missing:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} needs reason='why this test may block': " + ", ".join(missing)
        )
    anchors = [i for i in items if Path(i.path).is_relative_to(ANCHOR_DIR)]
    gate_items = [i for i in items if _in_gate(i)]
    if gate_items and not anchors and not config.getoption("collectonly") and not _meta_only(config):
        raise pytest.UsageError(
            "the blocking gate selected no anchor under tests_blocking/anchors/: "
            "a gate that runs no anchor proves nothing "
            f"(to run only meta-tests, name them: python -m pytest {GATE_DIR.name}/meta -k NAME)"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    # Per-test coverage contexts: the offload review reads which gate test ran
    # each line. A test that ran without the gate is labelled so it never
    # counts as "exercised under the gate".
    cov = _current_coverage()
    if cov is None or not _in_gate(item):
        return (yield)
    cov.switch_context(item.nodeid if _guarded(item) else f"{item.nodeid}|ungated")
    try:
        return (yield)
    finally:
        cov.switch_context("")


def _current_coverage():
    try:
        import coverage
    except ImportError:
        return None
    return coverage.Coverage.current()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    if _in_gate(item):
        item.config.stash[_running].before(item)
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    try:
        return (yield from _run_guarded(item))
    finally:
        if _in_gate(item):
            item.config.stash[_running].after(item)


def _run_guarded(item: pytest.Item):
    if not _guarded(item):
        return (yield)
    with strict_gate(_modules(item.config), import_policy=_import_policy(item.config)) as gate:
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
    gate, not a swallowed error; backend code (or a library) that caught the
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


# -- what gate tests leave running ----------------------------------------------


def _child_pids() -> set[int] | None:
    """This process's live child processes (Linux ``/proc``); None where they cannot be listed."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return None
    pids: set[int] = set()
    readable = False
    for task in tasks:
        try:
            with open(f"/proc/{me}/task/{task}/children", encoding="ascii") as f:
                pids.update(int(pid) for pid in f.read().split())
            readable = True
        except OSError:  # the thread ended meanwhile, or the kernel does not list children
            continue
    return {pid for pid in pids if _process_state(pid) not in (None, "Z")} if readable else None


def _process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


# Helpers the standard library starts on first use and ends itself when the
# interpreter exits (a process pool's resource tracker): not left behind.
_STDLIB_SERVICES = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _stdlib_service(pid: int) -> bool:
    command = _command_line(pid)
    return any(service in command for service in _STDLIB_SERVICES)


@dataclass
class _LeftRunning:
    """Non-daemon threads and child processes a gate test started and did not end, by test."""

    threads: dict[threading.Thread, str] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)
    _threads_before: set[threading.Thread] = field(default_factory=set)
    _processes_before: set[int] | None = None
    report: list[str] = field(default_factory=list)
    still_alive: list[threading.Thread] = field(default_factory=list)

    def before(self, item: pytest.Item) -> None:
        self._threads_before = set(threading.enumerate())
        self._processes_before = _child_pids()

    def after(self, item: pytest.Item) -> None:
        for thread in threading.enumerate():
            if thread not in self._threads_before and not thread.daemon and thread.is_alive():
                self.threads.setdefault(thread, item.nodeid)
        children = _child_pids()
        if children is not None and self._processes_before is not None:
            for pid in children - self._processes_before:
                if not _stdlib_service(pid):
                    self.processes.setdefault(pid, item.nodeid)

    def settle(self) -> None:
        """At session end: a short grace, then terminate child processes and list what is left."""
        gc.collect()  # a connection that nothing references any more stops its thread
        deadline = time.monotonic() + GRACE_SECONDS
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.still_alive = [t for t in self.threads if t.is_alive()]
        for thread in self.still_alive:
            self.report.append(
                f"thread {thread.name!r} (non-daemon), started by {self.threads[thread]}: still running"
            )
        alive = _child_pids() or set()
        for pid, nodeid in self.processes.items():
            if pid in alive:
                command = _command_line(pid)
                self.report.append(f"child process {pid} ({command}), started by {nodeid}: {_terminate(pid)}")


def _terminate(pid: int) -> str:
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if _process_state(pid) in (None, "Z"):
                return "terminated"
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        return "killed"
    except OSError as exc:
        return f"could not be ended ({exc})"


def _end_process_at_shutdown(threads: list[threading.Thread], code: int) -> None:
    """When the interpreter shuts down with these threads alive, exit with ``code`` instead of joining them."""

    def end() -> None:
        if any(thread.is_alive() for thread in threads):
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)

    # threading's own exit hooks run before it joins the non-daemon threads
    # (concurrent.futures registers there too); atexit would run too late.
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # an interpreter without the hook: end now, the summary is printed
        _end_now.append(end)
    else:
        register(end)


_end_now: list[Callable[[], None]] = []


class _XdistRelay:
    """Under pytest-xdist: what a worker's tests left running reaches the controller's summary."""

    def __init__(self, left: _LeftRunning) -> None:
        self.left = left

    def pytest_testnodedown(self, node, error) -> None:
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
        _end_process_at_shutdown(left.still_alive, int(session.exitstatus))


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
    if not _armed(config):
        terminalreporter.section("blocking gate")
        terminalreporter.line("DISARMED (--gate=off): blocking calls were not checked")
    elif _meta_only(config):
        terminalreporter.section("blocking gate")
        terminalreporter.line("meta-tests only: the backend was not exercised by this run")


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_held, None)
    if held is not None:
        held.close()
    for end in _end_now:
        end()
