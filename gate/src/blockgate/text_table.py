"""Plain-text tables for the tools' terminal output."""

from __future__ import annotations

from collections.abc import Sequence


def render(rows: Sequence[Sequence[str]], max_width: int = 60) -> str:
    """Left-aligned columns, the first row a header underlined with dashes; long cells are cut."""
    widths = [min(max(len(row[i]) for row in rows), max_width) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell[:max_width].ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
