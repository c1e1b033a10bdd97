"""Throwaway projects for the plugin's meta-tests: a copy of this gate beside a package of their own.

The meta-tests run pytest in a subprocess on such a project (pytester), so
what they prove is what a run of the copied conftest, gate and rules does,
not what this session's already-armed plugin does.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

GATE_DIR = Path(__file__).resolve().parents[1]
GATE_FILES = ("__init__.py", "conftest.py", "gate.py", "rules.py")


def copy_gate(dest: Path, files: tuple[str, ...] = GATE_FILES) -> Path:
    """Copy the gate's files into ``dest`` (created), with an empty ``anchors/`` package."""
    (dest / "anchors").mkdir(parents=True)
    for name in files:
        shutil.copy(GATE_DIR / name, dest / name)
    (dest / "anchors" / "__init__.py").write_text("")
    return dest


def write(project: pytest.Pytester, relpath: str, body: str) -> Path:
    path = project.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path
