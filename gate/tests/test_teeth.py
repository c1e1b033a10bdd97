"""Teeth on a fixture package: killed, survived, invalid and unsupported sites; injected coroutines."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DEMO = """
import asyncio
import threading


def _read(path):
    with open(path) as f:
        return f.read()


def _double(x):
    return 2 * x


def _only_in_a_worker():
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("must run in a worker thread")
    return "ok"


async def guarded(path):
    return await asyncio.to_thread(_read, path)


async def unguarded():
    return await asyncio.to_thread(_double, 21)


async def fragile():
    return await asyncio.to_thread(_only_in_a_worker)


async def lambda_target(path):
    return await asyncio.to_thread(lambda: _read(path))


async def not_awaited():
    future = asyncio.get_running_loop().run_in_executor(None, _double, 1)
    return await future
"""

ANCHORS = """
import demo_pkg


async def test_guarded(tmp_path):
    (tmp_path / "f").write_text("x")
    assert await demo_pkg.guarded(tmp_path / "f") == "x"


async def test_lambda(tmp_path):
    (tmp_path / "f").write_text("y")
    assert await demo_pkg.lambda_target(tmp_path / "f") == "y"


async def test_unguarded():
    assert await demo_pkg.unguarded() == 42


async def test_fragile():
    assert await demo_pkg.fragile() == "ok"


async def test_not_awaited():
    assert await demo_pkg.not_awaited() == 2
