"""The pre-commit hook of the static half: its manifest, the configurations the docs give, and its
entry run on a commit's files as pre-commit runs it (the file names as arguments)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.docs import GATE_DIR, examples

STATIC = "docs/static-half.md"
FIXTURES = GATE_DIR / "tests" / "static_fixtures"
MANIFEST = GATE_DIR / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def hook() -> dict:
    [hook] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return hook


def test_the_manifest_names_an_entry_pre_commit_can_run(hook):
    assert hook["id"] == "blockgate-static"
    assert hook["language"] == "python"
    assert hook["types"] == ["python"]
    assert hook["require_serial"] is True  # one scan of the packages, not one per chunk of files
    assert hook["entry"] == "python -m blockgate.static.hook"


def test_the_manifests_dependencies_are_the_static_extra(hook):
    """pre-commit installs the repository without extras: the hook lists the static extra's."""
    from blockgate.accepted import read_toml

    extra = read_toml(GATE_DIR / "pyproject.toml")
    assert hook["additional_dependencies"] == extra["project"]["optional-dependencies"]["static"]


def project(tmp_path: Path, accepted: str = "") -> Path:
    """A repository as pre-commit sees it: the package under src/, an accepted file."""
    shutil.copytree(FIXTURES / "reach_pkg", tmp_path / "src" / "reach_pkg")
    shutil.copytree(FIXTURES / "quiet_pkg", tmp_path / "src" / "quiet_pkg")
    (tmp_path / "gate_tests").mkdir()
    (tmp_path / "gate_tests" / "accepted.toml").write_text(accepted)
    (tmp_path / "README.md").write_text("not python\n")
    return tmp_path


def run_hook(config: dict, hook: dict, cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """Run one configured hook as pre-commit does: its entry, its args, then the files it selects."""
    [configured] = config["repos"][0]["hooks"]
    assert configured["id"] == hook["id"]
    entry = configured.get("entry", hook["entry"])
    selected = [f for f in files if re.search(configured.get("files", ""), f) and f.endswith(".py")]
    words = shlex.split(entry)
    assert words[0] == "python"
    return subprocess.run(
        [sys.executable, *words[1:], *configured.get("args", []), *selected],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", ["pre-commit-remote", "pre-commit-local"])
def test_a_documented_configuration_fails_a_commit_that_reaches_a_blocking_call(name, hook, tmp_path):
    config = yaml.safe_load(examples(STATIC)[name])
    if name == "pre-commit-local":
        assert config["repos"][0]["repo"] == "local"
        assert config["repos"][0]["hooks"][0]["require_serial"] is True
    cwd = project(tmp_path)
    done = run_hook(config, hook, cwd, ["src/reach_pkg/helpers.py", "README.md"])
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "static inventory: 6 blocking calls reachable from the loop through the changed files"
    assert (
        "  reach_pkg/helpers.py:12 read_config: reach_pkg.api.cross_module -> reach_pkg.helpers.read_config"
        " -> builtins.open"
    ) in lines


def test_a_commit_of_offloaded_code_passes(hook, tmp_path):
    config = yaml.safe_load(examples(STATIC)["pre-commit-remote"])
    done = run_hook(config, hook, project(tmp_path), ["src/quiet_pkg/work.py"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("static inventory: 0 blocking calls")


def test_a_chain_through_a_changed_file_counts_and_accepted_calls_pass(hook, tmp_path):
    from blockgate.static.hook import main

    cwd = project(
        tmp_path,
        accepted="\n".join(
            f'[[unguarded]]\npath = "reach_pkg/helpers.py"\nfunction = "{function}"\n'
            f'primitive = "{primitive}"\nreason = "fixture"\n'
            for function, primitive in [
                ("read_config", "builtins.open"),
                ("settle", "time.sleep"),
                ("connect", "sqlite3.connect"),
                ("run_tool", "subprocess.run"),
                ("cached_settings", "pathlib.Path.read_text"),
                ("list_folder", "os.listdir"),
            ]
        ),
    )
    accepted = str(cwd / "gate_tests" / "accepted.toml")
    assert main(["--accepted", accepted, str(cwd / "src/reach_pkg/helpers.py")]) == 0
    # api.py holds the entry points: every chain passes through it, helpers' calls included.
    assert main([str(cwd / "src/reach_pkg/api.py")]) == 1
