"""``python -m blockgate.static``: the command line of the static half."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from blockgate.accepted import Accepted, accepted_unguarded
from blockgate.static.changes import changed_candidates, changes_since
from blockgate.static.joined import join_coverage
from blockgate.static.primitives import primitive_table
from blockgate.static.reach import loop_lines, reach
from blockgate.static.report import render_markdown, render_table
from blockgate.static.resolvers import RESOLVERS
from blockgate.static.walk import Inventory, default_packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blockgate.static", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="folder holding the packages (default: .)"
    )
    parser.add_argument(
        "--package",
        action="append",
        dest="packages",
        metavar="NAME",
        help="package to scan; repeat for several (default: every package directly under --root)",
    )
    parser.add_argument(
        "--coverage", type=Path, help="coverage data with the gate's per-test contexts: join with it"
    )
    parser.add_argument(
        "--changed-since",
        metavar="REV",
        help="only what changed since REV's merge base, plus removed offloads",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports/static-inventory"),
        help="folder for the JSON and Markdown",
    )
    parser.add_argument(
        "--accepted",
        type=Path,
        default=None,
        help="the accepted file: unguarded calls accepted on purpose, each with a reason ([[unguarded]])",
    )
    parser.add_argument("--resolver", choices=sorted(RESOLVERS), default="astroid", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    packages = args.packages or default_packages(root)
    if args.coverage is not None and not args.coverage.exists():
        print(
            f"static inventory: no coverage data at {args.coverage}; run the gate under coverage first",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    table = primitive_table()
    inventory = Inventory(root, packages, table, resolver=args.resolver)
    result = reach(inventory)
    sources = {m.path: m.source for m in inventory.modules.values()}
    candidates = result.candidates
    payload: dict[str, Any] = {
        "root": str(root),
        "packages": packages,
        "python": ".".join(map(str, sys.version_info[:3])),
        "resolver": args.resolver,
    }
    if args.changed_since:
        changes = changes_since(args.changed_since, root, packages, result.offloads)
        candidates = changed_candidates(result, changes)
        payload["changed_since"] = args.changed_since
        payload["merge_base"] = changes.base
        payload["removed_offloads"] = [s.to_dict() for s in changes.removed_offloads]
    rows = [c.to_dict() for c in candidates]
    errors: list[str] = []
    failed = False
    if args.coverage is not None:
        joined = join_coverage(
            candidates,
            loop_lines(inventory, result.loop_nodes),
            sources,
            args.coverage,
            root,
        )
        for row, extra in zip(rows, joined["candidates"], strict=True):
            row.update(extra)
        payload["loop_lines"] = joined["loop_lines"]
        accepted, errors = accepted_unguarded(args.accepted)
        accepted_name = args.accepted.name if args.accepted else "the accepted file"
        used: set[Accepted] = set()
        for row in rows:
            for entry in accepted:
                if (entry.path, entry.function, entry.primitive) == (
                    row["path"],
                    row["function"],
                    row["primitive"],
                ):
                    used.add(entry)
                    if row["status"] == "unguarded":
                        row["accepted"] = entry.reason
        for entry in accepted:
            matching = [
                r
                for r in rows
                if (entry.path, entry.function, entry.primitive) == (r["path"], r["function"], r["primitive"])
            ]
            if not matching and not args.changed_since:
                errors.append(
                    f"stale entry in {accepted_name}: {entry.path} {entry.function} {entry.primitive} matches no candidate"
                )
            elif matching and all(r["status"] == "guarded" for r in matching):
                errors.append(
                    f"stale entry in {accepted_name}: {entry.path} {entry.function} {entry.primitive} ran under the gate now"
                )
        unguarded = [r for r in rows if r["status"] == "unguarded" and not r.get("accepted")]
        failed = bool(unguarded or errors)
        guarded = sum(r["status"] == "guarded" for r in rows)
        last = f"static inventory: {len(rows)} reachable from the loop, {guarded} ran under the gate, {len(rows) - guarded} never did"
    else:
        last = f"static inventory: {len(rows)} blocking calls reachable from the loop"
    behind = sum(bool(r.get("behind")) for r in rows)
    if behind:
        last += f" ({behind} only behind a branch each chain found leaves untaken)"
    if result.skipped:
        # The count covers the files read: say on the same line that some were not.
        last += (
            f"; {len(result.skipped)} {'file' if len(result.skipped) == 1 else 'files'} skipped (unparsable)"
        )
    payload["errors"] = errors
    payload["entry_points"] = result.entry_count
    payload["functions_on_the_loop"] = len(result.loop_functions)
    payload["files"] = result.file_count
    payload["skipped"] = [{"path": path, "reason": why} for path, why in result.skipped.items()]
    payload["seconds"] = round(time.perf_counter() - started, 2)
    payload["candidates"] = rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "static-inventory.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "static-inventory.md").write_text(render_markdown(payload, last))

    if rows:
        print(render_table(rows))
    skipped = f" ({len(result.skipped)} skipped)" if result.skipped else ""
    print(
        f"\nscanned {result.file_count} files{skipped} of {', '.join(packages)} under {root}; "
        f"{result.entry_count} entry points, {len(result.loop_functions)} functions on the loop; {payload['seconds']} s"
    )
    for path, why in result.skipped.items():
        print(f"  skipped {path}: {why}")
    for row in rows:
        if row.get("behind"):
            print(
                f"  behind an untaken branch: {row['path']}:{row['line']} {row['primitive']}: {row['behind']}"
            )
    for site in payload.get("removed_offloads", []):
        print(
            f"  offload removed since {args.changed_since}: {site['path']}:{site['line']} {site['function']} ({site['kind']})"
        )
    loop = payload.get("loop_lines")
    if loop:
        print(
            f"loop-side coverage: {loop['ran']}/{loop['total']} lines that run on the loop ran under the gate"
        )
        for path, lines in loop["never_ran"].items():
            print(f"  never under the gate: {path}: {', '.join(map(str, lines))}")
    for row in rows:
        if row.get("status") == "unguarded" and not row.get("accepted"):
            print(
                f"  unguarded: {row['path']}:{row['line']} {row['function']} calls {row['primitive']}; "
                f"no gate test ran it (add a gate test that does)"
            )
    for error in errors:
        print(f"  error: {error}")
    print(f"reports: {args.out / 'static-inventory.json'}, {args.out / 'static-inventory.md'}")
    print(last)
    return 1 if failed else 0
