"""The offload coverage review: which offload sites ran under the gate, and by which tests.

Joins the offload inventory (``blockgate.offloads``) with the coverage data of
a gate run under ``coverage run``, whose per-test contexts name the gate tests
(``blockgate.contexts``; a test that opted out of the gate does not count).

Writes, under the reports folder: ``offload-review.json``,
``offload-review.md`` (for a CI job summary) and prints a table. Exits 1 if
an offload site, or an async function of the reviewed package, never ran under the
gate (unless the accepted file's ``[[requires]]`` table waives it: its service's
variable is unset, so its gate tests skipped); 2 if there is no coverage data to
judge by or the accepted file has an error. The last line is
``offload sites exercised: X/Y``.

Usage: python -m blockgate.review --data reports/blocking/.coverage --source src [--out DIR] [--root .]
       [--accepted FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import coverage

from blockgate import text_table
from blockgate.accepted import Requirement, requirements, site_key
from blockgate.contexts import gate_contexts
from blockgate.offloads import async_functions, inventory


class CoverageIndex:
    """Line -> gate test ids, per reviewed file, from one combined data file."""

    def __init__(self, data_file: Path, root: Path) -> None:
        self.root = root
        self.data = coverage.CoverageData(basename=str(data_file))
        self.data.read()
        self.by_real: dict[str, str] = {os.path.realpath(f): f for f in self.data.measured_files()}
        self._cache: dict[str, dict[int, list[str]]] = {}

    def tests_at(self, path: str, line: int) -> list[str]:
        measured = self.by_real.get(os.path.realpath(self.root / path))
        if measured is None:
            return []
        if measured not in self._cache:
            self._cache[measured] = self.data.contexts_by_lineno(measured)
        return gate_contexts(self._cache[measured].get(line, []))


def review(data_file: Path, source: Path, root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every offload site and async function under ``source`` (paths relative to ``root``), with its gate tests."""
    index = CoverageIndex(data_file, root)
    sites = []
    for site in inventory(source, relative_to=root):
        tests = index.tests_at(site.path, site.statement_line)
        sites.append({**site.to_dict(), "exercised": bool(tests), "tests": tests})
    functions = []
    for fn in async_functions(source, relative_to=root):
        tests = index.tests_at(fn.path, fn.body_line)
        functions.append(
            {
                "path": fn.path,
                "function": fn.function,
                "line": fn.line,
                "exercised": bool(tests),
                "tests": tests,
            }
        )
    return sites, functions


def waive(
    sites: list[dict[str, Any]],
    functions: list[dict[str, Any]],
    entries: list[Requirement],
    source: Path,
    root: Path,
    environ: dict[str, str] | None = None,
) -> list[str]:
    """Mark what the ``[[requires]]`` entries waive (``"waived"``: why); return the stale entries as errors.

    A waived coroutine that did not run, and the offload sites in it that did
    not, are not failures. An entry naming no async function of ``source`` is
    stale, and so is a waived one whose coroutine ran anyway.
    """
    errors = []
    by_key = {site_key(f["path"], f["function"], root, source): f for f in functions}
    for entry in entries:
        function = by_key.get(entry.site)
        if function is None:
            errors.append(
                f"stale [[requires]] entry: {entry.site} names no async function under {source.name}"
            )
        elif entry.waived(environ) and function["exercised"]:
            errors.append(f"stale [[requires]] entry: {entry.site} ran under the gate with {entry.env} unset")
        elif entry.waived(environ):
            function["waived"] = entry.describe()
            for site in sites:
                if (
                    site_key(site["path"], site["function"], root, source) == entry.site
                    and not site["exercised"]
                ):
                    site["waived"] = entry.describe()
    return errors


def _tests_cell(tests: list[str], limit: int = 3) -> str:
    if not tests:
        return "-"
    shown = ", ".join(t.split("::", 1)[-1] for t in tests[:limit])
    return f"{shown} (+{len(tests) - limit} more)" if len(tests) > limit else shown


def render_table(sites: list[dict[str, Any]]) -> str:
    rows = [("site", "offloaded method", "target", "under gate", "tests")]
    for s in sites:
        rows.append(
            (
                s["where"],
                s["function"],
                s["target"],
                "yes" if s["exercised"] else "waived" if s.get("waived") else "NO",
                f"{len(s['tests'])}: {_tests_cell(s['tests'], 2)}",
            )
        )
    return text_table.render(rows, 60)


