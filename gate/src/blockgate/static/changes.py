"""``--changed-since REV``: the candidates on changed lines or through changed functions, and removed offloads."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from blockgate.offloads import (
    OffloadSite,
    sites_in_source,
)
from blockgate.static.reach import Candidate, Result


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"static inventory: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Changes:
    base: str
    lines: dict[str, set[int]]  # root-relative path -> changed lines of the current file (or the
    # lines next to a deletion)
    removed_offloads: list[OffloadSite]

    def touches(self, path: str, first: int, last: int) -> bool:
        return any(first <= line <= last for line in self.lines.get(path, ()))


def changes_since(rev: str, root: Path, packages: list[str], current: list[OffloadSite]) -> Changes:
    root = root.resolve()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    base = _git(root, "merge-base", rev, "HEAD").strip()
    prefix = root.relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    lines: dict[str, set[int]] = {}
    path = None
    for text in _git(top, "diff", "--no-color", "--no-ext-diff", "-U0", base, "--", ".").splitlines():
        if text.startswith("+++ "):
            name = text[4:]
            path = name[2:] if name.startswith("b/") else ""
            path = path[len(prefix) :] if path and path.startswith(prefix) else None
        elif text.startswith("@@") and path is not None:
            match = _HUNK.match(text)
            if match:
                start, count = int(match.group(3)), int(match.group(4) or "1")
                changed = lines.setdefault(path, set())
                if count:
                    changed.update(range(start, start + count))
                else:  # only deleted: the lines around the gap changed their function
                    changed.update((start, start + 1))
    # Offload sites at the base that are gone now (matched by what they are, not where).
    before: list[OffloadSite] = []
    listed = _git(top, "ls-tree", "-r", "--name-only", base).splitlines()
    for name in listed:
        if not name.endswith(".py") or not name.startswith(prefix):
            continue
        relative = name[len(prefix) :]
        module = relative[:-3].replace("/", ".").removesuffix(".__init__")
        if not any(module == p or module.startswith(p + ".") for p in packages):
            continue
        try:
            before.extend(sites_in_source(_git(top, "show", f"{base}:{name}"), relative))
        except SyntaxError:
            continue
    now = [_site_identity(s) for s in current]
    removed = []
    for site in before:
        identity = _site_identity(site)
        if identity in now:
            now.remove(identity)
        else:
            removed.append(site)
    return Changes(base, lines, removed)


def _site_identity(site: OffloadSite) -> tuple[str, str, str, str]:
    return (site.path, site.function, site.kind, site.target)


def changed_candidates(result: Result, changes: Changes) -> list[Candidate]:
    """Candidates on a changed line, or whose chain passes through a changed function."""
    return [
        c
        for c in result.candidates
        if c.line in changes.lines.get(c.path, ())
        or any(changes.touches(fn.path, fn.line, fn.end_line) for fn in c.chain_functions)
    ]
