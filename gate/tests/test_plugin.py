"""The plugin's behaviour, through pytester: scope, opt-out, fail-closed, swallowed errors, header.

Each runs a small project in a subprocess: a scanned package ``fakeapp`` with
one blocking and one offloaded coroutine, gate tests under ``checks/`` (a
folder whose name does not start with ``test``), unit tests under ``tests/``,
and an ini file that configures the installed plugin; no conftest.
"""

from __future__ import annotations

import ast
import sys

import blockbuster
import pytest

import blockgate as gate
from blockgate import plugin, rules
from tests.projects import configure, write

FAKEAPP = """
import asyncio, os

def _sync_exists(path):
    return os.path.exists(path)

async def blocking(path):
    return _sync_exists(path)

async def offloaded(path):
    return await asyncio.to_thread(_sync_exists, path)

async def swallowing(path):
    try:
        return _sync_exists(path)
    except Exception:
        return None
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**{"fakeapp/__init__.py": FAKEAPP})
    (pytester.path / "checks").mkdir()
    (pytester.path / "tests").mkdir()
    configure(pytester, "fakeapp")
    return pytester


def test_gate_fires_only_under_its_paths(project):
    body = """
        import fakeapp
        async def test_blocking(tmp_path):
            assert await fakeapp.blocking(tmp_path) is True
        async def test_offloaded(tmp_path):
            assert await fakeapp.offloaded(tmp_path) is True
    """
    write(project, "checks/test_a.py", body)
    write(project, "tests/test_u.py", body)
    result = project.runpytest_subprocess("tests", "checks", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GateBlockingError: Blocking call to os.stat from fakeapp*__init__.py:4 in _sync_exists()*",
            "*FAILED checks/test_a.py::test_blocking*",
        ]
    )


def test_setup_and_teardown_are_guarded(project):
    write(
        project,
        "checks/test_fixtures.py",
        """
        import pytest, fakeapp
        @pytest.fixture
        async def in_setup(tmp_path):
            await fakeapp.blocking(tmp_path)
            yield
        @pytest.fixture
        async def in_teardown(tmp_path):
            yield
            await fakeapp.blocking(tmp_path)
        async def test_setup(in_setup):
            pass
        async def test_teardown(in_teardown):
            pass
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_setup*", "*ERROR at teardown of test_teardown*"])


def test_swallowed_blocking_error_still_fails(project):
    write(
        project,
        "checks/test_swallow.py",
        """
        import fakeapp
        async def test_swallowed(tmp_path):
            assert await fakeapp.swallowing(tmp_path) is None
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*blockgate.errors.SwallowedBlockingError: Blocking call to os.stat from fakeapp*__init__.py:4 in _sync_exists()*",
            "E*1 blocking call(s) caught before the test could see them:",
            "E*os.stat from fakeapp*:4 in _sync_exists(): swallowed by scanned code at fakeapp*__init__.py:14 in swallowing()",
        ]
    )


def test_an_error_the_test_expects_is_not_swallowed(project):
    write(
        project,
        "checks/test_expect.py",
        """
        import pytest, fakeapp
        from blockgate import GateBlockingError
        async def test_smoke(tmp_path):
            with pytest.raises(GateBlockingError, match="os.stat from .*in _sync_exists"):
                await fakeapp.blocking(tmp_path)
        async def test_smoke_then_swallowed(tmp_path):
            with pytest.raises(GateBlockingError):
                await fakeapp.blocking(tmp_path)
            assert await fakeapp.swallowing(tmp_path) is None
        async def test_smoke_then_other_failure(tmp_path):
            with pytest.raises(GateBlockingError):
                await fakeapp.blocking(tmp_path)
            assert 1 == 2, "the test's own failure"
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E*1 blocking call(s) caught before the test could see them:",
            "E*os.stat from *:4 in _sync_exists(): swallowed by scanned code at *__init__.py:14 in swallowing()",
            "E*1 more caught by the test itself on purpose (not counted):",
            "E*os.stat from *:4 in _sync_exists(): caught at checks/test_expect.py:9 in test_smoke_then_swallowed()",
        ]
    )
    result.stdout.fnmatch_lines(["E*AssertionError: the test's own failure"])
    result.stdout.fnmatch_lines(
        [
            "FAILED checks/test_expect.py::test_smoke_then_swallowed - *",
            "FAILED checks/test_expect.py::test_smoke_then_other_failure*",
        ]
    )


