"""The gate's docs as its tests read them: fenced blocks and their markers, links, headings, commands.

Every fenced block of ``README.md`` and ``docs/*.md`` has, on the line before
its opening fence, one of three markers:

* ``<!-- example: NAME -->``: configuration or usage that a test of the gate
  runs (it reads the block with ``examples(doc)[NAME]``);
* ``<!-- output: what this is -->``: text a program prints;
* ``<!-- command: checked -->``: shell commands too slow to run in a test
  (tox envs, runs over real suites); ``commands`` splits them so that a test
  can check each one's tox envs, modules, options and paths.

The repository the gate lives in keeps a twin of this module for its own
docs (its ``tests/docs.py``): the two are separate distributions and neither
imports the other's tests.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

GATE_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = GATE_DIR.parent  # where the gate lives; its docs' commands run from here
KINDS = ("example", "output", "command")

_MARKER = re.compile(r"^\s*<!-- (\w+): (.+?) -->\s*$")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its info string, its text, and its marker (if any)."""

    doc: str
    line: int  # of the opening fence, 1-based
    info: str
    text: str
    kind: str | None  # "example", "output", "command", or None: no marker
    label: str | None  # the example's name, the output's description, "checked"


def doc_paths(root: Path = GATE_DIR) -> list[Path]:
    """The pages of a project's documentation: its README and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _lines_outside_fences(text: str) -> list[tuple[int, str]]:
    out, fence = [], None
    for n, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(2)
        elif fence is not None and line.strip().startswith(fence) and not line.strip(fence[0]).strip():
            fence = None
        elif fence is None:
            out.append((n, line))
    return out


def blocks(path: Path, root: Path = GATE_DIR) -> list[Block]:
    """Every fenced block of the page at ``path``, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    n = 0
    while n < len(lines):
        match = _FENCE.match(lines[n])
        if not match:
            n += 1
            continue
        indent, fence, info = match.groups()
        body: list[str] = []
        end = n + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and not lines[end].strip().strip(fence[0])
        ):
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        marker = _MARKER.match(lines[n - 1]) if n > 0 else None
        kind, label = (marker.group(1), marker.group(2)) if marker else (None, None)
        text = "\n".join(body) + ("\n" if body else "")
        found.append(Block(path.relative_to(root).as_posix(), n + 1, info, text, kind, label))
        n = end + 1
    return found


def examples(doc: str, root: Path = GATE_DIR) -> dict[str, str]:
    """The named examples of ``doc`` (a path relative to the project's folder), by name."""
    return {b.label: b.text for b in blocks(root / doc, root) if b.kind == "example" and b.label}


def output_after(doc: str, name: str, root: Path = GATE_DIR) -> str:
    """The text of the output block that follows example ``name`` in ``doc``."""
    found = blocks(root / doc, root)
    for block, following in itertools.pairwise(found):
        if block.kind == "example" and block.label == name:
            assert following.kind == "output", f"{doc}: example {name} has no output block after it"
            return following.text
    raise KeyError(f"{doc} has no example {name}")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = _CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading anchors on its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _lines_outside_fences(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """The link targets of a page outside code: (line, target); a link's text may span lines."""
    lines = _lines_outside_fences(path.read_text(encoding="utf-8"))
    text = "\n".join(_CODE_SPAN.sub("", line) for _, line in lines)
    found = []
    for match in _LINK.finditer(text):
        found.append((lines[text.count("\n", 0, match.start())][0], match.group(1)))
    return found


@dataclass(frozen=True)
class Command:
    """One shell command of a command block: the folder it runs in (relative) and its words."""

    cwd: str
    words: list[str]


def commands(text: str) -> list[Command]:
    """The commands of a shell block, run from the repository root; ``cd DIR`` moves the rest.

    Comments, ``VAR=value`` prefixes and ``export`` lines are dropped;
    ``&&``, ``;`` and ``|`` separate commands.
    """
    joined = re.sub(r"\\\n", " ", text)
    out: list[Command] = []
    cwd = "."
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars="&|;")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token not in ("&&", "||", "|", ";", "&"):
                words.append(token)
                continue
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words.pop(0)
            if not words or words[0] == "export":
                words = []
                continue
            if words[0] == "cd":
                cwd = os.path.normpath(Path(cwd) / words[1]) if len(words) > 1 else "."
            else:
                out.append(Command(cwd, words))
            words = []
    return out


# Options whose value is a pattern, a plugin, a revision or a version: never a path.
NOT_PATHS = {"-k", "-p", "-W", "-m", "--changed-since", "--suite", "--python", "--scan", "--version"}


def mentioned_paths(command: Command) -> list[str]:
    """The words of a command that name a path in the repository (relative, no URL, no variable)."""
    paths = []
    skip = False
    for word in command.words[1:] if command.words[0].startswith(("python", "pip", "tox")) else command.words:
        if skip:
            skip = False
            continue
        if word in NOT_PATHS:
            skip = True
            continue
        value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if word.startswith("-") and "=" not in word:
            continue
        value = value.split("::", 1)[0]
        value = re.sub(r"\[[\w,]+\]$", "", value)  # pip's extras: ./gate[static]
        if "/" not in value or "://" in value or value.startswith(("/", "~")):
            continue
        if any(c in value for c in "$<>{}*@:"):
            continue
        paths.append(value)
    return paths


