"""Anchors: LocalSkillStorage.load_skills, get_skill and load_problems on real folders, every branch.

The scan runs in a worker thread and keeps what it parsed until a file changes: these anchors
drive the cache's hit, a changed file, a removed one and the bad files (over the limits, a pipe,
a file that reads longer than its size) while the gate watches the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

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
    put("l-long-int", "---\nname: long\ndescription: d\nn: " + "9" * 4301 + "\n---\n")


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
        "l-long-int",
    ):
        assert f"{folder}/SKILL.md" in warned, folder
    assert len(caplog.records) == 9


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


BOMB = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)
HAS_FIFO = hasattr(os, "mkfifo")
# A regular file whose size reads as 0 and whose content is longer than the limit below.
PROC_FILE = "/proc/self/status"
HAS_PROC = sys.platform.startswith("linux") and os.path.exists(PROC_FILE)


def _write_limits_tree(root):
    def put(folder, text):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "SKILL.md").write_text(text)

    def skill(name, extra=""):
        return f"---\nname: {name}\ndescription: {name} here\n{extra}---\nbody of {name}\n"

    put("a-alpha", skill("alpha"))
    put("b-beta", skill("beta", "tags: [x]\n"))
    put("c-bomb", skill("bomb", BOMB))
    put("e-binary", skill("binary", "b: !!binary //4=\n"))
    put("f-self", skill("self", "m: &m {k: *m}\n"))
    put("g-big", skill("big") + "x" * 2000)
    put("h-bool-key", skill("boolkey", "on: push\n"))
    if HAS_FIFO:
        (root / "i-pipe").mkdir()
        os.mkfifo(root / "i-pipe" / "SKILL.md")
    if HAS_PROC:
        (root / "j-proc").mkdir()
        os.symlink(PROC_FILE, root / "j-proc" / "SKILL.md")


@pytest.fixture
async def limits_root(tmp_path):
    await asyncio.to_thread(_write_limits_tree, tmp_path / "skills")
    return tmp_path / "skills"


def _rewrite_same_size(path, old, new):
    """Replace ``old`` by ``new`` (same length) in place, with a later modification time."""
    st = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


async def test_bad_files_are_skipped_and_reported_once(limits_root, caplog):
    storage = LocalSkillStorage(limits_root, max_file_bytes=1000)
    with caplog.at_level(logging.WARNING, logger="runlog.skills.storage"):
        skills = await storage.load_skills()
        assert [s.name for s in skills] == ["alpha", "beta"]
        problems = {p.path: p.reason for p in await storage.load_problems()}
        messages = [r.getMessage() for r in caplog.records]
    expected = {
        "c-bomb/SKILL.md": "expands to more than",
        "e-binary/SKILL.md": "!!binary",
        "f-self/SKILL.md": "recursive",
        "g-big/SKILL.md": "the limit is 1000",
        "h-bool-key/SKILL.md": "key True",
    }
    if HAS_FIFO:
        expected["i-pipe/SKILL.md"] = "not a regular file"
    if HAS_PROC:
        expected["j-proc/SKILL.md"] = "grew past 1000 bytes"
    assert set(problems) == set(expected)
    for path, reason in expected.items():
        assert reason in problems[path], path
        # Logged once, when first found: the second scan reused the outcome and said nothing.
        assert len([m for m in messages if f" {path} in " in m]) == 1, path
    assert len(messages) == len(expected)


async def test_cache_hit_changed_file_and_removed_file(limits_root):
    storage = LocalSkillStorage(limits_root, max_file_bytes=1000)
    alpha, beta = await storage.load_skills()
    again = await asyncio.gather(storage.load_skills(), storage.get_skill("beta"))
    assert again[0][0] is alpha and again[0][1] is beta and again[1] is beta  # nothing parsed again

    path = limits_root / "b-beta" / "SKILL.md"
    await asyncio.to_thread(_rewrite_same_size, path, "beta here", "beta HERE")
    alpha2, beta2 = await storage.load_skills()
    assert alpha2 is alpha and beta2 is not beta and beta2.description == "beta HERE"

    fixed = limits_root / "e-binary" / "SKILL.md"
    await asyncio.to_thread(_rewrite_same_size, fixed, "!!binary //4=", "'plain text'")
    assert [s.name for s in await storage.load_skills()] == ["alpha", "beta", "binary"]
    assert "e-binary/SKILL.md" not in {p.path for p in await storage.load_problems()}

    await asyncio.to_thread(path.unlink)
    assert await storage.get_skill("beta") is None
    assert [s.name for s in await storage.load_skills()] == ["alpha", "binary"]
