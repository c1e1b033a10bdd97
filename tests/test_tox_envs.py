"""Every tox env installs what it imports: from a fresh clone, no env may rely on a package installed by hand.

For each env of ``tox.ini`` this reads the files its commands run (``pytest``
paths, ``python -m`` modules, ``python -c`` code, and the tests the mutation
tool hands to mutmut), follows their imports through the repository's own
packages, and checks that every third-party import is installed by the env:
its ``deps``, the package and its ``extras`` unless ``skip_install``, the
gate's dependencies when it is a dep, and what those require in turn. An
import guarded by ``except ImportError`` or ``pytest.importorskip`` is
optional and not counted. (``tox -e bench`` once failed on a fresh clone:
``tools/service_bench.py`` imported matplotlib, which no env installed.)
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import sys
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# Where each top-level package of this repository lives, and whether an env gets it by installing
# runlog ("package"), by a gate dep ("gate"), or from its working directory ("cwd").
LOCAL = {
    "runlog": (ROOT / "backend", "package"),
    "blockgate": (ROOT / "gate" / "src", "gate"),
}


PYTHONS = ("3.10", "3.11", "3.12", "3.13")  # setup.cfg's classifiers: an env may run on any
# What a distribution that no env of this interpreter installs requires, as far as the imports of the
# repository go (the test reads every other distribution's requirements from its metadata).
NOT_INSTALLED_HERE = {"hypothesmith": ("hypothesis",)}


def _tox() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    return config


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _substitute(config: configparser.ConfigParser, text: str) -> str:
    """tox's ``{[section]key}`` references, then ``{tox_root}``."""
    text = re.sub(r"\{\[([^\]]+)\]([^}]+)\}", lambda m: config.get(m.group(1), m.group(2), fallback=""), text)
    return text.replace("{tox_root}", str(ROOT))


def envs() -> list[str]:
    """One name per testenv section (a factor list ``blocking{,-py310}`` counts once: same commands)."""
    config = _tox()
    names = ["py311"]  # [testenv] itself: the py3xx envs
    names += [
        section.split(":", 1)[1].split("{", 1)[0]
        for section in config.sections()
        if section.startswith("testenv:")
    ]
    return names


def _section(env: str) -> str:
    config = _tox()
    for section in config.sections():
        if section.startswith("testenv:") and section.split(":", 1)[1].split("{", 1)[0] == env:
            return section
    return "testenv"


def _get(env: str, key: str) -> str:
    """The env's value for ``key``, else [testenv]'s (tox's inheritance), references substituted."""
    config = _tox()
    section = _section(env) if config.has_option(_section(env), key) else "testenv"
    return _substitute(config, config.get(section, key, fallback=""))


# -- what an env installs ---------------------------------------------------------------------------


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(env: str) -> list[Requirement]:
    found: list[Requirement] = []
    for line in _lines(_get(env, "deps")):
        line = line.removeprefix("-e").strip()
        if line.startswith(str(ROOT / "gate")):  # the gate, from its folder, with extras
            extras = re.search(r"\[([^\]]*)\]", line)
            found.append(
                Requirement(f"pytest-blockgate[{extras.group(1)}]" if extras else "pytest-blockgate")
            )
        else:
            found.append(Requirement(line))
    if _get(env, "skip_install").strip().lower() != "true":
        extras = ",".join(_lines(_get(env, "extras")))
        found.append(Requirement(f"runlog[{extras}]" if extras else "runlog"))
    return found