def test_an_error_a_library_catches_is_not_expected(project):
    # asyncio runs loop callbacks in Handle._run, which catches what they raise
    # and only logs it: the test never saw the blocking call.
    write(
        project,
        "checks/test_lib.py",
        """
        import asyncio, fakeapp
        async def test_library_swallows(tmp_path):
            asyncio.get_running_loop().call_soon(fakeapp._sync_exists, tmp_path)
            await asyncio.sleep(0.01)
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E*os.stat from *:4 in _sync_exists(): caught inside a library at *asyncio*events.py:* in _run()"]
    )


def test_opt_out_needs_a_reason_and_is_listed(project):
    write(
        project,
        "checks/test_opt.py",
        """
        import pytest, fakeapp
        @pytest.mark.allow_blocking_io(reason="measures the blocking path on purpose")
        async def test_allowed(tmp_path):
            assert await fakeapp.blocking(tmp_path) is True
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*opted out with allow_blocking_io*", "*test_allowed: measures the blocking path on purpose*"]
    )

    write(
        project,
        "checks/test_opt.py",
        """
        import pytest
        @pytest.mark.allow_blocking_io
        async def test_no_reason():
            pass
        """,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*allow_blocking_io needs reason=*test_no_reason*"])


MARKED = "import pytest\n@pytest.mark.blockgate\ndef test_m():\n    pass\n"


@pytest.mark.parametrize(
    ("ini", "test_file", "args", "error"),
    [
        pytest.param(
            None,
            ("checks/test_a.py", "def test_a():\n    pass\n"),
            ("--gate-modules", "no_such_module"),
            "*blocking gate cannot be armed*no_such_module*",
            id="unimportable-module",
        ),
        pytest.param(
            "[pytest]\ngate_paths = checks\n",
            ("checks/test_a.py", "def test_a():\n    pass\n"),
            (),
            "*gate_paths is set but no module is scanned*gate_modules*",
            id="gate-paths-without-module",
        ),
        pytest.param(
            "[pytest]\n",
            ("tests/test_m.py", MARKED),
            (),
            "*test_m.py::test_m is a gate test, but no module is scanned*",
            id="marked-test-without-module",
        ),
    ],
)
def test_a_gate_that_cannot_be_armed_as_configured_is_a_usage_error(project, ini, test_file, args, error):
    write(project, *test_file)
    if ini is not None:
        project.makeini(ini)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error])


def test_the_marker_puts_a_test_anywhere_under_the_gate(project):
    write(
        project,
        "tests/test_marked.py",
        """
        import pytest, fakeapp
        pytestmark = pytest.mark.blockgate
        async def test_blocking(tmp_path):
            assert await fakeapp.blocking(tmp_path) is True
        async def test_offloaded(tmp_path):
            assert await fakeapp.offloaded(tmp_path) is True
        """,
    )
    write(
        project,
        "tests/test_plain.py",
        "import fakeapp\nasync def test_plain(tmp_path):\n    assert await fakeapp.blocking(tmp_path)\n",
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "tests")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED tests/test_marked.py::test_blocking*"])


def test_unconfigured_the_plugin_is_inert(project):
    write(
        project,
        "checks/test_a.py",
        "import fakeapp\nasync def test_a(tmp_path):\n    assert await fakeapp.blocking(tmp_path)\n",
    )
    project.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\npythonpath = .\n"
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["blocking gate: inert (no gate_modules configured*"])


def test_a_run_that_names_the_gate_folder_and_selects_no_gate_test_is_an_error(project):
    write(project, "checks/test_a.py", "def test_a():\n    pass\n")
    write(project, "tests/test_u.py", "def test_unit():\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "checks", "tests", "-k", "unit")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the blocking gate selected no test under checks*"])
    # Not naming the gate's folder is not a gate run: the unit test alone is fine.
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "tests", "-k", "unit")
    result.assert_outcomes(passed=1)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def counts_from_the_tables() -> dict[str, int]:
    """What the full gate must hold here, counted from the rule tables, not from the gate's own plan."""
    applicable = [rule for rule in rules.RULES if rule.applies()]
    audits = sum(isinstance(rule, rules.Audit) for rule in applicable)
    defaults = list(blockbuster.BlockBuster().functions.values())
    present = sum(function.original_func is not None for function in defaults)
    return {
        "blockbuster": present,
        "project_patches": len(applicable) - audits,
        "project_audit": audits,
        "not_applicable": len(rules.RULES) - len(applicable) + len(defaults) - present,
    }


