"""The static inventory on fixture packages; its coverage join, accepted list and changed mode.

Expected findings live in the fixtures' source (``tests/static_fixtures/``): a
``# blocking: <primitive>`` comment on each line where the inventory must
report that primitive, nothing on lines where it must not. One parametrized
test compares exactly, so a new case is a new fixture line.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import coverage
import pytest

from blockgate.rules import RULES
from blockgate.static import primitives, walk
from blockgate.static.cli import main
from blockgate.static.primitives import primitive_table, public_name, rule_names
from blockgate.static.reach import scan
from tests.expectations import expected_findings

FIXTURES = Path(__file__).parent / "static_fixtures"
PACKAGES = sorted(p.name for p in FIXTURES.iterdir() if (p / "__init__.py").exists())
GATE_TEST = "gate_tests/test_demo.py::test_guarded"
GATED = GATE_TEST + "|gated"


@pytest.fixture(scope="module")
def table():
    return primitive_table()


# clients_pkg calls real third-party clients: the gate's test extra installs them (pure Python,
# every supported version); psycopg2 is not installed there and its calls are spelled to be found.
CLIENT_LIBRARIES = ("requests", "httpx", "urllib3", "psycopg", "redis", "boto3")


def missing_libraries() -> list[str]:
    return [name for name in CLIENT_LIBRARIES if importlib.util.find_spec(name) is None]


@pytest.mark.parametrize("package", PACKAGES)
def test_fixture_findings_match_the_comments(package, table):
    if package == "clients_pkg" and missing_libraries():
        pytest.skip(f"client libraries not installed: {missing_libraries()} (pip install -e 'gate[test]')")
    result = scan(FIXTURES, [package], table)
    found = {(c.path, c.line, c.primitive) for c in result.candidates}
    expected = expected_findings(FIXTURES, package)
    assert sorted(found - expected) == [], "reported, not marked # blocking"
    assert sorted(expected - found) == [], "marked # blocking, not reported"


def test_the_fixtures_pin_something():
    assert len(expected_findings(FIXTURES, "reach_pkg")) >= 20
    assert expected_findings(FIXTURES, "quiet_pkg") == set()


def test_entries_and_chain(table):
    result = scan(FIXTURES, ["reach_pkg"], table)
    by_line = {(c.path, c.primitive): c for c in result.candidates}
    opened = by_line[("reach_pkg/helpers.py", "builtins.open")]
    assert opened.function == "read_config"
    assert opened.rule == "audit:open"
    assert opened.entries == ["reach_pkg.api.cross_module", "reach_pkg.api.stream"]
    assert opened.chain == ["reach_pkg.api.cross_module", "reach_pkg.helpers.read_config", "builtins.open"]
    flock = by_line[("reach_pkg/store.py", "fcntl.flock")]
    assert flock.chain[-2:] == ["reach_pkg.store.FileLock.__enter__", "fcntl.flock"]
    callback = by_line[("reach_pkg/api.py", "os.truncate")]
    assert callback.entries == ["reach_pkg.api._on_done"]  # a loop callback is an entry point


def test_public_names_of_defining_modules():
    assert public_name("pathlib._local.Path.stat") == "pathlib.Path.stat"
    assert public_name("posix.stat") == "os.stat"
    assert public_name("_io.open") == "io.open"
    assert public_name("_sqlite3.connect") == "sqlite3.connect"
    assert public_name("store.Store._private") == "store.Store._private"


def test_one_primitive_for_two_spellings_of_one_callable(table):
    assert table.lookup("_io.open").name == "builtins.open"
    assert table.lookup("io.open").name == "builtins.open"
    assert table.lookup("posix.stat").name == "os.stat"
    assert table.lookup("reach_pkg.store.Store.save") is None


def test_cli_writes_json_markdown_and_the_last_line(tmp_path, capsys):
    assert main(["--root", str(FIXTURES), "--package", "reach_pkg", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    payload = json.loads((tmp_path / "static-inventory.json").read_text())
    n = len(payload["candidates"])
    assert out.rstrip().splitlines()[-1] == f"static inventory: {n} blocking calls reachable from the loop"
    first = payload["candidates"][0]
    assert {"path", "line", "function", "primitive", "rule", "entries", "chain"} <= set(first)
    assert first["path"].startswith("reach_pkg/")
    md = (tmp_path / "static-inventory.md").read_text()
    assert f"static inventory: {n} blocking calls reachable from the loop" in md
    assert "| `reach_pkg/helpers.py:12` | `read_config` | `builtins.open` |" in md


def test_no_such_package_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no package or module 'missing_pkg'"):
        main(["--root", str(FIXTURES), "--package", "missing_pkg", "--out", str(tmp_path)])


# -- the runtime join ------------------------------------------------------------------------


def coverage_data(path: Path, lines_by_context: dict[str, dict[Path, list[int]]]) -> Path:
    data = coverage.CoverageData(basename=str(path))
    for context, files in lines_by_context.items():
        data.set_context(context)
        data.add_lines({str(file): lines for file, lines in files.items()})
    data.write()
    return path


def run_joined(tmp_path, data: Path, unguarded: str | None = None) -> tuple[int, str, dict]:
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(unguarded or "")
    out = tmp_path / "out"
    args = ["--root", str(FIXTURES), "--package", "reach_pkg", "--out", str(out)]
    args += ["--coverage", str(data), "--accepted", str(accepted)]
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(args)
    return code, buffer.getvalue(), json.loads((out / "static-inventory.json").read_text())


@pytest.fixture(scope="module")
def reach_candidates(table):
    return scan(FIXTURES, ["reach_pkg"], table).candidates


def test_guarded_and_unguarded(tmp_path, reach_candidates):
    helpers = FIXTURES / "reach_pkg" / "helpers.py"
    # read_config's open (line 12) and settle's sleep (17) ran under the gate; connect (21)
    # ran only in a test that opted out; nothing else ran.
    data = coverage_data(
        tmp_path / ".coverage",
        {
            GATED: {helpers: [11, 12, 13, 17]},
            "gate_tests/test_demo.py::test_opted|ungated": {helpers: [21]},
            "tests/test_unit.py::test_x|run": {helpers: [25]},  # pytest-cov's context: not a gate test
        },
    )
    code, out, payload = run_joined(tmp_path, data)
    rows = {(c["path"], c["line"]): c for c in payload["candidates"]}
    assert rows[("reach_pkg/helpers.py", 12)]["status"] == "guarded"
    assert rows[("reach_pkg/helpers.py", 12)]["tests"] == [GATE_TEST]
    assert rows[("reach_pkg/helpers.py", 17)]["status"] == "guarded"
    assert rows[("reach_pkg/helpers.py", 21)]["status"] == "unguarded"  # |ungated never counts
    assert rows[("reach_pkg/helpers.py", 25)]["status"] == "unguarded"  # not a gate test
    n = len(reach_candidates)
    assert out.rstrip().splitlines()[-1] == (
        f"static inventory: {n} reachable from the loop, 2 ran under the gate, {n - 2} never did"
    )
    assert code == 1
    assert "unguarded: reach_pkg/helpers.py:21 connect calls sqlite3.connect" in out
    loop = payload["loop_lines"]
    assert loop["ran"] == 3  # lines 12, 13 and 17: the statements of loop functions that ran
    assert 21 in loop["never_ran"]["reach_pkg/helpers.py"]
    assert "loop-side coverage: 3/" in out


def accepted_all(candidates, skip: int = 0) -> str:
    entries = []
    for c in candidates[skip:]:
        entries.append(
            f'[[unguarded]]\npath = "{c.path}"\nfunction = "{c.function}"\nprimitive = "{c.primitive}"\n'
            'reason = "fixture: exercised elsewhere"\n'
        )
    return "\n".join(entries)


def test_accepted_entries_suppress_unguarded(tmp_path, reach_candidates):
    data = coverage_data(tmp_path / ".coverage", {GATED: {}})
    code, out, payload = run_joined(tmp_path, data, accepted_all(reach_candidates))
    assert code == 0, out
    assert all(c["accepted"] == "fixture: exercised elsewhere" for c in payload["candidates"])
    # The last line still counts what the gate never ran: accepting is not guarding.
    n = len(reach_candidates)
    assert out.rstrip().endswith(f"{n} reachable from the loop, 0 ran under the gate, {n} never did")


def test_one_missing_entry_fails(tmp_path, reach_candidates):
    data = coverage_data(tmp_path / ".coverage", {GATED: {}})
    code, out, _ = run_joined(tmp_path, data, accepted_all(reach_candidates, skip=1))
    assert code == 1
    assert out.count("  unguarded: ") == 1


def test_stale_and_reasonless_entries_are_errors(tmp_path, reach_candidates):
    data = coverage_data(tmp_path / ".coverage", {GATED: {}})
    stale = (
        '[[unguarded]]\npath = "reach_pkg/gone.py"\nfunction = "f"\nprimitive = "os.stat"\nreason = "old"\n'
    )
    reasonless = (
        '[[unguarded]]\npath = "reach_pkg/helpers.py"\nfunction = "settle"\nprimitive = "time.sleep"\n'
    )
    code, out, payload = run_joined(tmp_path, data, accepted_all(reach_candidates) + "\n" + stale)
    assert code == 1
    assert "stale entry in accepted.toml: reach_pkg/gone.py f os.stat matches no candidate" in out
    code, out, payload = run_joined(tmp_path, data, accepted_all(reach_candidates) + "\n" + reasonless)
    assert code == 1
    assert any("missing reason" in e for e in payload["errors"])


def test_an_entry_for_a_guarded_candidate_is_stale(tmp_path):
    helpers = FIXTURES / "reach_pkg" / "helpers.py"
    data = coverage_data(tmp_path / ".coverage", {GATED: {helpers: [17]}})
    entry = '[[unguarded]]\npath = "reach_pkg/helpers.py"\nfunction = "settle"\nprimitive = "time.sleep"\nreason = "r"\n'
    _, out, _ = run_joined(tmp_path, data, entry)
    assert "settle time.sleep ran under the gate now" in out


# -- the rule table: one list for both halves ------------------------------------------------


def load_rules():
    return RULES


def exists_here(name: str) -> bool:
    """The callable exists on this Python and system (os.lchmod does not on Linux)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def probe_line(name: str, index: int) -> tuple[list[str], str, str]:
    """(imports, parameter, call) calling the stdlib callable ``name`` from an async def."""
    parts = name.split(".")
    if parts[0] == "builtins":
        return [], "", f"{parts[1]}()"
    cut = len(parts)
    while cut > 1:
        try:
            importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            cut -= 1
    module, rest = ".".join(parts[:cut]), parts[cut:]
    imports = [f"import {module}"]
    if len(rest) == 2:  # Class.method: on an annotated receiver
        return imports, f"obj{index}: {module}.{rest[0]}", f"obj{index}.{rest[1]}()"
    return imports, "", f"{name}()"


