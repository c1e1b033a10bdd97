"""Anchors: LocalSkillStorage.load_skills and get_skill on real folders, every branch."""

from __future__ import annotations

import asyncio
import logging

import pytest

from runlog.skills import LocalSkillStorage


def _write_tree(root):
    def put(folder, text=None, raw=None):
        path = root / folder / "SKILL.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw if raw is not None else text.encode())

    put("a-good", "---\nname: alpha\ndescription: first\nversion: 1\n---\nbody A\n")
    put("b-dup", "---\nname: alpha\ndescription: duplicate\n---\n")
    put("c-nofront", "no front matter\n")
    put("d-unclosed", "---\nname: x\n")
    put("e-yaml", "---\nname: [broken\n---\n")
    put("f-list", "---\n- a\n---\n")
    put("g-noname", "---\ndescription: d\n---\n")
    put("h-latin1", raw=b"---\nname: caf\xe9\ndescription: d\n---\n")
    (root / "i-dir-as-file" / "SKILL.md").mkdir(parents=True)
    (root / "j-empty").mkdir()
    (root / "stray.txt").write_text("not a folder")
    put("k-zeta", "---\nname: zeta\ndescription: last\n---\n")


@pytest.fixture
async def skills_root(tmp_path):
    await asyncio.to_thread(_write_tree, tmp_path / "skills")
    return tmp_path / "skills"


async def test_load_skills_every_branch(skills_root, caplog):
    with caplog.at_level(logging.WARNING, logger="runlog.skills.storage"):
        skills = await LocalSkillStorage(skills_root).load_skills()
    assert [(s.name, s.description) for s in skills] == [("alpha", "first"), ("zeta", "last")]
    assert skills[0].metadata == {"version": 1} and skills[0].body == "body A\n"
    warned = caplog.text
    for folder in (
        "b-dup",
        "c-nofront",
        "d-unclosed",
        "e-yaml",
        "f-list",
        "g-noname",
        "h-latin1",
        "i-dir-as-file",
    ):
        assert f"{folder}/SKILL.md" in warned, folder
    assert len(caplog.records) == 8


async def test_get_skill_found_and_missing(skills_root):
    storage = LocalSkillStorage(skills_root)
    assert (await storage.get_skill("zeta")).description == "last"
    assert await storage.get_skill("c-nofront") is None


async def test_missing_root_and_file_root(tmp_path, caplog):
    assert await LocalSkillStorage(tmp_path / "absent").load_skills() == []
    await asyncio.to_thread((tmp_path / "file").write_text, "x")
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path / "file").load_skills() == []
    assert "not a directory" in caplog.text
