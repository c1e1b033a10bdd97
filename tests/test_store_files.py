"""What the JSONL store leaves on the file system, and what a request may make it create (issue 27).

* A delete removes what it leaves (the thread file and its lock file) and
  creates nothing; a read creates nothing.
* A request names at most ``max_threads_per_request`` threads (every store,
  through the gateway): one request cannot create files without bound.
* No link inside the store's folder is followed; the folder is private.
* Ids map to file names that no two ids share on a case-insensitive file
  system; files written under the old mapping are still read, and moved.
* The descriptors the store keeps open are a bounded pool.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import threading

import httpx
import pytest

from runlog.events import JsonlRunEventStore, jsonl
from runlog.gateway import Settings, create_app
from tests.factories import event

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

posix = pytest.mark.skipif(fcntl is None, reason="flock, modes, links and /proc are POSIX")


def every_file(root):
    """Every path under ``root``, folders included, relative and sorted."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- deletes and reads create nothing, deletes leave nothing -------------------------


async def test_deleting_a_thread_removes_its_lock_file(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(thread_id="gone"))
    await store.put(**event(thread_id="kept"))
    assert await store.delete_by_thread("gone") == 1
    assert every_file(tmp_path) == ["locks", "locks/kept.lock", "threads", "threads/kept.jsonl"]
    # The thread can be written again, from a fresh start.
    assert (await store.put(**event(thread_id="gone")))["seq"] == 1
    assert (await JsonlRunEventStore(tmp_path).list_messages("gone"))[0]["seq"] == 1


async def test_deletes_of_threads_that_never_existed_create_nothing(tmp_path):
    base = tmp_path / "events"
    store = JsonlRunEventStore(base)
    assert await store.delete_by_thread("never") == 0
    assert await store.delete_by_run("never", "r1") == 0
    assert every_file(tmp_path) == []
    await store.put(**event(thread_id="other"))
    before = every_file(base)
    assert await store.delete_by_thread("never") == 0
    assert await store.delete_by_run("never", "r1") == 0
    assert every_file(base) == before


async def test_reads_create_nothing(tmp_path):
    base = tmp_path / "events"
    store = JsonlRunEventStore(base)
    assert await store.list_messages("t1") == []
    assert await store.list_events("t1", "r1") == []
    assert await store.list_messages_by_run("t1", "r1") == []
    assert await store.count_messages("t1") == 0
    assert every_file(tmp_path) == []


async def test_deleting_the_last_run_keeps_the_thread_file_for_its_seqs(tmp_path):
    """delete_by_run leaves the thread's file on purpose: it holds the last seq, never handed out again."""
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event())
    assert await store.delete_by_run("t1", "r1") == 1
    assert (await store.put(**event()))["seq"] == 2


