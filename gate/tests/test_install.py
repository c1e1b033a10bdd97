"""The distribution installed as a user installs it, in a fresh venv, then put on a foreign package.

``pip install ./gate`` (from a copy of the folder, so the build leaves nothing
in the checkout) and pytest-asyncio, nothing else; the project is the
README's (its ini file and smoke test, as written), with its gate tests in a
folder not named ``test*`` and no conftest of the gate's. The plugin must
announce itself on the first line of the header, know its options, and fail
a blocking call with the frame of the package that made it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.docs import GATE_DIR
from tests.test_foreign_project import make_shop

INSTALL_SECONDS = 300  # a fresh venv and a few wheels from the index or pip's cache

UNCAUGHT = """

async def test_an_uncaught_blocking_call(price_root):
    await shop.has_prices(price_root)
"""


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("install")
    source = root / "pytest-blockgate"
    shutil.copytree(
        GATE_DIR / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(GATE_DIR / name, source / name)
    env = root / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
            "pytest-asyncio",
        ],
        check=True,
        capture_output=True,
        timeout=INSTALL_SECONDS,
    )
    return env


def test_installed_in_a_fresh_venv_it_guards_a_foreign_package(fresh_venv: Path, tmp_path: Path) -> None:
    make_shop(tmp_path)
    with (tmp_path / "gate_tests" / "test_prices.py").open("a") as f:
        f.write(UNCAUGHT)
    pytest_bin = str(fresh_venv / "bin" / "pytest")
    run = subprocess.run(
        [pytest_bin, "-p", "no:cacheprovider", "gate_tests", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = run.stdout.splitlines()
    platform = next(i for i, line in enumerate(lines) if line.startswith("platform "))
    assert lines[platform + 1].startswith("blocking gate: scanning shop; rules armed: "), run.stdout
    assert run.returncode == 1, run.stdout
    error = (
        "GateBlockingError: Blocking call to os.stat from src/shop/__init__.py:7 in _price_file_exists(); "
        "offload it with asyncio.to_thread"
    )
    assert any(line.endswith(error) for line in lines), run.stdout
    assert "FAILED gate_tests/test_prices.py::test_an_uncaught_blocking_call" in run.stdout
    assert "FAILED gate_tests/test_prices.py::test_swallowed_fails" in run.stdout
    assert "2 failed, 4 passed" in run.stdout
    readme = (GATE_DIR / "README.md").read_text(encoding="utf-8")
    assert error in readme  # the README shows this very line
    if sys.version_info[:2] == (3, 11):  # the README's header is 3.11's
        assert f"```text\n{lines[platform + 1]}\n```" in readme


def test_its_options_exist_in_any_folder(fresh_venv: Path, tmp_path: Path) -> None:
    make_shop(tmp_path)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\npythonpath = src\n"
    )
    pytest_bin = str(fresh_venv / "bin" / "pytest")
    help_text = subprocess.run(
        [pytest_bin, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    ).stdout
    for option in (
        "--gate-modules",
        "--gate-paths",
        "--gate-imports",
        "--gate=",
        "gate_modules",
        "gate_paths",
    ):
        assert option in help_text, option
    run = subprocess.run(
        [
            pytest_bin,
            "-p",
            "no:cacheprovider",
            "--gate-modules",
            "shop",
            "--gate-paths",
            "gate_tests",
            "gate_tests",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "blocking gate: scanning shop; " in run.stdout
    assert "1 failed, 3 passed" in run.stdout, run.stdout  # test_swallowed_fails


def test_it_installs_from_a_git_url_with_its_subdirectory(tmp_path: Path) -> None:
    """``pip install "git+URL#subdirectory=gate"``, as gate/README.md offers: a repository whose
    gate/ folder holds the distribution (a local one, with a file:// URL)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    gate = repo / "gate"
    shutil.copytree(
        GATE_DIR / "src", gate / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(GATE_DIR / name, gate / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    for args in (["init", "--quiet"], ["add", "."], ["commit", "--quiet", "-m", "the gate"]):
        subprocess.run([*git, *args], check=True, capture_output=True, timeout=60)
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")
    # The bare VCS form: the pip that venv bundles with 3.10-3.12 refuses `name @ git+file:///...`
    # (a URL with no host); with an https URL both forms work.
    requirement = f"git+file://{repo}#subdirectory=gate"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", requirement],
        check=True,
        capture_output=True,
        timeout=INSTALL_SECONDS,
    )
    shown = subprocess.run(
        [
            python,
            "-c",
            "from importlib import metadata; "
            "print([e.value for e in metadata.entry_points(group='pytest11') if e.name == 'blockgate'])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == "['blockgate.plugin']", shown.stderr
