"""Measure what blockbuster's default rules miss and what the gate adds; render the docs' tables.

Measuring (the default; ``tox -e blindspots-py3XX`` runs it on each Python):
every rule of the table (``blockgate.rules``) has a firing probe, one
blocking call; run it on the event loop from the rule table's package twice,
once under ``blockbuster.BlockBuster`` with its default rules scoped to that
module, once under ``strict_gate``. Together with this Python's classification
census (``blockgate.classification``: per module, how many public
callables are caught by a rule, not blocking, or blind spots) and the counts
of armed rules, it writes ``pyXY.json`` into the output folder, and re-renders
``blind-spots.md`` from every ``py*.json`` there, so running it under several
interpreters builds one table.

``--write-docs`` measures nothing: it renders the ``py*.json`` already in
the output folder into the manual, between marker comments: the tables into
``docs/blind-spots.md`` (``blind-spots``), the armed-rule counts of each
Python into ``docs/gate.md`` (``rule-counts``), beside the header they explain.

Usage (in gate/): python -m maintenance.blind_spots [--out reports/blindspots] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import platform
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

GATE_DIR = Path(__file__).resolve().parents[1]
DOCS = GATE_DIR / "docs"
# Which page of the manual holds each generated block.
PAGES = {"blind-spots": "blind-spots.md", "rule-counts": "gate.md"}
MARKERS = {
    "blind-spots": ("<!-- blind-spots:start -->", "<!-- blind-spots:end -->"),
    "rule-counts": ("<!-- rule-counts:start -->", "<!-- rule-counts:end -->"),
}
VERDICT_KEYS = (
    ("rule", "rule"),
    ("not blocking", "not blocking"),
    ("blocking, not trappable", "not trappable"),
)


# -- measuring (needs blockbuster and the gate) -------------------------------------------------


async def _caught(arm: Callable[[], Any], probe: Any, scene_dir: Path) -> str:
    import blockbuster

    from blockgate.rules import Scene

    scene = await asyncio.to_thread(Scene, scene_dir)
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


@contextlib.contextmanager
def _blockbuster_defaults(module: str) -> Iterator[None]:
    """blockbuster's default rules scoped to ``module``; on leaving, the ``_c_<name>`` entries its
    deactivate left in C types are removed. forbiddenfruit's curse keeps what it replaced under
    that name, so after deactivate each C type holds blockbuster's checker, whose closure holds
    the interpreter's streams: freed only at exit, with io half torn down, they crashed this
    script with SIGSEGV after its report (the gate's own ``arming._curse`` puts the entry back)."""
    import blockbuster
    import forbiddenfruit

    detector = blockbuster.BlockBuster([module])  # what blockbuster_ctx does, the types noted first
    owners = {f.module for f in detector.functions.values() if isinstance(f.module, type)}
    before = {
        owner: {key for key in forbiddenfruit.patchable_builtin(owner) if key.startswith("_c_")}
        for owner in owners
    }
    detector.activate()
    try:
        yield
    finally:
        detector.deactivate()
    for owner, kept in before.items():
        namespace = forbiddenfruit.patchable_builtin(owner)
        for key in [k for k in namespace if k.startswith("_c_") and k not in kept]:
            del namespace[key]
        ctypes.pythonapi.PyType_Modified(ctypes.py_object(owner))


async def measure() -> dict[str, dict[str, str]]:
    from blockgate import rules, strict_gate

    module = rules.__name__
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, rule in enumerate(rules.RULES):
            if not rule.applies():
                results[rule.name] = {"area": rule.area, "defaults": "n/a", "gate": "n/a"}
                continue
            results[rule.name] = {
                "area": rule.area,
                "defaults": await _caught(
                    lambda: _blockbuster_defaults(module), rule.fires, Path(tmp) / f"d{n}"
                ),
                "gate": await _caught(lambda: strict_gate(module), rule.fires, Path(tmp) / f"g{n}"),
            }
    return results


SYSTEMS = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}  # the workflow's systems


