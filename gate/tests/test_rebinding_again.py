"""Rebinding at every arming, when the scanned modules changed between two armings.

An arming passes over what did not change since the last scan (``rebinding``:
containers holding the same objects, no function's defaults assigned), as
long as the same checkers stay installed: the plugin holds them for the
session (``installed()``), and so do these tests. They arm twice, so that the
next arming takes that path, then change the module the way code does
between two tests, and check that the next arming still points the new early
reference at the checker, and that disarming puts back what the module held.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from blockgate import GateBlockingError, strict_gate
from blockgate.arming import installed

SOURCE = """
import time

SLEEP_NOW = None
OPS = {"other": len}
MATCHER = None


def bare(path):
    return path


def keyword(*, op=len):
    return op


def make():
    op = len

    def call():
        return op

    def set_op(new):
        nonlocal op
        op = new

    return call, set_op


CALL, SET_OP = make()


class Holder:
    pass
"""

ORIGINAL_SLEEP: Any = getattr(time.sleep, "__wrapped__", time.sleep)


@pytest.fixture
def module(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    name = f"again_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    sys.path.insert(0, str(tmp_path))
    try:
        with installed():
            yield importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def _rebound(value: Any) -> bool:
    return value is not ORIGINAL_SLEEP and getattr(value, "__wrapped__", None) is ORIGINAL_SLEEP


def _global(m: ModuleType) -> Any:
    m.SLEEP_NOW = ORIGINAL_SLEEP
    return lambda: m.SLEEP_NOW


def _defaults_given(m: ModuleType) -> Any:
    m.bare.__defaults__ = (ORIGINAL_SLEEP,)
    return lambda: m.bare.__defaults__[0]


def _keyword_default_changed(m: ModuleType) -> Any:
    m.keyword.__kwdefaults__["op"] = ORIGINAL_SLEEP  # the same dict, changed in place
    return lambda: m.keyword.__kwdefaults__["op"]


def _closure_cell(m: ModuleType) -> Any:
    m.SET_OP(ORIGINAL_SLEEP)
    return m.CALL


def _class_attribute_added(m: ModuleType) -> Any:
    m.Holder.op = ORIGINAL_SLEEP
    return lambda: vars(m.Holder)["op"]


def _dict_item(m: ModuleType) -> Any:
    m.OPS["sleep"] = ORIGINAL_SLEEP
    return lambda: m.OPS["sleep"]


def _matcher_replaced(m: ModuleType) -> Any:
    # mock.ANY equals anything: held before, it must not make the new value look unchanged.
    m.MATCHER = ORIGINAL_SLEEP
    return lambda: m.MATCHER


def _equal_dict_replaced(m: ModuleType) -> Any:
    # A new dict that == the old one (ANY inside it equals the original): compared by identity.
    m.OPS = {"other": ORIGINAL_SLEEP}
    return lambda: m.OPS["other"]


CHANGES: dict[str, Callable[[ModuleType], Any]] = {
    "a global assigned": _global,
    "defaults given to a function that had none": _defaults_given,
    "a keyword default changed in place": _keyword_default_changed,
    "a closure cell changed": _closure_cell,
    "a class attribute added": _class_attribute_added,
    "a dict item added": _dict_item,
    "a matcher replaced": _matcher_replaced,
    "a dict replaced by an equal one": _equal_dict_replaced,
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_reference_taken_between_two_armings_is_rebound(module: ModuleType, change: str) -> None:
    if change == "a matcher replaced":
        module.MATCHER = mock.ANY
    if change == "a dict replaced by an equal one":
        module.OPS = {"other": mock.ANY}
    for _ in range(2):  # the second arming finds the module as the first left it
        with strict_gate([module.__name__]):
            pass
    read = CHANGES[change](module)
    assert read() is ORIGINAL_SLEEP
    with strict_gate([module.__name__]):
        assert _rebound(read()), f"{change}: {read()!r} was not rebound"
    assert read() is ORIGINAL_SLEEP  # disarming put it back


def test_a_reference_left_alone_stays_rebound_at_every_arming(module: ModuleType) -> None:
    module.SLEEP_NOW = ORIGINAL_SLEEP
    for _ in range(3):
        with strict_gate([module.__name__]):
            assert _rebound(module.SLEEP_NOW)
        assert module.SLEEP_NOW is ORIGINAL_SLEEP


async def test_the_rebound_reference_is_caught_on_the_loop(module: ModuleType) -> None:
    with strict_gate([module.__name__]):
        pass
    module.SLEEP_NOW = ORIGINAL_SLEEP
    source = "async def nap():\n    SLEEP_NOW(0.001)\n"
    exec(compile(source, module.__file__ or "", "exec"), vars(module))  # a coroutine of the module
    with strict_gate([module.__name__]) as gate:
        with pytest.raises(GateBlockingError, match=r"time\.sleep"):
            await module.nap()
    assert len(gate.hits) == 1