def test_the_header_comes_first_and_states_exactly_what_is_armed(project):
    write(project, "checks/test_a.py", "def test_a():\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    n = counts_from_the_tables()
    assert n["blockbuster"] > 50 and n["project_patches"] > 50 and n["project_audit"] > 20, n
    result.stdout.fnmatch_lines(
        [
            "platform *",
            f"blocking gate: scanning fakeapp; rules armed: {n['blockbuster']} blockbuster defaults + "
            f"{n['project_patches'] + n['project_audit']} gate rules ({n['project_patches']} patches, "
            f"{n['project_audit']} audit events; {n['not_applicable']} not applicable on this Python)",
            "blocking gate: applies to tests under checks/, tests marked @pytest.mark.blockgate",
            "blocking gate: imports on the loop: import work, allowed *",
        ],
        consecutive=True,
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--gate=off")
    result.stdout.fnmatch_lines(["blocking gate: DISARMED*"])
    result.stdout.fnmatch_lines(["DISARMED (--gate=off): blocking calls were not checked"])


def test_options_exist_in_a_folder_not_named_test(project):
    write(
        project,
        "checks/test_a.py",
        "import fakeapp\nasync def test_a(tmp_path):\n    assert await fakeapp.blocking(tmp_path)\n",
    )
    project.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\npythonpath = .\n"
    )
    result = project.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--gate-modules",
        "fakeapp",
        "--gate-paths",
        "checks",
        "--gate-imports",
        "report",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "blocking gate: scanning fakeapp; *",
            "*Blocking call to os.stat from fakeapp*__init__.py:4 in _sync_exists()*",
        ]
    )


def test_armed_counts_are_read_from_the_live_gate():
    module = "tests.projects"
    with gate.armed_gate(module, rules=[], blockbuster_defaults=False) as nothing:
        assert nothing.armed_counts() == {
            "blockbuster": 0,
            "project_patches": 0,
            "project_audit": 0,
            "not_applicable": 0,
        }
    one_patch = next(rule for rule in rules.RULES if isinstance(rule, rules.Patch) and rule.applies())
    one_audit = next(rule for rule in rules.RULES if isinstance(rule, rules.Audit) and rule.applies())
    with gate.armed_gate(module, rules=[one_patch, one_audit], blockbuster_defaults=False) as two:
        assert two.armed_counts() == {
            "blockbuster": 0,
            "project_patches": 1,
            "project_audit": 1,
            "not_applicable": 0,
        }
    with gate.strict_gate(module) as full:
        assert full.armed_counts() == counts_from_the_tables()
    assert full.armed_counts() == {
        **dict.fromkeys(("blockbuster", "project_patches", "project_audit"), 0),
        "not_applicable": counts_from_the_tables()["not_applicable"],
    }


def test_the_gate_outside_pytest(project):
    script = """
import asyncio
import blockbuster, fakeapp
from blockgate import strict_gate
async def main():
    with strict_gate(["fakeapp"]) as armed:
        try:
            await fakeapp.blocking(".")
        except blockbuster.BlockingError as exc:
            print("caught", type(exc).__name__, exc)
        assert len(armed.hits) == 1
asyncio.run(main())
"""
    result = project.run(sys.executable, "-c", script)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        ["caught GateBlockingError Blocking call to os.stat from *fakeapp*:4 in _sync_exists()*"]
    )


def test_same_verdicts_under_xdist(project):
    body = """
        import fakeapp
        async def test_blocking(tmp_path):
            assert await fakeapp.blocking(tmp_path) is True
        async def test_offloaded(tmp_path):
            assert await fakeapp.offloaded(tmp_path) is True
        async def test_swallowed(tmp_path):
            assert await fakeapp.swallowing(tmp_path) is None
    """
    write(project, "checks/test_a.py", body)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*FAILED*test_blocking*", "*FAILED*test_swallowed*"], consecutive=False)