def census() -> dict[str, Any]:
    """This Python's classification: measured here per module; for the other systems of the
    workflow, the totals the stub check finds (``blockgate.classification.stubs``); and the
    blind spots of every system, each with the systems it holds on."""
    from blockgate import classification
    from blockgate.classification import stubs

    version = sys.version_info[:2]
    counts = {
        module: {key: len(names) for key, names in verdicts.items()}
        for module, verdicts in classification.census().items()
    }
    others = {}
    for system in stubs.SYSTEMS:
        totals: dict[str, int] = {}
        for verdicts in stubs.census(version, system).values():
            for key, names in verdicts.items():
                totals[key] = totals.get(key, 0) + len(names)
        others[SYSTEMS[system]] = totals
    blind: dict[tuple[str, str], list[str]] = {}
    for e in classification.TABLE:
        if e.verdict != classification.NOT_TRAPPABLE:
            continue
        key = (e.pattern, e.why)
        here = {name for system, name in SYSTEMS.items() if e.applies(version, system)} | set(
            blind.get(key, ())
        )
        if here:
            blind[key] = [name for name in SYSTEMS.values() if name in here]
    return {
        "modules": counts,
        "other_systems": others,
        "not_trappable": [
            {"pattern": p, "why": w, **({} if len(where) == len(SYSTEMS) else {"systems": where})}
            for (p, w), where in sorted(blind.items())
        ],
    }


def run(out: Path) -> int:
    from blockgate import rule_counts, rules

    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(measure())
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    record = {
        "python": sys.version.split()[0],
        "system": f"{platform.system()} {platform.machine()}",
        "rule_counts": rule_counts([rules.__name__]),
        "results": results,
        "classification": census(),
    }
    (out / f"{tag}.json").write_text(json.dumps(record, indent=2) + "\n")
    report = render_report(load(out))
    (out / "blind-spots.md").write_text(report)
    print(report)
    gate_missed = [name for name, r in results.items() if r["gate"] == "missed"]
    unclassified = [m for m, c in record["classification"]["modules"].items() if c["unclassified"]]
    if gate_missed:
        print(f"the gate misses: {', '.join(gate_missed)}", file=sys.stderr)
    if unclassified:
        print(f"unclassified callables in: {', '.join(unclassified)}", file=sys.stderr)
    return 1 if gate_missed or unclassified else 0


# -- rendering (reads only the JSON) ---------------------------------------------------------------


def load(out: Path) -> dict[str, dict[str, Any]]:
    runs = {p.stem: json.loads(p.read_text()) for p in out.glob("py*.json")}
    return dict(sorted(runs.items(), key=lambda item: int(item[0][3:])))


def _version(tag: str) -> str:
    return f"{tag[2]}.{tag[3:]}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(runs: dict[str, dict[str, Any]]) -> str:
    versions = list(runs)
    parts = []
    for tag, run_ in runs.items():
        res = [r for r in run_["results"].values() if r["gate"] != "n/a"]
        missed = sum(r["defaults"] == "missed" for r in res)
        gate_missed = sum(r["gate"] == "missed" for r in res)
        gate_text = "the gate misses none" if gate_missed == 0 else f"the gate misses {gate_missed}"
        parts.append(f"{_version(tag)}: defaults miss {missed} of {len(res)} probes, {gate_text}")
    summary = "Probes run on the loop (one per rule): " + "; ".join(parts) + "."

    areas = sorted({r["area"] for run_ in runs.values() for r in run_["results"].values()})
    area_rows = []
    for area in areas:
        row = [area]
        for tag in versions:
            res = [r for r in runs[tag]["results"].values() if r["area"] == area and r["gate"] != "n/a"]
            row.append(
                f"{sum(r['defaults'] == 'missed' for r in res)} / {sum(r['gate'] == 'caught' for r in res)} of {len(res)}"
            )
        area_rows.append(row)
    areas_table = _table(
        ["rule area", *(f"{_version(t)}: missed by defaults / caught by gate" for t in versions)], area_rows
    )

    modules = list(next(iter(runs.values()))["classification"]["modules"]) if runs else []
    module_rows = []
    totals = {t: {key: 0 for key, _ in (*VERDICT_KEYS, ("unclassified", ""))} for t in versions}
    for module in modules:
        row = [f"`{module}`"]
        for tag in versions:
            counts = runs[tag]["classification"]["modules"].get(module, {})
            for key, _ in (*VERDICT_KEYS, ("unclassified", "")):
                totals[tag][key] += counts.get(key, 0)
            cell = " / ".join(str(counts.get(key, 0)) for key, _ in VERDICT_KEYS)
            if counts.get("unclassified"):
                cell += f" (**{counts['unclassified']} unclassified**)"
            row.append(cell)
        module_rows.append(row)
    module_rows.append(
        ["**all**", *(" / ".join(str(totals[t][key]) for key, _ in VERDICT_KEYS) for t in versions)]
    )
    modules_table = _table(
        ["module", *(f"{_version(t)}: rule / not blocking / not trappable" for t in versions)], module_rows
    )

    blind: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for tag in versions:
        for item in runs[tag]["classification"]["not_trappable"]:
            where = ", ".join(item.get("systems", ()))  # absent: every system
            blind.setdefault((item["pattern"], where), (item["why"], []))[1].append(_version(tag))
    blind_rows = []
    for (pattern, where), (why, pythons) in sorted(blind.items()):
        notes = [f"{where} only"] if where else []
        if len(pythons) != len(versions):
            notes.append(", ".join(pythons))
        blind_rows.append([f"`{pattern}`", f"{why} ({'; '.join(notes)})" if notes else why])
    blind_table = _table(["blocking, not trappable", "why"], blind_rows)
    machine = ", ".join(sorted({run_["system"] for run_ in runs.values()}))
    parts = [
        summary,
        areas_table,
        f"The classification, per module (public callables and class methods; measured on {machine}):",
        modules_table,
    ]
    systems = list(
        dict.fromkeys(s for run_ in runs.values() for s in run_["classification"].get("other_systems", {}))
    )
    if systems:
        rows = []
        for system in systems:
            row = [system]
            for tag in versions:
                counts = runs[tag]["classification"].get("other_systems", {}).get(system, {})
                cell = " / ".join(str(counts.get(key, 0)) for key, _ in VERDICT_KEYS)
                if counts.get("unclassified"):
                    cell += f" (**{counts['unclassified']} unclassified**)"
                row.append(cell)
            rows.append(row)
        parts += [
            "The same modules on the workflow's other systems, enumerated from typeshed's stubs "
            "(`blockgate.classification.stubs`; the runtime census on each system stays the authority):",
            _table(
                ["system", *(f"{_version(t)}: rule / not blocking / not trappable" for t in versions)], rows
            ),
        ]
    parts += [
        "What the gate cannot trap (the classification's `blocking, not trappable` entries):",
        blind_table,
    ]
    return "\n\n".join(parts)


