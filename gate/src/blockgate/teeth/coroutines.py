"""The injection check: a blocking call at the top of any backend coroutine ends a gate run red, promptly.

For each ``async def`` of the backend (the offload inventory's list), one at
a time, a gate run of the anchors that reach it (at most
``TESTS_PER_COROUTINE``, chosen by a recording run) has ``os.stat(".")``
injected as the coroutine's first statement (``inject.py``; in memory, no file
changes). Each run is a subprocess with a timeout, because what is checked
includes the process's exit: it must end with exit code 1 within the bound,
with every test it ran red with the gate's blocking error, and none red for
another reason. The teeth check does the same for offload sites; this covers
every coroutine, including the close paths (``RunRegistry.close``, its
``__aexit__``) whose abort leaves a connection's worker thread running.

It runs in every gate run (about a minute on two cores): two subprocesses at
a time, and only the few anchors that reach each coroutine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests_blocking.meta.projects import GATE_DIR

REPO = GATE_DIR.parent
SOURCE = REPO / "backend"
TESTS_PER_COROUTINE = 3
SECONDS_PER_RUN = 120  # a run takes seconds, more on a loaded machine; a hang is what this bound catches
# The recording run drives every anchor once (every store, PostgreSQL included): minutes, not seconds.
RECORDING_SECONDS = 900
PARALLEL_RUNS = 2


def _environment() -> dict[str, str]:
    # Not measured: these runs must not add mutant runs to the gate's coverage contexts.
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}


def gate_run(
    tmp_path: Path, name: str, targets: list[str], *options: str, seconds: int = SECONDS_PER_RUN
) -> tuple[subprocess.CompletedProcess, dict]:
    outcomes = tmp_path / f"{name}.outcomes.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        # Startup is most of a run's cost: no plugin the anchors do not use,
        # no assertion rewriting (the verdict reads exception types only).
        "-p",
        "no:anyio",
        "-p",
        "no:xdist",
        "--assert=plain",
        "-p",
        "tests_blocking.meta.inject",
        "--inject-root",
        str(REPO),
        "--inject-source",
        str(SOURCE),
        "--inject-outcomes",
        str(outcomes),
        "--basetemp",
        str(tmp_path / name),
        *options,
    ]
    try:
        done = subprocess.run(
            command,
            cwd=REPO,
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


def verdict(coroutine: str, tests: list[str], tmp_path: Path, label: str) -> str | None:
    """None when the run ended red promptly with only blocking errors; else what went wrong."""
    try:
        done, outcomes = gate_run(tmp_path, label, tests, "--inject-blocking", coroutine)
    except TimeoutError as exc:
        return f"hung: {exc}"
    tail = "\n".join(done.stdout.splitlines()[-15:])
    if done.returncode != pytest.ExitCode.TESTS_FAILED:
        return f"exit {done.returncode}, not 1:\n{tail}"
    others = {test: kind for test, kind in outcomes.items() if kind not in ("blocking", "passed")}
    if others:
        return f"red for another reason: {others}\n{tail}"
    if not any(kind == "blocking" for kind in outcomes.values()):
        return f"no test failed with a blocking error: {outcomes}\n{tail}"
    return None


def test_a_blocking_call_in_any_coroutine_ends_the_gate_run_red(tmp_path):
    record = tmp_path / "entered.json"
    # The schema fuzzer is left out of the recording (its generated requests are slow and random):
    # a coroutine only it reaches shows up below as unreached. The recording process ends without
    # the interpreter's teardown (inject.py says why).
    done, _ = gate_run(
        tmp_path,
        "record",
        [str(GATE_DIR / "anchors"), f"--ignore={GATE_DIR / 'anchors' / 'test_api_fuzz.py'}"],
        "--inject-record",
        str(record),
        seconds=RECORDING_SECONDS,
    )
    assert done.returncode == 0, f"the recording run failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    reached = json.loads(record.read_text())

    from tools.offload_inventory import async_functions

    coroutines = [f"{f.path}::{f.function}" for f in async_functions(SOURCE, relative_to=REPO)]
    assert coroutines, "the inventory found no coroutine"
    unreached = [c for c in coroutines if not reached.get(c)]
    assert unreached == [], "coroutines no anchor reaches (add an anchor)"

    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        runs = {
            c: pool.submit(verdict, c, reached[c][:TESTS_PER_COROUTINE], tmp_path, f"run{i}")
            for i, c in enumerate(coroutines)
        }
        problems = {c: run.result() for c, run in runs.items()}
    failing = {c: why for c, why in problems.items() if why is not None}
    assert failing == {}, "\n\n".join(f"{c}: {why}" for c, why in failing.items())