def rules_without_counterpart(rules, table, workdir: Path, *, any_rule: bool = False) -> dict[str, list[str]]:
    """Rule name -> the callables it names that the inventory does not report when an async def
    calls them, for rules that do not say why they are runtime-only (``any_rule``: reported
    under any rule, not only that one)."""
    imports: set[str] = set()
    params: list[str] = []
    lines: dict[int, tuple[object, str]] = {}
    calls: list[str] = []
    for rule in rules:
        # A callable this system lacks cannot be called here: the rule is checked where it exists.
        for name in filter(exists_here, rule_names(rule)):
            more, param, call = probe_line(name, len(params))
            imports.update(more)
            if param:
                params.append(param)
            lines[len(calls)] = (rule, name)
            calls.append(call)
    package = workdir / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    header = sorted(imports)
    first_call = len(header) + 3  # the imports, a blank line, the def line
    body = "\n".join(f"    {c}" for c in calls)
    (package / "probes.py").write_text(
        "\n".join(header) + f"\n\nasync def probe({', '.join(params)}):\n" + body + "\n"
    )
    seen: dict[int, set[str]] = {}
    for c in scan(workdir, ["probe_pkg"], table).candidates:
        seen.setdefault(c.line, set()).update(c.rules)
    missing: dict[str, list[str]] = {}
    for offset, (rule, name) in lines.items():
        reported = seen.get(first_call + offset, set())
        unseen = not reported if any_rule else rule.name not in reported
        if unseen and not getattr(rule, "runtime_only", ""):
            missing.setdefault(rule.name, []).append(name)
    return missing