@posix
async def test_a_writer_holding_the_old_lock_file_excludes_no_one_and_relocks(tmp_path, monkeypatch):
    """The delete unlinks the lock file while it holds it. A writer (another store: another open
    file description, as another process has) that opened the old file before that must not
    count its lock on the unlinked file: it locks the file at the path, which excludes others."""
    writer, deleter = JsonlRunEventStore(tmp_path), JsonlRunEventStore(tmp_path)
    await writer.put(**event())  # the writer keeps the lock file open
    assert await deleter.delete_by_thread("t1") == 1
    assert not (tmp_path / "locks" / "t1.lock").exists()
    seen = []
    original = JsonlRunEventStore._append_locked

    def while_writing(self, held, thread_id, parts, *rest):
        path = tmp_path / "locks" / "t1.lock"
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append("excluded")
            else:
                seen.append("got the lock")
        finally:
            os.close(fd)
        return original(self, held, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", while_writing)
    assert (await writer.put(**event()))["seq"] == 1
    assert seen == ["excluded"]


@posix
def test_writers_and_deleters_in_parallel_never_write_at_once(tmp_path):
    """Two stores (each its own file descriptions, as two processes) write and delete one
    thread at the same time; every file left is whole and in order, and each acknowledged
    write after the last delete is on disk."""
    rounds = 150

    def writer():
        async def main():
            store = JsonlRunEventStore(tmp_path, fsync=False)
            for i in range(rounds):
                await store.put(**event(content=f"w{i}"))

        asyncio.run(main())

    def deleter():
        async def main():
            store = JsonlRunEventStore(tmp_path, fsync=False)
            for _ in range(rounds // 3):
                await store.delete_by_thread("t1")
                await asyncio.sleep(0.001)

        asyncio.run(main())

    threads = [threading.Thread(target=writer), threading.Thread(target=deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    path = tmp_path / "threads" / "t1.jsonl"
    lines = path.read_bytes().splitlines() if path.exists() else []
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs == list(range(1, len(seqs) + 1))
    contents = [json.loads(line)["content"] for line in lines]
    assert contents == sorted(contents, key=lambda c: int(c[1:]))
    if contents:
        assert contents[-1] == f"w{rounds - 1}"


# -- a request creates a bounded number of threads ----------------------------------


def make_settings(tmp_path, events_url=None, **limits):
    return Settings(
        data_dir=tmp_path / "data", skills_dir=tmp_path / "skills", events_url=events_url, **limits
    )


async def post_batch(settings, threads):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            body = [event(thread_id=f"t{i}") for i in range(threads)]
            return await client.post("/events/batch", json=body)


@pytest.mark.parametrize("events_url", [None, "memory:"])
async def test_a_batch_naming_too_many_threads_is_refused_and_creates_nothing(tmp_path, events_url):
    settings = make_settings(tmp_path, events_url)
    limit = settings.max_threads_per_request
    answer = await post_batch(settings, limit + 1)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": f"the batch names {limit + 1} threads; a request may name at most {limit}"
    }
    assert not (settings.data_dir / "events").exists()
    assert (await post_batch(settings, limit)).status_code == 201


async def test_the_threads_per_request_limit_is_configurable(tmp_path):
    settings = Settings.from_env({"RUNLOG_MAX_THREADS_PER_REQUEST": "2", "RUNLOG_DATA_DIR": str(tmp_path)})
    assert settings.max_threads_per_request == 2
    assert (await post_batch(settings, 3)).status_code == 422
    assert (await post_batch(settings, 2)).status_code == 201
    with pytest.raises(ValueError, match="max_threads_per_request"):
        Settings(max_threads_per_request=0)


# -- links and permissions -------------------------------------------------------


@posix
@pytest.mark.parametrize("link", ["threads/t1.jsonl", "locks/t1.lock"])
async def test_a_link_planted_for_a_file_is_refused_and_its_target_untouched(tmp_path, link):
    base, target = tmp_path / "events", tmp_path / "target"
    target.write_text("")
    (base / "threads").mkdir(parents=True)
    (base / "locks").mkdir()
    (base / link).symlink_to(target)
    store = JsonlRunEventStore(base)
    with pytest.raises(OSError, match="symbolic link"):  # jsonl.LinkRefusedError
        await store.put(**event())
    assert target.read_text() == ""


@posix
async def test_a_link_planted_for_a_thread_file_is_not_read(tmp_path):
    base, target = tmp_path / "events", tmp_path / "target.jsonl"
    await JsonlRunEventStore(tmp_path / "elsewhere").put(**event(content="secret"))
    os.replace(tmp_path / "elsewhere" / "threads" / "t1.jsonl", target)
    (base / "threads").mkdir(parents=True)
    (base / "threads" / "t1.jsonl").symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        await JsonlRunEventStore(base).list_messages("t1")


@posix
@pytest.mark.parametrize("folder", ["threads", "locks"])
async def test_a_link_planted_for_a_folder_is_refused(tmp_path, folder):
    base, target = tmp_path / "events", tmp_path / "target"
    target.mkdir()
    base.mkdir()
    (base / folder).symlink_to(target, target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        await JsonlRunEventStore(base).put(**event())
    assert list(target.iterdir()) == []


@posix
async def test_a_linked_data_folder_itself_is_followed(tmp_path):
    """The configured folder may be a link (an operator's choice): only links inside it are refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "events").symlink_to(tmp_path / "real", target_is_directory=True)
    await JsonlRunEventStore(tmp_path / "events").put(**event())
    assert (tmp_path / "real" / "threads" / "t1.jsonl").exists()


@posix
async def test_folders_and_files_are_private(tmp_path):
    base = tmp_path / "events"
    old_umask = os.umask(0o022)
    try:
        store = JsonlRunEventStore(base)
        await store.put(**event())
        await store.put(**event(run_id="r2"))
        await store.delete_by_run("t1", "r2")  # the rewritten file too
    finally:
        os.umask(old_umask)
    for path in (base, base / "threads", base / "locks"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in (base / "threads" / "t1.jsonl", base / "locks" / "t1.lock"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- ids to file names ---------------------------------------------------------


def test_ids_differing_in_case_map_to_names_differing_ignoring_case():
    ids = ["abc", "ABC", "Abc", "aBc", "abC", "A-b_C", "a-b_c", "x" * 128, "X" * 128, "Xx" * 64]
    names = [jsonl.file_stem(i) for i in ids]
    assert len({name.casefold() for name in names}) == len(ids)
    assert all(len(name) + len(".jsonl") <= 255 for name in names)
    assert jsonl.file_stem("abc-1_z") == "abc-1_z"  # ids without capitals keep their old name


async def test_threads_differing_in_case_have_files_differing_ignoring_case(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    for thread_id in ("abc", "ABC", "Abc"):
        await store.put(**event(thread_id=thread_id, content=thread_id))
    for folder in ("threads", "locks"):
        names = [p.name.casefold() for p in (tmp_path / folder).iterdir()]
        assert len(set(names)) == 3, names
    assert await store.delete_by_thread("ABC") == 1
    fresh = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await fresh.list_messages("abc")] == ["abc"]
    assert [m["content"] for m in await fresh.list_messages("Abc")] == ["Abc"]
    assert await fresh.list_messages("ABC") == []


def old_layout_thread(base, thread_id, contents):
    """A thread file as the old mapping named it: ``threads/<thread_id>.jsonl``."""
    (base / "threads").mkdir(parents=True, exist_ok=True)
    (base / "locks").mkdir(exist_ok=True)
    lines = []
    for seq, content in enumerate(contents, 1):
        record = {**event(thread_id=thread_id, content=content), "seq": seq, "metadata": {}}
        record["created_at"] = "2026-01-01T00:00:00+00:00"
        lines.append(json.dumps(record) + "\n")
    with open(base / "threads" / f"{thread_id}.jsonl", "a") as f:
        f.writelines(lines)
    (base / "locks" / f"{thread_id}.lock").touch()


async def test_a_thread_written_under_the_old_names_is_read_then_moved_by_a_write(tmp_path):
    old_layout_thread(tmp_path, "ABC", ["one", "two"])
    store = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await store.list_messages("ABC")] == ["one", "two"]
    assert (tmp_path / "threads" / "ABC.jsonl").exists()  # a read moves nothing
    assert (await store.put(**event(thread_id="ABC", content="three")))["seq"] == 3
    assert not (tmp_path / "threads" / "ABC.jsonl").exists()
    assert not (tmp_path / "locks" / "ABC.lock").exists()
    fresh = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await fresh.list_messages("ABC")] == ["one", "two", "three"]
    assert await fresh.list_messages("abc") == []


async def test_a_thread_under_the_old_names_is_deleted_whole(tmp_path):
    old_layout_thread(tmp_path, "ABC", ["one"])
    store = JsonlRunEventStore(tmp_path)
    assert await store.delete_by_thread("ABC") == 1
    assert every_file(tmp_path) == ["locks", "threads"]


async def test_an_old_file_shared_by_ids_differing_in_case_is_split(tmp_path):
    """On a case-insensitive file system the old mapping gave ``ABC`` and ``abc`` one file. A
    hard link stands for that here: two names, one file. Each thread gets its own lines."""
    old_layout_thread(tmp_path, "abc", ["a1"])
    old_layout_thread(tmp_path, "ABC", [])
    os.unlink(tmp_path / "threads" / "ABC.jsonl")
    os.link(tmp_path / "threads" / "abc.jsonl", tmp_path / "threads" / "ABC.jsonl")
    record = {**event(thread_id="ABC", content="A1"), "seq": 1, "metadata": {}, "created_at": "x"}
    shared = tmp_path / "threads" / "abc.jsonl"
    shared.write_bytes(shared.read_bytes() + json.dumps(record).encode() + b"\n")  # the old store's append
    store = JsonlRunEventStore(tmp_path)
    assert (await store.put(**event(thread_id="ABC", content="A2")))["seq"] == 2
    assert [m["content"] for m in await store.list_messages("ABC")] == ["A1", "A2"]
    assert [m["content"] for m in await store.list_messages("abc")] == ["a1"]
    assert await store.delete_by_thread("ABC") == 2
    fresh = JsonlRunEventStore(tmp_path)
    assert await fresh.list_messages("ABC") == []  # nothing of it comes back
    assert [m["content"] for m in await fresh.list_messages("abc")] == ["a1"]


# -- the descriptors the store keeps ----------------------------------------------------


def descriptors_under(root):
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith(str(root)):
            found.append(target)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors in /proc/self/fd")
@pytest.mark.parametrize("max_open_files", [None, 6])
async def test_the_descriptors_kept_open_are_a_bounded_pool(tmp_path, max_open_files):
    options = {} if max_open_files is None else {"max_open_files": max_open_files}
    store = JsonlRunEventStore(tmp_path, fsync=False, **options)
    bound = 32 if max_open_files is None else max_open_files  # 32: the documented default
    await store.put_batch([event(thread_id=f"t{i}") for i in range(100)])
    for i in range(100):
        await store.put(**event(thread_id=f"u{i}"))
    kept = descriptors_under(tmp_path)
    assert 0 < len(kept) <= bound, kept
    assert (await store.put(**event(thread_id="t0")))["seq"] == 2  # reopened on demand


def test_the_open_files_bound_is_checked():
    assert jsonl.DEFAULT_MAX_OPEN_FILES == 32
    with pytest.raises(ValueError, match="max_open_files"):
        JsonlRunEventStore("unused", max_open_files=1)
