"""The distribution's README, followed on a foreign package: its ini file and its smoke test, as written.

A project (package ``shop`` under ``src/``, its own root ``conftest.py`` with
a fixture, its own unit tests) installs the gate, names its package in
``gate_modules`` and its gate tests' folder (``gate_tests/``, not named
test*) in ``gate_paths``. Its gate tests then show the three
behaviours the guide promises: a smoke test that expects the gate's error
passes, production code that swallows the error fails the test that reached
it, an opted-out test runs unguarded (and is listed); the unit tests under
``tests/`` run the same blocking code without the gate.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.docs import examples

SHOP = """
import asyncio
import os


def _price_file_exists(root):
    return os.path.exists(os.path.join(root, "prices.json"))


async def has_prices(root):
    return _price_file_exists(root)  # blocking: runs on the loop


async def has_prices_offloaded(root):
    return await asyncio.to_thread(_price_file_exists, root)


async def has_prices_or_guess(root):
    try:
        return _price_file_exists(root)
    except Exception:  # swallows the gate's error and falls back
        return False
"""

ROOT_CONFTEST = """
import pytest


@pytest.fixture
def price_root(tmp_path):
    (tmp_path / "prices.json").write_text("{}")
    return str(tmp_path)
"""

README = examples("README.md")

MORE_GATE_TESTS = """


async def test_swallowed_fails(price_root):
    assert await shop.has_prices_or_guess(price_root) is False


@pytest.mark.allow_blocking_io(reason="compares with the blocking path on purpose")
async def test_opted_out(price_root):
    assert await shop.has_prices(price_root) is True
"""

UNIT_TESTS = """
import shop


async def test_unit_runs_unguarded(price_root):
    assert await shop.has_prices(price_root) is True
"""


def make_shop(root: Path) -> None:
    """The README's project: its package, its root conftest, its gate tests and unit tests, its ini."""
    for relpath, body in (
        ("src/shop/__init__.py", SHOP),
        ("conftest.py", ROOT_CONFTEST),
        ("gate_tests/test_prices.py", README["smoke-test"] + MORE_GATE_TESTS),
        ("tests/test_unit.py", UNIT_TESTS),
        ("pytest.ini", README["ini"]),
    ):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(textwrap.dedent(body))


@pytest.fixture
def shop_project(pytester: pytest.Pytester) -> pytest.Pytester:
    make_shop(pytester.path)
    return pytester


def test_the_guide_on_a_foreign_package(shop_project):
    result = shop_project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "gate_tests", "tests"
    )
    result.assert_outcomes(passed=4, failed=1)  # the smoke test, the offloaded, the opted out, the unit test
    result.stdout.fnmatch_lines(["blocking gate: scanning shop; rules armed: *"])
    result.stdout.fnmatch_lines(
        [
            "E*SwallowedBlockingError: Blocking call to os.stat from src/shop/__init__.py:7 in _price_file_exists()*",
            "E*os.stat from *: swallowed by scanned code at src/shop/__init__.py:20 in has_prices_or_guess()",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*opted out with allow_blocking_io*",
            "gate_tests/test_prices.py::test_opted_out: compares with the blocking path on purpose",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED gate_tests/test_prices.py::test_swallowed_fails*"])
    result.stdout.no_fnmatch_line("FAILED*test_smoke_the_gate_fires*")
