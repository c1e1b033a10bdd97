"""Throwaway projects for the plugin's tests: a package of their own, configured for the installed gate.

The tests run pytest in a subprocess on such a project (pytester), so what
they prove is what a run of the installed plugin does for a user, not what
this session's own plugin (inert here: gate/ configures no gate_modules) does.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

GATE_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
pythonpath = .
gate_modules = {modules}
gate_paths = {paths}
"""


def configure(project: pytest.Pytester, modules: str, paths: str = "checks", extra: str = "") -> None:
    """An ini that puts the gate on ``modules`` for the tests under ``paths`` (a folder not named test*)."""
    project.makeini(GATE_INI.format(modules=modules, paths=paths) + textwrap.dedent(extra))


def write(project: pytest.Pytester, relpath: str, body: str) -> Path:
    path = project.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path
