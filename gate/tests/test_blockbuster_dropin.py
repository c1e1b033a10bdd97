"""The gate as a drop-in for blockbuster, followed on a foreign package.

A project (package ``bakery`` under ``src/``, a test
helper outside it) has a blockbuster suite: an autouse fixture built on
``blockbuster_ctx`` with ``can_block_in`` exemptions, a test that calls
``deactivate()``, a lazy import on the loop. The same suite runs twice, once
with blockbuster and once with the fixture's one import changed to the
gate's (``from blockgate import blockbuster_ctx``): every test
passes in both, so the handle, the exemptions (inside the package, an outer
caller, per rule, per gate) and the import policy mean what they mean in
blockbuster. The import policy's other setting, and the plugin's option for
it, run through the installed plugin.
"""

from __future__ import annotations

import pytest

from tests.projects import write

BAKERY = """
import asyncio
import os


def _size(path):
    return os.stat(path).st_size


async def size(path):
    return _size(path)  # blocking: runs on the loop


def describe(path, listing=False):
    # The suite exempts os.stat here, inside the scanned package (as a
    # __repr__ that reads a file would be); not os.listdir.
    return os.listdir(os.path.dirname(path)) if listing else os.stat(path).st_size


async def describe_on_loop(path, listing=False):
    return describe(path, listing)


async def menu_items():
    from bakery import menu  # first import on the loop: menu's module code runs here

    return menu.ITEMS
"""

# Module code that reads file metadata, as a module that asks for its
# package's version does: a blocking call made while the import runs it.
MENU = """
import os

ITEMS = ("bread", "cake")
SOURCE_SIZE = os.stat(__file__).st_size
"""

# A test helper outside the package that calls into it: an outer caller, like
# a time-freezing helper that walks the package's modules.
SNAPSHOT_HELPER = """
import bakery


def snapshot(path):
    return bakery.describe(path)
"""

FIXTURE = """
import pytest
{import_line}


@pytest.fixture(autouse=True)
def blockbuster():
    with blockbuster_ctx("bakery") as bb:
        bb.functions["os.stat"].can_block_in("bakery/__init__.py", "describe")
        for function in bb.functions.values():
            function.can_block_in("helpers/snapshot.py", "snapshot")
        yield bb


@pytest.fixture
def loaf(tmp_path):
    path = tmp_path / "loaf.txt"
    path.write_text("crumb")
    return str(path)
"""

SUITE = """
import blockbuster as bb_module
import pytest

import bakery
from helpers.snapshot import snapshot


async def test_a_blocking_call_from_the_package_fails(loaf):
    with pytest.raises(bb_module.BlockingError):
        await bakery.size(loaf)


async def test_deactivate_then_activate(blockbuster, loaf):
    blockbuster.deactivate()
    assert await bakery.size(loaf) == 5
    blockbuster.activate()
    with pytest.raises(bb_module.BlockingError):
        await bakery.size(loaf)


async def test_one_function_deactivated(blockbuster, loaf):
    blockbuster.functions["os.stat"].deactivate()
    assert await bakery.size(loaf) == 5
    with pytest.raises(bb_module.BlockingError):
        await bakery.describe_on_loop(loaf, listing=True)


async def test_exempt_inside_the_package(loaf):
    assert await bakery.describe_on_loop(loaf) == 5


async def test_the_exemption_is_for_one_rule(loaf):
    with pytest.raises(bb_module.BlockingError):
        await bakery.describe_on_loop(loaf, listing=True)


async def test_exempt_outer_caller(loaf):
    assert snapshot(loaf) == 5


async def test_the_exemption_is_for_one_gate(loaf):
    with blockbuster_ctx("bakery"), pytest.raises(bb_module.BlockingError):
        await bakery.describe_on_loop(loaf)


async def test_lazy_import_on_the_loop_is_import_work():
    assert await bakery.menu_items() == ("bread", "cake")
"""

BLOCKBUSTER_IMPORT = "from blockbuster import blockbuster_ctx"
GATE_IMPORT = "from blockgate import blockbuster_ctx"


