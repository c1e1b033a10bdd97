"""Draw the triage sample of a static-inventory report, the same every time.

The docs' section on real applications triages a sample of each application's
candidates by hand; this prints which ones: ``--size`` of them (all when the
report holds fewer), drawn with ``random.Random(seed).sample`` over the order of
``candidates`` in ``static-inventory.json``, each as its index, path:line,
primitive, whether it is direct (in an ``async def``'s own body), and its chain.

Usage (in gate/): python -m maintenance.static_sample REPORT [--size 20] [--seed 23]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def sample(candidates: list[dict], size: int, seed: int) -> list[int]:
    """Indexes into ``candidates``: all of them when there are at most ``size``."""
    if len(candidates) <= size:
        return list(range(len(candidates)))
    return sorted(random.Random(seed).sample(range(len(candidates)), size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maintenance.static_sample", description=__doc__)
    parser.add_argument("report", type=Path, help="a static-inventory.json")
    parser.add_argument("--size", type=int, default=20, help="how many to draw (default 20)")
    parser.add_argument("--seed", type=int, default=23, help="the random seed (default 23)")
    args = parser.parse_args(argv)
    candidates = json.loads(args.report.read_text(encoding="utf-8"))["candidates"]
    chosen = sample(candidates, args.size, args.seed)
    direct = sum(1 for c in candidates if c["direct"])
    print(f"{len(candidates)} candidates, {direct} direct; sample of {len(chosen)} (seed {args.seed})")
    for i in chosen:
        c = candidates[i]
        where = "direct" if c["direct"] else "callee"
        print(f"{i:4} {c['path']}:{c['line']} {c['primitive']} [{where}]")
        print(f"       {' -> '.join(c['chain'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
