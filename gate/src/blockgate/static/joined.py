"""The join with coverage: which loop-reachable calls and loop-side lines ran under the gate, by which tests."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from blockgate.static.reach import Candidate


class CoverageLines:
    """Line -> gate test ids for files under the root, from one coverage data file."""

    def __init__(self, data_file: Path, root: Path) -> None:
        import coverage

        from blockgate.contexts import gate_contexts

        self._gate_contexts = gate_contexts
        self.root = root
        self.data = coverage.CoverageData(basename=str(data_file))
        self.data.read()
        self.measured = list(self.data.measured_files())
        self.by_real = {os.path.realpath(f): f for f in self.measured}
        self._cache: dict[str, dict[int, list[str]]] = {}

    def _measured(self, path: str) -> str | None:
        found = self.by_real.get(os.path.realpath(self.root / path))
        if found is None:
            # Installed copies (site-packages/<package>/...) hold the same package-relative path.
            suffix = "/" + path
            matches = [f for f in self.measured if f.replace(os.sep, "/").endswith(suffix)]
            found = matches[0] if len(matches) == 1 else None
        return found

    def tests_at(self, path: str, *lines: int) -> list[str]:
        measured = self._measured(path)
        if measured is None:
            return []
        if measured not in self._cache:
            self._cache[measured] = self.data.contexts_by_lineno(measured)
        contexts = [c for line in lines for c in self._cache[measured].get(line, [])]
        return self._gate_contexts(contexts)


def statement_starts(source: str) -> dict[int, int]:
    """Line -> first line of the innermost statement holding it: the line coverage records."""
    starts: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            end = node.end_lineno or node.lineno
            for line in range(node.lineno, end + 1):
                if line not in starts or starts[line] < node.lineno:
                    starts[line] = node.lineno
    return starts


def join_coverage(
    candidates: list[Candidate],
    lines_on_loop: dict[str, set[int]],
    sources: dict[str, str],
    data_file: Path,
    root: Path,
) -> dict[str, Any]:
    """Mark each candidate guarded (with its gate tests) or unguarded; loop-side line coverage."""
    index = CoverageLines(data_file, root)
    starts = {path: statement_starts(text) for path, text in sources.items()}
    joined = []
    for candidate in candidates:
        statement = starts.get(candidate.path, {}).get(candidate.line, candidate.line)
        tests = index.tests_at(candidate.path, candidate.line, statement)
        joined.append({"status": "guarded" if tests else "unguarded", "tests": tests})
    ran: dict[str, list[int]] = {}
    missed: dict[str, list[int]] = {}
    for path, lines in sorted(lines_on_loop.items()):
        for line in sorted(lines):
            (ran if index.tests_at(path, line) else missed).setdefault(path, []).append(line)
    return {
        "candidates": joined,
        "loop_lines": {
            "total": sum(len(v) for v in lines_on_loop.values()),
            "ran": sum(len(v) for v in ran.values()),
            "never_ran": missed,
        },
    }
