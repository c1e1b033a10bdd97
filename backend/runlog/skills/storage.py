"""Load skills from ``root/<folder>/SKILL.md``.

A ``SKILL.md`` begins with a YAML front-matter block between two ``---``
lines; ``name`` and ``description`` are required, other keys are kept in
``metadata``. A file that cannot be used (too large, not a regular file, not
UTF-8, front matter missing, invalid or past the limits of
``runlog.skills.front_matter``, a name already taken) is skipped and reported:
a warning naming its path relative to the root and the reason, logged when the
problem appears, and ``load_problems()``. One bad skill never hides the others.

Parsed files are cached: each scan lists the root and stats each
``SKILL.md`` again, and reads and parses only a file whose signature (device,
inode, size, modification and change times) differs from the one it was read
with. The whole scan runs in a worker thread; scans of one storage run one at
a time, so requests arriving together after a change parse it once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlog.skills.front_matter import (
    DEFAULT_MAX_EXPANDED_SIZE,
    SkillFormatError,
    load_front_matter,
    split_front_matter,
)

logger = logging.getLogger(__name__)

SKILL_FILE = "SKILL.md"
DEFAULT_MAX_FILE_BYTES = 256 * 1024

__all__ = [
    "DEFAULT_MAX_EXPANDED_SIZE",
    "DEFAULT_MAX_FILE_BYTES",
    "LocalSkillStorage",
    "Skill",
    "SkillFormatError",
    "SkillProblem",
    "parse_skill",
]


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    path: Path  # the file: <root>/<folder>/SKILL.md
    body: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def relative_path(self) -> str:
        """The file's path relative to the skills folder: ``<folder>/SKILL.md``."""
        return f"{self.path.parent.name}/{self.path.name}"

    def to_dict(self) -> dict[str, Any]:
        # The relative path: where the skills folder lives is the server's business.
        return {
            "name": self.name,
            "description": self.description,
            "path": self.relative_path,
            "body": self.body,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class SkillProblem:
    """A SKILL.md the scan skipped: its path relative to the root, and why."""

    path: str
    reason: str


def parse_skill(path: Path, text: str, *, max_expanded_size: int = DEFAULT_MAX_EXPANDED_SIZE) -> Skill:
    """Parse one SKILL.md text; raise SkillFormatError saying what is wrong."""
    yaml_text, body = split_front_matter(text)
    meta = load_front_matter(yaml_text, max_expanded_size)
    if not isinstance(meta, dict):
        raise SkillFormatError("front matter must be a YAML mapping")
    for key in ("name", "description"):
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SkillFormatError(f"front matter needs a non-empty string '{key}'")
    extra = {k: v for k, v in meta.items() if k not in ("name", "description")}
    return Skill(
        name=meta["name"].strip(),
        description=meta["description"].strip(),
        path=path,
        body=body,
        metadata=extra,
    )


# What identifies one version of a file: st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns. The
# change time moves on every write and on every chmod or utime, which a preserved modification
# time (cp -p, tar) does not hide.
_Signature = tuple[int, int, int, int, int]
# O_BINARY: Windows would otherwise translate line ends under the file object.
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
)


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class _Read:
    """One file's outcome, kept while its signature holds (``None``: never reused)."""

    signature: _Signature | None
    outcome: Skill | str  # the skill, or why the file was skipped


@dataclass(frozen=True)
class _Scan:
    skills: list[Skill]
    problems: list[SkillProblem]