def installed(env: str) -> set[str]:
    """Normalised names of every distribution the env installs: its requirements and theirs."""
    seen: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in _requirements(env)]
    while todo:
        req, extras = todo.pop()
        name = _normal(req.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for text in _requires(name):
            sub = Requirement(text)
            if sub.marker is not None and not any(
                sub.marker.evaluate({**default_environment(), "python_version": version, "extra": extra})
                for extra in (extras or {""})
                for version in PYTHONS
            ):
                continue
            todo.append((sub, frozenset(sub.extras)))
    return {key.split("[", 1)[0] for key in seen}


@cache
def _requires(name: str) -> tuple[str, ...]:
    if name == "runlog":
        cfg = _setup_cfg()
        lines = _lines(cfg.get("options", "install_requires"))
        for extra, text in cfg.items("options.extras_require"):
            lines += [f"{req}; extra == '{extra}'" for req in _lines(text)]
        return tuple(lines)
    if name == "pytest-blockgate":
        project = _gate_project()
        lines = list(project["dependencies"])
        for extra, reqs in project["optional-dependencies"].items():
            for req in reqs:
                marker = f"extra == '{extra}'"
                lines.append(f"{req} and {marker}" if ";" in req else f"{req}; {marker}")
        return tuple(lines)
    try:
        return tuple(metadata.requires(name) or ())
    except metadata.PackageNotFoundError:  # not in this interpreter
        return NOT_INSTALLED_HERE.get(name, ())


def _gate_project() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(ROOT / "gate" / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]


# -- what an env imports ----------------------------------------------------------------------------


def _run_files(env: str) -> list[Path]:
    """The Python files the env's commands run, and the folders they put first on the import path."""
    cwd = ROOT / (_get(env, "change_dir").strip().replace(str(ROOT), "").strip("/") or ".")
    files: list[Path] = []
    for line in _lines(_get(env, "commands")):
        words = shlex.split(line)
        if "pytest" in words:
            after = words[words.index("pytest") + 1 :]
            for word in after:
                if word.startswith("-") or "{" in word:
                    continue
                path = cwd / word.split("::")[0]  # a node id names its file
                if path.is_dir():
                    files += sorted(path.rglob("*.py"))
                elif path.suffix == ".py":
                    files.append(path)
        if words[:2] == ["python", "-m"] and words[2] != "pytest":
            module = _module_file(words[2], cwd)
            if module is not None:
                files.append(module)
            if "--" in words:  # what a tool passes on to pytest (teeth)
                files += [p for w in words[words.index("--") + 1 :] for p in sorted((cwd / w).rglob("*.py"))]
        if words[:2] == ["python", "-c"]:
            files.append(Path(f"<-c>{words[2]}"))
    if "tools.mutation" in _get(env, "commands"):  # mutmut runs the tests setup.cfg selects
        for word in _lines(_setup_cfg().get("mutmut", "pytest_add_cli_args_test_selection")):
            files.append(ROOT / word)
        files.append(ROOT / "tests" / "conftest.py")
    return files


def _module_file(dotted: str, cwd: Path) -> Path | None:
    top = dotted.split(".", 1)[0]
    bases = [LOCAL[top][0]] if top in LOCAL else [cwd]
    for base in bases:
        path = base.joinpath(*dotted.split("."))
        for candidate in (path.with_suffix(".py"), path / "__init__.py", path / "__main__.py"):
            if candidate.is_file():
                return candidate
    return None


def _beside(dotted: str, path: Path, cwd: Path) -> Path | None:
    """A module pytest finds beside a test (its folder or one above, up to the env's folder, is on sys.path)."""
    if str(path).startswith("<-c>"):
        return None
    for folder in path.parents:
        found = _module_file(dotted, folder)
        if found is not None or folder == cwd or cwd not in folder.parents:
            return found
    return None


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try:`` whose handlers catch ImportError (or ModuleNotFoundError)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = (
                    {n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)}
                    if handler.type
                    else set()
                )
                if names & {"ImportError", "ModuleNotFoundError", "Exception"}:
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _lazy(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
        parent = parents.get(parent)
    return False


def _imports(source: str, *, lazy: bool) -> Iterator[str]:
    """Module-level imports; with ``lazy``, those inside functions too."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not lazy and _lazy(node, parents):
            continue
        if isinstance(node, ast.Import) and not _optional(node, parents):
            yield from (alias.name for alias in node.names)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and not _optional(node, parents)
        ):
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def imports(env: str) -> dict[str, set[str]]:
    """Third-party top-level imports of the env's files, each with the files importing it."""
    cwd = ROOT / (_get(env, "change_dir").strip().replace(str(ROOT), "").strip("/") or ".")
    found: dict[str, set[str]] = {}
    todo = _run_files(env)
    runs_a_tool = "python -m tools." in _get(env, "commands")
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        key = str(path)
        if key in seen:
            continue
        seen.add(key)
        if key.startswith("<-c>"):
            source, where = key[len("<-c>") :], "python -c"
        else:
            source, where = path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        if any(part.endswith("fixtures") for part in path.parts):
            continue  # sources the static half reads as text, never imports
        # A lazy import counts in this repository's tools where the env runs one end to end; elsewhere
        # it is a module's choice to need a package on one path only (jedi, for a resolver kept to
        # be measured), and the tests that take that path name it.
        lazy = key.startswith("<-c>") or (runs_a_tool and path.is_relative_to(ROOT / "tools"))
        for name in _imports(source, lazy=lazy):
            top = name.split(".", 1)[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            local = _module_file(name, cwd) or _beside(name, path, cwd)
            if local is not None:
                todo.append(local)
            if top in LOCAL or (local is None and not (cwd / top).exists()):
                found.setdefault(top, set()).add(where)
    return found


def _provides(import_name: str) -> set[str]:
    """Distributions that provide a top-level import (its own name when none is installed here)."""
    by_import = metadata.packages_distributions()
    names = {_normal(n) for n in by_import.get(import_name, [])}
    names.add(_normal(import_name))
    names |= {"pytest-blockgate"} if import_name == "blockgate" else set()
    return names


@pytest.mark.parametrize("env", envs())
def test_the_env_installs_every_package_its_commands_import(env):
    have = installed(env)
    missing = {
        name: sorted(where)[:3] for name, where in imports(env).items() if not (_provides(name) & have)
    }
    assert not missing, f"tox -e {env} imports what it does not install: {missing}"
