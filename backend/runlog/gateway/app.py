"""``create_app(settings)``: the FastAPI app and its lifespan.

The lifespan opens the run registry, opens the event store its URL names
(``open_store``; JSONL in the data dir by default) and loads the
skills once (to fail early on a broken setup and log what was found); routes
then use them. Store and registry errors on bad input (ValueError) become
422 with the message; unknown runs and skills become 404.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from runlog.events import RunEventStore, SqlRunEventStore, open_store
from runlog.gateway.settings import Settings
from runlog.persistence import RunRegistry
from runlog.persistence.registry import RunExistsError
from runlog.skills import LocalSkillStorage

logger = logging.getLogger(__name__)


class EventIn(BaseModel):
    event_type: str
    category: str
    content: Any = ""
    metadata: dict[str, Any] | None = None
    created_at: str | None = None


class BatchEventIn(EventIn):
    thread_id: str
    run_id: str


class RunIn(BaseModel):
    run_id: str
    thread_id: str
    status: str = "pending"


class StatusIn(BaseModel):
    status: str


class NotFound(LookupError):
    """An unknown run or skill: answered with 404."""


@dataclass
class Components:
    store: RunEventStore
    registry: RunRegistry
    skills: LocalSkillStorage


def _components(request: Request) -> Components:
    components: Components = request.app.state.runlog
    return components


def create_app(settings: Settings | None = None) -> FastAPI:
    """The runlog ASGI app; ``settings`` default to ``Settings.from_env()``."""
    settings = Settings.from_env() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.resolved_events_url)  # touches nothing until first use
        registry = RunRegistry(settings.resolved_sqlite_url)
        try:
            await registry.open()
            try:
                skills = LocalSkillStorage(settings.resolved_skills_dir)
                found = await skills.load_skills()
                logger.info("runlog: %d skill(s) in %s", len(found), settings.resolved_skills_dir)
                app.state.runlog = Components(store, registry, skills)
                yield
            finally:
                await registry.close()
        finally:
            if isinstance(store, SqlRunEventStore):
                await store.close()

    app = FastAPI(title="runlog", lifespan=lifespan)
    app.state.settings = settings

    @app.exception_handler(ValueError)
    async def bad_input(request: Request, exc: Exception) -> JSONResponse:
        status = 409 if isinstance(exc, RunExistsError) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/threads/{thread_id}/runs/{run_id}/events", status_code=201)
    async def append_event(request: Request, thread_id: str, run_id: str, event: EventIn) -> dict[str, Any]:
        store = _components(request).store
        return await store.put(thread_id=thread_id, run_id=run_id, **event.model_dump())

    @app.put("/threads/{thread_id}/runs/{run_id}/events/{event_type}")
    async def append_event_once(
        request: Request, thread_id: str, run_id: str, event_type: str, event: EventIn
    ) -> JSONResponse:
        """Append unless the run already has an event of this type (put_if_absent)."""
        if event.event_type != event_type:
            raise ValueError(f"body event_type {event.event_type!r} differs from the path's {event_type!r}")
        store = _components(request).store
        record, created = await store.put_if_absent(thread_id=thread_id, run_id=run_id, **event.model_dump())
        return JSONResponse({"event": record, "created": created}, status_code=201 if created else 200)

    @app.post("/events/batch", status_code=201)
    async def append_batch(request: Request, events: list[BatchEventIn]) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.put_batch([e.model_dump() for e in events])

    @app.get("/threads/{thread_id}/messages")
    async def thread_messages(
        request: Request,
        thread_id: str,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_messages(thread_id, limit=limit, before_seq=before_seq, after_seq=after_seq)

    @app.get("/threads/{thread_id}/messages/count")
    async def count_thread_messages(request: Request, thread_id: str) -> dict[str, int]:
        return {"count": await _components(request).store.count_messages(thread_id)}

    @app.get("/threads/{thread_id}/runs/{run_id}/events")
    async def run_events(
        request: Request,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None = Query(default=None),
        task_id: str | None = None,
        limit: int = 500,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_events(
            thread_id, run_id, event_types=event_types, task_id=task_id, limit=limit, after_seq=after_seq
        )

    @app.get("/threads/{thread_id}/runs/{run_id}/messages")
    async def run_messages(
        request: Request,
        thread_id: str,
        run_id: str,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_messages_by_run(
            thread_id, run_id, limit=limit, before_seq=before_seq, after_seq=after_seq
        )

    @app.delete("/threads/{thread_id}/runs/{run_id}")
    async def delete_run(request: Request, thread_id: str, run_id: str) -> dict[str, int]:
        return {"deleted": await _components(request).store.delete_by_run(thread_id, run_id)}

    @app.delete("/threads/{thread_id}")
    async def delete_thread(request: Request, thread_id: str) -> dict[str, int]:
        return {"deleted": await _components(request).store.delete_by_thread(thread_id)}

    @app.get("/skills")
    async def list_skills(request: Request) -> list[dict[str, Any]]:
        return [s.to_dict() for s in await _components(request).skills.load_skills()]

    @app.get("/skills/{name}")
    async def get_skill(request: Request, name: str) -> dict[str, Any]:
        skill = await _components(request).skills.get_skill(name)
        if skill is None:
            raise NotFound(f"unknown skill {name!r}")
        return skill.to_dict()

    @app.post("/runs", status_code=201)
    async def create_run(request: Request, run: RunIn) -> dict[str, Any]:
        return await _components(request).registry.create_run(run.run_id, run.thread_id, run.status)

    @app.get("/runs/{run_id}")
    async def get_run(request: Request, run_id: str) -> dict[str, Any]:
        found = await _components(request).registry.get_run(run_id)
        if found is None:
            raise NotFound(f"unknown run {run_id!r}")
        return found

    @app.patch("/runs/{run_id}")
    async def set_run_status(request: Request, run_id: str, body: StatusIn) -> dict[str, Any]:
        try:
            return await _components(request).registry.set_status(run_id, body.status)
        except KeyError as exc:
            raise NotFound(f"unknown run {run_id!r}") from exc

    @app.get("/threads/{thread_id}/runs")
    async def thread_runs(request: Request, thread_id: str) -> list[dict[str, Any]]:
        return await _components(request).registry.list_runs(thread_id)

    return app
