"""The gate's pytest plugin: arm ``strict_gate`` around every gate test.

Scope: only items under ``tests_blocking/`` (this folder), for their whole
protocol (setup, call, teardown), so async fixtures that open stores or start
the app are checked as well as the test body. Items elsewhere (``tests/``)
run unguarded even in the same session.

Fail closed: the gate is trial-armed at configure time (a scanned module that
cannot be imported or a rule that cannot be installed stops the run); a
session that selects no anchor is an error; a blocking call that backend code
caught and swallowed still fails the test.

Hooks appear in the order pytest calls them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from tests_blocking.gate import GateBlockingError, GateSetupError, installed, rule_counts, strict_gate

GATE_DIR = Path(__file__).parent
ANCHOR_DIR = GATE_DIR / "anchors"
MARKER = "allow_blocking_io"
_opted_out = pytest.StashKey[list[str]]()
_held = pytest.StashKey[contextlib.ExitStack]()


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
    parser.addini("gate_modules", "modules the blocking-IO gate scans", type="linelist", default=["runlog"])


def _modules(config: pytest.Config) -> list[str]:
    return config.getoption("--gate-modules") or config.getini("gate_modules")


def _armed(config: pytest.Config) -> bool:
    return config.getoption("--gate") == "on"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_opted_out] = []
    config.stash[_held] = contextlib.ExitStack()
    if _armed(config):
        try:
            with strict_gate(_modules(config)):
                pass
        except GateSetupError as exc:
            raise pytest.UsageError(f"blocking gate cannot be armed: {exc}") from exc
        # Keep the checkers installed (inactive) for the session: arming each
        # test phase is then a few dict updates, not a hundred patches.
        config.stash[_held].enter_context(installed())


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _armed(config):
        return ["blocking gate: DISARMED (--gate=off): this run proves nothing about blocking IO"]
    counts = rule_counts()
    return [
        f"blocking gate: scanning {', '.join(_modules(config))}; "
        f"rules armed: {counts['blockbuster']} blockbuster defaults + "
        f"{counts['project_patches'] + counts['project_audit']} project rules "
        f"({counts['project_patches']} patches, {counts['project_audit']} audit events; "
        f"{counts['not_applicable']} not applicable on this Python)"
    ]


def _in_gate(item: pytest.Item) -> bool:
    return Path(item.path).is_relative_to(GATE_DIR)


def _guarded(item: pytest.Item) -> bool:
    return _armed(item.config) and _in_gate(item) and item.get_closest_marker(MARKER) is None


def _run_guarded(item: pytest.Item):
    if not _guarded(item):
        return (yield)
    with strict_gate(_modules(item.config)) as gate:
        try:
            result = yield
        except GateBlockingError:
            raise
        except BaseException as exc:
            if gate.hits:
                raise gate.hits[0] from exc
            raise
    if gate.hits:
        # The call raised GateBlockingError, but something in between caught
        # it and carried on: the blocking call happened all the same.
        raise GateBlockingError(
            gate.hits[0].primitive, gate.hits[0].filename, gate.hits[0].lineno, gate.hits[0].function
        ) from gate.hits[0]
    return result


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
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _run_guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    return (yield from _run_guarded(item))


def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str, obj: object) -> object:
    # The event-store matrix names its anchors after the store method they
    # drive (``put[empty-new_thread]``), without the test_ prefix.
    if getattr(obj, "matrix_method", None) == name:
        return list(collector._genfunctions(name, obj))
    return None


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
    if gate_items and not anchors and not config.getoption("collectonly"):
        raise pytest.UsageError(
            "the blocking gate selected no anchor under tests_blocking/anchors/: "
            "a gate that runs no anchor proves nothing"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_held, None)
    if held is not None:
        held.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    opted_out = config.stash.get(_opted_out, [])
    if opted_out:
        terminalreporter.section("blocking gate: opted out with allow_blocking_io")
        for line in opted_out:
            terminalreporter.line(line)
    if not _armed(config):
        terminalreporter.section("blocking gate")
        terminalreporter.line("DISARMED (--gate=off): blocking calls were not checked")