def render_counts(runs: dict[str, dict[str, Any]]) -> str:
    lines = []
    for tag, run_ in runs.items():
        c = run_["rule_counts"]
        project = c["project_patches"] + c["project_audit"]
        lines.append(
            f"- {_version(tag)}: `rules armed: {c['blockbuster']} blockbuster defaults + {project} gate rules "
            f"({c['project_patches']} patches, {c['project_audit']} audit events; "
            f"{c['not_applicable']} not applicable on this Python)`"
        )
    return "\n".join(lines)


def render_report(runs: dict[str, dict[str, Any]]) -> str:
    versions = list(runs)
    names = list(dict.fromkeys(n for run_ in runs.values() for n in run_["results"]))
    mark = {"caught": "caught", "missed": "**missed**", "n/a": "n/a"}
    rows = []
    for name in names:
        row = [f"`{name}`"]
        for tag in versions:
            r = runs[tag]["results"].get(name, {"defaults": "n/a", "gate": "n/a"})
            row.append(f"{mark[r['defaults']]} / {mark[r['gate']]}")
        rows.append(row)
    per_probe = _table(["rule (probe)", *(f"{_version(t)} defaults / gate" for t in versions)], rows)
    return render_summary(runs) + "\n\n" + per_probe + "\n"


def replace_between(text: str, key: str, body: str, page: str = "the page") -> str:
    start, end = MARKERS[key]
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{page} has no {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def write_docs(out: Path, docs: Path = DOCS) -> int:
    runs = load(out)
    if not runs:
        print(f"no py*.json in {out}: run `tox -e blindspots-py310,...` first", file=sys.stderr)
        return 1
    bodies = {"blind-spots": render_summary(runs), "rule-counts": render_counts(runs)}
    texts = {page: (docs / page).read_text(encoding="utf-8") for page in PAGES.values()}
    for key, page in PAGES.items():
        texts[page] = replace_between(texts[page], key, bodies[key], page)
    for page, text in texts.items():
        (docs / page).write_text(text, encoding="utf-8")
    print(
        f"{', '.join(sorted(texts))}: blind spots and rule counts from {', '.join(_version(t) for t in runs)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports/blindspots"))
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="render the py*.json in --out into docs/blind-spots.md and docs/gate.md; measure nothing",
    )
    args = parser.parse_args(argv)
    return write_docs(args.out) if args.write_docs else run(args.out)


if __name__ == "__main__":
    sys.exit(main())