def render_markdown(sites: list[dict[str, Any]], functions: list[dict[str, Any]], python: str) -> str:
    done = sum(s["exercised"] for s in sites)
    fdone = sum(f["exercised"] for f in functions)
    out = [
        f"## Offload review (Python {python})",
        "",
        f"**offload sites exercised: {done}/{len(sites)}** · async functions run under the gate: {fdone}/{len(functions)}",
        "",
        "| site | offloaded method | target | under gate | tests |",
        "|---|---|---|---|---|",
    ]
    for s in sites:
        out.append(
            f"| `{s['where']}` | `{s['function']}` | `{s['target']}` | "
            f"{'yes' if s['exercised'] else 'waived' if s.get('waived') else '**NO**'} "
            f"| {len(s['tests'])}: {_tests_cell(s['tests']).replace('|', '/')} |"
        )
    missed = [f for f in functions if not f["exercised"] and not f.get("waived")]
    if missed:
        out += ["", "### Async functions never run under the gate", ""]
        out += [f"- `{f['path']}:{f['line']}` `{f['function']}`" for f in missed]
    waived = [f for f in functions if f.get("waived")]
    if waived:
        out += ["", "### Not run, waived by the accepted file", ""]
        out += [f"- `{f['path']}:{f['line']}` `{f['function']}`: {f['waived']}" for f in waived]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="combined coverage data file with per-test contexts"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the JSON and Markdown (default: the data file's folder)",
    )
    parser.add_argument("--source", type=Path, required=True, help="folder of the reviewed package(s)")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="paths in the report are relative to it (default: .)"
    )
    parser.add_argument(
        "--accepted",
        type=Path,
        default=None,
        help="the accepted file: [[requires]] entries waive coroutines whose service is not configured",
    )
    args = parser.parse_args(argv)
    entries, errors = requirements(args.accepted)
    if errors:
        print("\n".join(f"offload review: {e}" for e in errors), file=sys.stderr)
        return 2
    if not args.data.exists():
        print(
            f"offload review: no coverage data at {args.data}; run the gate under coverage first",
            file=sys.stderr,
        )
        return 2
    out = args.out or args.data.parent
    out.mkdir(parents=True, exist_ok=True)
    sites, functions = review(args.data, args.source.resolve(), args.root.resolve())
    stale = waive(sites, functions, entries, args.source.resolve(), args.root.resolve())
    if not sites:
        print(f"offload review: the inventory found no offload site under {args.source}", file=sys.stderr)
        return 2
    python = ".".join(map(str, sys.version_info[:3]))
    payload = {
        "python": python,
        "sites": sites,
        "async_functions": functions,
        "exercised": sum(s["exercised"] for s in sites),
        "total": len(sites),
        "errors": stale,
    }
    (out / "offload-review.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "offload-review.md").write_text(render_markdown(sites, functions, python))
    print(render_table(sites))
    ran = sum(f["exercised"] for f in functions)
    waived = [f for f in functions if f.get("waived")]
    missed_functions = [f for f in functions if not f["exercised"] and not f.get("waived")]
    print(
        f"\nasync functions run under the gate: {ran}/{len(functions)}"
        + (f" ({len(waived)} not run, waived by {args.accepted.name})" if args.accepted and waived else "")
    )
    for f in missed_functions:
        print(f"  never under the gate: {f['path']}:{f['line']} {f['function']}")
    for f in waived:
        print(f"  not run, waived: {f['path']}:{f['line']} {f['function']}: {f['waived']}")
    for error in stale:
        print(f"  error: {error}")
    print(f"reports: {out / 'offload-review.json'}, {out / 'offload-review.md'}")
    done = payload["exercised"]
    unwaived = sum(not s["exercised"] and not s.get("waived") for s in sites)
    waived_sites = sum(bool(s.get("waived")) for s in sites)
    print(
        f"offload sites exercised: {done}/{len(sites)}"
        + (f" ({waived_sites} waived)" if waived_sites else "")
    )
    return 0 if not unwaived and not missed_functions and not stale else 1


if __name__ == "__main__":
    sys.exit(main())
