"""The gate's docs held against the code: README.md and docs/*.md.

Every fenced block is marked (an example a test runs, an output, or a command
checked rather than run), every example is named by a test, every checked
command names tox envs, modules, options and paths that exist, every relative
link resolves and stays inside the gate's folder, no page names a project
that uses the gate, and the plugin's options and the docs are held against
each other (every option and ini key it registers is documented, every
documented ``--gate-*`` option exists). The examples run here, on throwaway
projects: the README's shop, the pantry of the static half's worked example.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blockgate import GateBlockingError, armed_gate, plugin
from blockgate.accepted import Requirement, accepted_unguarded, outside_sites, requirements
from blockgate.classification import CLASSIFICATION
from blockgate.rules import EXEMPT_CALLERS, Scene
from tests.docs import (
    GATE_DIR,
    REPO_DIR,
    blocks,
    command_problems,
    commands,
    defined_tox_envs,
    doc_paths,
    examples,
    examples_named_by_tests,
    link_problems,
    output_after,
)
from tests.test_foreign_project import make_shop

PAGES = doc_paths()
PAGE_IDS = [p.relative_to(GATE_DIR).as_posix() for p in PAGES]
KINDS = ("example", "output", "command")

GATE = "docs/gate.md"
BLOCKBUSTER = "docs/blockbuster.md"
STATIC = "docs/static-half.md"
TEETH = "docs/teeth.md"
MAINTAINING = "docs/maintaining.md"

RUN_SECONDS = 300  # a pytest, coverage or teeth run on a project of one or two files


# -- every page: markers, example names, commands, links, what it names -------------------------


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_block_is_marked(page):
    found = blocks(page)
    unmarked = [f"line {b.line}" for b in found if b.kind not in KINDS]
    assert not unmarked, f"{page.name}: blocks without an example/output/command marker: {unmarked}"
    assert all(b.label == "checked" for b in found if b.kind == "command")
    names = [b.label for b in found if b.kind == "example"]
    assert len(names) == len(set(names)), f"{page.name}: an example name is used twice: {names}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_example_is_run_by_a_test(page):
    doc = page.relative_to(GATE_DIR).as_posix()
    named = examples_named_by_tests(GATE_DIR / "tests").get(doc, set())
    missing = sorted(set(examples(doc)) - named)
    assert not missing, f"{doc}: examples no test of tests/ reads: {missing}"


@pytest.fixture(scope="module")
def help_texts() -> dict:
    return {}


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_checked_commands_name_what_exists(page, help_texts):
    known = defined_tox_envs(REPO_DIR / "tox.ini")
    problems = []
    for block in blocks(page):
        if block.kind == "command":
            for command in commands(block.text):
                problems += command_problems(command, REPO_DIR, known, help_texts)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_relative_links_resolve_inside_the_gate(page):
    assert link_problems(page, inside=GATE_DIR) == []


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_no_page_names_a_project_that_uses_the_gate(page):
    assert "runlog" not in page.read_text(encoding="utf-8").lower()


class _Registered:
    """Stands in for pytest's parser: records what the plugin registers."""

    def __init__(self) -> None:
        self.options: list[str] = []
        self.ini: list[str] = []

    def getgroup(self, *args: object, **kwargs: object) -> _Registered:
        return self

    def addoption(self, *names: str, **kwargs: object) -> None:
        self.options += names

    def addini(self, name: str, *args: object, **kwargs: object) -> None:
        self.ini.append(name)


def test_the_plugins_options_and_the_docs_match():
    registered = _Registered()
    plugin.pytest_addoption(registered)  # type: ignore[arg-type]
    assert registered.options and registered.ini
    manual = (GATE_DIR / GATE).read_text(encoding="utf-8")
    names = [*registered.options, *registered.ini, plugin.GATE_MARKER, plugin.OPT_OUT_MARKER]
    undocumented = [name for name in names if f"`{name}" not in manual]
    assert not undocumented, f"{GATE} does not document {undocumented}"
    assert f"{plugin.ENVIRONMENT_SWITCH}=off" in manual
    every_page = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    documented = set(re.findall(r"--gate(?:-[a-z]+)*", every_page))
    assert documented <= set(registered.options), (
        f"documented, not registered: {documented - set(registered.options)}"
    )


