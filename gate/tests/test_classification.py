"""The classification's tests: every public callable of the IO modules has a verdict.

Enumerated on the running interpreter, so a Python that adds a function fails
here until someone classifies it: a rule catches it, it cannot block (and
why), or it is a blind spot the docs list. Run on 3.10-3.13 (the gate and
classification tox envs). Entries that match nothing on this Python fail too, unless their
``since``/``until`` say they belong to another one.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import blockbuster
import pytest

import blockgate as gate
from blockgate import classification
from blockgate.rules import RULES
from tests import probes

BLIND_SPOTS_DOC = Path(__file__).resolve().parents[1] / "docs" / "blind-spots.md"


@pytest.fixture(scope="module")
def census():
    return classification.census()


def test_every_public_callable_is_classified(census):
    unclassified = {m: c["unclassified"] for m, c in census.items() if c["unclassified"]}
    assert unclassified == {}, "classify these in blockgate/classification/ (or add a rule)"


def test_no_name_gets_two_verdicts(census):
    conflicts = {
        name: [(e.pattern, e.verdict) for e in classification.classify(name)]
        for counts in census.values()
        for name in counts["conflict"]
    }
    assert conflicts == {}


@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the table records the names Linux has; other systems lack some and add their own",
)
def test_no_stale_entry():
    assert [(e.pattern, e.verdict) for e in classification.stale()] == []


def _rule_names() -> set[str]:
    project = {rule.name for rule in RULES}
    defaults = {f"blockbuster:{name}" for name in blockbuster.BlockBuster().functions}
    return project | defaults


def test_every_rule_verdict_names_a_rule_of_the_gate():
    known = _rule_names()
    cited = {
        part
        for entry in (*classification.BLOCKBUSTER, *classification.TABLE)
        if entry.verdict == classification.RULE
        for part in entry.why.split(" + ")
    }
    assert sorted(cited - known) == []


def test_every_other_verdict_says_why():
    for entry in classification.TABLE:
        assert entry.verdict in classification.VERDICTS, entry
        if entry.verdict != classification.RULE:
            assert len(entry.why) > 10, entry.pattern


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


# Names a rule catches on other systems only (macOS has lchmod, Linux does not).
OTHER_SYSTEMS = {"os.lchmod", "posix.lchmod"}


def test_what_each_rule_catches_exists_here():
    missing = [
        (rule.name, name)
        for rule in RULES
        if rule.applies()
        for name in rule.catches
        if not _resolves(name) and name not in OTHER_SYSTEMS
    ]
    assert missing == []


def test_every_blind_spot_is_listed_in_the_docs():
    """Those of every system in the workflow (the docs table is rendered on Linux)."""
    text = BLIND_SPOTS_DOC.read_text(encoding="utf-8")
    listed = {
        e.pattern
        for e in classification.TABLE
        if e.verdict == classification.NOT_TRAPPABLE
        and any(e.applies(system=system) for system in ("linux", "darwin", "win32"))
    }
    assert sorted(p for p in listed if f"`{p}`" not in text) == []


@pytest.mark.parametrize("name", sorted(probes.NOT_BLOCKING_SAMPLE))
def test_sample_is_classified_not_blocking(name):
    assert classification.verdict(name) == classification.NOT_BLOCKING


@pytest.mark.parametrize("name", sorted(probes.NOT_BLOCKING_SAMPLE))
async def test_not_blocking_sample_passes_under_the_full_gate(name, tmp_path):
    scene = await asyncio.to_thread(probes.Scene, tmp_path)
    with gate.strict_gate(probes.__name__) as armed:
        probes.NOT_BLOCKING_SAMPLE[name](scene)
    assert armed.hits == []
