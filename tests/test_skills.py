"""LocalSkillStorage on real folders."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
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


async def test_root_that_is_a_file_gives_empty_with_one_warning(tmp_path, caplog):
    (tmp_path / "file").write_text("x")
    storage = LocalSkillStorage(tmp_path / "file")
    with caplog.at_level(logging.WARNING):
        assert await storage.load_skills() == []
        assert await storage.load_skills() == []
    [message] = [r.getMessage() for r in caplog.records]
    assert "not a directory" in message


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
    assert "bad/SKILL.md" in message and str(bad) not in message and reason in message


async def test_non_utf8_skipped_with_warning(tmp_path, caplog):
    bad = write_skill(tmp_path, "latin", None, raw=b"---\nname: caf\xe9\ndescription: x\n---\n")
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path).load_skills() == []
    assert "latin/SKILL.md" in caplog.text and str(bad) not in caplog.text and "utf-8" in caplog.text


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files whatever their mode"
)
async def test_unreadable_skipped_with_warning(tmp_path, caplog):
    bad = write_skill(tmp_path, "locked", skill_md("locked"))
    bad.chmod(0)
    with caplog.at_level(logging.WARNING):
        assert await LocalSkillStorage(tmp_path).load_skills() == []
    assert "locked/SKILL.md" in caplog.text and str(bad) not in caplog.text


async def test_unreadable_as_directory_skipped_with_warning(tmp_path, caplog):
    # Works as root too: SKILL.md is a folder, so reading it fails with an OSError.
    (tmp_path / "weird" / "SKILL.md").mkdir(parents=True)
    write_skill(tmp_path, "ok", skill_md("ok"))
    with caplog.at_level(logging.WARNING):
        assert [s.name for s in await LocalSkillStorage(tmp_path).load_skills()] == ["ok"]
    assert "weird/SKILL.md in " in caplog.text and "not a regular file" in caplog.text


async def test_duplicate_names_keep_first_in_sorted_order(tmp_path, caplog):
    write_skill(tmp_path, "b", skill_md("same", "second"))
    write_skill(tmp_path, "a", skill_md("same", "first"))
    with caplog.at_level(logging.WARNING):
        skills = await LocalSkillStorage(tmp_path).load_skills()
    assert [(s.name, s.description) for s in skills] == [("same", "first")]
    assert "b/SKILL.md in " in caplog.text and "already defined by a/SKILL.md" in caplog.text


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


# -- hostile and broken files (issue 27) ------------------------------------------------------
#
# Each entry is a SKILL.md that must be skipped and reported, never listed, never a crash, never
# a failed listing: (front matter after name and description, or None for a whole file given as
# is, and a word of the reason reported).

BOMB = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)
DEEP_BY_ALIASES = "".join(f"a{i}: &a{i} [*a{i - 1}]\n" if i else "a0: &a0 []\n" for i in range(64))

BAD_FILES = {
    "alias-bomb": (BOMB, "expand"),
    "merge-bomb": (
        "a: &a {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7}\n"
        + "".join(
            f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}' if i else '*a'] * 8)}]}}\n" for i in range(6)
        ),
        "expand",
    ),
    "long-integer": ("n: " + "9" * 4301 + "\n", "4300 digits"),
    "sexagesimal-integer": ("n: 1" + ":1" * 2200 + "\n", "4300 digits"),
    "hex-integer": (f"n: {hex(10**4300)}\n", "4300 digits"),
    "binary-not-utf8": ("b: !!binary //4=\n", "!!binary"),
    "binary-utf8": ("b: !!binary aGVsbG8=\n", "!!binary"),
    "self-alias-mapping": ("m: &m {k: *m}\n", "recursive"),
    "self-alias-list": ("s: &s [1, *s]\n", "recursive"),
    "self-merge": ("m: &m {<<: *m}\n", "recursive"),
    "too-deep": ("x: " + "[" * 64 + "]" * 64 + "\n", "deeper than 64"),
    "deep-by-aliases": (DEEP_BY_ALIASES, "deeper than 64"),
    "bool-key": ("on: push\n", "key True"),
    "int-key": ("k: {1: one}\n", "key 1"),
    "nan": ("f: .nan\n", "finite"),
    "infinity": ("f: [1.0, -.inf]\n", "finite"),
    "set": ("s: !!set {a, b}\n", "!!set"),
    "ordered-map": ("o: !!omap [a: 1, b: 2]\n", "!!omap"),
    "impossible-date": ("d: 2024-13-45\n", "month"),
    "impossible-offset": ("t: 2001-12-14 21:59:43.10 +99:00\n", "offset"),
    "python-tag": ("p: !!python/object/apply:os.system [echo hi]\n", "not valid YAML"),
    "invalid-yaml": ("x: [unclosed\n", "not valid YAML"),
    "not-a-mapping": (None, "mapping"),
    "too-big": (None, "bytes"),
}


def bad_file_text(kind):
    extra, _ = BAD_FILES[kind]
    if kind == "not-a-mapping":
        return "---\n- a list\n---\n"
    if kind == "too-big":  # one byte over the default limit, 256 KiB
        head = skill_md("big")
        return head + "x" * (256 * 1024 + 1 - len(head))
    return skill_md("bad", extra=extra)


@contextlib.asynccontextmanager
async def serving(tmp_path, **settings):
    """The app over ``tmp_path/skills``, through httpx's ASGI transport, lifespan included."""
    app = create_app(Settings(data_dir=tmp_path / "data", skills_dir=tmp_path / "skills", **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


def warnings_naming(caplog, relative):
    return [r.getMessage() for r in caplog.records if relative in r.getMessage()]


@pytest.mark.parametrize("kind", BAD_FILES)
async def test_a_bad_file_is_skipped_and_reported_while_the_good_ones_are_served(tmp_path, caplog, kind):
    write_skill(tmp_path / "skills", "bad", bad_file_text(kind))
    write_skill(tmp_path / "skills", "good", skill_md("good"))
    with caplog.at_level(logging.WARNING, logger="runlog.skills.storage"):
        async with serving(tmp_path) as client:
            for _ in range(2):
                listed = await client.get("/skills")
                assert listed.status_code == 200, listed.text
                assert [s["name"] for s in listed.json()] == ["good"]
                assert len(listed.content) < 1000
                assert (await client.get("/skills/good")).status_code == 200
                assert (await client.get("/skills/bad")).status_code == 404
    # Reported once, naming the file relative to the skills folder and the reason: the requests
    # after startup found it unchanged and said nothing more.
    [warning] = warnings_naming(caplog, "bad/SKILL.md")
    assert BAD_FILES[kind][1] in warning
    assert str(tmp_path / "skills" / "bad" / "SKILL.md") not in warning


@pytest.mark.parametrize("kind", BAD_FILES)
async def test_load_problems_names_each_bad_file_and_its_reason(tmp_path, kind):
    write_skill(tmp_path, "bad", bad_file_text(kind))
    write_skill(tmp_path, "good", skill_md("good"))
    storage = LocalSkillStorage(tmp_path)
    assert [s.name for s in await storage.load_skills()] == ["good"]
    [problem] = await storage.load_problems()
    assert problem.path == "bad/SKILL.md" and BAD_FILES[kind][1] in problem.reason


async def test_a_file_at_the_size_limit_loads_and_one_byte_more_does_not(tmp_path):
    head = skill_md("edge")
    write_skill(tmp_path, "edge", head + "x" * (1000 - len(head)))
    storage = LocalSkillStorage(tmp_path, max_file_bytes=1000)
    [skill] = await storage.load_skills()
    assert len(skill.body) == 1000 - len(head) + len("# edge\nbody\n")
    write_skill(tmp_path, "edge", head + "x" * (1001 - len(head)))
    assert await storage.load_skills() == []
    [problem] = await storage.load_problems()
    assert problem.reason == "the file is 1001 bytes; the limit is 1000"


async def test_expansion_counts_each_alias_in_full_up_to_the_limit(tmp_path):
    # Every scalar counts its length plus one, every list or mapping one, an alias the whole
    # size of what it names: mapping 1 + name 5 + n 2 + description 12 + d 2 + x 2
    # + [ab, c] (1 + 3 + 2) + y 2 + [*a, *a] (1 + 6 + 6) = 45.
    write_skill(tmp_path, "s", "---\nname: n\ndescription: d\nx: &a [ab, c]\ny: [*a, *a]\n---\n")
    [skill] = await LocalSkillStorage(tmp_path, max_expanded_size=45).load_skills()
    assert skill.metadata == {"x": ["ab", "c"], "y": [["ab", "c"], ["ab", "c"]]}
    storage = LocalSkillStorage(tmp_path, max_expanded_size=44)
    assert await storage.load_skills() == []
    [problem] = await storage.load_problems()
    assert "expands to more than 44" in problem.reason


async def test_nesting_and_integers_up_to_their_limits_load(tmp_path):
    write_skill(tmp_path, "deep", skill_md("deep", extra="x: " + "[" * 63 + "]" * 63 + "\n"))
    write_skill(
        tmp_path, "aliases", skill_md("aliases", extra=DEEP_BY_ALIASES[: DEEP_BY_ALIASES.index("a63")])
    )
    write_skill(tmp_path, "long", skill_md("long", extra="n: " + "9" * 4300 + "\n"))
    write_skill(tmp_path, "hex", skill_md("hex", extra=f"n: {hex(10**4300 - 1)}\n"))
    storage = LocalSkillStorage(tmp_path)
    skills = {s.name: s for s in await storage.load_skills()}
    assert await storage.load_problems() == []
    assert skills["long"].metadata["n"] == skills["hex"].metadata["n"] == 10**4300 - 1
    depth, value = 0, skills["deep"].metadata["x"]
    while value != []:
        depth, value = depth + 1, value[0]
    assert depth == 62  # the front matter is level 1, x's outer list level 2, the innermost 64


async def test_a_merge_key_and_dates_still_load(tmp_path):
    extra = "base: &b {k: 1}\nmerged: {<<: *b, j: 2}\nwhen: 2024-05-01\n"
    write_skill(tmp_path, "s", skill_md("s", extra=extra))
    [skill] = await LocalSkillStorage(tmp_path).load_skills()
    assert skill.metadata["merged"] == {"k": 1, "j": 2}
    assert skill.metadata["when"] == datetime.date(2024, 5, 1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
async def test_a_named_pipe_is_skipped_without_waiting_for_a_writer(tmp_path):
    (tmp_path / "pipe").mkdir()
    fifo = tmp_path / "pipe" / "SKILL.md"
    os.mkfifo(fifo)
    write_skill(tmp_path, "good", skill_md("good"))
    storage = LocalSkillStorage(tmp_path)
    try:
        skills = await asyncio.wait_for(storage.load_skills(), timeout=10)
    finally:
        # A scan that opened the pipe would wait for a writer forever, and the test's loop for
        # its thread: open the write end, so that the test ends either way.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert [s.name for s in skills] == ["good"]
    [problem] = await storage.load_problems()
    assert problem.path == "pipe/SKILL.md" and "not a regular file" in problem.reason


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="no /proc here")
async def test_a_file_longer_than_its_size_says_is_read_only_up_to_the_limit(tmp_path):
    (tmp_path / "proc").mkdir()
    os.symlink("/proc/self/status", tmp_path / "proc" / "SKILL.md")  # a regular file of size 0
    storage = LocalSkillStorage(tmp_path, max_file_bytes=100)
    assert await storage.load_skills() == []
    [problem] = await storage.load_problems()
    assert problem.reason == "the file grew past 100 bytes while it was read"


async def test_a_problem_is_logged_when_it_appears_and_again_after_it_was_fixed(tmp_path, caplog):
    storage = LocalSkillStorage(tmp_path)
    write_skill(tmp_path, "s", "---\nname: [unclosed\n---\n")
    with caplog.at_level(logging.WARNING, logger="runlog.skills.storage"):
        for _ in range(3):
            assert await storage.load_skills() == []
        assert len(warnings_naming(caplog, "s/SKILL.md")) == 1
        write_skill(tmp_path, "s", skill_md("fixed-now"))
        assert [s.name for s in await storage.load_skills()] == ["fixed-now"]
        assert await storage.load_problems() == []
        write_skill(tmp_path, "s", "---\nname: [broken again\n---\n")
        assert await storage.load_skills() == []
    assert len(warnings_naming(caplog, "s/SKILL.md")) == 2


# -- the cache: parsed once, until the file changes -------------------------------------------


async def test_unchanged_files_are_not_read_again(tmp_path):
    write_skill(tmp_path, "a", skill_md("alpha"))
    write_skill(tmp_path, "b", skill_md("beta"))
    storage = LocalSkillStorage(tmp_path)
    first = await storage.load_skills()
    again = await storage.load_skills()
    assert [s.name for s in again] == ["alpha", "beta"]
    assert all(x is y for x, y in zip(first, again, strict=True))  # the cached records themselves
    assert (await storage.get_skill("beta")) is first[1]


async def test_only_the_changed_file_is_parsed_again(tmp_path):
    write_skill(tmp_path, "a", skill_md("alpha"))
    b = write_skill(tmp_path, "b", skill_md("beta", "old"))
    storage = LocalSkillStorage(tmp_path)
    alpha, beta = await storage.load_skills()
    # Same size, same inode: the new modification time alone says it changed.
    stat = b.stat()
    b.write_text(skill_md("beta", "new"), encoding="utf-8")
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    alpha2, beta2 = await storage.load_skills()
    assert alpha2 is alpha and beta2 is not beta and beta2.description == "new"


async def test_a_file_replaced_by_another_is_parsed_again(tmp_path):
    write_skill(tmp_path, "a", skill_md("alpha", "old"))
    storage = LocalSkillStorage(tmp_path)
    [old] = await storage.load_skills()
    replacement = tmp_path / "new.md"
    replacement.write_text(skill_md("alpha", "new"), encoding="utf-8")
    os.replace(replacement, tmp_path / "a" / "SKILL.md")  # a new inode, as editors and rsync do
    [new] = await storage.load_skills()
    assert new.description == "new" and new is not old


async def test_added_and_removed_folders_are_seen(tmp_path):
    write_skill(tmp_path, "a", skill_md("alpha"))
    storage = LocalSkillStorage(tmp_path)
    assert [s.name for s in await storage.load_skills()] == ["alpha"]
    write_skill(tmp_path, "b", skill_md("beta"))
    assert [s.name for s in await storage.load_skills()] == ["alpha", "beta"]
    (tmp_path / "a" / "SKILL.md").unlink()
    assert [s.name for s in await storage.load_skills()] == ["beta"]


async def test_concurrent_requests_parse_a_changed_file_once(tmp_path):
    write_skill(tmp_path, "a", skill_md("alpha"))
    storage = LocalSkillStorage(tmp_path)
    results = await asyncio.gather(*(storage.load_skills() for _ in range(8)))
    assert all(r[0] is results[0][0] for r in results)


# -- paths and settings -----------------------------------------------------------------------


async def test_paths_are_given_relative_to_the_skills_folder(tmp_path):
    write_skill(tmp_path / "skills", "hello-folder", skill_md("hello"))
    async with serving(tmp_path) as client:
        [listed] = (await client.get("/skills")).json()
        assert listed["path"] == "hello-folder/SKILL.md"
        assert (await client.get("/skills/hello")).json()["path"] == "hello-folder/SKILL.md"


async def test_the_service_applies_its_skill_limits(tmp_path):
    write_skill(tmp_path / "skills", "small", skill_md("small"))
    write_skill(tmp_path / "skills", "large", skill_md("large", extra="x: " + "y" * 500 + "\n"))
    write_skill(tmp_path / "skills", "aliased", skill_md("aliased", extra="x: &x [a]\ny: [*x, *x]\n"))
    async with serving(tmp_path, max_skill_file_bytes=300, max_skill_expanded_size=40) as client:
        assert [s["name"] for s in (await client.get("/skills")).json()] == ["small"]


def test_skill_limits_from_env():
    s = Settings.from_env({})
    assert (s.max_skill_file_bytes, s.max_skill_expanded_size) == (256 * 1024, 1024 * 1024)
    env = {"RUNLOG_MAX_SKILL_FILE_BYTES": "1000", "RUNLOG_MAX_SKILL_EXPANDED_SIZE": "20"}
    s = Settings.from_env(env)
    assert (s.max_skill_file_bytes, s.max_skill_expanded_size) == (1000, 20)
    with pytest.raises(ValueError, match="RUNLOG_MAX_SKILL_FILE_BYTES"):
        Settings.from_env({"RUNLOG_MAX_SKILL_FILE_BYTES": "big"})
    with pytest.raises(ValueError, match="max_skill_expanded_size"):
        Settings.from_env({"RUNLOG_MAX_SKILL_EXPANDED_SIZE": "0"})
    with pytest.raises(ValueError, match="max_file_bytes"):
        LocalSkillStorage(".", max_file_bytes=0)
