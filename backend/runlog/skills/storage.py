"""Load skills from ``root/<folder>/SKILL.md``.

A ``SKILL.md`` begins with a YAML front-matter block between two ``---``
lines; ``name`` and ``description`` are required, other keys are kept in
``metadata``. A file that cannot be used is skipped with a warning naming its
path and the reason, so one bad skill never hides the others. The whole scan
runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

SKILL_FILE = "SKILL.md"


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


class SkillFormatError(ValueError):
    """A SKILL.md whose front matter is missing or invalid."""


def parse_skill(path: Path, text: str) -> Skill:
    """Parse one SKILL.md text; raise SkillFormatError saying what is wrong."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SkillFormatError("no front matter: the file must start with a '---' line")
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        raise SkillFormatError("front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise SkillFormatError(f"front matter is not valid YAML: {exc}") from exc
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
        body="".join(lines[end + 1 :]),
        metadata=extra,
    )


class LocalSkillStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _sync_scan(self) -> list[Skill]:
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            logger.warning("skills root %s is not a directory; no skills loaded", self.root)
            return []
        skills: dict[str, Skill] = {}
        for folder in folders:
            path = folder / SKILL_FILE
            try:
                text = path.read_text(encoding="utf-8")
                skill = parse_skill(path, text)
            except FileNotFoundError:
                continue  # a folder without SKILL.md is not a skill
            except (OSError, UnicodeDecodeError, SkillFormatError) as exc:
                logger.warning("skipping skill %s: %s", path, exc)
                continue
            first = skills.get(skill.name)
            if first is not None:
                logger.warning(
                    "skipping skill %s: name %r already defined by %s", path, skill.name, first.path
                )
                continue
            skills[skill.name] = skill
        return sorted(skills.values(), key=lambda s: s.name)

    async def load_skills(self) -> list[Skill]:
        """All valid skills under the root, sorted by name; [] if the root is missing."""
        return await asyncio.to_thread(self._sync_scan)

    async def get_skill(self, name: str) -> Skill | None:
        """The skill called ``name``, or None."""
        for skill in await self.load_skills():
            if skill.name == name:
                return skill
        return None