def test_every_rule_has_a_static_counterpart(tmp_path, table):
    """A rule of the gate the static half cannot see fails here, unless it says why (runtime_only)."""
    rules = [r for r in load_rules() if r.applies()]
    assert sum(len(rule_names(r)) for r in rules) > 60  # the whole table, not a sample
    missing = rules_without_counterpart(rules, table, tmp_path)
    assert missing == {}, "rules without a static counterpart (set runtime_only='why' on the rule)"


def test_every_blockbuster_default_has_a_static_counterpart(tmp_path, table):
    from types import SimpleNamespace

    defaults = [
        SimpleNamespace(name=f"blockbuster:{name}", target=name, runtime_only="")
        for name in primitives.blockbuster_names()
    ]
    assert len(defaults) > 40
    assert rules_without_counterpart(defaults, table, tmp_path) == {}


# Classified callables that no code calls as such, with why.
NOT_CALLED = {
    "ssl.SSLContext.sslsocket_class": "holds ssl.SSLSocket, whose constructor only raises TypeError "
    "(sockets are made by wrap_socket)",
}


def test_every_callable_a_rule_catches_inside_is_a_primitive(tmp_path, table):
    """What the classification says a rule catches through what it calls (``os.path.getsize``
    by ``os.stat``, ``zipfile.ZipFile.read``) is reported where an async def calls it: the static
    half does not walk into the standard library."""
    from types import SimpleNamespace

    named = [
        SimpleNamespace(name=rule, target=name, runtime_only=NOT_CALLED.get(name, ""))
        for name, rule in primitives.classified_names()
    ]
    assert len(named) > 500
    missing = rules_without_counterpart(named, table, tmp_path, any_rule=True)
    assert missing == {}


