"""The offload review's whole output, pinned on coverage data made for the purpose.

The mutation run (``tox -e mutation``) changed the review's table, its
Markdown summary, its JSON keys and its exit paths without any test noticing:
the verdict tests check the last line and the exit code. Here every report
the review writes is compared whole with its known text, on data that has
each shape a cell can take: several tests (more than a cell shows, exactly
as many, none), test ids with classes, parameters and a ``|``, an opted-out
context, a unit-test context, and coverage recorded through a symlinked
checkout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import coverage
import pytest

from blockgate import review as offload_review
from tests.test_offload_review import PACKAGE

A = "checks/test_x.py::test_a"
B = "checks/test_x.py::test_b"
C = "checks/test_x.py::TestGroup::test_c[p-1]"
D = "checks/test_y.py::test_d"
E = "checks/test_a.py::test_e[a|b-and-an-id-long-enough-to-be-cut]"
PYTHON = ".".join(map(str, sys.version_info[:3]))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The fixture package (three offload sites) and a module with one more async function."""
    root = tmp_path / "checkout"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text(PACKAGE)
    (root / "src" / "pkg" / "extra.py").write_text("async def helper():\n    return 1\n")
    return root


def record(data_file: Path, measured: Path, lines_by_context: list[tuple[str, list[int]]]) -> Path:
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data = coverage.CoverageData(basename=str(data_file))
    for context, lines in lines_by_context:
        data.set_context(context)
        data.add_lines({str(measured): lines})
    data.write()
    return data_file


@pytest.fixture
def partial_data(checkout: Path, tmp_path: Path) -> Path:
    """Sites at lines 11 (first), 15 (second), 19 (third); third ran only outside the gate."""
    link = tmp_path / "link"
    link.symlink_to(checkout)  # the tests ran from a symlinked checkout
    return record(
        checkout / "data" / ".coverage",
        link / "src" / "pkg" / "__init__.py",
        [
            (f"{A}|gated", [11, 15]),
            (f"{B}|gated", [11, 15]),
            (f"{C}|gated", [11, 15]),
            (f"{D}|gated", [11]),
            (f"{E}|gated", [11]),
            (f"{A}|ungated", [19]),
            ("tests/test_unit.py::test_u", [19]),
        ],
    )


def review(checkout: Path, data_file: Path, *extra: str) -> int:
    return offload_review.main(
        ["--data", str(data_file), "--source", str(checkout / "src"), "--root", str(checkout), *extra]
    )


EXPECTED_TABLE = """\
site                    offloaded method  target  under gate  tests
----------------------  ----------------  ------  ----------  ------------------------------------------------------------
src/pkg/__init__.py:11  first             _read   yes         5: test_e[a|b-and-an-id-long-enough-to-be-cut], TestGroup::t
src/pkg/__init__.py:15  second            _read   yes         3: TestGroup::test_c[p-1], test_a (+1 more)
src/pkg/__init__.py:19  third             _read   NO          0: -

async functions run under the gate: 2/4
  never under the gate: src/pkg/__init__.py:18 third
  never under the gate: src/pkg/extra.py:1 helper
"""

EXPECTED_MARKDOWN = f"""\
## Offload review (Python {PYTHON})

**offload sites exercised: 2/3** · async functions run under the gate: 2/4

| site | offloaded method | target | under gate | tests |
|---|---|---|---|---|
| `src/pkg/__init__.py:11` | `first` | `_read` | yes | 5: test_e[a/b-and-an-id-long-enough-to-be-cut], TestGroup::test_c[p-1], test_a (+2 more) |
| `src/pkg/__init__.py:15` | `second` | `_read` | yes | 3: TestGroup::test_c[p-1], test_a, test_b |
| `src/pkg/__init__.py:19` | `third` | `_read` | **NO** | 0: - |

### Async functions never run under the gate

- `src/pkg/__init__.py:18` `third`
- `src/pkg/extra.py:1` `helper`
"""


def site(line: int, function: str, kind: str, tests: list[str]) -> dict:
    return {
        "path": "src/pkg/__init__.py",
        "line": line,
        "statement_line": line,
        "kind": kind,
        "function": function,
        "function_is_async": True,
        "target": "_read",
        "awaited": True,
        "where": f"src/pkg/__init__.py:{line}",
        "exercised": bool(tests),
        "tests": tests,
    }


def function(path: str, name: str, line: int, tests: list[str]) -> dict:
    return {"path": path, "function": name, "line": line, "exercised": bool(tests), "tests": tests}


