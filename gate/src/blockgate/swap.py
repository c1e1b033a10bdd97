"""A pytest plugin that hands a blockbuster suite the gate in place of blockbuster, no file edited.

Loaded with ``-p blockgate.swap``, before any conftest is imported: it puts
the gate's ``blockbuster_ctx`` and ``BlockBuster`` (``blockgate.facade``)
where blockbuster's were. A conftest that says ``from blockbuster import
blockbuster_ctx`` (or builds ``BlockBuster(...)`` itself) then gets the gate,
which is what changing that one import in the fixture would do.
``BlockingError`` stays blockbuster's: the gate's errors are a subclass of it.

For the session it holds ``installed()``, as the gate's plugin does: the
checkers stay patched in, inert, and the fixture's per-test
``blockbuster_ctx`` only enlists the gate, instead of patching and restoring
a few hundred callables around every test.

``GATE_IMPORT_POLICY`` (``import-work``, the default, or ``report``) picks the
gate's import policy. ``GATE_SCANNED_MODULES`` (comma-separated) names the
package for a fixture that calls ``blockbuster_ctx()`` with no module:
blockbuster then scans everything, the gate refuses to (it would blame the
library's own frame), so changing such a fixture means naming the package
too, and this says which. Unset, such a fixture gets the gate's refusal.
The header says the swap happened (and the package, when one is named
this way), so no log of a swapped run can pass for blockbuster's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import blockbuster
import pytest

from blockgate.arming import ModuleList, installed
from blockgate.detector import IMPORT_WORK
from blockgate.facade import BlockBuster

IMPORT_POLICY = os.environ.get("GATE_IMPORT_POLICY", IMPORT_WORK)
SCANNED_IF_NONE = [name for name in os.environ.get("GATE_SCANNED_MODULES", "").split(",") if name]


class _SwappedBlockBuster(BlockBuster):
    """``BlockBuster(...)`` as a suite builds it: the gate, over ``GATE_SCANNED_MODULES`` when it names none."""

    def __init__(self, scanned_modules: ModuleList = None, *, excluded_modules: ModuleList = None) -> None:
        if not scanned_modules and SCANNED_IF_NONE:
            scanned_modules = SCANNED_IF_NONE
        super().__init__(scanned_modules, excluded_modules=excluded_modules, import_policy=IMPORT_POLICY)


@contextlib.contextmanager
def _swapped_ctx(
    scanned_modules: ModuleList = None, *, excluded_modules: ModuleList = None
) -> Iterator[BlockBuster]:
    """``blockbuster_ctx`` as the suite calls it, over the gate (see ``blockgate.facade.blockbuster_ctx``)."""
    swapped = _SwappedBlockBuster(scanned_modules, excluded_modules=excluded_modules)
    swapped.activate()
    try:
        yield swapped
    finally:
        swapped.deactivate()


blockbuster.blockbuster_ctx = _swapped_ctx  # type: ignore[assignment]
blockbuster.blockbuster.blockbuster_ctx = _swapped_ctx  # type: ignore[assignment]
blockbuster.BlockBuster = _SwappedBlockBuster  # type: ignore[misc,assignment]
blockbuster.blockbuster.BlockBuster = _SwappedBlockBuster  # type: ignore[misc,assignment]


_held = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    _held.enter_context(installed())


def pytest_unconfigure(config: pytest.Config) -> None:
    _held.close()


def pytest_report_header(config: pytest.Config) -> str:
    scanned = f"; a fixture that names no module scans {','.join(SCANNED_IF_NONE)}" if SCANNED_IF_NONE else ""
    return f"blockbuster swapped for the blocking gate (blockgate; import policy: {IMPORT_POLICY}{scanned})"
