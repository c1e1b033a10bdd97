"""The rest of blockbuster's public API against the gate: ``BlockBuster(...)`` built by a suite, rules
added as ``BlockBusterFunction``, and the examples of blockbuster's own README, unchanged.

Each suite below is written against blockbuster and runs twice: as written
(blockbuster) and with ``-p blockgate.swap`` (the gate in blockbuster's
place, no file edited). Both runs must pass; where the gate says more (the
frame that made the call), the swapped run checks it too.
"""

from __future__ import annotations

import pytest

from tests.projects import write

SHELF = """
import asyncio, os, time


def slow_lookup(key):
    # What a C extension would do out of blockbuster's sight: a project adds a rule for it.
    return key.upper()


async def lookup(key):
    return slow_lookup(key)


async def stat_here():
    return os.stat(".")


async def nap():
    time.sleep(0.001)
"""

# Built by the suite itself, as blockbuster's README's "Manually" shows; a rule added the blockbuster
# way; an exemption and a deactivated check.
BUILT_BY_THE_SUITE = """
import pytest
from blockbuster import BlockBuster, BlockBusterFunction, BlockingError

import shelf


@pytest.fixture
def bb():
    bb = BlockBuster(["shelf"])
    bb.functions["shelf.slow_lookup"] = BlockBusterFunction(shelf, "slow_lookup")
    bb.activate()
    yield bb
    bb.deactivate()


async def test_an_added_rule_fires(bb):
    with pytest.raises(BlockingError, match="slow_lookup"):
        await shelf.lookup("k")


async def test_the_defaults_fire(bb):
    with pytest.raises(BlockingError, match="os.stat"):
        await shelf.stat_here()


async def test_an_exemption_set_on_the_handle(bb):
    bb.functions["os.stat"].can_block_in("shelf/__init__.py", {"stat_here"})
    assert await shelf.stat_here()


async def test_a_deactivated_check(bb):
    bb.functions["time.sleep"].deactivate()
    await shelf.nap()
    assert not bb.functions["time.sleep"].activated


async def test_deactivate_then_activate(bb):
    bb.deactivate()
    assert await shelf.lookup("k") == "K"
    bb.activate()
    with pytest.raises(BlockingError):
        await shelf.lookup("k")


def test_nothing_fires_off_the_loop(bb):
    assert shelf.slow_lookup("k") == "K"
"""

# blockbuster's README, "Adding custom rules" on an active instance: the rule activates itself.
ADDED_TO_AN_ACTIVE_INSTANCE = """
import pytest
from blockbuster import BlockBusterFunction, BlockingError, blockbuster_ctx

import shelf


async def test_a_rule_added_while_active():
    with blockbuster_ctx(["shelf"]) as blockbuster:
        blockbuster.functions["shelf.slow_lookup"] = BlockBusterFunction(shelf, "slow_lookup")
        blockbuster.functions["shelf.slow_lookup"].activate()
        with pytest.raises(BlockingError):
            await shelf.lookup("k")
    assert await shelf.lookup("k") == "K"  # deactivated with the rest
"""

# blockbuster's README, "Usage with Pytest", and "Manually" with no module named: the swap scans
# what GATE_SCANNED_MODULES names, as a fixture that names none needs.
README_FIXTURE = """
import time
from typing import Iterator

import pytest
from blockbuster import BlockBuster, BlockingError, blockbuster_ctx


@pytest.fixture(autouse=True)
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


async def test_time_sleep() -> None:
    with pytest.raises(BlockingError, match="sleep"):
        time.sleep(1)  # This should raise a BlockingError


async def test_manually() -> None:
    blockbuster = BlockBuster()
    blockbuster.activate()
    blockbuster.functions["socket.socket.connect"].deactivate()
    blockbuster.deactivate()
"""


@pytest.fixture
def shelf(pytester: pytest.Pytester) -> pytest.Pytester:
    write(pytester, "shelf/__init__.py", SHELF)
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        pythonpath = .
        """
    )
    return pytester


@pytest.mark.parametrize("swap", [False, True], ids=["blockbuster", "gate"])
@pytest.mark.parametrize(
    ("suite", "passed"),
    [(BUILT_BY_THE_SUITE, 6), (ADDED_TO_AN_ACTIVE_INSTANCE, 1)],
    ids=["built-by-the-suite", "added-to-an-active-instance"],
)
def test_blockbusters_api_means_the_same_under_the_gate(shelf, suite, passed, swap):
    write(shelf, "test_shelf.py", suite)
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", *(["-p", "blockgate.swap"] if swap else [])]
    result = shelf.runpytest_subprocess(*args)
    result.assert_outcomes(passed=passed)
    if swap:
        result.stdout.fnmatch_lines(["blockbuster swapped for the blocking gate*"])


def test_the_gate_names_the_frame_of_an_added_rule(shelf):
    write(
        shelf,
        "test_frame.py",
        """
        from blockbuster import BlockBuster, BlockBusterFunction
        import shelf

        async def test_red():
            bb = BlockBuster(["shelf"])
            bb.functions["shelf.slow_lookup"] = BlockBusterFunction(shelf, "slow_lookup")
            bb.activate()
            try:
                await shelf.lookup("k")
            finally:
                bb.deactivate()
        """,
    )
    result = shelf.runpytest_subprocess("-p", "no:cacheprovider", "-p", "blockgate.swap")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E*GateBlockingError: Blocking call to shelf.slow_lookup from shelf/__init__.py:11 in lookup()*"]
    )


@pytest.mark.parametrize("swap", [False, True], ids=["blockbuster", "gate"])
def test_blockbusters_readme_examples(shelf, monkeypatch, swap):
    write(shelf, "test_readme.py", README_FIXTURE)
    monkeypatch.setenv("GATE_SCANNED_MODULES", "test_readme")
    args = ["-p", "no:cacheprovider", *(["-p", "blockgate.swap"] if swap else [])]
    result = shelf.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
