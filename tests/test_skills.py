"""LocalSkillStorage on real folders."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import httpx
import pytest

from runlog.gateway import Settings, create_app
from runlog.skills import LocalSkillStorage


def write_skill(root, folder, text, *, raw=None):
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def skill_md(name, description="does things", extra=""):
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\n# {name}\nbody\n"


async def test_loads_sorted_with_extra_keys(tmp_path):
    write_skill(tmp_path, "b-folder", skill_md("zeta"))
    write_skill(tmp_path, "a-folder", skill_md("alpha", extra="version: 2\ntags: [x, y]\n"))
    skills = await LocalSkillStorage(tmp_path).load_skills()
    assert [s.name for s in skills] == ["alpha", "zeta"]
    alpha = skills[0]
    assert alpha.description == "does things"
    assert alpha.metadata == {"version": 2, "tags": ["x", "y"]}
    assert alpha.body == "# alpha\nbody\n"
    assert alpha.path == tmp_path / "a-folder" / "SKILL.md"
    assert alpha.to_dict()["path"] == "a-folder/SKILL.md"  # relative to the skills folder


async def test_missing_root_gives_empty(tmp_path):
    assert await LocalSkillStorage(tmp_path / "absent").load_skills() == []


async def test_root_that_is_a_file_gives_empty_with_warning(tmp_path, caplog):
    (tmp_path / "file").write_text("x")
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path / "file").load_skills() == []
    assert "not a directory" in caplog.text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# no front matter\n", "no front matter"),
        ("---\nname: x\ndescription: y\n", "not closed"),
        ("---\nname: [unclosed\n---\n", "not valid YAML"),
        ("---\n- a list\n---\n", "mapping"),
        ("---\nname: x\n---\n", "description"),
        ("---\ndescription: y\n---\n", "name"),
        ("---\nname: ''\ndescription: y\n---\n", "name"),
        ("", "no front matter"),
    ],
)
async def test_invalid_front_matter_skipped_with_warning(tmp_path, caplog, text, reason):
    bad = write_skill(tmp_path, "bad", text)
    write_skill(tmp_path, "good", skill_md("good"))
    with caplog.at_level(logging.WARNING, logger="runlog.skills.storage"):
        skills = await LocalSkillStorage(tmp_path).load_skills()
    assert [s.name for s in skills] == ["good"]
    [message] = [r.getMessage() for r in caplog.records]
    assert str(bad) in message and reason in message


async def test_non_utf8_skipped_with_warning(tmp_path, caplog):
    bad = write_skill(tmp_path, "latin", None, raw=b"---\nname: caf\xe9\ndescription: x\n---\n")
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path).load_skills() == []
    assert str(bad) in caplog.text and "utf-8" in caplog.text


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files whatever their mode"
)
async def test_unreadable_skipped_with_warning(tmp_path, caplog):
    bad = write_skill(tmp_path, "locked", skill_md("locked"))
    bad.chmod(0)
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path).load_skills() == []
    assert str(bad) in caplog.text


async def test_unreadable_as_directory_skipped_with_warning(tmp_path, caplog):
    # Works as root too: SKILL.md is a folder, so reading it fails with an OSError.
    (tmp_path / "weird" / "SKILL.md").mkdir(parents=True)
    write_skill(tmp_path, "ok", skill_md("ok"))
    with caplog.at_level(logging.WARNING):
        assert [s.name for s in await LocalSkillStorage(tmp_path).load_skills()] == ["ok"]
    assert str(tmp_path / "weird" / "SKILL.md") in caplog.text


async def test_duplicate_names_keep_first_in_sorted_order(tmp_path, caplog):
    write_skill(tmp_path, "b", skill_md("same", "second"))
    write_skill(tmp_path, "a", skill_md("same", "first"))
    with caplog.at_level(logging.WARNING):
        skills = await LocalSkillStorage(tmp_path).load_skills()
    assert [(s.name, s.description) for s in skills] == [("same", "first")]
    assert "already defined" in caplog.text and str(tmp_path / "b" / "SKILL.md") in caplog.text


async def test_folders_without_skill_md_and_plain_files_ignored(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "README.md").write_text("not a skill")
    write_skill(tmp_path, "one", skill_md("one"))
    assert [s.name for s in await LocalSkillStorage(tmp_path).load_skills()] == ["one"]


async def test_get_skill(tmp_path):
    write_skill(tmp_path, "folder", skill_md("named"))
    storage = LocalSkillStorage(tmp_path)
    assert (await storage.get_skill("named")).name == "named"
    assert await storage.get_skill("folder") is None
    assert await storage.get_skill("missing") is None


@contextlib.asynccontextmanager
async def serving(tmp_path, **settings):
    """The app over ``tmp_path/skills``, through httpx's ASGI transport, lifespan included."""
    app = create_app(Settings(data_dir=tmp_path / "data", skills_dir=tmp_path / "skills", **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runlog") as client:
            yield client


async def test_paths_are_given_relative_to_the_skills_folder(tmp_path):
    write_skill(tmp_path / "skills", "hello-folder", skill_md("hello"))
    async with serving(tmp_path) as client:
        [listed] = (await client.get("/skills")).json()
        assert listed["path"] == "hello-folder/SKILL.md"
        assert (await client.get("/skills/hello")).json()["path"] == "hello-folder/SKILL.md"