def test_a_private_base_method_is_no_primitive_of_its_own(table):
    """``bz2.BZ2File.flush`` is ``_io._IOBase.flush``, which every stream inherits: only its own
    spelling names the primitive, so ``io.BytesIO().flush()`` is no finding."""
    assert table.lookup("bz2.BZ2File.flush") is not None
    assert table.lookup("_io._IOBase.flush") is None
    assert table.lookup("io.flush") is None
    assert table.lookup("os.path.getsize") is not None


def test_a_classified_callable_costs_inference_only_where_its_module_is_imported(table):
    """``smtplib.SMTP.sendmail`` makes ``.sendmail(...)`` calls worth inferring only in a package
    that imports smtplib; a rule's own names (``.read_text``) count everywhere."""
    assert "sendmail" in table.last_parts({"smtplib"})
    assert "sendmail" not in table.last_parts({"os", "asyncio"})
    assert "read_text" in table.last_parts(set())
    assert "getsize" in table.last_parts({"os"})


def test_the_counterpart_check_fails_unless_the_rule_says_why(tmp_path, table):
    from dataclasses import replace

    [known] = [r for r in load_rules() if r.name == "os.fsync"]
    unknown = replace(known, target="json.dumps")  # no rule table entry: the inventory cannot see it
    (tmp_path / "a").mkdir()
    assert rules_without_counterpart([known, unknown], table, tmp_path / "a") == {
        "json.dumps": ["json.dumps"]
    }
    excused = replace(unknown, runtime_only="fixture: seen only at run time")
    (tmp_path / "b").mkdir()
    assert rules_without_counterpart([known, excused], table, tmp_path / "b") == {}


