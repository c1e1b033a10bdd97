"""Measure what blockbuster's default rules miss, and what the gate adds, on this Python.

For every probe of the rule table (``tests_blocking/meta/probes.py``: one
blocking call each), run it on the event loop from the probe module twice:
once under ``blockbuster.BlockBuster`` with its default rules scoped to the
probe module, once under ``strict_gate``. Writes ``pyXY.json`` into the
output folder and re-renders ``blind-spots.md`` from every ``py*.json`` there,
so running it under several interpreters builds one table.

Usage: python -m tools.blind_spots [--out reports/blindspots]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import blockbuster
from tests_blocking import gate
from tests_blocking.meta import probes

REPO = Path(__file__).resolve().parents[1]
PROBE_MODULE = probes.__name__


async def _caught(arm, probe: probes.Probe, tmp: Path) -> str:
    scene = probes.Scene(tmp)
    if probe.prepare is not None:
        await asyncio.to_thread(probe.prepare, scene)
    try:
        with arm():
            try:
                probe.call(scene)
            except blockbuster.BlockingError:
                return "caught"
        return "missed"
    finally:
        await asyncio.to_thread(scene.cleanup)


def _defaults():
    return blockbuster.blockbuster_ctx([PROBE_MODULE])


def _strict():
    return gate.strict_gate(PROBE_MODULE)


async def measure() -> dict[str, dict[str, str]]:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, rule in enumerate(gate.RULES):
            if not rule.applies():
                results[rule.name] = {"defaults": "n/a", "gate": "n/a"}
                continue
            probe = probes.PROBES[rule.name]
            results[rule.name] = {
                "defaults": await _caught(_defaults, probe, Path(tmp) / f"d{n}"),
                "gate": await _caught(_strict, probe, Path(tmp) / f"g{n}"),
            }
    return results


def render(out: Path) -> str:
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("py*.json"))}
    versions = sorted(runs, key=lambda v: int(v[3:]))
    header = "| primitive (probe) | " + " | ".join(f"{v[2]}.{v[3:]} defaults / gate" for v in versions) + " |"
    lines = [header, "|---|" + "---|" * len(versions)]
    names = [rule.name for rule in gate.RULES]
    for name in names:
        cells = []
        for v in versions:
            r = runs[v]["results"].get(name, {"defaults": "?", "gate": "?"})
            mark = {"caught": "caught", "missed": "**missed**", "n/a": "n/a"}
            cells.append(f"{mark.get(r['defaults'], r['defaults'])} / {mark.get(r['gate'], r['gate'])}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    totals = []
    for v in versions:
        res = runs[v]["results"].values()
        missed = sum(r["defaults"] == "missed" for r in res)
        gate_missed = sum(r["gate"] == "missed" for r in res)
        totals.append(f"{v[2]}.{v[3:]}: defaults miss {missed}/{len(res)}, gate misses {gate_missed}")
    return "\n".join(lines) + "\n\n" + "; ".join(totals) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "blindspots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(measure())
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    (args.out / f"{tag}.json").write_text(
        json.dumps({"python": sys.version.split()[0], "results": results}, indent=2) + "\n"
    )
    table = render(args.out)
    (args.out / "blind-spots.md").write_text(table)
    print(table)
    gate_missed = [name for name, r in results.items() if r["gate"] == "missed"]
    if gate_missed:
        print(f"the gate misses: {', '.join(gate_missed)}", file=sys.stderr)
    return 1 if gate_missed else 0


if __name__ == "__main__":
    sys.exit(main())
