"""The static fixtures' expectations: a ``# blocking: <primitive>`` comment where a finding must appear.

As flake8-async's eval files do, expected findings live in the fixture source
itself, so a new case is a new line in a fixture, not new test code.
"""

from __future__ import annotations

import re
from pathlib import Path

EXPECTED = re.compile(r"#\s*blocking:\s*([\w.]+(?:\s*,\s*[\w.]+)*)\s*$")


def expected_findings(root: Path, package: str) -> set[tuple[str, int, str]]:
    """(path, line, primitive) of every ``# blocking:`` comment in the package's source."""
    found = set()
    for path in sorted((root / package).rglob("*.py")):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = EXPECTED.search(text)
            if match:
                for primitive in match.group(1).split(","):
                    found.add((path.relative_to(root).as_posix(), number, primitive.strip()))
    return found
