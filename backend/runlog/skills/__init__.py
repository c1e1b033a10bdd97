"""Skills: folders holding a ``SKILL.md`` with YAML front matter."""

from runlog.skills.storage import LocalSkillStorage, Skill

__all__ = ["LocalSkillStorage", "Skill"]
