"""The mutation score of the event stores: do the tests notice a wrong line?

Runs mutmut 3 over the modules named in ``setup.cfg`` ``[mutmut]`` and
writes, per module, how many mutants the tests killed and which survived
(with the diff of each), so the score in ``docs/mutation.md`` comes from a
command: the table alone goes to ``summary.md``, which ``python -m
tools.readme_sections mutation`` copies into that page.

Why a staging copy: mutmut names each mutant after its file's path
(``src/runlog/events/base.py`` -> ``runlog.events.base``) and only knows the
``src/`` layout; the package lives in ``backend/``. So the run happens in
``build/mutation/``, a fresh copy of the repo's tests, tools and setup.cfg
with ``backend/runlog`` copied to ``src/runlog``. The worktree is never
touched, and mutmut's own ``mutants/`` folder stays inside that copy.

Only the tests that cover each mutated function run against its mutants
(mutmut records which tests call which function in one first pass), so a run
costs a small multiple of the selected tests.

A module scores killed / (mutants - skipped): a mutant no test reaches counts
as a survivor, and a timeout as killed (the tests did not pass). The report
also gives the score among the mutants some test reaches, which tells the
tests' strength apart from code no test calls (dead code, say). Survivors
judged equivalent or harmless are listed with their reason in
``docs/mutation-survivors.md``; the report marks any survivor not listed
there, so a new one is seen.

Exits 1 when a module scores below ``--goal`` (90 by default), 2 when mutmut
itself failed.

Usage: python -m tools.mutation [--out reports/mutation] [--work build/mutation] [--max-children 2]
       [--goal 90] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from blockgate import text_table

REPO = Path(__file__).resolve().parents[1]
SURVIVORS_DOC = REPO / "docs" / "mutation-survivors.md"
# What the staging copy holds: (source in the repo, destination in the copy).
STAGED = (
    ("backend/runlog", "src/runlog"),
    ("tools", "tools"),
    ("tests", "tests"),
    ("tests_blocking", "tests_blocking"),
    ("setup.cfg", "setup.cfg"),
    ("pyproject.toml", "pyproject.toml"),
)
# mutmut's exit codes for a mutant's test run (mutmut/stats.py), by verdict.
KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}
MUTANT_NAME = re.compile(r"`([\w.ǁ]+__mutmut_\d+)`")


def verdict(exit_code: int | None) -> str:
    if exit_code in KILLED:
        return "killed"
    if exit_code in TIMEOUT:
        return "timeout"
    if exit_code in SURVIVED:
        return "survived"
    if exit_code in NO_TESTS:
        return "no tests"
    if exit_code in SKIPPED:
        return "skipped"
    if exit_code is None:
        return "not checked"
    return "suspicious"


@dataclass
class ModuleScore:
    path: str  # as in the repo (backend/runlog/...)
    verdicts: Counter[str]
    survivors: list[str]  # mutant names: survived, no tests, suspicious, not checked

    @property
    def counted(self) -> int:
        return sum(self.verdicts.values()) - self.verdicts["skipped"]

    @property
    def killed(self) -> int:
        return self.verdicts["killed"] + self.verdicts["timeout"]

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0

    @property
    def reached_score(self) -> float:
        """The score among the mutants some selected test runs: how good the tests are where they look."""
        reached = self.counted - self.verdicts["no tests"]
        return 100.0 * self.killed / reached if reached else 100.0


def stage(work: Path) -> None:
    """A fresh copy of what the run needs, with the package at src/runlog."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source, destination in STAGED:
        src, dst = REPO / source, work / destination
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def repo_path(staged: str) -> str:
    """A staged path (src/runlog/...) as the repo names it (backend/runlog/...)."""
    for source, destination in STAGED:
        if staged == destination or staged.startswith(destination + "/"):
            return source + staged[len(destination) :]
    return staged


def collect(work: Path) -> list[ModuleScore]:
    """Per mutated module, the verdicts mutmut recorded in its ``.meta`` files."""
    mutants = work / "mutants"
    scores = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not exit_codes:
            continue
        staged = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        verdicts = Counter(verdict(code) for code in exit_codes.values())
        survivors = sorted(
            (
                name
                for name, code in exit_codes.items()
                if verdict(code) not in {"killed", "timeout", "skipped"}
            ),
            key=_natural,
        )
        scores.append(ModuleScore(repo_path(staged), verdicts, survivors))
    return scores


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number)


def explained_survivors(doc: Path | None = None) -> set[str]:
    """Mutant names the survivors document gives a reason for (each in backticks)."""
    doc = doc or SURVIVORS_DOC
    if not doc.exists():
        return set()
    return set(MUTANT_NAME.findall(doc.read_text(encoding="utf-8")))


