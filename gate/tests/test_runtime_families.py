"""The runtime gate on the families that slip past a patch: references bound before arming, first-call IO,
C paths, and the false alarms they must not raise.

Each case is an ``async def`` of a package ``early`` whose module code runs
before the gate is armed (as a real application's does at import), called
on the loop in a fresh process under ``strict_gate(["early"])``. A blocking
case must be caught; its clean twin (the same work offloaded, or the form
that cannot block) must pass. The first-call cases run twice: in a cold
process, and after the same call warmed the cache before arming: the verdict
must not depend on which ran first.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EARLY = """
import asyncio, functools, io, mimetypes, os, platform, socket, sqlite3, tarfile, tempfile, threading, time, uuid
from os import listdir, stat
from os.path import exists
from socket import gethostbyname
from time import sleep

import helper_lib

TMP = tempfile.mkdtemp()
P = os.path.join(TMP, "f")
with open(P, "w") as f:
    f.write("x")
FD = os.open(P, os.O_RDONLY)


def dflt(path, op=os.stat):
    return op(path)


def kwd(path, *, op=os.listdir):
    return op(path)


OPS = {"stat": os.stat}


class Ops:
    stat = os.stat
    listdir = staticmethod(os.listdir)


PARTIAL = functools.partial(os.stat, P)


def _closure():
    op = os.stat

    def call():
        return op(P)

    return call


CLOSED = _closure()

HELD = threading.Lock()
_holder_ready = threading.Event()


def _hold():
    with HELD:
        _holder_ready.set()
        threading.Event().wait()  # holds it for the life of the process


threading.Thread(target=_hold, daemon=True).start()
_holder_ready.wait()
HELD_ACQUIRE = HELD.acquire
FREE = threading.Lock()
FREE_ACQUIRE = FREE.acquire

CONN = sqlite3.connect(os.path.join(TMP, "db.sqlite"), check_same_thread=False)
CONN.execute("create table t (x)")
CONN.commit()
EXECUTE = CONN.execute

A, B = socket.socketpair()
B.sendall(b"xy")
RECV = A.recv

ARCHIVE = os.path.join(TMP, "a.tar")
with tarfile.open(ARCHIVE, "w") as tar:
    info = tarfile.TarInfo("member")
    info.size = 5
    tar.addfile(info, io.BytesIO(b"hello"))
with open(ARCHIVE, "rb") as f:
    IN_MEMORY = f.read()


def _commit_block():
    CONN.execute("insert into t values (1)")
    with CONN:
        pass


def _with_free():
    with FREE:
        pass


# -- bound before arming ---------------------------------------------------------------
async def from_time_sleep(): sleep(0.001)
async def from_time_sleep_clean(): await asyncio.to_thread(sleep, 0.001)
async def from_os_stat(): stat(P)
async def from_os_stat_clean(): await asyncio.to_thread(stat, P)
async def from_os_listdir(): listdir(TMP)
async def from_os_path_exists(): exists(P)
async def from_os_path_exists_clean(): await asyncio.to_thread(exists, P)
async def from_socket_gethostbyname(): gethostbyname("localhost")
async def default_argument(): dflt(P)
async def default_argument_clean(): await asyncio.to_thread(dflt, P)
async def keyword_default(): kwd(TMP)
async def dict_value(): OPS["stat"](P)
async def class_attribute(): Ops.stat(P)
async def static_method_attribute(): Ops.listdir(TMP)
async def partial_at_import(): PARTIAL()
async def partial_at_import_clean(): await asyncio.to_thread(PARTIAL)
async def closure(): CLOSED()
async def bound_lock_acquire(): HELD_ACQUIRE(timeout=0.05)
async def bound_lock_acquire_clean(): FREE_ACQUIRE(); FREE.release()
async def bound_sqlite_execute(): EXECUTE("select 1")
async def bound_sqlite_execute_clean(): await asyncio.to_thread(EXECUTE, "select 1")
async def bound_socket_recv(): RECV(1)
async def bound_socket_recv_clean(): await asyncio.to_thread(RECV, 1)
# -- first-call IO ---------------------------------------------------------------------
async def mimetypes_guess(): mimetypes.guess_type("report.csv")
async def mimetypes_guess_clean(): await asyncio.to_thread(mimetypes.guess_type, "report.csv")
async def platform_platform(): platform.platform()
async def uuid_getnode(): uuid.getnode()
async def uuid_getnode_clean(): await asyncio.to_thread(uuid.getnode)
# -- C paths ---------------------------------------------------------------------------
async def sqlite_with_commits():
    await asyncio.to_thread(CONN.execute, "insert into t values (1)")
    with CONN:
        pass
