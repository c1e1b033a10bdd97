"""Teeth, coroutines: a blocking call at the top of any scanned coroutine ends a gate run red, promptly.

For each ``async def`` of the scanned packages (the offload inventory's
list), one at a time, a gate run of the gate tests that reach it (at most
``TESTS_PER_COROUTINE``, chosen by a recording run) has ``os.stat(".")``
injected as the coroutine's first statement (``blockgate.teeth.inject``; in
memory, no file changes). Each run is a subprocess with a timeout, because
what is checked includes the process's exit: it must end with exit code 1
within the bound, at least one test it ran red with the gate's blocking
error, and none red for another reason (a test may still pass: one that
reached the coroutine only where the injected call runs off the loop). The offload half of teeth does the same for
offload sites; this covers every coroutine, including close paths whose
abort leaves a connection's worker thread running.

Which tests reach which coroutine comes from a gate run's per-test coverage
contexts when there is fresh data (as for offload sites), else from a
recording run of the gate tests. Runs are two subprocesses at a time, each
only the few tests that reach its coroutine. A coroutine no gate test reaches
is a finding too: add a test, unless the accepted file's ``[[requires]]``
table waives it (its service's variable is unset, so its gate tests skip).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from blockgate.accepted import site_key
from blockgate.offloads import async_functions

TESTS_PER_COROUTINE = 3
SECONDS_PER_RUN = 120  # a run takes seconds, more on a loaded machine; a hang is what this bound catches
# The recording run drives every gate test once: minutes, not seconds, on a large suite.
RECORDING_SECONDS = 900
PARALLEL_RUNS = 2
TESTS_FAILED = 1  # pytest's exit code when tests ran and some failed


@dataclass(frozen=True)
class Setup:
    """Where the check runs: the scanned packages' folder, the pytest rootdir, a scratch folder."""

    source: Path
    rootdir: Path
    scratch: Path


def _environment() -> dict[str, str]:
    # Not measured: these runs must not add mutant runs to a gate run's coverage contexts.
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}


def gate_run(
    setup: Setup, name: str, targets: list[str], *options: str, seconds: int = SECONDS_PER_RUN
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    outcomes = setup.scratch / f"{name}.outcomes.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        # Startup is most of a run's cost: no plugin the gate tests need not, no
        # assertion rewriting (the verdict reads exception types only).
        "-p",
        "no:anyio",
        "-p",
        "no:xdist",
        "--assert=plain",
        "-p",
        "blockgate.teeth.inject",
        "--inject-root",
        str(setup.rootdir),
        "--inject-source",
        str(setup.source),
        "--inject-outcomes",
        str(outcomes),
        "--basetemp",
        str(setup.scratch / name),
        *options,
    ]
    try:
        done = subprocess.run(
            command,
            cwd=setup.rootdir,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        raise TimeoutError(f"no exit within {seconds} s:\n{output[-3000:]}") from exc
    results = json.loads(outcomes.read_text()) if outcomes.exists() else {}
    return done, results


def verdict(setup: Setup, coroutine: str, tests: list[str], label: str) -> str | None:
    """None when the run ended red promptly with only blocking errors; else what went wrong."""
    try:
        done, outcomes = gate_run(setup, label, tests, "--inject-blocking", coroutine)
    except TimeoutError as exc:
        return f"hung: {exc}"
    tail = "\n".join(done.stdout.splitlines()[-15:])
    if done.returncode != TESTS_FAILED:
        return f"exit {done.returncode}, not 1:\n{tail}"
    others = {test: kind for test, kind in outcomes.items() if kind not in ("blocking", "passed")}
    if others:
        return f"red for another reason: {others}\n{tail}"
    if not any(kind == "blocking" for kind in outcomes.values()):
        return f"no test failed with a blocking error: {outcomes}\n{tail}"
    return None


def _say(line: str) -> None:
    print(line, flush=True)


def reached_by_coverage(setup: Setup, data: Path, ignore: list[str]) -> dict[str, list[str]]:
    """Which gate tests ran each coroutine's body, from a gate run's per-test coverage contexts.

    The same choice the offload check makes for sites; tests under ``ignore``
    are never chosen.
    """
    from blockgate.review import CoverageIndex

    index = CoverageIndex(data, setup.rootdir)
    left_out = tuple(path.rstrip("/") for path in ignore)
    reached = {}
    for function in async_functions(setup.source, relative_to=setup.rootdir):
        tests = index.tests_at(function.path, function.body_line)
        reached[f"{function.path}::{function.function}"] = [
            t for t in tests if not t.split("::", 1)[0].startswith(left_out)
        ]
    return reached


def record(setup: Setup, recording_args: list[str], progress: Callable[[str], None]) -> dict[str, list[str]]:
    """Which gate tests reach each coroutine, from one run of the gate tests that notes it."""
    entered = setup.scratch / "entered.json"
    # The recording process ends without the interpreter's teardown (inject.py says why).
    progress(f"teeth: recording which gate tests reach which coroutine ({' '.join(recording_args)})")
    done, _ = gate_run(
        setup, "record", recording_args, "--inject-record", str(entered), seconds=RECORDING_SECONDS
    )
    if done.returncode != 0:
        raise RuntimeError(f"the recording run failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    reached: dict[str, list[str]] = json.loads(entered.read_text())
    return reached


def check(
    setup: Setup,
    recording_args: list[str],
    progress: Callable[[str], None] = _say,
    *,
    data: Path | None = None,
    ignore: list[str] | None = None,
    waived: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """Per coroutine: None when its injected run ended red as it must, else why not.

    A coroutine no test reaches whose ``path::qualname`` (relative to the
    scanned packages' folder) is in ``waived`` is left out, with its reason printed.

    The tests each coroutine's run gets come from ``data`` (a gate run's
    coverage with per-test contexts) when given, else from a recording run of
    the gate tests ``recording_args`` select; tests under ``ignore`` are left out
    of either.
    """
    setup.scratch.mkdir(parents=True, exist_ok=True)
    ignore = ignore or []
    if data is not None:
        progress(f"teeth: the tests that reach each coroutine, from {data}")
        reached = reached_by_coverage(setup, data, ignore)
    else:
        reached = record(setup, [*recording_args, *(f"--ignore={path}" for path in ignore)], progress)
    coroutines = []
    for function in async_functions(setup.source, relative_to=setup.rootdir):
        coroutine = f"{function.path}::{function.function}"
        why = (waived or {}).get(site_key(function.path, function.function, setup.rootdir, setup.source))
        if why is not None and not reached.get(coroutine):
            progress(f"teeth: {coroutine}: not run, waived: {why}")
            continue
        coroutines.append(coroutine)
    problems: dict[str, str | None] = {
        c: "no gate test reaches it (add a test that does)" for c in coroutines if not reached.get(c)
    }
    progress(f"teeth: {len(coroutines)} coroutines, {len(coroutines) - len(problems)} reached by gate tests")
    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        runs = {
            pool.submit(verdict, setup, c, reached[c][:TESTS_PER_COROUTINE], f"run{i}"): c
            for i, c in enumerate(coroutines)
            if c not in problems
        }
        for finished, run in enumerate(as_completed(runs), 1):
            coroutine = runs[run]
            problems[coroutine] = run.result()
            outcome = "red, as it must" if problems[coroutine] is None else "NOT RED (see below)"
            progress(f"teeth: [{finished}/{len(runs)}] {coroutine}: {outcome}")
    return {c: problems[c] for c in coroutines}