# -- --changed-since --------------------------------------------------------------------------

BASE = textwrap.dedent(
    """\
    import asyncio
    import os


    def _sync(path):
        return os.stat(path)


    def helper(path):
        value = 1
        return os.listdir(path), value


    async def offloaded(path):
        await asyncio.to_thread(_sync, path)
        return None


    async def lists(path):
        return helper(path)


    async def untouched(path):
        return os.scandir(path)
    """
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    work = tmp_path / "repo"
    (work / "src" / "demo").mkdir(parents=True)
    (work / "src" / "demo" / "__init__.py").write_text("")
    (work / "src" / "demo" / "app.py").write_text(BASE)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    git(work, "checkout", "-qb", "change")
    return work


def changed_run(repo: Path, tmp_path: Path) -> tuple[int, dict, str]:
    out = tmp_path / "out"
    import contextlib
    import io
    import os

    buffer = io.StringIO()
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        with contextlib.redirect_stdout(buffer):
            code = main(["--root", "src", "--package", "demo", "--changed-since", "main", "--out", str(out)])
    finally:
        os.chdir(cwd)
    return code, json.loads((out / "static-inventory.json").read_text()), buffer.getvalue()


def test_changed_since_reports_a_removed_offload_from_a_deletion_only_change(repo, tmp_path):
    app = repo / "src" / "demo" / "app.py"
    # Delete the offload line and nothing else.
    app.write_text(BASE.replace("    await asyncio.to_thread(_sync, path)\n", ""))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "drop the offload")
    diff = git(repo, "diff", "-U0", "main").splitlines()
    assert [line for line in diff if line.startswith("+") and not line.startswith("+++")] == []
    code, payload, out = changed_run(repo, tmp_path)
    assert code == 0
    [removed] = payload["removed_offloads"]
    assert (removed["path"], removed["function"], removed["target"]) == ("demo/app.py", "offloaded", "_sync")
    assert "offload removed since main: demo/app.py:15 offloaded (to_thread)" in out
    md = (tmp_path / "out" / "static-inventory.md").read_text()
    assert "### Offloads removed since the merge base" in md
    assert "- `demo/app.py:15` `offloaded`: `to_thread(_sync)`" in md
    assert payload["candidates"] == []  # nothing changed on a path to a blocking call
    assert out.rstrip().endswith("static inventory: 0 blocking calls reachable from the loop")


def test_changed_since_keeps_candidates_whose_chain_changed(repo, tmp_path):
    app = repo / "src" / "demo" / "app.py"
    app.write_text(BASE.replace("    value = 1\n", "    value = 2\n"))  # inside helper, not the call
    code, payload, _ = changed_run(repo, tmp_path)
    found = [(c["function"], c["primitive"]) for c in payload["candidates"]]
    assert found == [("helper", "os.listdir")]  # untouched's os.scandir is not in the diff
    assert payload["removed_offloads"] == []
    assert code == 0
    assert (
        "No offload site removed since the merge base"
        in (tmp_path / "out" / "static-inventory.md").read_text()
    )


# -- robustness and progress ------------------------------------------------------------------


