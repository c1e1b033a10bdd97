"""The offload review's verdict, on coverage data made for the purpose and on a real gate run.

The review is what says "every offload ran under the gate": a review that
always reported full coverage would pass every other test. Here it must exit 1
and name what is missing on partial data, count only gate contexts, and never
count a test that opted out of the gate.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import coverage
import pytest

from blockgate import review as offload_review
from blockgate.offloads import async_functions, inventory

GATE_TEST = "checks/test_x.py::test_one"
GATED = GATE_TEST + "|gated"

PACKAGE = textwrap.dedent(
    """
    import asyncio


    def _read(path):
        with open(path) as f:
            return f.read()


    async def first(path):
        return await asyncio.to_thread(_read, path)


    async def second(path):
        return await asyncio.to_thread(_read, path)


    async def third(path):
        return await asyncio.get_running_loop().run_in_executor(None, _read, path)
    """
)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text(PACKAGE)
    return tmp_path


def write_data(root: Path, covered: dict[str, list[int]], context: str = GATED) -> Path:
    """Coverage data recording ``covered`` (relative path -> lines) under ``context``."""
    data_file = root / "data" / ".coverage"
    data_file.parent.mkdir(exist_ok=True)
    data = coverage.CoverageData(basename=str(data_file))
    data.set_context(context)
    data.add_lines({str(root / path): lines for path, lines in covered.items()})
    data.write()
    return data_file


def every_line(root: Path) -> list[int]:
    source = root / "src"
    sites = inventory(source, relative_to=root)
    functions = async_functions(source, relative_to=root)
    return sorted({s.statement_line for s in sites} | {f.body_line for f in functions})


def run_review(root: Path, data_file: Path, capsys, *extra: str) -> tuple[int, str, dict]:
    code = offload_review.main(
        [
            "--data",
            str(data_file),
            "--out",
            str(root / "out"),
            "--source",
            str(root / "src"),
            "--root",
            str(root),
            *extra,
        ]
    )
    out = capsys.readouterr().out
    return code, out, json.loads((root / "out" / "offload-review.json").read_text())


def test_full_coverage_passes(package, capsys):
    data_file = write_data(package, {"src/pkg/__init__.py": every_line(package)})
    code, out, report = run_review(package, data_file, capsys)
    assert code == 0
    assert out.rstrip().splitlines()[-1] == "offload sites exercised: 3/3"
    assert (report["exercised"], report["total"]) == (3, 3)
    assert all(site["tests"] == [GATE_TEST] for site in report["sites"])


def test_partial_coverage_fails_and_names_what_is_missing(package, capsys):
    sites = inventory(package / "src", relative_to=package)
    missing = next(s for s in sites if s.function == "second")
    lines = [line for line in every_line(package) if line != missing.statement_line]
    code, out, report = run_review(package, write_data(package, {"src/pkg/__init__.py": lines}), capsys)
    assert code == 1
    assert out.rstrip().splitlines()[-1] == "offload sites exercised: 2/3"
    assert [s["function"] for s in report["sites"] if not s["exercised"]] == ["second"]
    row = next(line for line in out.splitlines() if line.startswith(missing.where))
    assert "NO" in row.split()
    md = (package / "out" / "offload-review.md").read_text()
    assert "offload sites exercised: 2/3" in md and f"`{missing.where}`" in md and "**NO**" in md


def test_an_async_function_that_never_ran_fails_even_when_every_site_ran(package, capsys):
    (package / "src" / "pkg" / "extra.py").write_text("async def helper():\n    return 1\n")
    data_file = write_data(package, {"src/pkg/__init__.py": every_line(package)})
    code, out, report = run_review(package, data_file, capsys)
    assert code == 1
    assert out.rstrip().splitlines()[-1] == "offload sites exercised: 3/3"
    assert "never under the gate: src/pkg/extra.py:1 helper" in out
    assert [f["function"] for f in report["async_functions"] if not f["exercised"]] == ["helper"]


@pytest.mark.parametrize(
    "context",
    [
        f"{GATE_TEST}|ungated",  # opted out with allow_blocking_io
        "tests/test_unit.py::test_one",  # a unit test: no gate at all
        "tests/test_unit.py::test_one|run",  # pytest-cov's context of a unit test
        "",  # no context
    ],
)
def test_only_gated_contexts_count(package, capsys, context):
    data_file = write_data(package, {"src/pkg/__init__.py": every_line(package)}, context=context)
    code, out, report = run_review(package, data_file, capsys)
    assert code == 1
    assert out.rstrip().splitlines()[-1] == "offload sites exercised: 0/3"
    assert all(s["tests"] == [] for s in report["sites"])


def test_no_data_is_an_error_not_a_pass(package, capsys):
    code = offload_review.main(["--data", str(package / "missing" / ".coverage"), "--source", str(package)])
    assert code == 2
    assert "no coverage data" in capsys.readouterr().err


GATED_AND_OPTED_OUT = """
import pytest, pkg

async def test_gated(tmp_path):
    (tmp_path / "f").write_text("x")
    assert await pkg.first(tmp_path / "f") == "x"

@pytest.mark.allow_blocking_io(reason="measures the unguarded path")
async def test_opted_out(tmp_path):
    (tmp_path / "f").write_text("y")
    assert await pkg.second(tmp_path / "f") == "y"
    assert await pkg.third(tmp_path / "f") == "y"
"""


def test_a_real_gate_run_never_counts_an_opted_out_test(pytester: pytest.Pytester, capsys):
    """coverage + the installed plugin: the opted-out test runs pkg.second, and it still counts as unguarded."""
    root = pytester.path
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text(PACKAGE)
    (root / "checks").mkdir()
    (root / "checks" / "test_pkg.py").write_text(GATED_AND_OPTED_OUT)
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        gate_modules = pkg
        gate_paths = checks
        pythonpath = src
        """
    )
    data_file = root / "cov" / ".coverage"
    result = pytester.run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--data-file={data_file}",
        "--source=pkg",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "checks",
        timeout=120,
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*2 passed*"])
    code, out, report = run_review(root, data_file, capsys)
    assert code == 1
    by_function = {s["function"]: s["tests"] for s in report["sites"]}
    assert by_function == {
        "first": ["checks/test_pkg.py::test_gated"],
        "second": [],
        "third": [],
    }
    assert out.rstrip().splitlines()[-1] == "offload sites exercised: 1/3"
