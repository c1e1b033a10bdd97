"""Copy generated tables into the docs pages between marker comments, so no figure is retyped.

A section is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
in the page that shows it (``PAGES``, under ``docs/``). Sections and where
their text comes from:

* ``bench`` (``docs/performance.md``): ``reports/bench/bench.md`` and the
  run's date and duration from ``bench.json`` (written by ``tox -e bench``);
* ``service`` (``docs/performance.md``): the service bench's table from
  ``reports/bench/service.json`` (``tox -e bench`` or ``python -m
  tools.service_bench``), and its picture, copied beside the page as
  ``service-under-load.png`` and linked relative to it;
* ``mutation`` (``docs/mutation.md``): ``reports/mutation/summary.md``
  (written by ``tox -e mutation``).

``--check`` changes nothing and exits 1 if a page (or the picture) is not what
the reports say (the reports must exist).

The module keeps its old name (it filled README.md when the README was the
whole manual) because the bench and mutation tools point at it.

Usage: python -m tools.readme_sections {bench,service,mutation} [--reports reports] [--docs docs] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Which page of docs/ holds each section.
PAGES = {"bench": "performance.md", "service": "performance.md", "mutation": "mutation.md"}
PICTURE = "service-under-load.png"  # beside docs/performance.md, which links it by this name


class SectionError(ValueError):
    """The page has no such section, or the report to fill it is missing."""


@dataclass
class Section:
    """A section's text, and the files it needs copied beside its page (source, name)."""

    body: str
    copies: list[tuple[Path, str]] = field(default_factory=list)


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` holding ``body`` (markers kept, one blank line inside each)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SectionError(f"the page needs exactly one {start} ... {end} pair")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n\n{body.strip()}\n\n{end}{tail}"


def bench_section(reports: Path) -> Section:
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
    return Section(f"Latest run ({when}, `{command}`, {result['seconds']:.0f} s):\n\n{table.read_text()}")


def service_section(reports: Path) -> Section:
    from tools import service_bench

    folder = reports / "bench"
    data, picture = folder / "service.json", folder / "service.png"
    if not data.exists() or not picture.exists():
        raise SectionError(f"no service bench report in {folder}: run python -m tools.service_bench first")
    table = service_bench.render(json.loads(data.read_text()))
    return Section(
        f"{table}\n![loop lag and latency, offloaded vs on the loop]({PICTURE})", [(picture, PICTURE)]
    )


def mutation_section(reports: Path) -> Section:
    summary = reports / "mutation" / "summary.md"
    if not summary.exists():
        raise SectionError(f"no mutation report in {summary.parent}: run tox -e mutation first")
    return Section(summary.read_text())


SECTIONS: dict[str, Callable[[Path], Section]] = {
    "bench": bench_section,
    "service": service_section,
    "mutation": mutation_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="+", choices=sorted(SECTIONS))
    parser.add_argument("--reports", type=Path, default=REPO / "reports")
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="the folder of the pages (PAGES)")
    parser.add_argument("--check", action="store_true", help="report a stale page instead of writing it")
    args = parser.parse_args(argv)
    pages: dict[Path, str] = {}
    copies: list[tuple[Path, Path]] = []
    try:
        for name in dict.fromkeys(args.sections):
            page = args.docs / PAGES[name]
            if page not in pages:
                if not page.exists():
                    raise SectionError(f"no page {page} for the {name} section")
                pages[page] = page.read_text(encoding="utf-8")
            section = SECTIONS[name](args.reports)
            pages[page] = replace_section(pages[page], name, section.body)
            copies += [(source, args.docs / target) for source, target in section.copies]
    except SectionError as exc:
        print(f"readme_sections: {exc}", file=sys.stderr)
        return 2
    stale = [page for page, text in pages.items() if page.read_text(encoding="utf-8") != text]
    stale += [target for source, target in copies if not _same_bytes(source, target)]
    names = ", ".join(dict.fromkeys(args.sections))
    if not stale:
        print(f"readme_sections: up to date ({names})")
        return 0
    if args.check:
        print(
            f"readme_sections: {', '.join(p.name for p in stale)} differ from the reports; run without --check",
            file=sys.stderr,
        )
        return 1
    for page, text in pages.items():
        page.write_text(text, encoding="utf-8")
    for source, target in copies:
        target.write_bytes(source.read_bytes())
    print(f"readme_sections: wrote {names} into {', '.join(p.name for p in stale)}")
    return 0


def _same_bytes(a: Path, b: Path) -> bool:
    return b.exists() and a.read_bytes() == b.read_bytes()


if __name__ == "__main__":
    sys.exit(main())
