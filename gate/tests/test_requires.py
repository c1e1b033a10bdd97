"""The accepted file's ``[[requires]]`` table: a coroutine that runs only with a service.

A project whose gate tests skip without a server (a database, say) would
otherwise see the review and teeth fail locally on the coroutines only those
tests reach. The waiver must hold only while the variable is unset: with it
set (CI), the same coroutine is required like any other, and a stale entry
is an error, so the table cannot hide a coroutine that nothing runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from blockgate import review as offload_review
from blockgate.accepted import Requirement, requirements, waived_sites
from tests.test_offload_review import every_line, package, write_data  # noqa: F401 - package is a fixture
from tests.test_offload_review import run_review as review_with
from tests.test_teeth import by_function, demo, run_teeth  # noqa: F401 - demo is a fixture
from tests.test_teeth_fallbacks import gate_coverage

VARIABLE = "BLOCKGATE_TEST_SERVICE_URL"


def accepted(
    root: Path, site: str, env: str = VARIABLE, reason: str = "runs only against the service"
) -> Path:
    path = root / "accepted.toml"
    path.write_text(f'[[requires]]\nsite = "{site}"\nenv = "{env}"\nreason = "{reason}"\n')
    return path


def run_review(root: Path, data_file: Path, accepted_file: Path, capsys) -> tuple[int, str, dict]:
    return review_with(root, data_file, capsys, "--accepted", str(accepted_file))


@pytest.fixture
def with_helper(package: Path) -> tuple[Path, Path]:  # noqa: F811
    """The package, every line of its first module run under the gate, and a coroutine nothing ran."""
    (package / "src" / "pkg" / "extra.py").write_text("async def helper():\n    return 1\n")
    return package, write_data(package, {"src/pkg/__init__.py": every_line(package)})


def test_a_waived_coroutine_does_not_fail_the_review_while_its_variable_is_unset(
    with_helper, capsys, monkeypatch
):
    root, data = with_helper
    monkeypatch.delenv(VARIABLE, raising=False)
    code, out, report = run_review(root, data, accepted(root, "pkg/extra.py::helper"), capsys)
    assert code == 0, out
    assert "async functions run under the gate: 3/4 (1 not run, waived by accepted.toml)" in out
    assert (
        f"not run, waived: src/pkg/extra.py:1 helper: needs {VARIABLE}, which is not set: runs only against the service"
        in out
    )
    assert "never under the gate" not in out
    helper = next(f for f in report["async_functions"] if f["function"] == "helper")
    assert helper["exercised"] is False and helper["waived"].startswith(f"needs {VARIABLE}")
    assert "### Not run, waived by the accepted file" in (root / "out" / "offload-review.md").read_text()


@pytest.mark.parametrize("value", ["postgresql://127.0.0.1/db", "x"])
def test_with_the_variable_set_the_coroutine_is_required_again(with_helper, capsys, monkeypatch, value):
    root, data = with_helper
    monkeypatch.setenv(VARIABLE, value)
    code, out, _report = run_review(root, data, accepted(root, "pkg/extra.py::helper"), capsys)
    assert code == 1
    assert "never under the gate: src/pkg/extra.py:1 helper" in out
    assert "waived" not in out


def test_an_empty_variable_counts_as_unset(with_helper, capsys, monkeypatch):
    root, data = with_helper
    monkeypatch.setenv(VARIABLE, " ")
    code, out, _ = run_review(root, data, accepted(root, "pkg/extra.py::helper"), capsys)
    assert code == 0, out


def test_an_entry_naming_no_coroutine_is_stale(with_helper, capsys, monkeypatch):
    root, data = with_helper
    monkeypatch.delenv(VARIABLE, raising=False)
    (root / "src" / "pkg" / "extra.py").unlink()
    code, out, report = run_review(root, data, accepted(root, "pkg/extra.py::helper"), capsys)
    assert code == 1
    assert "error: stale [[requires]] entry: pkg/extra.py::helper names no async function under src" in out
    assert report["errors"]


def test_an_entry_whose_coroutine_ran_without_the_service_is_stale(package, capsys, monkeypatch):  # noqa: F811
    monkeypatch.delenv(VARIABLE, raising=False)
    data = write_data(package, {"src/pkg/__init__.py": every_line(package)})
    code, out, _ = run_review(package, data, accepted(package, "pkg/__init__.py::first"), capsys)
    assert code == 1
    assert f"stale [[requires]] entry: pkg/__init__.py::first ran under the gate with {VARIABLE} unset" in out


def test_an_entry_without_its_variable_is_an_error(with_helper, capsys):
    root, data = with_helper
    code = offload_review.main(
        [
            "--data",
            str(data),
            "--source",
            str(root / "src"),
            "--root",
            str(root),
            "--accepted",
            str(accepted(root, "pkg/extra.py::helper", env="")),
        ]
    )
    assert code == 2
    assert "[[requires]] entry 1: missing env" in capsys.readouterr().err


def test_the_table_reads_as_documented(tmp_path):
    path = tmp_path / "accepted.toml"
    path.write_text(
        textwrap.dedent(
            """
            [[requires]]
            site = "pkg/db.py::Store._claim"
            env = "PKG_TEST_DB"
            reason = "row locks exist only on the server"
            """
        )
    )
    entries, errors = requirements(path)
    assert (entries, errors) == (
        [Requirement("pkg/db.py::Store._claim", "PKG_TEST_DB", "row locks exist only on the server")],
        [],
    )
    assert waived_sites(path, {})[0] == {"pkg/db.py::Store._claim": entries[0]}
    assert waived_sites(path, {"PKG_TEST_DB": "postgresql://"})[0] == {}


def test_teeth_leaves_out_a_waived_coroutine_only_while_its_variable_is_unset(demo, monkeypatch):  # noqa: F811
    (demo / "src" / "demo_pkg" / "orphan.py").write_text("async def orphan():\n    return 1\n")
    file = accepted(demo, "demo_pkg/orphan.py::orphan")
    monkeypatch.delenv(VARIABLE, raising=False)
    proc, report = run_teeth(demo, "--accepted", str(file), only="coroutines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"src/demo_pkg/orphan.py::orphan: not run, waived: needs {VARIABLE}" in proc.stdout
    assert "coroutines whose injected blocking call ended the run red: 5/5" in proc.stdout
    assert "src/demo_pkg/orphan.py::orphan" not in report
    monkeypatch.setenv(VARIABLE, "set")
    proc, report = run_teeth(demo, "--accepted", str(file), only="coroutines")
    assert proc.returncode == 1
    assert report["src/demo_pkg/orphan.py::orphan"] == "no gate test reaches it (add a test that does)"


def test_teeth_waives_an_offload_no_test_ran_but_still_asks_the_static_half(demo, monkeypatch):  # noqa: F811
    data = gate_coverage(demo, "-k", "test_guarded or test_lambda or test_fragile or test_not_awaited")
    file = accepted(demo, "demo_pkg/__init__.py::unguarded")
    monkeypatch.delenv(VARIABLE, raising=False)
    proc, report = run_teeth(demo, "--data", str(data), "--accepted", str(file))
    site = by_function(report)["unguarded"]
    assert site["verdict"] == "waived", proc.stdout
    assert site["detail"].startswith(f"needs {VARIABLE}, which is not set")
    assert site["tests_run"] == 0
    monkeypatch.setenv(VARIABLE, "set")
    proc, report = run_teeth(demo, "--data", str(data), "--accepted", str(file))
    site = by_function(report)["unguarded"]
    assert (site["verdict"], site["detail"]) == ("survived", "no gate test ran this site")