@pytest.fixture
def bakery(pytester: pytest.Pytester) -> pytest.Pytester:
    write(pytester, "src/bakery/__init__.py", BAKERY)
    write(pytester, "src/bakery/menu.py", MENU)
    write(pytester, "helpers/__init__.py", "")
    write(pytester, "helpers/snapshot.py", SNAPSHOT_HELPER)
    pytester.makeini(
        """
        [pytest]
        pythonpath = src .
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        """
    )
    return pytester


@pytest.mark.parametrize("import_line", [BLOCKBUSTER_IMPORT, GATE_IMPORT], ids=["blockbuster", "gate"])
def test_a_blockbuster_suite_passes_with_either_detector(bakery, import_line):
    write(bakery, "tests/conftest.py", FIXTURE.format(import_line=import_line))
    # The suite's nested gate names blockbuster_ctx too: the same import serves it.
    write(bakery, "tests/test_bakery.py", f"{import_line}\n{SUITE}")
    result = bakery.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "tests", "-v")
    result.assert_outcomes(passed=8)


def test_the_swapped_handle_names_the_frame(bakery):
    """What the swap adds: the error names the primitive and the package's frame that made the call."""
    write(bakery, "tests/conftest.py", FIXTURE.format(import_line=GATE_IMPORT))
    write(
        bakery,
        "tests/test_red.py",
        """
        import bakery

        async def test_red(loaf):
            await bakery.size(loaf)
        """,
    )
    result = bakery.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "tests")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E*GateBlockingError: Blocking call to os.stat from src/bakery/__init__.py:7 in _size()*"]
    )


LAZY_ANCHOR = """
import bakery


async def test_first_import_on_the_loop():
    assert await bakery.menu_items() == ("bread", "cake")
"""


@pytest.mark.parametrize(
    ("args", "outcome", "header"),
    [
        ((), {"passed": 1}, "import work, allowed*"),
        (("--gate-imports=report",), {"failed": 1}, "reported*"),
    ],
    ids=["import-work", "report"],
)
def test_the_plugin_s_import_policy(bakery, args, outcome, header):
    write(bakery, "gate_tests/test_lazy.py", LAZY_ANCHOR)
    write(
        bakery,
        "pytest.ini",
        """
        [pytest]
        pythonpath = src .
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        gate_modules = bakery
        gate_paths = gate_tests
        """,
    )
    result = bakery.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "gate_tests", *args)
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines([f"blocking gate: imports on the loop: {header}"])
    if outcome.get("failed"):
        result.stdout.fnmatch_lines(
            ["E*GateBlockingError: Blocking call to os.stat from src/bakery/menu.py:5 in <module>()*"]
        )


def test_strict_gate_takes_the_import_policy(bakery):
    """The same choice without the plugin (``strict_gate(..., import_policy=...)``), and what refuses to arm."""
    write(
        bakery,
        "tests/test_policy.py",
        """
        import importlib, sys

        import pytest

        import bakery
        import blockgate as gate


        @pytest.mark.parametrize("policy", [gate.IMPORT_WORK, gate.REPORT])
        async def test_first_import(policy):
            sys.modules.pop("bakery.menu", None)  # each case imports it afresh
            vars(bakery).pop("menu", None)
            with gate.strict_gate("bakery", import_policy=policy):
                if policy == gate.REPORT:
                    with pytest.raises(gate.GateBlockingError, match="menu.py:5 in <module>"):
                        await bakery.menu_items()
                else:
                    assert await bakery.menu_items() == ("bread", "cake")


        def test_an_unknown_policy_refuses_to_arm():
            with pytest.raises(gate.GateSetupError, match="import policy 'lazy'"):
                with gate.strict_gate("bakery", import_policy="lazy"):
                    pass


        def test_activate_after_the_block_refuses():
            with gate.strict_gate("bakery") as armed:
                pass
            with pytest.raises(gate.GateSetupError, match="with block has ended"):
                armed.activate()


        def test_blockbuster_ctx_needs_a_module():
            with pytest.raises(gate.GateSetupError, match="name the modules to scan"):
                with gate.blockbuster_ctx():
                    pass
        """,
    )
    result = bakery.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "tests")
    result.assert_outcomes(passed=5)
