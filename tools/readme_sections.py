"""Copy generated tables into README.md between marker comments, so no figure is retyped.

A section is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
in the README. Sections and where their text comes from:

* ``bench``: ``reports/bench/bench.md`` and the run's date and duration from
  ``bench.json`` (written by ``tox -e bench``);
* ``service``: the service bench's table from ``reports/bench/service.json``
  (``tox -e bench`` or ``python -m tools.service_bench``), and its picture,
  copied to ``docs/service-under-load.png`` where the README shows it;
* ``mutation``: ``reports/mutation/summary.md`` (written by ``tox -e mutation``).

``--check`` changes nothing and exits 1 if the README is not what the reports
say (the reports must exist).

Usage: python -m tools.readme_sections {bench,service,mutation} [--reports reports] [--readme README.md] [--check]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class SectionError(ValueError):
    """The README has no such section, or the report to fill it is missing."""


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` holding ``body`` (markers kept, one blank line inside each)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SectionError(f"README needs exactly one {start} ... {end} pair")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n\n{body.strip()}\n\n{end}{tail}"


def bench_section(reports: Path) -> str:
    folder = reports / "bench"
    table, data = folder / "bench.md", folder / "bench.json"
    if not table.exists() or not data.exists():
        raise SectionError(f"no bench report in {folder}: run tox -e bench first")
    result = json.loads(data.read_text())
    when = result.get("date", "date not recorded")
    command = "tox -e bench"
    parts = result.get("parts")
    if parts and "commands" not in parts:
        # A run of some parts: say which, so a reader knows what the table holds.
        everything = parts == ["throughput", "scaling", "service", "sql"]
        command += " -- --quick" if everything else f" -- --only {','.join(parts)}"
    return f"Latest run ({when}, `{command}`, {result['seconds']:.0f} s):\n\n{table.read_text()}"


PICTURE = Path("docs") / "service-under-load.png"


def service_section(reports: Path) -> str:
    from tools import service_bench

    folder = reports / "bench"
    data, picture = folder / "service.json", folder / "service.png"
    if not data.exists() or not picture.exists():
        raise SectionError(f"no service bench report in {folder}: run python -m tools.service_bench first")
    target = reports.parent / PICTURE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(picture, target)
    table = service_bench.render(json.loads(data.read_text()))
    return f"{table}\n![loop lag and latency, offloaded vs on the loop]({PICTURE.as_posix()})"


def mutation_section(reports: Path) -> str:
    summary = reports / "mutation" / "summary.md"
    if not summary.exists():
        raise SectionError(f"no mutation report in {summary.parent}: run tox -e mutation first")
    return summary.read_text()


SECTIONS: dict[str, Callable[[Path], str]] = {
    "bench": bench_section,
    "service": service_section,
    "mutation": mutation_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="+", choices=sorted(SECTIONS))
    parser.add_argument("--reports", type=Path, default=REPO / "reports")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--check", action="store_true", help="report a stale README instead of writing it")
    args = parser.parse_args(argv)
    text = original = args.readme.read_text(encoding="utf-8")
    try:
        for name in args.sections:
            text = replace_section(text, name, SECTIONS[name](args.reports))
    except SectionError as exc:
        print(f"readme_sections: {exc}", file=sys.stderr)
        return 2
    if text == original:
        print(f"readme_sections: {args.readme.name} is up to date ({', '.join(args.sections)})")
        return 0
    if args.check:
        print(
            f"readme_sections: {args.readme.name} differs from the reports; run without --check",
            file=sys.stderr,
        )
        return 1
    args.readme.write_text(text, encoding="utf-8")
    print(f"readme_sections: wrote {', '.join(args.sections)} into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