async def sqlite_with_commits_clean(): await asyncio.to_thread(_commit_block)
async def with_held_lock():
    with HELD:
        pass
async def with_free_lock_clean(): _with_free()
async def uuid1(): uuid.uuid1()
async def uuid1_with_node_clean(): uuid.uuid1(node=0x0242AC110002)
# -- false alarms ----------------------------------------------------------------------
async def tar_member_in_memory_clean():
    with tarfile.open(fileobj=io.BytesIO(IN_MEMORY)) as tar:
        assert tar.extractfile("member").read() == b"hello"
async def tar_member_on_disk():
    with tarfile.open(ARCHIVE) as tar:  # the archive's own file: still caught
        tar.extractfile("member").read()
# -- out of reach: the blind spot of references held outside the scanned modules --------
async def reference_held_by_a_library(): helper_lib.read_now(FD)
"""

HELPER_LIB = """
from os import read  # a library binds it at its import: not scanned code


def read_now(fd):
    return read(fd, 1)
"""

RUNNER = """
import asyncio, sys
import blockbuster
import early
from blockgate import strict_gate

case, warm = sys.argv[1], sys.argv[2:] == ["warm"]
if warm:  # the same work, before arming: a first call that fills a cache
    asyncio.run(getattr(early, case)())


async def main():
    with strict_gate(["early"]):
        try:
            await getattr(early, case)()
        except blockbuster.BlockingError as exc:
            print("CAUGHT", str(exc).splitlines()[0])
            return
    print("PASSED")


asyncio.run(main())
"""

CASES = [line.split()[2].split("(")[0] for line in EARLY.splitlines() if line.startswith("async def ")]
OUT_OF_REACH = {"reference_held_by_a_library"}
FIRST_CALL = {"mimetypes_guess", "platform_platform", "uuid_getnode"}


@pytest.fixture(scope="module")
def early(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("early")
    (root / "early").mkdir()
    (root / "early" / "__init__.py").write_text(textwrap.dedent(EARLY))
    (root / "helper_lib.py").write_text(HELPER_LIB)  # beside the package: a library, not scanned
    (root / "run_case.py").write_text(RUNNER)
    return root


def verdict(root: Path, case: str, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "run_case.py", case, *extra],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_every_family_has_cases():
    blocking = [c for c in CASES if not c.endswith("_clean") and c not in OUT_OF_REACH]
    clean = [c for c in CASES if c.endswith("_clean")]
    assert len(blocking) >= 20 and len(clean) >= 12, (len(blocking), len(clean))


@pytest.mark.parametrize("case", [c for c in CASES if not c.endswith("_clean") and c not in OUT_OF_REACH])
def test_a_blocking_case_is_caught(early, case):
    outcome = verdict(early, case)
    assert outcome.startswith("CAUGHT Blocking call to "), outcome
    assert "early/__init__.py" in outcome or "early" in outcome.split(" from ")[1], outcome


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("_clean")])
def test_its_clean_twin_passes(early, case):
    assert verdict(early, case) == "PASSED"


@pytest.mark.parametrize("case", sorted(FIRST_CALL))
def test_first_call_io_is_caught_whether_or_not_it_ran_before(early, case):
    cold = verdict(early, case)
    warm = verdict(early, case, "warm")
    assert cold.startswith("CAUGHT") and warm.startswith("CAUGHT"), (cold, warm)


def test_a_reference_a_library_took_is_out_of_reach(early):
    """The blind spot the docs list: rebinding reaches the scanned modules, not their libraries."""
    assert verdict(early, "reference_held_by_a_library") == "PASSED"