def test_progress_shows_on_a_terminal_only(monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = walk.Progress()
    progress.update("parsed 1/2 files")  # too early: a short run shows nothing
    assert terminal.getvalue() == ""
    progress.started -= 10
    progress.update("followed 3/9 entry points")
    progress.done()
    assert "static inventory: followed 3/9 entry points" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")  # the line is cleared for the report

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    progress = walk.Progress()
    progress.started -= 10
    progress.update("parsed 1/2 files")
    assert piped.getvalue() == ""


# -- a file the running Python cannot parse ----------------------------------------------------


def test_an_unparsable_file_is_skipped_reported_and_the_others_scanned(tmp_path, capsys):
    package = tmp_path / "mixed_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    # No Python parses this one: the test holds on every version, as syntax from a newer one would.
    (package / "broken.py").write_text("import os\n\nasync def broken(:\n    os.stat('x')\n")
    (package / "offloading.py").write_text(  # the stdlib parser reads files that name an offload
        "import asyncio\n\nasync def f[T](x: T) -> T:\n    return await asyncio.to_thread(print, x)\n)\n"
    )
    (package / "fine.py").write_text(
        "import os\nfrom mixed_pkg.broken import broken\n\nasync def g():\n    os.remove('x')\n"
    )
    out = tmp_path / "out"
    assert main(["--root", str(tmp_path), "--package", "mixed_pkg", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    payload = json.loads((out / "static-inventory.json").read_text())
    assert [(c["path"], c["primitive"]) for c in payload["candidates"]] == [
        ("mixed_pkg/fine.py", "os.remove")
    ]
    skipped = {s["path"]: s["reason"] for s in payload["skipped"]}
    assert set(skipped) == {"mixed_pkg/broken.py", "mixed_pkg/offloading.py"}
    assert "cannot parse it: " in skipped["mixed_pkg/broken.py"]
    assert skipped["mixed_pkg/broken.py"].endswith("(line 3)")
    assert "  skipped mixed_pkg/broken.py: Python 3." in printed
    assert "scanned 4 files (2 skipped) of mixed_pkg" in printed
    last = "static inventory: 1 blocking calls reachable from the loop; 2 files skipped (unparsable)"
    assert printed.rstrip().splitlines()[-1] == last
    md = (out / "static-inventory.md").read_text()
    assert f"**{last}**" in md
    assert "- `mixed_pkg/broken.py`: Python 3." in md


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="PEP 695 syntax parses from Python 3.12 on")
def test_newer_syntax_is_skipped_on_an_older_python(table):
    result = scan(FIXTURES, ["syntax_pkg"], table)
    assert list(result.skipped) == ["syntax_pkg/generics.py"]
    assert "cannot parse it" in result.skipped["syntax_pkg/generics.py"]
    assert [c.path for c in result.candidates] == ["syntax_pkg/current.py"]


def test_a_widened_dispatch_says_so_in_the_chain(table):
    result = scan(FIXTURES, ["override_pkg"], table)
    by_primitive = {c.primitive: c for c in result.candidates}
    write = by_primitive["pathlib.Path.write_text"]
    assert write.chain == [
        "override_pkg.api.export",
        "override_pkg.exporters.Exporter.export",
        "override_pkg.exporters.FileExporter.write"
        " (override of override_pkg.exporters.Exporter.write: dispatch widened)",
        "pathlib.Path.write_text",
    ]
    assert by_primitive["builtins.open"].chain[2].startswith("override_pkg.exporters.CachedExporter.render")
    assert "override of override_pkg.exporters.Exporter.render" in by_primitive["builtins.open"].chain[2]


def test_calls_made_in_an_async_def_come_first(reach_candidates, tmp_path):
    direct = [c.direct for c in reach_candidates]
    assert direct == sorted(direct, reverse=True)  # every direct call before every deeper one
    assert 0 < sum(direct) < len(direct)
    for group in (True, False):
        keys = [(c.path, c.line, c.primitive) for c in reach_candidates if c.direct is group]
        assert keys == sorted(keys)
    first = reach_candidates[0]
    assert (first.function, first.primitive, len(first.chain)) == ("import_alias", "os.fsync", 2)
    assert main(["--root", str(FIXTURES), "--package", "reach_pkg", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "static-inventory.md").read_text()
    assert f"{sum(direct)} of them made in an async def's own body, listed first" in md


# -- third-party sync clients ------------------------------------------------------------------


def test_calls_behind_an_untaken_branch_are_kept_last_with_why(table, tmp_path, capsys):
    """A call every chain found reaches only through a branch it leaves untaken (a parameter not
    passed, whose default is false) is still reported, last, saying which branch and which call;
    one that another chain can take is not (``branch_pkg``'s ``# untaken`` lines)."""
    result = scan(FIXTURES, ["branch_pkg"], table)
    marked = {
        (f"branch_pkg/{path.name}", number)
        for path in (FIXTURES / "branch_pkg").glob("*.py")
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if "# untaken" in text
    }
    assert len(marked) == 4
    assert {(c.path, c.line) for c in result.candidates if c.behind} == marked
    assert [bool(c.behind) for c in result.candidates] == sorted(bool(c.behind) for c in result.candidates)
    [plugins] = [c for c in result.candidates if c.primitive == "glob.glob"]
    assert plugins.behind == (
        "`if self.plugins_dir:` (line 10) in branch_pkg.app.Plugins.__init__ is false on this chain: "
        "the call at branch_pkg/app.py:79 does not pass `plugins_dir` (default None); it sets "
        "`plugins_dir` again only under `if config_dir and not plugins_dir:` (line 7), and does not "
        "pass `config_dir` (default None)"
    )
    # os.walk is untaken from shallow(), walked first, and taken from deep_listing(): the later
    # chain, which can take the branch, replaces the first.
    [walk] = [c for c in result.candidates if c.function == "Walker.walk" and c.primitive == "os.walk"]
    assert walk.entries == ["branch_pkg.app.shallow", "branch_pkg.app.deep_listing"]
    assert walk.chain[0] == "branch_pkg.app.deep_listing" and not walk.behind
    assert main(["--root", str(FIXTURES), "--package", "branch_pkg", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "static inventory: 13 blocking calls reachable from the loop "
        "(4 only behind a branch each chain found leaves untaken)"
    )
    assert "behind an untaken branch: branch_pkg/app.py:16 builtins.open: `if self.plugins_dir:`" in out
    assert "(untaken: `if flag:` (line 74)" in (tmp_path / "static-inventory.md").read_text()


def test_client_rules_name_what_the_installed_libraries_define():
    """Every spelling of a client rule is a definition of the installed library (read by astroid,
    never imported), so a renamed API fails here rather than going silently unseen."""
    import astroid

    from blockgate.static.clients import CLIENT_RULES

    checked, missing = 0, []
    for rule in CLIENT_RULES:
        if importlib.util.find_spec(rule.name) is None:
            continue
        for spelling in [s for spellings in rule.callables.values() for s in spellings]:
            parts = spelling.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                try:
                    node = astroid.MANAGER.ast_from_module_name(".".join(parts[:cut]))
                except astroid.AstroidBuildingError:
                    continue
                try:
                    for attr in parts[cut:]:
                        node = node.getattr(attr)[0]
                except (astroid.AttributeInferenceError, IndexError):
                    missing.append(spelling)
                break
            else:
                missing.append(spelling)
            checked += 1
    if not checked:
        pytest.skip("no client library installed")
    # psycopg2's classes are C types: only its Python entry point is checked this way.
    assert [m for m in missing if not m.startswith("psycopg2.")] == []


def test_a_client_library_not_imported_costs_no_inference(table):
    from blockgate.static.walk import Inventory

    inventory = Inventory(FIXTURES, ["quiet_pkg"], table)
    assert "publish" not in inventory.callable_names  # a redis command: quiet_pkg imports no redis
    assert inventory.receiver_methods == set()
    clients = Inventory(FIXTURES, ["clients_pkg"], table)
    assert {"publish", "get"} <= clients.callable_names
    assert "get" in clients.receiver_methods


def test_the_docs_list_every_client_rule():
    from blockgate.static.clients import markdown_table

    page = (Path(__file__).parents[1] / "docs" / "static-half.md").read_text(encoding="utf-8")
    assert markdown_table() in page, "regenerate the table: blockgate.static.clients.markdown_table()"
