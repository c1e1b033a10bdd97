"""A pytest plugin that hands a blockbuster suite the gate in place of blockbuster, no file edited.

Loaded with ``-p blockbuster_swap`` (this folder on ``PYTHONPATH``), before
any conftest is imported: it loads ``tests_blocking/gate.py`` from its file
path (the gate needs nothing but blockbuster) and puts its
``blockbuster_ctx`` where blockbuster's was. A conftest that says
``from blockbuster import blockbuster_ctx`` then gets the gate, which is what
changing that one import in the fixture would do. ``BlockingError`` stays
blockbuster's: the gate's errors are a subclass of it.

For the session it holds ``gate.installed()``, as the gate's own conftest
does: the checkers stay patched in, inert, and the fixture's per-test
``blockbuster_ctx`` only enlists the gate, instead of patching and restoring
some 280 callables around every test.

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
import functools
import importlib.util
import os
from pathlib import Path

import blockbuster
import pytest

GATE_PATH = Path(
    os.environ.get("GATE_PATH", Path(__file__).resolve().parents[1] / "tests_blocking" / "gate.py")
)


def _load_gate():
    spec = importlib.util.spec_from_file_location("blocking_gate", GATE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gate = _load_gate()
IMPORT_POLICY = os.environ.get("GATE_IMPORT_POLICY", gate.IMPORT_WORK)
SCANNED_IF_NONE = [name for name in os.environ.get("GATE_SCANNED_MODULES", "").split(",") if name]


@functools.wraps(gate.blockbuster_ctx)
def _swapped_ctx(scanned_modules=None, *, excluded_modules=None):
    if not scanned_modules and SCANNED_IF_NONE:
        scanned_modules = SCANNED_IF_NONE
    if not scanned_modules:  # the gate's own refusal, with its message
        return gate.blockbuster_ctx(scanned_modules, excluded_modules=excluded_modules)
    return gate.strict_gate(scanned_modules, excluded_modules=excluded_modules, import_policy=IMPORT_POLICY)


blockbuster.blockbuster_ctx = _swapped_ctx
blockbuster.blockbuster.blockbuster_ctx = _swapped_ctx


_held = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    _held.enter_context(gate.installed())


def pytest_unconfigure(config: pytest.Config) -> None:
    _held.close()


def pytest_report_header(config: pytest.Config) -> str:
    scanned = f"; a fixture that names no module scans {','.join(SCANNED_IF_NONE)}" if SCANNED_IF_NONE else ""
    return f"blockbuster swapped for the blocking gate ({GATE_PATH}; import policy: {IMPORT_POLICY}{scanned})"
