"""``python -m blockgate.teeth``: the offload and coroutine checks, with their reports.

Usage: python -m blockgate.teeth --source DIR [--rootdir .] [--data FILE | --all-tests]
       [--accepted FILE] [--out reports/teeth] [--only offloads|coroutines]
       [--coroutines-ignore PATH ...] -- TESTS [PYTEST ARGS ...]

``TESTS`` and the pytest arguments after ``--`` select the gate tests. The
checks read per-test coverage contexts (``--data``; by default, under
the rootdir, ``reports/blocking/.coverage``, else ``reports/blocking-pyXY``
of the running Python, else the first ``reports/blocking*/.coverage`` by
name; data older than a source file is not used) to run only the tests that
ran each site or coroutine; without usable data, the offload check runs every
gate test and the coroutine check records which tests reach what first. Exit 0 when both
checks pass, 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from blockgate.accepted import outside_sites, waived_sites
from blockgate.teeth import coroutines, offloads


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m blockgate.teeth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder holding the scanned package(s)")
    parser.add_argument(
        "--rootdir", type=Path, default=Path("."), help="pytest rootdir; site paths are relative to it"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="coverage data with per-test contexts (default: see above)"
    )
    parser.add_argument(
        "--all-tests",
        action="store_true",
        help="ignore coverage data: run every gate test against every mutant",
    )
    parser.add_argument(
        "--accepted", type=Path, default=None, help="the accepted file ([[outside]] and [[requires]] entries)"
    )
    parser.add_argument("--out", type=Path, default=Path("reports/teeth"), help="folder for the reports")
    parser.add_argument("--only", choices=("offloads", "coroutines"), default=None, help="run one check")
    parser.add_argument(
        "--coroutines-ignore",
        action="append",
        default=[],
        metavar="PATH",
        help="gate tests the coroutine check never runs against an injected coroutine (slow or random ones)",
    )
    parser.add_argument("tests", nargs="+", help="the gate tests and pytest arguments (after --)")
    args = parser.parse_args(argv)
    args.source, args.rootdir = args.source.resolve(), args.rootdir.resolve()
    return args


def _coverage_data(args: argparse.Namespace) -> Path | None:
    """The gate run's coverage data that both checks choose their tests by, if it is usable."""
    data: Path | None = None if args.all_tests else args.data or offloads.default_data_file(args.rootdir)
    if data is None or not data.exists():
        return None
    if changed := offloads.stale(data, args.source):
        print(f"teeth: {data} is older than {changed[0]} (and {len(changed) - 1} more): not using it")
        return None
    return data


def _offloads(args: argparse.Namespace, outside: dict[str, str], waived: dict[str, str]) -> bool:
    data = _coverage_data(args)
    print(
        f"teeth: tests chosen from {data if data else 'all gate tests (no usable coverage data)'}", flush=True
    )
    verdicts, seconds = offloads.run(args.source, args.rootdir, args.tests, data, outside, waived)
    table, markdown = offloads.render(verdicts)
    killed = sum(v.verdict == "killed" for v in verdicts)
    payload = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "seconds": round(seconds, 2),
        "coverage_data": str(data) if data else None,
        "killed": killed,
        "static_seen": sum(v.static == "seen" for v in verdicts),
        "total": len(verdicts),
        "sites": [v.to_dict() for v in verdicts],
    }
    (args.out / "teeth.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "teeth.md").write_text(markdown)
    print(table)
    print(f"reports: {args.out / 'teeth.json'}, {args.out / 'teeth.md'} ({seconds:.1f} s)")
    if not verdicts:
        print("teeth: the inventory found no offload site", file=sys.stderr)
    print(f"teeth: static half saw {payload['static_seen']}/{len(verdicts)} reverted offloads")
    print(f"teeth: killed {killed}/{len(verdicts)}")
    return bool(verdicts) and all(v.passed for v in verdicts)


def _coroutines(args: argparse.Namespace, waived: dict[str, str]) -> bool:
    setup = coroutines.Setup(args.source, args.rootdir, (args.out / "coroutines").resolve())
    try:
        problems = coroutines.check(
            setup, args.tests, data=_coverage_data(args), ignore=args.coroutines_ignore, waived=waived
        )
    except RuntimeError as exc:
        print(f"teeth: {exc}", file=sys.stderr)
        return False
    failing = {c: why for c, why in problems.items() if why is not None}
    (args.out / "coroutines.json").write_text(json.dumps(problems, indent=2) + "\n")
    for coroutine, why in failing.items():
        print(f"teeth: {coroutine}: {why}\n")
    print(
        f"teeth: coroutines whose injected blocking call ended the run red: {len(problems) - len(failing)}/{len(problems)}"
    )
    return bool(problems) and not failing


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    outside, errors = outside_sites(args.accepted)
    waived, more_errors = waived_sites(args.accepted)
    errors += more_errors
    if errors:
        print("\n".join(f"teeth: {e}" for e in errors), file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    reasons = {site: entry.describe() for site, entry in waived.items()}
    passed = True
    if args.only in (None, "coroutines"):
        passed = _coroutines(args, reasons) and passed
    if args.only in (None, "offloads"):
        passed = _offloads(args, outside, reasons) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
