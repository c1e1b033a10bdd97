"""The session end: a red gate exits red, promptly, whatever the aborted code left running.

The fixture package ``leaky`` holds a connection shaped like aiosqlite's: a
non-daemon worker thread that runs until ``close()`` tells it to stop. When
the gate aborts ``close()`` on its blocking call, the thread runs on, and
without the session-end step interpreter shutdown would wait for it forever.
Each run is a pytest subprocess with a timeout: a hang fails the test.
"""

from __future__ import annotations

import sys
import time

import pytest

from tests.projects import configure, write

BOUND_SECONDS = 120  # a hang is unbounded; a loaded CI machine takes tens of seconds for an xdist run

LEAKY = """
import asyncio, os, queue, threading

OPEN = []  # like a test's traceback would, keeps every connection referenced


class Connection:
    def __init__(self, name):
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name)

    def _work(self):
        while self._jobs.get() is not None:
            pass

    async def close(self, blocking=True):
        if blocking:
            os.stat(".")  # on the loop: the gate aborts close() here
        self._jobs.put(None)


async def connect(name="leaky-worker"):
    conn = Connection(name)
    await asyncio.to_thread(conn._thread.start)
    OPEN.append(conn)
    return conn
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**{"leaky/__init__.py": LEAKY})
    configure(pytester, "leaky")
    return pytester


def run_bounded(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, float]:
    started = time.monotonic()
    result = project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=BOUND_SECONDS)
    return result, time.monotonic() - started


def test_blocking_close_with_a_live_thread_exits_red_promptly(project):
    write(
        project,
        "checks/test_leak.py",
        """
        import leaky

        async def test_close_aborted():
            conn = await leaky.connect()
            await conn.close()
        """,
    )
    result, seconds = run_bounded(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "E*.GateBlockingError: Blocking call to os.stat from leaky*__init__.py:17 in close()*",
            "*= blocking gate: left running at the end of the session =*",
            "thread 'leaky-worker' (non-daemon), started by checks/test_leak.py::test_close_aborted: still running",
            "interpreter shutdown would wait for these threads forever: *",
            "*= 1 failed in *",
        ]
    )
    assert seconds < BOUND_SECONDS


def test_a_green_run_that_leaves_a_thread_is_red(project):
    write(
        project,
        "checks/test_leak.py",
        """
        import leaky

        async def test_forgets_to_close():
            await leaky.connect("forgotten")

        async def test_closes():
            conn = await leaky.connect("closed")
            await conn.close(blocking=False)
        """,
    )
    result, _ = run_bounded(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["thread 'forgotten' (non-daemon), started by checks/test_leak.py::test_forgets_to_close: *"]
    )
    result.stdout.no_fnmatch_line("*thread 'closed'*")


def test_a_thread_that_ends_within_the_grace_is_not_reported(project):
    write(
        project,
        "checks/test_slow.py",
        """
        import threading, time

        def test_leaves_a_short_thread():
            threading.Thread(target=time.sleep, args=(0.3,), name="short").start()
        """,
    )
    result, _ = run_bounded(project)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*left running*")


@pytest.mark.skipif(sys.platform != "linux", reason="child processes are listed from Linux's /proc")
def test_a_child_process_left_running_is_ended_and_named(project):
    write(
        project,
        "checks/test_child.py",
        """
        import subprocess, sys

        def test_starts_a_server_and_forgets_it():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        """,
    )
    result, seconds = run_bounded(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= blocking gate: left running at the end of the session =*",
            "child process * (*python* -c import time; time.sleep(120)), started by "
            "checks/test_child.py::test_starts_a_server_and_forgets_it: terminated",
        ]
    )
    result.stdout.no_fnmatch_line("interpreter shutdown would wait*")
    assert seconds < BOUND_SECONDS


def test_under_xdist_the_controller_names_what_a_worker_left(project):
    write(
        project,
        "checks/test_leak.py",
        """
        import leaky

        async def test_close_aborted():
            conn = await leaky.connect()
            await conn.close()

        def test_other():
            pass
        """,
    )
    result, seconds = run_bounded(project, "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= blocking gate: left running at the end of the session =*",
            "?gw?? thread 'leaky-worker' (non-daemon), started by "
            "checks/test_leak.py::test_close_aborted: still running",
        ]
    )
    assert seconds < BOUND_SECONDS