# -- running examples -----------------------------------------------------------------------------

PROGRAMS = {
    "python": [sys.executable],
    "pytest": [sys.executable, "-m", "pytest"],
    "coverage": [sys.executable, "-m", "coverage"],
}


def _environment(**extra: str) -> dict[str, str]:
    # This session's own pytest and coverage settings must not reach the project's runs.
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVERAGE_", "COV_CORE"))}
    return {**keep, **extra}


def run(line: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One shell line of an example: ``VAR=value`` prefixes, then python, pytest or coverage."""
    words = shlex.split(line, comments=True)
    while re.match(r"^[A-Za-z_]\w*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return subprocess.run(
        [*PROGRAMS[words[0]], *words[1:]],
        cwd=cwd,
        env=_environment(**env),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )


def run_block(block: str, cwd: Path, **env: str) -> list[subprocess.CompletedProcess[str]]:
    return [run(line, cwd, **env) for line in block.splitlines() if line.strip()]


def shows(output: str, block: str) -> list[str]:
    """The lines of an output block that the output does not hold (whole lines)."""
    lines = {line.rstrip() for line in output.splitlines()}
    return [line for line in block.splitlines() if line.rstrip() not in lines]


def header(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    platform = next(i for i, line in enumerate(lines) if line.startswith("platform "))
    return lines[platform + 1 : platform + 4]


def output_labelled(doc: str, label: str) -> str:
    return next(b.text for b in blocks(GATE_DIR / doc) if b.kind == "output" and b.label.startswith(label))


# -- docs/gate.md: the README's shop, configured as the page says --------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    make_shop(tmp_path)
    return tmp_path


def test_the_configuration_example_arms_what_the_header_says(shop):
    (shop / "pytest.ini").write_text(examples(GATE)["configure"])
    done = run("pytest gate_tests tests", shop)
    assert "1 failed, 4 passed" in done.stdout, done.stdout  # the shop's swallowing helper fails
    shown = output_labelled(GATE, "the header of the configured project").splitlines()
    got = header(done.stdout)
    assert got[1:] == shown[1:]
    assert got[0].startswith("blocking gate: scanning shop; rules armed: ")
    if sys.version_info[:2] == (3, 11):  # the page shows 3.11's counts
        assert got[0] == shown[0]


def test_a_marked_test_outside_the_gate_folders_is_gated(shop):
    marked = examples(GATE)["marked"]
    (shop / "tests" / "test_marked.py").write_text(marked)
    (shop / "tests" / "test_marked_blocking.py").write_text(
        marked.replace("has_prices_offloaded", "has_prices")
    )
    done = run("pytest tests/test_marked.py tests/test_marked_blocking.py", shop)
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "GateBlockingError: Blocking call to os.stat from src/shop/__init__.py:7" in done.stdout
    assert "FAILED tests/test_marked_blocking.py::test_prices_under_the_gate" in done.stdout


def test_a_run_that_selects_no_gate_test_stops(shop):
    done = run(examples(GATE)["no-gate-test"], shop)
    assert done.returncode == 4, done.stdout + done.stderr
    assert shows(done.stderr, output_after(GATE, "no-gate-test")) == []
    assert run("pytest tests -k unit", shop).returncode == 0


def test_an_opted_out_test_runs_and_is_listed(shop):
    (shop / "gate_tests" / "test_opt_out.py").write_text(examples(GATE)["opt-out"])
    done = run("pytest gate_tests/test_opt_out.py", shop)
    assert "1 passed" in done.stdout, done.stdout
    assert (
        "gate_tests/test_opt_out.py::test_both_paths_agree: compares the blocking path with the offloaded one"
        in done.stdout
    )


def test_gate_off_says_so(shop):
    done = run(examples(GATE)["gate-off"], shop)
    assert shows(done.stdout, output_after(GATE, "gate-off")) == []
    assert "DISARMED (--gate=off): blocking calls were not checked" in done.stdout
    assert "FAILED gate_tests/test_prices.py::test_smoke_the_gate_fires" in done.stdout  # as the page says


def test_unconfigured_the_header_says_inert(shop):
    (shop / "pytest.ini").write_text(SUITE_INI)
    done = run("pytest tests", shop)
    assert (
        header(done.stdout)[0]
        == output_labelled(GATE, "the header line of a project that configures no").strip()
    )


def test_the_gate_outside_pytest(shop):
    (shop / "check_gate.py").write_text(examples(GATE)["outside-pytest"])
    done = run("python check_gate.py", shop, PYTHONPATH="src")
    assert done.returncode == 0, done.stderr
    assert done.stdout == output_after(GATE, "outside-pytest")


# -- docs/blockbuster.md: a blockbuster suite on the shop -----------------------------------------

SUITE_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\npythonpath = src\n"
SUITE_TEST = """
import shop


async def test_prices(price_root):
    assert await shop.has_prices(price_root) is True
"""
GATE_IMPORT = "from blockgate import blockbuster_ctx  # was: from blockbuster import blockbuster_ctx"
BLOCKBUSTER_IMPORT = "from blockbuster import blockbuster_ctx"
EXEMPTION = '        bb.functions["os.stat"].can_block_in("shop/__init__.py", "_price_file_exists")\n'


def blockbuster_suite(root: Path, conftest: str) -> Path:
    """The shop with a blockbuster suite: the fixture as given, no gate configuration."""
    make_shop(root)
    (root / "pytest.ini").write_text(SUITE_INI)
    (root / "tests" / "conftest.py").write_text(conftest)
    (root / "tests" / "test_shop.py").write_text(SUITE_TEST)
    return root


def test_the_fixture_with_one_import_changed(tmp_path):
    fixture = examples(BLOCKBUSTER)["fixture"]
    assert GATE_IMPORT in fixture and EXEMPTION in fixture
    suite = blockbuster_suite(tmp_path / "gate", fixture)
    done = run("pytest tests", suite)
    assert "2 passed" in done.stdout, done.stdout  # the exemption holds, as in blockbuster
    (suite / "tests" / "conftest.py").write_text(fixture.replace(EXEMPTION, ""))
    done = run("pytest tests", suite)
    assert "2 failed" in done.stdout, done.stdout
    assert "GateBlockingError: Blocking call to os.stat from src/shop/__init__.py:7" in done.stdout
    original = blockbuster_suite(tmp_path / "blockbuster", fixture.replace(GATE_IMPORT, BLOCKBUSTER_IMPORT))
    assert "2 passed" in run("pytest tests", original).stdout


def test_the_swap_plugin_with_no_file_edited(tmp_path):
    conftest = examples(BLOCKBUSTER)["fixture"].replace(GATE_IMPORT, BLOCKBUSTER_IMPORT)
    suite = blockbuster_suite(tmp_path, conftest)
    done = run(examples(BLOCKBUSTER)["swap"], suite)
    assert "2 passed" in done.stdout, done.stdout
    assert shows(done.stdout, output_after(BLOCKBUSTER, "swap")) == []
    (suite / "tests" / "conftest.py").write_text(conftest.replace(EXEMPTION, ""))
    done = run(examples(BLOCKBUSTER)["swap"], suite)
    assert "GateBlockingError: Blocking call to os.stat from src/shop/__init__.py:7" in done.stdout


# -- docs/static-half.md and docs/teeth.md: the pantry ---------------------------------------------


def make_pantry(root: Path) -> Path:
    found = examples(STATIC)
    for relpath, name in (
        ("src/pantry/__init__.py", "pantry-package"),
        ("gate_tests/test_pantry.py", "pantry-gate-test"),
        ("pytest.ini", "pantry-ini"),
    ):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(found[name])
    return root


@pytest.fixture(scope="module")
def pantry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[subprocess.CompletedProcess[str]]]:
    """The worked example, built from the page, after its gate run, review and static half."""
    root = make_pantry(tmp_path_factory.mktemp("pantry"))
    return root, run_block(examples(STATIC)["pantry-review"], root)


def test_the_worked_example_review_and_join(pantry):
    _, runs = pantry
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stdout + r.stderr for r in runs]
    assert "1 passed" in runs[0].stdout
    printed = "".join(r.stdout for r in runs)
    assert shows(printed, output_after(STATIC, "pantry-review")) == []


def test_the_accepted_file_is_read_as_the_page_says(pantry, tmp_path):
    root, _ = pantry
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(examples(STATIC)["accepted"])
    [entry], errors = accepted_unguarded(accepted)
    assert errors == [] and (entry.path, entry.function, entry.primitive) == (
        "pantry/__init__.py",
        "_read_stock",
        "pathlib.Path.exists",
    )
    assert outside_sites(accepted)[0] == {
        "pantry/__init__.py::stock": "the offloaded work blocks inside a library, which the static half does not read"
    }
    assert requirements(accepted) == (
        [
            Requirement(
                "pantry/__init__.py::restock",
                "PANTRY_TEST_DATABASE_URL",
                "runs only against the database server; its gate tests skip without one",
            )
        ],
        [],
    )
    # The pantry's one candidate-free run: the [[unguarded]] entry accepts nothing, so it is stale.
    done = run(
        f"python -m blockgate.static --root src --package pantry --coverage .coverage --accepted {accepted} --out {tmp_path}",
        root,
    )
    assert done.returncode == 1
    assert (
        "error: stale entry in accepted.toml: pantry/__init__.py _read_stock pathlib.Path.exists matches no candidate"
        in done.stdout
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed on this machine")
def test_changed_since_names_the_removed_offload_and_the_new_call(tmp_path):
    root = make_pantry(tmp_path)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.invalid", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "the pantry")
    git("checkout", "-q", "-b", "topic")
    package = root / "src" / "pantry" / "__init__.py"
    offloaded = "    await asyncio.to_thread(_write_stock, path, current)\n"
    assert offloaded in package.read_text()
    package.write_text(package.read_text().replace(offloaded, "    _write_stock(path, current)\n"))
    done = run(examples(STATIC)["changed-since"], root)
    assert done.returncode == 0, done.stderr
    assert shows(done.stdout, output_after(STATIC, "changed-since")) == []
    import json

    [candidate] = json.loads((root / "reports" / "changes" / "static-inventory.json").read_text())[
        "candidates"
    ]
    assert (candidate["path"], candidate["line"], candidate["function"], candidate["primitive"]) == (
        "pantry/__init__.py",
        15,
        "_write_stock",
        "pathlib.Path.write_text",
    )
    assert candidate["entries"] == ["pantry.add"]


def test_teeth_on_the_worked_example(pantry):
    root, _ = pantry
    done = run(examples(TEETH)["teeth-run"], root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert shows(done.stdout, output_after(TEETH, "teeth-run")) == []
    assert {"teeth.json", "teeth.md", "coroutines.json"} <= {
        p.name for p in (root / "reports" / "teeth").iterdir()
    }


# -- docs/maintaining.md ----------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "lockf"), reason="this system has no os.lockf")
async def test_the_rule_entry_is_a_rule_that_proves_itself(tmp_path, monkeypatch):
    package = tmp_path / "docrule"
    package.mkdir()
    (package / "__init__.py").write_text(examples(MAINTAINING)["rule-entry"])
    monkeypatch.syspath_prepend(str(tmp_path))
    import docrule

    rule = docrule.RULE
    try:
        scene = await asyncio.to_thread(Scene, tmp_path / "scene")
        with armed_gate(["docrule"], rules=[rule], blockbuster_defaults=False) as gate:
            await asyncio.to_thread(rule.fires.prepare, scene)
            with pytest.raises(GateBlockingError, match=r"os\.lockf from .*docrule"):
                rule.fires.call(scene)  # on the loop: it fires
            await asyncio.to_thread(rule.fires.call, scene)  # offloaded: silent
            rule.passes.call(scene)  # the non-blocking form, on the loop: silent
            assert len(gate.hits) == 1
        await asyncio.to_thread(scene.cleanup)
    finally:
        sys.modules.pop("docrule", None)


def test_the_classification_entries_agree_with_the_table():
    namespace: dict[str, object] = {}
    exec(examples(MAINTAINING)["classification"], namespace)
    entries = namespace["ENTRIES"]
    assert entries
    for entry in entries:
        if entry.applies():
            assert CLASSIFICATION.verdict(entry.pattern) == entry.verdict, entry.pattern


def test_the_exempt_caller_is_the_tables():
    namespace: dict[str, object] = {}
    exec(examples(MAINTAINING)["exempt-caller"], namespace)
    assert namespace["LINECACHE"] in EXEMPT_CALLERS
