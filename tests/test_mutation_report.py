"""The mutation report (tools/mutation.py) on mutmut results made for the purpose: no mutmut run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tools import mutation, readme_sections


def write_meta(work: Path, staged: str, exit_codes: dict[str, int | None]) -> None:
    meta = work / "mutants" / f"{staged}.meta"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"exit_code_by_key": exit_codes, "durations_by_key": {}}))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    base = "runlog.events.base.x_check_id__mutmut_"
    write_meta(
        work,
        "src/runlog/events/base.py",
        {
            # 7 killed (exit 1, or 3: pytest's internal error), 1 timeout, 1 survivor,
            # 1 reached by no test, 1 skipped: 8 of 10 counted mutants killed.
            **{f"{base}{n}": 1 for n in range(1, 7)},
            f"{base}7": 3,
            f"{base}8": 36,
            f"{base}10": 0,
            f"{base}9": 33,
            f"{base}11": 34,
        },
    )
    write_meta(work, "tools/offload_review.py", {"tools.offload_review.x_main__mutmut_1": 1})
    write_meta(work, "src/runlog/events/__init__.py", {})
    (work / "run.json").write_text(json.dumps({"date": "2026-11-29", "seconds": 1500.4}))
    return work


def test_scores_per_module_count_timeouts_as_killed_and_leave_out_skipped(work):
    scores = mutation.collect(work)
    assert [(s.path, s.counted, s.killed, s.score, round(s.reached_score, 1)) for s in scores] == [
        ("backend/runlog/events/base.py", 10, 8, 80.0, 88.9),
        ("tools/offload_review.py", 1, 1, 100.0, 100.0),
    ]
    assert scores[0].survivors == [
        "runlog.events.base.x_check_id__mutmut_9",
        "runlog.events.base.x_check_id__mutmut_10",
    ]
    assert dict(scores[0].verdicts) == {"killed": 7, "timeout": 1, "survived": 1, "no tests": 1, "skipped": 1}


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (1, "killed"),
        (3, "killed"),
        (0, "survived"),
        (33, "no tests"),
        (5, "no tests"),
        (34, "skipped"),
        (36, "timeout"),
        (-24, "timeout"),
        (None, "not checked"),
        (-11, "suspicious"),
        (35, "suspicious"),
    ],
)
def test_verdicts_of_mutmut_exit_codes(code, verdict):
    assert mutation.verdict(code) == verdict


def test_report_only_scores_the_last_run_and_fails_below_the_goal(work, tmp_path, monkeypatch, capsys):
    doc = tmp_path / "survivors.md"
    doc.write_text("- `runlog.events.base.x_check_id__mutmut_10`: equivalent, see why.\n")
    monkeypatch.setattr(mutation, "SURVIVORS_DOC", doc)
    monkeypatch.setattr(mutation, "show", lambda work, name: f"- old\n+ new ({name[-2:]})")
    out = tmp_path / "out"
    argv = ["--report-only", "--work", str(work), "--out", str(out)]
    assert mutation.main(argv) == 1
    printed = capsys.readouterr().out
    assert "below the 90% goal: backend/runlog/events/base.py 80.0%" in printed.splitlines()
    report = json.loads((out / "mutation.json").read_text())
    assert [(m["path"], m["score"]) for m in report["modules"]] == [
        ("backend/runlog/events/base.py", 80.0),
        ("tools/offload_review.py", 100.0),
    ]
    assert report["modules"][0]["survivors"] == [
        {"name": "runlog.events.base.x_check_id__mutmut_9", "explained": False},
        {"name": "runlog.events.base.x_check_id__mutmut_10", "explained": True},
    ]
    markdown = (out / "mutation.md").read_text()
    summary = (out / "summary.md").read_text()
    assert summary == (
        "Latest run (2026-11-29, `tox -e mutation`, mutmut 1500 s):\n"
        "\n"
        "| module | mutants | killed | timeout | survived | no tests | other | score | where reached |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        "| `backend/runlog/events/base.py` | 10 | 7 | 1 | 1 | 1 | 0 | 80.0% | 88.9% |\n"
        "| `tools/offload_review.py` | 1 | 1 | 0 | 0 | 0 | 0 | 100.0% | 100.0% |\n"
        "| all | 11 | 9 (with timeouts) | | | | | 81.8% | |\n"
    )
    assert markdown.startswith("# Mutation score (mutmut)\n\n" + summary)
    assert (report["date"], report["seconds"]) == ("2026-11-29", 1500.4)
    assert "Survivors: 2, of which 1 not explained in `docs/mutation-survivors.md`." in markdown
    assert "## `runlog.events.base.x_check_id__mutmut_9` (NOT EXPLAINED)" in markdown
    assert "## `runlog.events.base.x_check_id__mutmut_10`\n\n```diff\n- old\n+ new (10)\n```" in markdown
    assert mutation.main([*argv, "--goal", "80"]) == 0


def test_no_results_is_an_error(tmp_path, capsys):
    assert mutation.main(["--report-only", "--work", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"mutation: no mutmut results under {tmp_path / 'mutants'}\n"


def test_staging_puts_the_package_under_src(tmp_path):
    mutation.stage(tmp_path / "stage")
    assert (tmp_path / "stage" / "src" / "runlog" / "events" / "jsonl.py").read_text() == (
        mutation.REPO / "backend" / "runlog" / "events" / "jsonl.py"
    ).read_text()
    assert (tmp_path / "stage" / "setup.cfg").exists()
    assert not list((tmp_path / "stage").rglob("__pycache__"))
    assert mutation.repo_path("src/runlog/events/jsonl.py") == "backend/runlog/events/jsonl.py"
    assert mutation.repo_path("tools/offload_review.py") == "tools/offload_review.py"


def test_the_mutation_page_section_is_the_summary(work, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mutation, "show", lambda work, name: "")
    reports = tmp_path / "reports"
    mutation.main(["--report-only", "--work", str(work), "--out", str(reports / "mutation")])
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / readme_sections.PAGES["mutation"]
    page.write_text("# Mutation score\n\n<!-- mutation:start -->\nold\n<!-- mutation:end -->\n\nafter\n")
    assert readme_sections.main(["mutation", "--docs", str(docs), "--reports", str(reports)]) == 0
    summary = (reports / "mutation" / "summary.md").read_text()
    assert page.read_text() == (
        f"# Mutation score\n\n<!-- mutation:start -->\n\n{summary.strip()}\n\n<!-- mutation:end -->\n\nafter\n"
    )
    capsys.readouterr()
    assert readme_sections.main(["mutation", "--docs", str(docs), "--reports", str(tmp_path)]) == 2
    assert "run tox -e mutation first" in capsys.readouterr().err