def test_strict_gate_restores_every_patch_even_when_the_body_raises(project):
    script = """
import io, os, pathlib, sqlite3, threading
from blockgate import detector, strict_gate
targets = [(os, "fsync"), (os, "stat"), (io.FileIO, "read"), (io.BufferedReader, "readline"),
           (pathlib.Path, "exists"), (pathlib.Path, "cwd"), (threading.Thread, "join"), (sqlite3, "connect")]
before = [(owner, name, owner.__dict__.get(name)) for owner, name in targets]
# C types the gate patches through forbiddenfruit: their whole dicts, entry for entry (curse also
# leaves a `_c_<name>` copy of what it replaced, which would keep a checker alive until exit)
c_types = [io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper,
           sqlite3.Connection, sqlite3.Cursor]
c_before = [dict(vars(t)) for t in c_types]
for exc in (RuntimeError, KeyboardInterrupt):
    try:
        with strict_gate(["fakeapp"]) as armed:
            assert os.fsync is not before[0][2]
            raise exc("boom")
    except exc:
        pass
    for owner, name, raw in before:
        assert owner.__dict__.get(name) is raw, (owner, name)
    for t, was in zip(c_types, c_before):
        now = dict(vars(t))
        assert now.keys() == was.keys(), (t, sorted(now.keys() ^ was.keys()))
        assert all(now[k] is was[k] for k in was), t
    assert detector._patches == {} and detector._audit_rules == {} and detector._active == []
print("restored")
"""
    result = project.run(sys.executable, "-c", script)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["restored"])


def test_gate_sees_a_package_imported_through_a_symlink(project):
    real = project.path / "real_src"
    real.mkdir()
    (project.path / "fakeapp").rename(real / "fakeapp")
    (project.path / "linked_src").symlink_to(real, target_is_directory=True)
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(project.path / "linked_src")!r})
import fakeapp
from blockgate import GateBlockingError, strict_gate
assert "linked_src" in fakeapp.__file__
async def main():
    with strict_gate(["fakeapp"]) as armed:
        try:
            await fakeapp.blocking(".")
        except GateBlockingError as exc:
            print("caught", exc.primitive)
        assert len(armed.hits) == 1
asyncio.run(main())
"""
    result = project.run(sys.executable, "-c", script)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["caught os.stat"])


def test_plugin_hooks_appear_in_the_order_pytest_calls_them(project):
    with open(plugin.__file__, encoding="utf-8") as f:
        source = f.read()
    hooks = [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_")
    ]
    recorder = "\n".join(
        [
            "import pytest",
            "SEEN = []",
            *(
                f"@pytest.hookimpl(tryfirst=True)\ndef {name}():\n    SEEN.append({name!r}) if {name!r} not in SEEN else None"
                for name in hooks
                if name != "pytest_unconfigure"
            ),
            "def pytest_unconfigure():",
            "    SEEN.append('pytest_unconfigure')",
            "    open('seen.txt', 'w').write(' '.join(SEEN))",
        ]
    )
    write(project, "hook_recorder.py", recorder)
    write(project, "checks/test_a.py", "def test_a():\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "hook_recorder")
    result.assert_outcomes(passed=1)
    assert (project.path / "seen.txt").read_text().split() == hooks


def test_a_first_call_is_caught_whichever_test_ran_first(project):
    """mimetypes reads its files once per process: the gate empties that cache for every gate test."""
    write(
        project,
        "fakeapp/types.py",
        """
        import mimetypes

        async def content_type(name):
            return mimetypes.guess_type(name)[0]
        """,
    )
    write(
        project,
        "checks/test_order.py",
        """
        import asyncio, mimetypes
        from fakeapp import types

        async def test_a_warm_up_off_the_loop():
            assert await asyncio.to_thread(mimetypes.guess_type, "a.csv")

        async def test_b_first_call_on_the_loop():
            assert await types.content_type("b.csv") == "text/csv"
        """,
    )
    for selection in (["checks/test_order.py"], ["checks/test_order.py::test_b_first_call_on_the_loop"]):
        result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *selection)
        result.stdout.fnmatch_lines(["*FAILED checks/test_order.py::test_b_first_call_on_the_loop*"])
        result.stdout.fnmatch_lines(["*Blocking call to * from fakeapp*types.py:5 in content_type()*"])