def python_modules(command: Command) -> list[tuple[str, list[str], list[str]]]:
    """Each ``python -m MODULE`` in a command: the module, its subcommand words, the options it uses."""
    found = []
    words = command.words
    for i, word in enumerate(words[:-2]):
        if re.fullmatch(r"python(3(\.\d+)?)?", Path(word).name) and words[i + 1] == "-m":
            module, rest = words[i + 2], words[i + 3 :]
            if "--" in rest:
                rest = rest[: rest.index("--")]
            head = []
            for token in rest:
                if token.startswith("-"):
                    break
                if re.fullmatch(r"[a-z][a-z-]*", token):
                    head.append(token)
            options = sorted({t.split("=", 1)[0] for t in rest if t.startswith("-") and len(t) > 1})
            found.append((module, head, options))
    return found


def tox_envs(command: Command) -> list[str]:
    """The envs a ``tox -e A,B`` command names (none for a bare ``tox``)."""
    words = command.words
    if not words or Path(words[0]).name != "tox":
        return []
    envs = []
    for i, word in enumerate(words):
        if word == "--":
            break
        if word == "-e" and i + 1 < len(words):
            envs += words[i + 1].split(",")
    return envs


def defined_tox_envs(tox_ini: Path) -> set[str]:
    """Every env name tox.ini defines, with its factor lists (``py3{10,11}``) expanded."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(tox_ini)
    names = [s.removeprefix("testenv:") for s in parser.sections() if s.startswith("testenv:")]
    names += parser.get("tox", "env_list", fallback="").split()
    out: set[str] = set()
    for name in names:
        out.update(_expand(name))
    return out


def _expand(name: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", name)
    if not match:
        return [name.strip("-")]
    out = []
    for option in match.group(1).split(","):
        out += _expand(name[: match.start()] + option.strip() + name[match.end() :])
    return out


# -- what the docs tests check, shared by every page -------------------------------------------


def examples_named_by_tests(tests_dir: Path) -> dict[str, set[str]]:
    """Per page, the strings of every test module that reads that page's examples.

    A test module reads a page when it calls ``examples(PAGE)`` or
    ``output_after(PAGE, ...)`` with the page as a string (or a module-level
    name bound to one); an example counts as used when its name is one of
    that module's strings.
    """
    import ast

    used: dict[str, set[str]] = {}
    for path in sorted(tests_dir.rglob("*.py")):
        if "static_fixtures" in path.relative_to(tests_dir).parts:
            continue  # data the static half reads, never test modules (one is newer syntax on purpose)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        pages, strings = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if func not in ("examples", "output_after"):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                pages.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in names:
                pages.add(names[arg.id])
        for page in pages:
            used.setdefault(page, set()).update(strings)
    return used


def _ignored_folders(repo: Path) -> list[tuple[str, ...]]:
    """The folders .gitignore names (``reports/``, ``build/``, ...): what commands write."""
    gitignore = repo / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    return [tuple(line.strip().strip("/").split("/")) for line in lines if line.strip().endswith("/")]


def _in_ignored_folder(relative: Path, ignored: list[tuple[str, ...]]) -> bool:
    import fnmatch

    return any(
        len(relative.parts) >= len(folder)
        and all(fnmatch.fnmatch(part, pattern) for part, pattern in zip(relative.parts, folder, strict=False))
        for folder in ignored
    )


def command_problems(
    command: Command, repo: Path, known_envs: set[str], helps: dict[tuple[str, ...], str]
) -> list[str]:
    """What is wrong with one checked command: tox envs tox.ini lacks, modules that do not
    import or whose ``--help`` lacks an option the command uses, relative paths that do not exist.

    ``helps`` caches each ``--help`` text by (folder, module, subcommand words).
    """
    import subprocess
    import sys

    where = f"{command.cwd}: {' '.join(command.words)}"
    problems = [
        f"{where}: tox env {env} is not defined" for env in tox_envs(command) if env not in known_envs
    ]
    cwd = (repo / command.cwd).resolve()
    for module, head, options in python_modules(command):
        key = (str(cwd), module, *head)
        if key not in helps:
            done = subprocess.run(
                [sys.executable, "-m", module, *head, "--help"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=120,
            )
            helps[key] = done.stdout if done.returncode == 0 else ""
            if done.returncode != 0:
                problems.append(f"{where}: python -m {module} --help failed: {done.stderr[-400:]}")
                continue
        text = helps[key]
        problems += [
            f"{where}: python -m {module} --help does not list {option}"
            for option in options
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text)
        ]
    ignored = _ignored_folders(repo)
    for path in mentioned_paths(command):
        target = (cwd / path).resolve()
        try:
            relative = target.relative_to(repo.resolve())
        except ValueError:
            problems.append(f"{where}: {path} lies outside the repository")
            continue
        if not target.exists() and not _in_ignored_folder(relative, ignored):
            problems.append(f"{where}: {path} does not exist")
    return problems


def link_problems(page: Path, inside: Path | None = None) -> list[str]:
    """Relative links of ``page`` that point at no file, or at no heading of it (or outside ``inside``)."""
    problems = []
    for line, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        where = f"{page.name}:{line}: {target}"
        if inside is not None and not dest.is_relative_to(inside.resolve()):
            problems.append(f"{where} points outside {inside.name}/")
        elif not dest.exists():
            problems.append(f"{where} points at no file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where} names no heading of {dest.name}")
    return problems
