"""maintenance/static_sample.py: the triage sample is all of a short report, else the same seeded draw."""

from __future__ import annotations

import json
from pathlib import Path

from maintenance import static_sample


def candidate(line: int, direct: bool) -> dict:
    return {
        "path": "app/x.py",
        "line": line,
        "primitive": "os.stat",
        "direct": direct,
        "chain": ["a", "os.stat"],
    }


def test_a_short_report_is_sampled_whole():
    assert static_sample.sample([candidate(i, True) for i in range(5)], 20, 23) == [0, 1, 2, 3, 4]


def test_a_long_report_gives_the_same_sorted_draw_for_a_seed():
    many = [candidate(i, i < 10) for i in range(68)]
    drawn = static_sample.sample(many, 20, 23)
    assert drawn == sorted(set(drawn)) and len(drawn) == 20 and all(0 <= i < 68 for i in drawn)
    assert drawn == static_sample.sample(many, 20, 23)
    assert drawn != static_sample.sample(many, 20, 24)


def test_main_prints_the_counts_and_each_chain(tmp_path: Path, capsys):
    report = tmp_path / "static-inventory.json"
    report.write_text(json.dumps({"candidates": [candidate(3, True), candidate(9, False)]}))
    assert static_sample.main([str(report)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 candidates, 1 direct; sample of 2 (seed 23)"
    assert out[1].split() == ["0", "app/x.py:3", "os.stat", "[direct]"]
    assert out[2].strip() == "a -> os.stat"
    assert out[3].split() == ["1", "app/x.py:9", "os.stat", "[callee]"]
