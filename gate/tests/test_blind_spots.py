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


def test_write_docs_replaces_only_the_marked_blocks(out, tmp_path):
    readme = tmp_path / "blind-spots.md"
    readme.write_text(
        "intro\n<!-- rule-counts:start -->\nold\n<!-- rule-counts:end -->\nmiddle\n"
        "<!-- blind-spots:start -->\nold\n<!-- blind-spots:end -->\nend\n"
    )
    assert blind_spots.write_docs(out, readme) == 0
    text = readme.read_text()
    assert text.startswith("intro\n<!-- rule-counts:start -->\n- 3.10: `rules armed")
    assert "old" not in text and "\nmiddle\n" in text and text.endswith("<!-- blind-spots:end -->\nend\n")
    assert blind_spots.write_docs(out, readme) == 0
    assert readme.read_text() == text  # idempotent


def test_write_docs_refuses_without_markers_or_data(out, tmp_path):
    readme = tmp_path / "blind-spots.md"
    readme.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="blind-spots:start"):
        blind_spots.write_docs(out, readme)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert blind_spots.write_docs(empty, readme) == 1
