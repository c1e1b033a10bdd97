"""The docs' code blocks, as tests read them: a block is ``<!-- example: NAME -->`` then a fence."""

from __future__ import annotations

import re
from pathlib import Path

GATE_DIR = Path(__file__).resolve().parents[1]
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```\w*\n(.*?)```", re.DOTALL)


def examples(doc: str) -> dict[str, str]:
    """The named examples of ``doc`` (a path relative to gate/), by name."""
    return dict(_EXAMPLE.findall((GATE_DIR / doc).read_text(encoding="utf-8")))
