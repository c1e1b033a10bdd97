"""Skills: folders holding a ``SKILL.md`` with YAML front matter."""

from runlog.skills.storage import LocalSkillStorage, Skill, SkillFormatError, SkillProblem

__all__ = ["LocalSkillStorage", "Skill", "SkillFormatError", "SkillProblem"]
