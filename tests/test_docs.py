"""runlog's docs held against the code: README.md and docs/*.md.

Every fenced block is marked (an example a test runs, an output, or a command
checked rather than run), every example is named by a test, every checked
command names tox envs, modules, options and paths that exist, every relative
link resolves. The examples themselves run here: the curl examples against a
real ``python -m runlog serve``, the Python examples in a scratch folder, the
configuration examples against the files runlog runs with.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blockgate.accepted import accepted_unguarded, outside_sites, requirements
from tests.docs import (
    REPO_DIR,
    blocks,
    command_problems,
    commands,
    defined_tox_envs,
    doc_paths,
    examples,
    examples_named_by_tests,
    link_problems,
    links,
    output_after,
)

PAGES = doc_paths()
PAGE_IDS = [p.relative_to(REPO_DIR).as_posix() for p in PAGES]
KINDS = ("example", "output", "command")

README = "README.md"
SERVICE = "docs/service.md"
STORES = "docs/stores.md"
GATE_IN_RUNLOG = "docs/gate-in-runlog.md"
DEVELOPMENT = "docs/development.md"


# -- every page: markers, example names, commands, links ----------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_block_is_marked(page):
    found = blocks(page)
    unmarked = [f"line {b.line}" for b in found if b.kind not in KINDS]
    assert not unmarked, f"{page.name}: blocks without an example/output/command marker: {unmarked}"
    commands_marked = [b for b in found if b.kind == "command"]
    assert all(b.label == "checked" for b in commands_marked), (
        "a command marker reads <!-- command: checked -->"
    )
    names = [b.label for b in found if b.kind == "example"]
    assert len(names) == len(set(names)), f"{page.name}: an example name is used twice: {names}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_example_is_run_by_a_test(page):
    doc = page.relative_to(REPO_DIR).as_posix()
    named = examples_named_by_tests(REPO_DIR / "tests").get(doc, set())
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


def test_the_tox_env_reading_sees_every_factor():
    known = defined_tox_envs(REPO_DIR / "tox.ini")
    assert {"lint", "py310", "py313", "blocking", "blocking-py311", "teeth", "gate"} <= known
    assert {"gate-py310", "gate-py313", "blindspots-py312", "bench", "mutation"} <= known
    assert "gate-py311" not in known  # the gate env covers 3.11


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_relative_links_resolve(page):
    assert link_problems(page) == []


def test_the_readme_is_a_front_page():
    text = (REPO_DIR / README).read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    quick_start = next(b for b in blocks(REPO_DIR / README) if b.kind == "command")
    assert [c.words for c in commands(quick_start.text)] == [
        ["pip", "install", "tox"],
        ["tox", "-e", "blocking"],
        ["tox"],
    ]
    linked = {target.split("#")[0] for _, target in links(REPO_DIR / README)}
    pages = {p.relative_to(REPO_DIR).as_posix() for p in (REPO_DIR / "docs").glob("*.md")}
    pages |= {p.relative_to(REPO_DIR).as_posix() for p in (REPO_DIR / "gate" / "docs").glob("*.md")}
    assert pages | {"gate/README.md"} <= linked, "the README links every page"


def test_the_layout_table_names_what_exists():
    text = (REPO_DIR / DEVELOPMENT).read_text(encoding="utf-8")
    layout = text[text.index("## Layout") :]
    paths = re.findall(r"^\| `([^`]+)` \|", layout, re.MULTILINE)
    assert len(paths) > 10
    assert [p for p in paths if not (REPO_DIR / p).exists()] == []


# -- the examples, run ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(data_dir: Path) -> Iterator[int]:
    """A real ``python -m runlog serve`` on a free port of 127.0.0.1, until the block ends."""
    port = free_port()
    cmd = [sys.executable, "-m", "runlog", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "the server did not answer within 30 s"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def run_curl(block: str, port: int) -> str:
    """The output of a block of curl commands, one per line, sent to ``port`` instead of 8000."""
    out = []
    for line in block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").splitlines():
        if not line.strip():
            continue
        words = shlex.split(line)
        assert words[0] == "curl", line
        done = subprocess.run([*words, "--max-time", "20"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        out.append(done.stdout)
    return "".join(out)


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")


@needs_curl
def test_the_readme_curl_example_against_a_real_server(tmp_path):
    with serving(tmp_path / "data") as port:
        assert run_curl(examples(README)["curl"], port) == output_after(README, "curl")


SERVICE_EXAMPLES = [
    "append",
    "append-once",
    "append-once-again",
    "batch",
    "page",
    "run-events",
    "window",
    "unknown-key",
    "delete-run",
]


@needs_curl
def test_the_service_examples_in_order_against_a_real_server(tmp_path):
    found = examples(SERVICE)
    assert list(found) == SERVICE_EXAMPLES, "the page's examples, in the order they run"
    with serving(tmp_path / "data") as port:
        for name in SERVICE_EXAMPLES:
            assert run_curl(found[name], port) == output_after(SERVICE, name), name


@pytest.mark.parametrize("name", ["store-api", "sql-store", "sqlite-synchronous", "pool-size"])
def test_the_store_examples_print_what_the_page_says(name, tmp_path):
    script = tmp_path / f"{name}.py"
    script.write_text(examples(STORES)[name])
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == output_after(STORES, name)


def test_the_gate_configuration_shown_is_setup_cfgs():
    shown = configparser.ConfigParser(interpolation=None)
    shown.read_string(examples(GATE_IN_RUNLOG)["setup-cfg"])
    real = configparser.ConfigParser(interpolation=None)
    real.read(REPO_DIR / "setup.cfg")
    keys = dict(shown["tool:pytest"])
    assert set(keys) == {"gate_modules", "gate_paths", "gate_import_policy"}
    assert keys == {key: real["tool:pytest"][key] for key in keys}


def test_the_header_shown_is_what_the_gate_prints():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-p",
            "no:cacheprovider",
            "tests_blocking/anchors/test_skills.py",
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    platform = next(i for i, line in enumerate(lines) if line.startswith("platform "))
    header = lines[platform + 1 : platform + 4]
    shown = output_after(GATE_IN_RUNLOG, "setup-cfg").splitlines()
    assert header[1:] == shown[1:]
    assert header[0].startswith("blocking gate: scanning runlog; rules armed: ")
    if sys.version_info[:2] == (3, 11):  # the page shows 3.11's counts
        assert header[0] == shown[0]


def test_the_accepted_file_shown_is_runlogs(tmp_path):
    shown = tmp_path / "accepted.toml"
    shown.write_text(examples(GATE_IN_RUNLOG)["accepted"])
    real = REPO_DIR / "tests_blocking" / "accepted.toml"
    assert accepted_unguarded(shown) == accepted_unguarded(real) == ([], [])
    assert outside_sites(shown) == outside_sites(real)
    assert outside_sites(shown)[1] == [] and len(outside_sites(shown)[0]) == 1
    assert requirements(shown) == requirements(real)
    assert [r.site for r in requirements(shown)[0]] == [
        "runlog/events/sql.py::SqlRunEventStore._pg_write_group",
        "runlog/events/sql.py::SqlRunEventStore._claim",
    ]
