"""A hypothesis state machine over the run-event store contract, shared by the unit suite and the gate.

Random sequences of every store operation run against a store under test and
against ``MemoryRunEventStore`` (the reference model) side by side; every
step's result must be equal, and after every step so must everything the API
can show for the ids in play. For the JSONL store the machine also reopens the
store on the same files (a restart) and damages them the way crashes and
strangers do: a write cut short at the end, a line that is not JSON. Neither
may change what the API shows.

Each machine owns an event loop and runs every store call on it, so under the
gate the calls run with a loop on the thread, as in production.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from runlog.events import MemoryRunEventStore, RunEventStore
from tests_blocking.anchors.stores import KINDS, StoreUnderTest, kind_params

T = TypeVar("T")
THREADS = ("t1", "t2", "t3")
RUNS = ("r1", "r2", "r3")

threads = st.sampled_from(THREADS)
runs = st.sampled_from(RUNS)
event_types = st.sampled_from(("start", "user", "assistant", "tool"))
categories = st.sampled_from(("message", "message", "trace", "lifecycle"))
contents = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
metadatas = st.one_of(
    st.none(), st.fixed_dictionaries({}, optional={"task_id": st.sampled_from(("k1", "k2"))})
)
limits = st.integers(min_value=1, max_value=6)
cursors = st.one_of(st.none(), st.integers(min_value=0, max_value=12))  # near the seqs in play
cursor_kinds = st.sampled_from(("after_seq", "before_seq", "both"))  # both: the window between them
_clock = iter(range(10**9))


@st.composite
def events(draw: Callable[..., Any], thread_id: str | None = None) -> dict[str, Any]:
    return {
        "thread_id": thread_id or draw(threads),
        "run_id": draw(runs),
        "event_type": draw(event_types),
        "category": draw(categories),
        "content": draw(contents),
        "metadata": draw(metadatas),
        # A fixed clock: both stores must store the same timestamp.
        "created_at": f"2026-01-01T00:00:00.{next(_clock) % 10**6:06d}+00:00",
    }


class StoreMachine(RuleBasedStateMachine):
    """Subclasses set ``kind`` (a kind of ``stores.KINDS``); JSONL also gets restarts and damage."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="runlog-machine-"))
        self.under = StoreUnderTest(self.kind, self.tmp)
        self.files = self.kind == "jsonl"
        self.store: RunEventStore = self.run(self.under.open())
        self.model = MemoryRunEventStore()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def both(self, call: Callable[[RunEventStore], Coroutine[Any, Any, T]]) -> T:
        expected = self.run(call(self.model))
        got = self.run(call(self.store))
        assert got == expected, f"store answered {got!r}, the model {expected!r}"
        return got

    def teardown(self) -> None:
        try:
            self.run(self.under.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize()
    def fresh(self) -> None:
        assert self.run(self.store.count_messages("t1")) == 0

    # -- writes ---------------------------------------------------------------------

    @rule(event=events())
    def put(self, event: dict[str, Any]) -> None:
        self.both(lambda s: s.put(**event))

    @rule(batch=st.lists(events(), max_size=5))
    def put_batch(self, batch: list[dict[str, Any]]) -> None:
        self.both(lambda s: s.put_batch(batch))

    @rule(event=events())
    def put_if_absent(self, event: dict[str, Any]) -> None:
        self.both(lambda s: s.put_if_absent(**event))

    @rule(thread_id=threads, run_id=runs)
    def delete_by_run(self, thread_id: str, run_id: str) -> None:
        self.both(lambda s: s.delete_by_run(thread_id, run_id))

    @rule(thread_id=threads)
    def delete_by_thread(self, thread_id: str) -> None:
        self.both(lambda s: s.delete_by_thread(thread_id))

    # -- reads ----------------------------------------------------------------------

    def cursor(self, data: st.DataObject, seqs: list[int]) -> int | None:
        """No cursor, or one at, just below or just above a seq in play: where off-by-ones live."""
        near = sorted({n for seq in seqs for n in (seq - 1, seq, seq + 1) if n >= 0}) or [0, 1]
        return data.draw(st.one_of(st.none(), st.sampled_from(near), cursors))

    def message_seqs(self, thread_id: str, run_id: str | None = None) -> list[int]:
        if run_id is None:
            return [m["seq"] for m in self.run(self.model.list_messages(thread_id, limit=1000))]
        return [m["seq"] for m in self.run(self.model.list_messages_by_run(thread_id, run_id, limit=1000))]

    def cursors(self, data: st.DataObject, seqs: list[int], kind: str) -> dict[str, int | None]:
        """``after_seq``, ``before_seq``, or both (a window, empty or not), each drawn as ``cursor`` draws."""
        keys = ("after_seq", "before_seq") if kind == "both" else (kind,)
        return {key: self.cursor(data, seqs) for key in keys}

    @rule(thread_id=threads, limit=limits, data=st.data(), kind=cursor_kinds)
    def list_messages(self, thread_id: str, limit: int, data: st.DataObject, kind: str) -> None:
        cursors = self.cursors(data, self.message_seqs(thread_id), kind)
        self.both(lambda s: s.list_messages(thread_id, limit=limit, **cursors))

    @rule(thread_id=threads, run_id=runs, limit=limits, data=st.data(), kind=cursor_kinds)
    def list_messages_by_run(
        self, thread_id: str, run_id: str, limit: int, data: st.DataObject, kind: str
    ) -> None:
        cursors = self.cursors(data, self.message_seqs(thread_id, run_id), kind)
        self.both(lambda s: s.list_messages_by_run(thread_id, run_id, limit=limit, **cursors))

    @rule(
        thread_id=threads,
        run_id=runs,
        types=st.one_of(st.none(), st.lists(event_types, max_size=2)),
        task_id=st.sampled_from((None, "k1", "k2")),
        limit=limits,
        data=st.data(),
    )
    def list_events(
        self,
        thread_id: str,
        run_id: str,
        types: list[str] | None,
        task_id: str | None,
        limit: int,
        data: st.DataObject,
    ) -> None:
        seqs = [e["seq"] for e in self.run(self.model.list_events(thread_id, run_id, limit=1000))]
        after_seq = self.cursor(data, seqs)
        self.both(
            lambda s: s.list_events(
                thread_id, run_id, event_types=types, task_id=task_id, limit=limit, after_seq=after_seq
            )
        )

    @rule(thread_id=threads, limit=st.sampled_from((1, 2, 50)))
    def walk_every_cursor(self, thread_id: str, limit: int) -> None:
        """Every page of a thread, from every cursor at or next to a seq in play."""
        seqs = [
            e["seq"]
            for run_id in RUNS
            for e in self.run(self.model.list_events(thread_id, run_id, limit=1000))
        ]
        for cursor in sorted({n for seq in [0, *seqs] for n in (seq, seq + 1)}):
            self.both(lambda s, c=cursor: s.list_messages(thread_id, limit=limit, after_seq=c))
            self.both(lambda s, c=cursor: s.list_messages(thread_id, limit=limit, before_seq=c))
            for run_id in RUNS:
                self.both(
                    lambda s, c=cursor, r=run_id: s.list_messages_by_run(
                        thread_id, r, limit=limit, after_seq=c
                    )
                )
                self.both(
                    lambda s, c=cursor, r=run_id: s.list_messages_by_run(
                        thread_id, r, limit=limit, before_seq=c
                    )
                )
                self.both(lambda s, c=cursor, r=run_id: s.list_events(thread_id, r, limit=limit, after_seq=c))

    @rule(thread_id=threads)
    def count_messages(self, thread_id: str) -> None:
        self.both(lambda s: s.count_messages(thread_id))

    # -- restarts and damage (stores with files) -------------------------------------

    @precondition(lambda self: self.files)
    @rule()
    def reopen(self) -> None:
        self.store = self.run(self.under.open())

    @precondition(lambda self: self.files)
    @rule(thread_id=threads, torn=st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b))
    def cut_short_write(self, thread_id: str, torn: bytes) -> None:
        """A crash mid-append leaves bytes with no newline at the end of the file."""
        path = self.under.base_dir / "threads" / f"{thread_id}.jsonl"
        if path.exists() and path.read_bytes().endswith(b"\n"):
            with path.open("ab") as f:
                f.write(torn)

    @precondition(lambda self: self.files)
    @rule(thread_id=threads)
    def stranger_line(self, thread_id: str) -> None:
        """A line that is not JSON, written whole by something else: skipped, never fatal."""
        path = self.under.base_dir / "threads" / f"{thread_id}.jsonl"
        if path.exists() and path.read_bytes().endswith(b"\n"):
            with path.open("ab") as f:
                f.write(b"{not json at all}\n")

    # -- after every step --------------------------------------------------------------

    @invariant()
    def same_everywhere(self) -> None:
        for thread_id in THREADS:
            self.both(lambda s, t=thread_id: s.list_messages(t, limit=1000))
            for run_id in RUNS:
                self.both(lambda s, t=thread_id, r=run_id: s.list_events(t, r, limit=1000))


def machine_for(kind: str) -> type[StoreMachine]:
    return type(f"{kind.capitalize()}Machine", (StoreMachine,), {"kind": kind})


# The stores the machine drives, as pytest params (PostgreSQL skips with a reason when not configured).
STORE_PARAMS = kind_params(KINDS)
