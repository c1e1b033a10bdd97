"""Schema-driven requests to the HTTP API (schemathesis), shared by the unit suite and the gate.

Every route is driven from the app's own OpenAPI schema, with schema-valid
and schema-invalid input, and every response is held to all of
schemathesis's checks (no 5xx, status codes and bodies as documented, invalid
input refused with a 4xx). After each request the store behind the app must
still be consistent: every listed event readable through its run, seqs unique
and ascending per thread.

The app runs in-process over ASGI (schemathesis serves it from one event-loop
thread and starts its lifespan on the first request), so under the gate the
lifespan and every route run while the detector is armed.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from runlog.events import JsonlRunEventStore
from runlog.gateway import Settings, create_app
from runlog.gateway.models import ID_PATTERN, MAX_PAGE

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
_ID = re.compile(ID_PATTERN)


def build(max_examples: int, *, derandomize: bool) -> tuple[Any, Settings]:
    """The schema of a fresh app over its own data folder (a skill in it), ready for ``parametrize``."""
    root = Path(tempfile.mkdtemp(prefix="runlog-api-fuzz-"))
    (root / "skills" / "hello").mkdir(parents=True)
    (root / "skills" / "hello" / "SKILL.md").write_text("---\nname: hello\ndescription: greets\n---\nHi\n")
    # schemathesis's in-process client names itself "testserver" in Host: served like a configured name.
    settings = Settings(data_dir=root / "data", skills_dir=root / "skills", allowed_hosts=("testserver",))
    app = create_app(settings)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # requests go to the app over ASGI, not over a network
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=max_examples,
        deterministic=derandomize,
        no_shrink=derandomize,  # under the gate: report the first failure as found, promptly
        database="none",
    )

    return schema, settings


def touched_threads(case: Any) -> set[str]:
    found: set[Any] = set()
    thread_id = (case.path_parameters or {}).get("thread_id")
    if isinstance(thread_id, str):
        found.add(thread_id)
    if case.operation.path == "/events/batch" and isinstance(case.body, list):
        found |= {_hashable(item.get("thread_id")) for item in case.body if isinstance(item, dict)}
    return {t for t in found if isinstance(t, str) and _ID.fullmatch(t)}


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str) else None


async def _consistent(events_dir: Path, thread_id: str) -> None:
    store = JsonlRunEventStore(events_dir)
    messages = await store.list_messages(thread_id, limit=MAX_PAGE)
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs)), f"{thread_id}: message seqs not unique and ascending: {seqs}"
    if len(messages) < MAX_PAGE:
        assert await store.count_messages(thread_id) == len(messages)
    for run_id in {m["run_id"] for m in messages}:
        events = await store.list_events(thread_id, run_id, limit=MAX_PAGE)
        run_seqs = [e["seq"] for e in events]
        assert run_seqs == sorted(set(run_seqs)), f"{thread_id}/{run_id}: seqs {run_seqs}"
        assert all(e["thread_id"] == thread_id and e["run_id"] == run_id for e in events)
        listed = [m for m in messages if m["run_id"] == run_id]
        if len(events) < MAX_PAGE:
            assert all(m in events for m in listed), f"{thread_id}/{run_id}: a listed message is not readable"


def check_store(settings: Settings, case: Any) -> None:
    """The store behind the app is consistent for every thread the request named."""
    for thread_id in sorted(touched_threads(case)):
        asyncio.run(_consistent(settings.events_dir, thread_id))