def show(work: Path, name: str) -> str:
    """The diff of one mutant, as ``mutmut show`` prints it."""
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    return (result.stdout or result.stderr).strip()


def render_summary(scores: list[ModuleScore], run: dict) -> str:
    """The score table, headed by when the run was and how long mutmut took (docs/mutation.md's section)."""
    total_killed = sum(s.killed for s in scores)
    total = sum(s.counted for s in scores)
    seconds = run.get("seconds")
    took = f"mutmut {seconds:.0f} s" if seconds is not None else "duration not recorded"
    out = [
        f"Latest run ({run.get('date', 'date not recorded')}, `tox -e mutation`, {took}):",
        "",
        "| module | mutants | killed | timeout | survived | no tests | other | score | where reached |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        v = s.verdicts
        other = s.counted - v["killed"] - v["timeout"] - v["survived"] - v["no tests"]
        out.append(
            f"| `{s.path}` | {s.counted} | {v['killed']} | {v['timeout']} | {v['survived']} "
            f"| {v['no tests']} | {other} | {s.score:.1f}% | {s.reached_score:.1f}% |"
        )
    overall = 100.0 * total_killed / total if total else 100.0
    out.append(f"| all | {total} | {total_killed} (with timeouts) | | | | | {overall:.1f}% | |")
    return "\n".join(out) + "\n"


def render_markdown(scores: list[ModuleScore], diffs: dict[str, str], explained: set[str], run: dict) -> str:
    out = ["# Mutation score (mutmut)", "", render_summary(scores, run)]
    survivors = [name for s in scores for name in s.survivors]
    unexplained = [name for name in survivors if name not in explained]
    out += [
        f"Survivors: {len(survivors)}, of which {len(unexplained)} not explained in "
        "`docs/mutation-survivors.md`.",
        "",
    ]
    for name in survivors:
        mark = "" if name in explained else " (NOT EXPLAINED)"
        out += [f"## `{name}`{mark}", "", "```diff", diffs.get(name, ""), "```", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports" / "mutation", help="folder for the report"
    )
    parser.add_argument("--work", type=Path, default=REPO / "build" / "mutation", help="the staging copy")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default: 2)")
    parser.add_argument("--goal", type=float, default=90.0, help="lowest acceptable score per module, in %%")
    parser.add_argument(
        "--report-only", action="store_true", help="report the last run's results in --work; run nothing"
    )
    args = parser.parse_args(argv)
    run_file = args.work / "run.json"  # when mutmut ran and for how long, for --report-only
    if not args.report_only:
        stage(args.work)
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
            cwd=args.work,
            check=False,
        )
        if run.returncode != 0:
            print(f"mutation: mutmut exited {run.returncode}", file=sys.stderr)
            return 2
        run_file.write_text(
            json.dumps({"date": date.today().isoformat(), "seconds": time.monotonic() - started}) + "\n"
        )
    run_info = json.loads(run_file.read_text()) if run_file.exists() else {}
    scores = collect(args.work)
    if not scores:
        print(f"mutation: no mutmut results under {args.work / 'mutants'}", file=sys.stderr)
        return 2
    names = [name for s in scores for name in s.survivors]
    with ThreadPoolExecutor(max_workers=max(1, args.max_children)) as pool:  # one mutmut process per diff
        diffs = dict(zip(names, pool.map(lambda name: show(args.work, name), names), strict=True))
    explained = explained_survivors()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mutation.md").write_text(
        render_markdown(scores, diffs, explained, run_info), encoding="utf-8"
    )
    (args.out / "summary.md").write_text(render_summary(scores, run_info), encoding="utf-8")
    payload = {
        **run_info,
        "goal": args.goal,
        "modules": [
            {
                "path": s.path,
                "verdicts": dict(s.verdicts),
                "mutants": s.counted,
                "killed": s.killed,
                "score": round(s.score, 1),
                "reached_score": round(s.reached_score, 1),
                "survivors": [{"name": n, "explained": n in explained} for n in s.survivors],
            }
            for s in scores
        ],
    }
    (args.out / "mutation.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    rows = [("module", "mutants", "killed", "survivors", "unexplained", "score", "where reached")]
    for s in scores:
        unexplained = sum(n not in explained for n in s.survivors)
        rows.append(
            (
                s.path,
                str(s.counted),
                str(s.killed),
                str(len(s.survivors)),
                str(unexplained),
                f"{s.score:.1f}%",
                f"{s.reached_score:.1f}%",
            )
        )
    print(text_table.render(rows, 60))
    print(f"reports: {args.out / 'mutation.md'}, {args.out / 'mutation.json'}")
    below = [s for s in scores if s.score < args.goal]
    for s in below:
        print(f"below the {args.goal:g}% goal: {s.path} {s.score:.1f}%")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