"""


@pytest.fixture
def demo(tmp_path):
    (tmp_path / "src" / "demo_pkg").mkdir(parents=True)
    (tmp_path / "src" / "demo_pkg" / "__init__.py").write_text(DEMO)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_demo.py").write_text(ANCHORS)
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(
            """
            [pytest]
            asyncio_mode = auto
            asyncio_default_fixture_loop_scope = function
            pythonpath = src
            gate_modules = demo_pkg
            gate_paths = checks
            """
        )
    )
    return tmp_path


def run_teeth(demo: Path, *extra: str, only: str = "offloads") -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "PYTHONPATH": str(demo / "src")}
    cmd = [sys.executable, "-m", "blockgate.teeth", "--only", only, "--source", str(demo / "src")]
    cmd += ["--rootdir", str(demo), "--out", str(demo / "out"), *extra, "--", "checks"]
    proc = subprocess.run(cmd, cwd=demo, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(
        (demo / "out" / ("teeth.json" if only == "offloads" else "coroutines.json")).read_text()
    )
    return proc, report


def by_function(report: dict) -> dict[str, dict]:
    return {site["function"]: site for site in report["sites"]}


def test_verdicts_with_all_tests(demo):
    source = demo / "src" / "demo_pkg" / "__init__.py"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    proc, report = run_teeth(demo, "--all-tests")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    sites = by_function(report)
    assert sites["guarded"]["verdict"] == "killed"
    assert sites["guarded"]["killed_by"] == ["checks/test_demo.py::test_guarded"]
    assert sites["lambda_target"]["verdict"] == "killed"
    assert sites["unguarded"]["verdict"] == "survived"
    assert sites["fragile"]["verdict"] == "invalid"
    assert "RuntimeError" in sites["fragile"]["failed_otherwise"][0]
    assert sites["not_awaited"]["verdict"] == "unsupported"
    assert "not directly awaited" in sites["not_awaited"]["detail"]
    assert report["killed"] == 2
    assert report["total"] == 5
    assert proc.stdout.rstrip().endswith("teeth: killed 2/5")
    # The static half on the same mutants: a reverted offload of blocking work is a new
    # blocking call reachable from the loop, through the function that held the offload.
    assert sites["guarded"]["static"] == "seen"
    assert sites["guarded"]["static_new"] == ["builtins.open at demo_pkg/__init__.py:7"]
    assert sites["lambda_target"]["static"] == "seen"
    assert sites["unguarded"]["static"] == "NOT SEEN"  # _double blocks on nothing
    assert sites["fragile"]["static"] == "NOT SEEN"
    assert sites["not_awaited"]["static"] == "unsupported"
    assert report["static_seen"] == 2
    assert "teeth: static half saw 2/5 reverted offloads" in proc.stdout
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before, "teeth touched the source"
    assert sorted(p.name for p in source.parent.iterdir() if p.suffix == ".py") == ["__init__.py"]


def test_covering_tests_come_from_coverage_contexts(demo):
    env = {
        **os.environ,
        "PYTHONPATH": str(demo / "src"),
        "COVERAGE_CORE": "ctrace",
        "COVERAGE_FILE": str(demo / ".coverage"),
    }
    rc = subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            "--source=demo_pkg",
            "-m",
            "pytest",
            "checks",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rc.returncode == 0, rc.stdout + rc.stderr
    proc, report = run_teeth(demo, "--data", str(demo / ".coverage"))
    assert proc.returncode == 1  # survived, invalid and unsupported sites fail the check
    assert f"tests chosen from {demo / '.coverage'}" in proc.stdout
    sites = by_function(report)
    assert sites["guarded"]["verdict"] == "killed"
    assert sites["guarded"]["tests_run"] == 1  # only the test that ran the site
    assert sites["unguarded"]["tests_run"] == 1
    assert sites["unguarded"]["verdict"] == "survived"
    assert report["coverage_data"] == str(demo / ".coverage")


def test_mutant_source_keeps_every_other_line_in_place():
    from blockgate.offloads import sites_in_source
    from blockgate.teeth.offloads import mutant_source

    source = (
        "import asyncio\n"
        "async def f(p):\n"
        "    x = await asyncio.to_thread(\n"
        "        open,\n"
        "        p,\n"
        "    )  # é\n"
        "    return x\n"
    )
    [site] = sites_in_source(source, "m.py")
    mutated = mutant_source(source, site)
    assert mutated.splitlines()[2] == "    x = (open(p)"
    assert mutated.splitlines()[5] == ")  # é"
    assert mutated.splitlines()[6] == "    return x"
    compile(mutated, "m.py", "exec")


def test_mutant_source_reverts_every_offload_form():
    from blockgate.offloads import sites_in_source
    from blockgate.teeth.offloads import mutant_source

    source = textwrap.dedent(
        """\
        import asyncio, functools
        import anyio.to_thread
        from starlette.concurrency import run_in_threadpool
        async def f(p, loop):
            a = await asyncio.to_thread(g, p, flag=True)
            b = await loop.run_in_executor(None, g, p)
            c = await anyio.to_thread.run_sync(g, p, abandon_on_cancel=True)
            d = await run_in_threadpool(g, p, flag=False)
            e = await asyncio.to_thread(functools.partial(g, p))
            h = await asyncio.to_thread(lambda: g(p))
        """
    )
    reverted = [
        mutant_source(source, site).splitlines()[site.line - 1].strip().replace("lambda :", "lambda:")
        for site in sites_in_source(source, "m.py")
    ]
    assert reverted == [
        "a = (g(p, flag=True))",
        "b = (g(p))",
        "c = (g(p))",
        "d = (g(p, flag=False))",
        "e = (functools.partial(g, p)())",
        "h = ((lambda: g(p))())",
    ]


def test_every_injected_coroutine_ends_the_run_red(demo):
    (demo / "src" / "demo_pkg" / "orphan.py").write_text("async def orphan():\n    return 1\n")
    proc, report = run_teeth(demo, only="coroutines")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # orphan: no gate test reaches it
    prefix = "src/demo_pkg/__init__.py::"
    assert {name.removeprefix(prefix): why for name, why in report.items()} == {
        "guarded": None,
        "unguarded": None,
        "fragile": None,
        "lambda_target": None,
        "not_awaited": None,
        "src/demo_pkg/orphan.py::orphan": "no gate test reaches it (add a test that does)",
    }
    assert "coroutines whose injected blocking call ended the run red: 5/6" in proc.stdout
    (demo / "src" / "demo_pkg" / "orphan.py").unlink()
    proc, report = run_teeth(demo, only="coroutines")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_coroutine_check_takes_its_tests_from_coverage_when_it_can(demo):
    from tests.test_teeth_fallbacks import gate_coverage

    data = gate_coverage(demo)
    proc, report = run_teeth(demo, "--data", str(data), only="coroutines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"teeth: the tests that reach each coroutine, from {data}" in proc.stdout
    assert "recording" not in proc.stdout  # no recording run: the gate run's contexts said it
    assert list(report.values()) == [None] * 5
