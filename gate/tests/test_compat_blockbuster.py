"""maintenance/compat_blockbuster.py: outcomes read from JUnit XML, differences found, each judged or flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from maintenance import compat_blockbuster as compat

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.unit_tests.test_a" name="test_ok" time="0.1"/>
  <testcase classname="tests.unit_tests.test_a" name="test_red" time="0.1">
    <failure message="{message}">traceback</failure>
  </testcase>
  <testcase classname="tests.unit_tests.test_a" name="test_skip" time="0"><skipped message="no numpy"/></testcase>
  <testcase classname="tests.unit_tests.test_a" name="test_setup" time="0"><error message="fixture broke"/></testcase>
</testsuite></testsuites>
"""


def junit(tmp_path: Path, name: str, message: str) -> dict[str, compat.Outcome]:
    path = tmp_path / f"{name}.xml"
    path.write_text(JUNIT.format(message=message))
    return compat.read_junit(path)


def test_outcomes_and_summary(tmp_path):
    outcomes = junit(tmp_path, "a", "boom")
    assert outcomes["tests.unit_tests.test_a::test_red"] == compat.Outcome("failed", "boom")
    assert compat.summary(outcomes) == "1 passed, 1 failed, 1 error, 1 skipped"


def test_a_recorded_true_positive_passes_and_anything_else_fails(tmp_path, capsys):
    base = junit(tmp_path, "base", "x")
    base["tests.unit_tests.test_a::test_red"] = compat.Outcome("passed")
    judged = junit(
        tmp_path, "gate", "Blocking call to ssl.SSLContext.load_verify_locations from x.py:1 in f()"
    )
    diffs = compat.differences(base, judged)
    assert [test for test, _, _ in diffs] == ["tests.unit_tests.test_a::test_red"]
    assert compat.report("gate", diffs) is True
    assert "verdict: true positive" in capsys.readouterr().out
    unknown = junit(tmp_path, "other", "Blocking call to os.lstat from y.py:2 in g()")
    assert compat.report("gate", compat.differences(base, unknown)) is False
    assert "verdict: unjudged" in capsys.readouterr().out


def test_a_test_missing_from_one_run_is_a_difference(tmp_path):
    base = junit(tmp_path, "base", "x")
    fewer = dict(base)
    del fewer["tests.unit_tests.test_a::test_ok"]
    assert compat.differences(base, fewer)[0][2].kind == "absent"


def test_the_scratch_folder_stays_outside_the_repo():
    with pytest.raises(SystemExit):
        compat.main(["--dir", str(compat.GATE_DIR / "compat")])


def test_a_junit_class_name_leads_to_its_file(tmp_path):
    (tmp_path / "tests" / "unit_tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "unit_tests" / "a" / "test_b.py").write_text("")
    assert (
        compat.file_of_test(tmp_path, "tests.unit_tests.a.test_b.TestC::test_d")
        == "tests/unit_tests/a/test_b.py"
    )
    assert (
        compat.file_of_test(tmp_path, "tests.unit_tests.a.test_b::test_e[x.y]")
        == "tests/unit_tests/a/test_b.py"
    )
    with pytest.raises(LookupError):
        compat.file_of_test(tmp_path, "tests.elsewhere::test_f")


def test_each_suite_runs_with_its_own_flags_and_scope(tmp_path, monkeypatch):
    """The langchain suite gets its Makefile's flags and, swapped, the package to scan."""
    seen: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(command, *, env, **kwargs):
        seen.append((command, env))
        xml = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--junitxml="))
        Path(xml).write_text(JUNIT.format(message="x"))
        return compat.subprocess.CompletedProcess(command, 1, "", "")

    monkeypatch.setattr(compat.subprocess, "run", fake_run)
    spec = compat.SUITES["langchain"]
    compat.pytest_run(spec, tmp_path, tmp_path, "gate", [spec.tests], "report", tmp_path)
    command, env = seen[-1]
    assert "--disable-socket" in command and command[-3:-1] == ["-p", "blockgate.swap"]
    assert env["GATE_SCANNED_MODULES"] == "langchain,tests" and env["LANGGRAPH_TEST_FAST"] == "1"
    core = compat.SUITES["langchain-core"]
    compat.pytest_run(core, tmp_path, tmp_path, "blockbuster", [core.tests], None, tmp_path)
    command, env = seen[-1]
    assert "blockgate.swap" not in command and "GATE_SCANNED_MODULES" not in env
    assert command[-3:-1] == ["-p", "no:blockgate"]  # blockbuster alone, the gate's plugin left out
    assert core.verdicts is compat.VERDICTS


SWAP_SUITE = """
import os

import pytest
from blockbuster import blockbuster_ctx


@pytest.fixture(autouse=True)
def blockbuster():
    with blockbuster_ctx() as bb:  # no module: blockbuster watches everything
        yield bb
"""


@pytest.mark.parametrize(
    ("scanned", "expected"),
    [
        ("test_shop", "Blocking call to os.stat from test_shop.py:5 in test_stat()"),
        ("", "name the modules to scan"),
    ],
)
def test_the_swap_names_the_package_for_a_fixture_that_names_none(tmp_path, scanned, expected):
    """With GATE_SCANNED_MODULES the swapped fixture arms over it; without, the gate refuses."""
    (tmp_path / "conftest.py").write_text(SWAP_SUITE)
    (tmp_path / "test_shop.py").write_text("import os\n\n\nasync def test_stat():\n    os.stat('.')\n")
    env = {**compat.os.environ, "GATE_SCANNED_MODULES": scanned}
    command = [compat.sys.executable, "-m", "pytest", "-p", "blockgate.swap", "-p", "no:cacheprovider"]
    command += ["-o", "asyncio_mode=auto", "--rootdir", str(tmp_path), "test_shop.py", "-q"]
    result = compat.subprocess.run(
        command, cwd=tmp_path, env=env, text=True, capture_output=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout


def test_each_suite_judges_with_its_own_table():
    """A verdict recorded for one suite does not judge another suite's difference."""
    message = (
        "Blocking call to ssl.SSLContext.load_verify_locations from naver.py:323 in validate_model_after()"
    )
    assert compat.verdict(message, compat.SUITES["langchain-community"].verdicts)[0] == "true positive"
    assert compat.verdict(message, compat.SUITES["langchain"].verdicts)[0] == "unjudged"
