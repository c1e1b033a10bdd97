"""``python -m blockgate.static.hook FILE...``: the static half on a commit's changed files (pre-commit).

pre-commit passes the staged Python files. Reachability needs whole packages
(a changed helper matters because an ``async def`` elsewhere calls it), so
each file's package is found by walking up through ``__init__.py`` folders,
the packages are scanned whole, and the report keeps the blocking calls the
loop reaches *through the changed files*: the call is in one, or its chain
passes through a function defined in one. It exits 1 when one is left that
the accepted file (``--accepted``, its ``[[unguarded]]`` entries) does not
list, so the commit stops; 0 otherwise. The hook runs once over all files
(``require_serial``): split across processes, each would rescan the packages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blockgate.accepted import accepted_unguarded
from blockgate.static.primitives import primitive_table
from blockgate.static.reach import Candidate, scan
from blockgate.static.report import render_table


def package_of(file: Path) -> tuple[Path, str]:
    """(root, top-level package or module) holding ``file``: up through ``__init__.py`` folders."""
    file = file.resolve()
    top = file.parent if file.name == "__init__.py" else file
    while (top.parent / "__init__.py").is_file():
        top = top.parent
    name = top.name if top.is_dir() else top.stem
    return top.parent, name


def through_changed(candidate: Candidate, root: Path, changed: set[Path]) -> bool:
    paths = {candidate.path, *(f.path for f in candidate.chain_functions)}
    return any((root / p).resolve() in changed for p in paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m blockgate.static.hook", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("files", nargs="*", type=Path, help="changed Python files (pre-commit passes them)")
    parser.add_argument(
        "--accepted", type=Path, default=None, help="the accepted file: its [[unguarded]] entries pass"
    )
    args = parser.parse_args(argv)
    changed = {f.resolve() for f in args.files if f.suffix == ".py" and f.is_file()}
    groups: dict[Path, set[str]] = {}
    for file in sorted(changed):
        root, package = package_of(file)
        groups.setdefault(root, set()).add(package)
    accepted, errors = accepted_unguarded(args.accepted)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    known = {(a.path, a.function, a.primitive) for a in accepted}
    table = primitive_table()
    rows = []
    skipped: dict[str, str] = {}
    for root, packages in sorted(groups.items()):
        result = scan(root, sorted(packages), table)
        skipped.update(result.skipped)
        for candidate in result.candidates:
            accepted_here = (candidate.path, candidate.function, candidate.primitive) in known
            if through_changed(candidate, root, changed) and not accepted_here:
                rows.append(candidate.to_dict())
    if rows:
        print(render_table(rows))
        for row in rows:
            print(f"  {row['path']}:{row['line']} {row['function']}: {' -> '.join(row['chain'])}")
    for path, why in skipped.items():
        print(f"  skipped {path}: {why}")
    print(f"static inventory: {len(rows)} blocking calls reachable from the loop through the changed files")
    return 1 if rows or errors else 0


if __name__ == "__main__":
    sys.exit(main())
