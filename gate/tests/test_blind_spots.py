"""maintenance/blind_spots.py renders the docs' blocks from the per-Python JSON, and only from it."""

from __future__ import annotations

import json

import pytest

from maintenance import blind_spots


def _record(python: str, defaults: str, extra_blind: bool) -> dict:
    blind = [{"pattern": "signal.pause", "why": "waits for any signal"}]
    if extra_blind:
        blind.append({"pattern": "shelve.*Shelf.clear", "why": "dbm C slots"})
    blind.append({"pattern": "msvcrt.get*ch*", "why": "waits for a key press", "systems": ["Windows"]})
    return {
        "python": python,
        "system": "Linux x86_64",
        "rule_counts": {"blockbuster": 58, "project_patches": 170, "project_audit": 45, "not_applicable": 2},
        "results": {
            "os.fsync": {"area": "durability", "defaults": defaults, "gate": "caught"},
            "audit:time.sleep": {"area": "sleep", "defaults": "n/a", "gate": "n/a"},
        },
        "classification": {
            "modules": {
                "os": {
                    "rule": 80,
                    "not blocking": 120,
                    "blocking, not trappable": 1,
                    "unclassified": 0,
                    "conflict": 0,
                },
                "time": {
                    "rule": 1,
                    "not blocking": 26,
                    "blocking, not trappable": 0,
                    "unclassified": 2,
                    "conflict": 0,
                },
            },
            "other_systems": {
                "macOS": {
                    "rule": 1000,
                    "not blocking": 1500,
                    "blocking, not trappable": 30,
                    "unclassified": 0,
                },
                "Windows": {
                    "rule": 900,
                    "not blocking": 1400,
                    "blocking, not trappable": 40,
                    "unclassified": 3,
                },
            },
            "not_trappable": blind,
        },
    }


@pytest.fixture
def out(tmp_path):
    (tmp_path / "py310.json").write_text(json.dumps(_record("3.10.13", "missed", False)))
    (tmp_path / "py313.json").write_text(json.dumps(_record("3.13.0", "caught", True)))
    return tmp_path


def test_summary_counts_each_python(out):
    text = blind_spots.render_summary(blind_spots.load(out))
    assert "3.10: defaults miss 1 of 1 probes, the gate misses none" in text
    assert "3.13: defaults miss 0 of 1 probes, the gate misses none" in text
    assert "| durability | 1 / 1 of 1 | 0 / 1 of 1 |" in text
    assert "| `os` | 80 / 120 / 1 | 80 / 120 / 1 |" in text
    assert "| `time` | 1 / 26 / 0 (**2 unclassified**) | 1 / 26 / 0 (**2 unclassified**) |" in text
    assert "| **all** | 81 / 146 / 1 | 81 / 146 / 1 |" in text
    assert "| `signal.pause` | waits for any signal |" in text
    assert "| `msvcrt.get*ch*` | waits for a key press (Windows only) |" in text
    assert "| macOS | 1000 / 1500 / 30 | 1000 / 1500 / 30 |" in text
    assert "| Windows | 900 / 1400 / 40 (**3 unclassified**) | 900 / 1400 / 40 (**3 unclassified**) |" in text
    assert "| `shelve.*Shelf.clear` | dbm C slots (3.13) |" in text  # only some Pythons: named


def test_counts_name_every_python(out):
    lines = blind_spots.render_counts(blind_spots.load(out)).splitlines()
    assert lines == [
        f"- {v}: `rules armed: 58 blockbuster defaults + 215 gate rules (170 patches, 45 audit events; "
        "2 not applicable on this Python)`"
        for v in ("3.10", "3.13")
    ]


def _docs(tmp_path, gate_page, blind_page):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gate.md").write_text(gate_page)
    (docs / "blind-spots.md").write_text(blind_page)
    return docs


def test_write_docs_replaces_only_the_marked_blocks_of_each_page(out, tmp_path):
    docs = _docs(
        tmp_path,
        "intro\n<!-- rule-counts:start -->\nold\n<!-- rule-counts:end -->\nend\n",
        "top\n<!-- blind-spots:start -->\nold\n<!-- blind-spots:end -->\nbottom\n",
    )
    assert blind_spots.write_docs(out, docs) == 0
    gate = (docs / "gate.md").read_text()
    blind = (docs / "blind-spots.md").read_text()
    assert gate.startswith("intro\n<!-- rule-counts:start -->\n- 3.10: `rules armed")
    assert gate.endswith("<!-- rule-counts:end -->\nend\n") and "old" not in gate
    assert blind.startswith("top\n<!-- blind-spots:start -->\nProbes run on the loop")
    assert blind.endswith("<!-- blind-spots:end -->\nbottom\n") and "old" not in blind
    assert blind_spots.write_docs(out, docs) == 0
    assert (docs / "gate.md").read_text() == gate  # idempotent
    assert (docs / "blind-spots.md").read_text() == blind


def test_write_docs_refuses_without_markers_or_data(out, tmp_path):
    docs = _docs(tmp_path, "no markers here\n", "<!-- blind-spots:start -->\n<!-- blind-spots:end -->\n")
    with pytest.raises(SystemExit, match=r"gate\.md has no <!-- rule-counts:start"):
        blind_spots.write_docs(out, docs)
    assert (docs / "blind-spots.md").read_text() == "<!-- blind-spots:start -->\n<!-- blind-spots:end -->\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert blind_spots.write_docs(empty, docs) == 1


def test_the_manual_holds_each_generated_block_once():
    for key, page in blind_spots.PAGES.items():
        text = (blind_spots.DOCS / page).read_text(encoding="utf-8")
        start, end = blind_spots.MARKERS[key]
        assert text.count(start) == 1 and text.count(end) == 1, (page, key)
