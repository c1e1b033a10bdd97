"""The drop-in check: a real blockbuster suite, run with blockbuster and with the gate swapped in.

Three suites, each as its sdist on PyPI ships it (``--suite``):

- ``langchain-core``: its unit tests (``tests/unit_tests``), an autouse
  fixture ``blockbuster_ctx("langchain_core")`` with ``can_block_in``
  exemptions (inside the package, in langsmith, in freezegun's module walk),
  tests that call ``deactivate()``, a smoke test that expects
  ``BlockingError``.
- ``langchain`` (v1, agents and middleware): its unit tests, an autouse
  fixture ``blockbuster_ctx()`` that names no module (blockbuster then
  watches every call on the loop), and for the MCP tests a second fixture
  that exempts FastMCP's dependency probe in every function of the handle.
  The gate refuses to scan everything, so the swap names the package and
  the suite's own test package (``GATE_SCANNED_MODULES``): the change such a
  fixture needs is the import plus that argument.
- ``langchain-community``: its unit tests, an autouse
  ``blockbuster_ctx("langchain_community")`` with chained ``can_block_in``
  exemptions for ``os.stat`` (in the package and in httpx) and
  ``os.path.abspath`` (in SQLAlchemy's SQLite dialect).

Nothing of theirs is edited: the package is installed from PyPI into a
scratch venv outside this repository, the sdist's ``tests/`` and
``pyproject.toml`` (its pytest settings) are copied beside it, and the
gate (this folder) is installed beside it, and the swapped runs load
``blockgate.swap`` with ``-p``, which hands the conftest's ``from blockbuster
import blockbuster_ctx`` the gate's (the blockbuster runs leave the gate's
plugin out).

Runs, each over the whole unit suite: blockbuster (the suite as published),
the gate with its default import policy (``import-work``), the gate with
``report``. With ``--alone``, every test file that has an ``async`` test also
runs alone under blockbuster and under the gate with ``report``: a lazy
import on the loop happens only in the file that imports first, so an
order-dependent difference shows only there.

Prints the counts of each run and every test whose outcome differs from
blockbuster's and differs again when its file runs once more under both
(a timing assertion on a loaded machine fails now and then under either),
with the gate's message and a verdict from the suite's table (``verdicts``
in ``SUITES``, read by hand: is the call real blocking IO on the loop?). Exits 1 if a difference
has no verdict or a false-positive one.

Usage (in gate/): python -m maintenance.compat_blockbuster [--suite langchain-core|langchain|langchain-community]
       [--dir DIR] [--python python3.11] [--version VERSION] [--alone] [--scan MODULES]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

GATE_DIR = Path(__file__).resolve().parents[1]

# What a difference is, read by hand: (substring of the gate's message, verdict, why).
VERDICTS: tuple[tuple[str, str, str], ...] = (
    (
        "ssl.SSLContext.load_verify_locations from",
        "true positive",
        "SSRFSafeTransport() builds an httpx transport on the loop, whose SSL context reads the CA "
        "bundle from disk; blockbuster does not watch certificate loading",
    ),
)


@dataclass(frozen=True)
class Suite:
    """One published blockbuster suite: where it comes from and how its project runs it."""

    package: str
    version: str
    tests: str
    verdicts: tuple[tuple[str, str, str], ...]
    # Installed beside the package and its ``test`` dependency group, each with its reason.
    extra_requirements: tuple[str, ...] = ()
    # The flags and environment of the project's own unit-test command.
    pytest_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # For a fixture that calls ``blockbuster_ctx()`` with no module (see blockgate.swap).
    scanned_if_none: str = ""


SUITES: dict[str, Suite] = {
    # 1.8.4, the newest, needs a langchain-protocol release that PyPI does not serve yet.
    "langchain-core": Suite("langchain-core", "1.8.3", "tests/unit_tests", VERDICTS),
    "langchain": Suite(
        "langchain",
        "1.5.2",
        "tests/unit_tests",
        # No difference to judge so far; a new one fails the check until it has a verdict here.
        verdicts=(),
        extra_requirements=(
            # The unit conftest imports vcr, which its pyproject lists only in test_integration.
            "vcrpy>=8.2.0,<9.0.0",
            # The version its uv.lock pins: newer releases draw tool names into the graph's
            # mermaid text, and 7 snapshot tests then fail under either detector.
            "langgraph==1.2.16",
        ),
        # Its Makefile's `test` target, less `-n auto` (one process, so runs compare test by test).
        pytest_args=("--benchmark-disable", "--disable-socket", "--allow-unix-socket"),
        env={"LANGGRAPH_TEST_FAST": "1"},
        scanned_if_none="langchain,tests",
    ),
    "langchain-community": Suite(
        "langchain-community",
        "0.4.2",
        "tests/unit_tests",
        verdicts=(
            (
                "ssl.SSLContext.load_verify_locations from",
                "true positive",
                "ChatClovaX() on the loop builds an httpx.Client and an httpx.AsyncClient in its "
                "validator, and each SSL context reads and parses the CA bundle from disk; the "
                "suite exempts os.stat on that path, not the certificate load",
            ),
        ),
        extra_requirements=(
            # Two test modules import them at the top, and pytest stops at a collection error:
            # SQLAlchemy's asyncio extension needs greenlet, the GitBook loader's test bs4.
            "greenlet",
            "beautifulsoup4",
        ),
        # Its Makefile's `test` target, less `-n auto` (one process, so runs compare test by test).
        pytest_args=("--disable-socket", "--allow-unix-socket"),
    ),
}


@dataclass(frozen=True)
class Outcome:
    kind: str  # passed, failed, error, skipped
    message: str = ""


def say(message: str) -> None:
    print(f"[compat {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, text=True, **kwargs)


def prepare(scratch: Path, python: str, spec: Suite, version: str) -> tuple[Path, Path]:
    """The scratch venv (with the package and its test group) and the suite's folder."""
    venv = scratch / "venv"
    suite = scratch / f"suite-{version}"
    if not (venv / "bin" / "python").exists():
        say(f"creating {venv} with {python}")
        run([python, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    if not suite.exists():
        downloads = scratch / "sdist"
        say(f"downloading the {spec.package}=={version} sdist")
        download = [py, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
        run([*download, f"{spec.package}=={version}", "-d", str(downloads)])
        (archive,) = downloads.glob(f"{spec.package.replace('-', '_')}-{version}.tar.gz")
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # the safe filter, where this Python has it
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
            (root,) = Path(tmp).iterdir()
            suite.mkdir(parents=True)
            # Only the tests and the pytest settings: the package itself comes from the wheel.
            shutil.copytree(root / "tests", suite / "tests")
            shutil.copy(root / "pyproject.toml", suite / "pyproject.toml")
    marker = venv / f".installed-{version}"
    if not marker.exists():
        group = subprocess.run(
            [py, "-c", "import sys, tomllib; print('\\n'.join(tomllib.load(open(sys.argv[1], 'rb'))"
             "['dependency-groups']['test']))", str(suite / "pyproject.toml")],
            check=True, text=True, capture_output=True,
        ).stdout.split("\n")  # fmt: skip
        requirements = [f"{spec.package}=={version}", *filter(None, group), *spec.extra_requirements]
        say(
            f"installing {spec.package}=={version}, its test group and "
            f"{len(spec.extra_requirements)} more ({len(requirements) - 1} requirements)"
        )
        run([py, "-m", "pip", "install", "-q", *requirements])
        marker.write_text("")
    # The gate as a user installs it, afresh each run: the check is of the gate as it is now.
    run([py, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(GATE_DIR)])
    return venv, suite


def pytest_run(
    spec: Suite, venv: Path, suite: Path, label: str, paths: list[str], swap: str | None, out: Path
) -> dict[str, Outcome]:
    """One pytest run of ``paths``; ``swap`` is None (blockbuster) or the gate's import policy."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(spec.env)
    extra: list[str] = list(spec.pytest_args)
    if swap is None:
        extra += ["-p", "no:blockgate"]
    else:
        env["GATE_IMPORT_POLICY"] = swap
        env["GATE_SCANNED_MODULES"] = spec.scanned_if_none
        extra += ["-p", "blockgate.swap"]
    xml = out / f"{label}.xml"
    command = [str(venv / "bin" / "python"), "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider"]
    command += [*extra, f"--junitxml={xml}"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=suite, env=env, text=True, capture_output=True, timeout=1800)
    (out / f"{label}.log").write_text(result.stdout + result.stderr)
    outcomes = read_junit(xml)
    say(f"{label}: {summary(outcomes)} in {time.monotonic() - started:.0f} s (exit {result.returncode})")
    return outcomes


def read_junit(path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        kind, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message", "")
                break
        outcomes[test] = Outcome(kind, message)
    return outcomes


def summary(outcomes: dict[str, Outcome]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    return ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in ("passed", "failed", "error", "skipped"))


def verdict(message: str, verdicts: tuple[tuple[str, str, str], ...] = VERDICTS) -> tuple[str, str]:
    for needle, name, why in verdicts:
        if needle in message:
            return name, why
    return "unjudged", "no verdict recorded in VERDICTS: read the call and add one"


def differences(base: dict[str, Outcome], other: dict[str, Outcome]) -> list[tuple[str, Outcome, Outcome]]:
    tests = sorted(set(base) | set(other))
    missing = Outcome("absent")
    return [
        (t, base.get(t, missing), other.get(t, missing))
        for t in tests
        if base.get(t, missing).kind != other.get(t, missing).kind
    ]


def report(
    label: str,
    diffs: list[tuple[str, Outcome, Outcome]],
    verdicts: tuple[tuple[str, str, str], ...] = VERDICTS,
) -> bool:
    """Print the differences of one swapped run; True when each is a recorded true positive."""
    if not diffs:
        say(f"{label}: no difference from blockbuster")
        return True
    say(f"{label}: {len(diffs)} test(s) differ from blockbuster")
    groups: dict[str, list[str]] = {}
    for test, before, after in diffs:
        message = (after.message or before.message).split("\n", 1)[0]
        groups.setdefault(f"{before.kind} -> {after.kind}: {message}", []).append(test)
    ok = True
    for key, tests in groups.items():
        name, why = verdict(key, verdicts)
        ok &= name == "true positive"
        print(f"  {len(tests)} x {key}\n    verdict: {name} ({why})")
        for test in tests:
            print(f"      {test}")
    return ok


def file_of_test(suite: Path, test: str) -> str:
    """``tests.unit_tests.a.test_b.TestC::test_d`` -> ``tests/unit_tests/a/test_b.py``."""
    parts = test.split("::", 1)[0].split(".")
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (suite / path).is_file():
            return str(path)
    raise LookupError(f"no test file for {test}")


def reproduced(
    spec: Suite,
    venv: Path,
    suite: Path,
    label: str,
    diffs: list[tuple[str, Outcome, Outcome]],
    swap: str,
    out: Path,
) -> list[tuple[str, Outcome, Outcome]]:
    """The differences that show again when their files run once more, alone, under both detectors.

    A timing assertion on a loaded machine can fail under either; what the
    gate finds fails again. The others are printed and dropped.
    """
    if not diffs:
        return diffs
    files = sorted({file_of_test(suite, test) for test, _, _ in diffs})
    again_base = pytest_run(spec, venv, suite, f"{label}-again-blockbuster", files, None, out)
    again_gate = pytest_run(spec, venv, suite, f"{label}-again-gate", files, swap, out)
    again = {test for test, _, _ in differences(again_base, again_gate)}
    for test, before, after in diffs:
        if test not in again:
            say(f"not reproduced, dropped: {test} ({before.kind} -> {after.kind}, then the same under both)")
    return [diff for diff in diffs if diff[0] in again]


def async_test_files(suite: Path, tests: str) -> list[str]:
    return sorted(
        str(path.relative_to(suite))
        for path in (suite / tests).rglob("test_*.py")
        if "async def test" in path.read_text(encoding="utf-8")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="langchain-core")
    parser.add_argument(
        "--dir",
        type=Path,
        help="the scratch folder (default, in the temporary folder: blockgate-compat-SUITE)",
    )
    parser.add_argument("--python", default="python3.11", help="an interpreter both packages support (3.11+)")
    parser.add_argument("--version", help="the package's version (default: the suite's, see SUITES)")
    parser.add_argument("--alone", action="store_true", help="also run each async test file alone")
    parser.add_argument(
        "--scan",
        metavar="MODULES",
        help="comma-separated modules the gate scans for a fixture that names none "
        "(default: the suite's, see SUITES)",
    )
    args = parser.parse_args(argv)
    spec = SUITES[args.suite]
    if args.scan is not None:
        spec = replace(spec, scanned_if_none=args.scan)
    if args.dir is None:
        args.dir = Path(tempfile.gettempdir()) / f"blockgate-compat-{args.suite}"
    scratch = args.dir.resolve()
    if scratch.is_relative_to(GATE_DIR.parent):
        parser.error("--dir must lie outside the repository: nothing of the suite is kept here")
    venv, suite = prepare(scratch, args.python, spec, args.version or spec.version)
    out = scratch / "results"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    base = pytest_run(spec, venv, suite, "blockbuster", [spec.tests], None, out)
    ok = True
    for policy in ("import-work", "report"):
        swapped = pytest_run(spec, venv, suite, f"gate-{policy}", [spec.tests], policy, out)
        diffs = reproduced(spec, venv, suite, f"gate-{policy}", differences(base, swapped), policy, out)
        ok &= report(f"gate ({policy})", diffs, spec.verdicts)
    if args.alone:
        files = async_test_files(suite, spec.tests)
        say(f"each of {len(files)} files with an async test, alone")
        for n, path in enumerate(files):
            alone_base = pytest_run(spec, venv, suite, f"alone-{n}-blockbuster", [path], None, out)
            alone_gate = pytest_run(spec, venv, suite, f"alone-{n}-gate-report", [path], "report", out)
            diffs = reproduced(
                spec, venv, suite, f"alone-{n}", differences(alone_base, alone_gate), "report", out
            )
            ok &= report(f"{path} alone, gate (report)", diffs, spec.verdicts)
    say(
        "every difference is a recorded true positive"
        if ok
        else "a difference is unjudged or a false positive"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
