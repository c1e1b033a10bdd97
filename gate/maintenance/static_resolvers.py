"""Measure the static inventory's two name resolvers, astroid and jedi, on the fixture packages.

Both run the same walk (``blockgate.static``); only the question
"what does this callee, this receiver, resolve to?" goes to the library. Each
is scored against the ``# blocking: <primitive>`` comments of
``tests/static_fixtures/`` (found / expected, false findings) and timed (a
cold run per package in a fresh process, so no resolver profits from the
other's caches). The figures of docs/static-half.md come from this command.

Usage (in gate/): python -m maintenance.static_resolvers [--fixtures tests/static_fixtures]   (needs jedi)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from tests.expectations import expected_findings

GATE_DIR = Path(__file__).resolve().parents[1]
FIXTURES = GATE_DIR / "tests" / "static_fixtures"


def _one(root: Path, package: str, resolver: str) -> dict[str, object]:
    """Run in a child process: a cold start for the resolver."""
    import time

    from blockgate.static import primitive_table, scan

    table = primitive_table()
    started = time.perf_counter()
    result = scan(root, [package], table, resolver=resolver)
    return {
        "seconds": time.perf_counter() - started,
        "found": sorted([c.path, c.line, c.primitive] for c in result.candidates),
    }


def measure(root: Path, resolvers: list[str]) -> list[dict[str, object]]:
    packages = sorted(p.name for p in root.iterdir() if (p / "__init__.py").exists())
    rows = []
    for resolver in resolvers:
        expected_all = found_all = false_all = 0
        seconds = 0.0
        for package in packages:
            code = (
                "import json, sys; from pathlib import Path; from maintenance.static_resolvers import _one; "
                f"print(json.dumps(_one(Path({str(root)!r}), {package!r}, {resolver!r})))"
            )
            done = subprocess.run(
                [sys.executable, "-c", code], cwd=GATE_DIR, capture_output=True, text=True, check=True
            )
            run = json.loads(done.stdout.strip().splitlines()[-1])
            found = {tuple(f) for f in run["found"]}
            expected = expected_findings(root, package)
            expected_all += len(expected)
            found_all += len(found & expected)
            false_all += len(found - expected)
            seconds += run["seconds"]
        rows.append(
            {
                "resolver": resolver,
                "expected": expected_all,
                "found": found_all,
                "false": false_all,
                "seconds": round(seconds, 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder of fixture packages")
    args = parser.parse_args(argv)
    rows = measure(args.fixtures.resolve(), ["astroid", "jedi"])
    print("| resolver | found / expected | false findings | seconds (all fixture packages, cold) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['resolver']} | {r['found']}/{r['expected']} | {r['false']} | {r['seconds']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