def test_every_report_of_a_partial_run(checkout, partial_data, capsys):
    out_dir = checkout / "out"
    assert review(checkout, partial_data, "--out", str(out_dir)) == 1
    out = capsys.readouterr().out
    assert out == (
        EXPECTED_TABLE
        + f"reports: {out_dir / 'offload-review.json'}, {out_dir / 'offload-review.md'}\n"
        + "offload sites exercised: 2/3\n"
    )
    assert (out_dir / "offload-review.md").read_text() == EXPECTED_MARKDOWN
    first_tests = [E, C, A, B, D]
    second_tests = [C, A, B]
    assert json.loads((out_dir / "offload-review.json").read_text()) == {
        "python": PYTHON,
        "sites": [
            site(11, "first", "to_thread", first_tests),
            site(15, "second", "to_thread", second_tests),
            site(19, "third", "run_in_executor", []),
        ],
        "async_functions": [
            function("src/pkg/__init__.py", "first", 10, first_tests),
            function("src/pkg/__init__.py", "second", 14, second_tests),
            function("src/pkg/__init__.py", "third", 18, []),
            function("src/pkg/extra.py", "helper", 1, []),
        ],
        "exercised": 2,
        "total": 3,
        "errors": [],
    }


def test_reports_go_beside_the_data_by_default(checkout, partial_data, capsys):
    assert review(checkout, partial_data) == 1
    assert sorted(p.name for p in partial_data.parent.iterdir()) == [
        ".coverage",
        "offload-review.json",
        "offload-review.md",
    ]
    assert capsys.readouterr().out.splitlines()[-2] == (
        f"reports: {partial_data.parent / 'offload-review.json'}, {partial_data.parent / 'offload-review.md'}"
    )


def test_a_missing_out_folder_is_created(checkout, partial_data, capsys):
    out_dir = checkout / "deep" / "reports" / "here"
    assert review(checkout, partial_data, "--out", str(out_dir)) == 1
    assert (out_dir / "offload-review.md").read_text() == EXPECTED_MARKDOWN
    capsys.readouterr()


def test_a_source_with_no_offload_site_is_an_error(checkout, partial_data, capsys):
    empty = checkout / "nothing"
    (empty / "pkg").mkdir(parents=True)
    (empty / "pkg" / "__init__.py").write_text("def plain():\n    return 1\n")
    code = offload_review.main(["--data", str(partial_data), "--source", str(empty), "--root", str(checkout)])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err == f"offload review: the inventory found no offload site under {empty}\n"
    assert captured.out == ""


def test_no_data_names_the_missing_file_and_the_fix(tmp_path, capsys):
    missing = tmp_path / "missing" / ".coverage"
    assert offload_review.main(["--data", str(missing), "--source", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"offload review: no coverage data at {missing}; run the gate under coverage first\n"
    )
    assert not missing.parent.exists()


def test_a_file_the_data_never_measured_has_no_tests(checkout, tmp_path):
    data_file = record(
        tmp_path / "data" / ".coverage", checkout / "src" / "pkg" / "__init__.py", [(f"{A}|gated", [11])]
    )
    index = offload_review.CoverageIndex(data_file, checkout)
    assert index.tests_at("src/pkg/__init__.py", 11) == [A]
    assert index.tests_at("src/pkg/__init__.py", 15) == []
    assert index.tests_at("src/pkg/extra.py", 2) == []


def test_the_data_and_the_source_are_required(capsys):
    for argv in ([], ["--data", "x"], ["--source", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            offload_review.main(argv)
        assert exit_info.value.code == 2
        assert "the following arguments are required" in capsys.readouterr().err


def test_the_json_report_is_indented_for_people(checkout, partial_data, capsys):
    assert review(checkout, partial_data) == 1
    text = (partial_data.parent / "offload-review.json").read_text()
    assert text.startswith('{\n  "python": "')
    assert '\n  "sites": [\n    {\n      "path": "src/pkg/__init__.py",\n' in text
    assert text.endswith('\n  "exercised": 2,\n  "total": 3,\n  "errors": []\n}\n')
    capsys.readouterr()


def test_help_says_what_the_review_is_and_what_each_option_means(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        offload_review.main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "The offload coverage review: which offload sites ran under the gate, and by which tests." in text
    assert "Joins the static inventory" not in text  # the first paragraph only
    for option, meaning in [
        ("--data DATA", "combined coverage data file"),
        ("--out OUT", "folder for the JSON and Markdown (default: the data file's folder)"),
        ("--source SOURCE", "folder of the reviewed package(s)"),
        ("--root ROOT", "paths in the report are relative to it"),
    ]:
        assert f"{option} {meaning}" in text
