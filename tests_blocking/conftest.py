"""runlog's gate tree: the installed blockgate plugin, configured for runlog.

The configuration itself is three ini keys in ``setup.cfg`` (``gate_modules =
runlog``, ``gate_paths = tests_blocking``, ``gate_import_policy = report``),
as the plugin's docs tell any project. This file only refuses to run the
anchors without the gate: in an environment without the plugin those keys
would be unknown and every anchor would pass unguarded.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("blockgate"):
        raise pytest.UsageError("tests_blocking/ runs under the blockgate plugin: pip install ./gate")
    here = Path(__file__).parent.resolve()
    if here not in [Path(p).resolve() for p in config.getini("gate_paths")]:
        raise pytest.UsageError(f"gate_paths must name {here.name}/: its tests are runlog's gate tests")