class LocalSkillStorage:
    """The skills under ``root``; a file over ``max_file_bytes`` or whose front matter expands past
    ``max_expanded_size`` (see ``runlog.skills.front_matter``) is skipped and reported."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_expanded_size: int = DEFAULT_MAX_EXPANDED_SIZE,
    ) -> None:
        for name, value in (("max_file_bytes", max_file_bytes), ("max_expanded_size", max_expanded_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.root = Path(root)
        self.max_file_bytes = max_file_bytes
        self.max_expanded_size = max_expanded_size
        # Replaced whole by each scan, never changed in place: a scan whose caller was cancelled
        # may still be running in its thread while the next one starts.
        self._reads: dict[str, _Read] = {}
        self._reported: frozenset[SkillProblem] = frozenset()
        self._scanning = asyncio.Lock()

    async def load_skills(self) -> list[Skill]:
        """All valid skills under the root, sorted by name; [] if the root is missing."""
        return (await self._scan()).skills

    async def get_skill(self, name: str) -> Skill | None:
        """The skill called ``name``, or None."""
        for skill in await self.load_skills():
            if skill.name == name:
                return skill
        return None

    async def load_problems(self) -> list[SkillProblem]:
        """The files the scan skips, in folder order, each with its reason."""
        return (await self._scan()).problems

    async def _scan(self) -> _Scan:
        async with self._scanning:
            return await asyncio.to_thread(self._sync_scan)

    def _sync_scan(self) -> _Scan:
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            folders = []
        except NotADirectoryError:
            problem = SkillProblem(".", "the skills folder is not a directory; no skills loaded")
            self._report([problem])
            return _Scan([], [problem])
        previous = self._reads
        reads: dict[str, _Read] = {}
        for folder in folders:
            relative = f"{folder.name}/{SKILL_FILE}"
            read = self._read(folder / SKILL_FILE, previous.get(relative))
            if read is not None:
                reads[relative] = read
        self._reads = reads

        skills: dict[str, Skill] = {}
        problems: list[SkillProblem] = []
        for relative, read in reads.items():
            if isinstance(read.outcome, str):
                problems.append(SkillProblem(relative, read.outcome))
                continue
            first = skills.get(read.outcome.name)
            if first is not None:
                reason = f"name {read.outcome.name!r} already defined by {first.relative_path}"
                problems.append(SkillProblem(relative, reason))
                continue
            skills[read.outcome.name] = read.outcome
        self._report(problems)
        return _Scan(sorted(skills.values(), key=lambda s: s.name), problems)

    def _read(self, path: Path, cached: _Read | None) -> _Read | None:
        """The file's outcome: the cached one while its signature holds; None if there is no file."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None  # a folder without SKILL.md is not a skill
        except OSError as exc:
            return _Read(None, str(exc))
        signature = _signature(st)
        if cached is not None and cached.signature == signature:
            return cached
        if not stat.S_ISREG(st.st_mode):  # never opened: a pipe waits for a writer, a device acts
            return _Read(signature, "not a regular file")
        try:
            # Should the file be swapped for a pipe or a terminal after the stat, opening it neither
            # waits for a writer nor takes a controlling terminal; the fstat below refuses it.
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _Read(signature, str(exc))
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                return _Read(_signature(before), "not a regular file")
            if before.st_size > self.max_file_bytes:
                too_big = f"the file is {before.st_size} bytes; the limit is {self.max_file_bytes}"
                return _Read(_signature(before), too_big)
            with open(fd, "rb", closefd=False) as file:
                data = file.read(self.max_file_bytes + 1)  # at most one byte past the limit
            after = _signature(os.fstat(fd))
        finally:
            os.close(fd)
        # Changed while being read: use what was read, but read it again next time.
        kept = after if after == _signature(before) else None
        if len(data) > self.max_file_bytes:
            return _Read(kept, f"the file grew past {self.max_file_bytes} bytes while it was read")
        try:
            text = data.decode("utf-8")
            return _Read(kept, parse_skill(path, text, max_expanded_size=self.max_expanded_size))
        except (UnicodeDecodeError, SkillFormatError) as exc:
            return _Read(kept, str(exc))

    def _report(self, problems: list[SkillProblem]) -> None:
        """Log each problem the previous scan did not have: once when it appears, not per request."""
        for problem in problems:
            if problem in self._reported:
                continue
            if problem.path == ".":
                logger.warning("skills folder %s: %s", self.root, problem.reason)
            else:
                logger.warning("skipping skill %s in %s: %s", problem.path, self.root, problem.reason)
        self._reported = frozenset(problems)
