"""``create_app(settings)``: the FastAPI app and its lifespan.

The lifespan opens the run registry, opens the event store its URL names
(``open_store``; JSONL in the data dir by default) and loads the
skills once (to fail early on a broken setup and log what was found); routes
then use them.

Every 4xx answers one shape, ``{"detail": "<readable message>"}``: request
validation (pydantic) errors are rendered as text too. Store and registry
errors on bad input (ValueError, and the store's TypeError for content that
JSON cannot hold, such as NaN) become 422 with the message; a duplicate run
409; unknown runs and skills 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy.exc
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_core import PydanticSerializationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from runlog import __version__
from runlog.events import RunEventStore, SqlRunEventStore, open_store
from runlog.gateway.auth import BearerAuth, document_bearer, read_token_file
from runlog.gateway.hosts import HostCheck
from runlog.gateway.limits import BodyLimit, check_threads, event_size
from runlog.gateway.models import (
    NO_NUL,
    AfterSeq,
    BatchEventIn,
    BeforeSeq,
    CountOut,
    DeletedOut,
    EventBody,
    EventIn,
    EventOut,
    EventsAfterSeq,
    EventTypePath,
    HealthOut,
    OnceOut,
    ReadyOut,
    RunIdPath,
    RunIn,
    RunOut,
    SkillOut,
    StatusIn,
    ThreadIdPath,
    errors,
    page_limit,
)
from runlog.gateway.settings import Settings, check_token
from runlog.gateway.unavailable import UNAVAILABLE, cause, store_unavailable, unavailable_response
from runlog.persistence import RunRegistry
from runlog.persistence.registry import RunExistsError
from runlog.skills import LocalSkillStorage

logger = logging.getLogger(__name__)

# The thread /ready counts the messages of: a valid id no client is likely to use (the count is a
# read, so a client's thread of that name would only be counted).
READY_PROBE_THREAD = "_runlog-ready-probe"


class NotFound(LookupError):
    """An unknown run or skill: answered with 404."""


class BadInput(ValueError):
    """Input the store refused with a TypeError (e.g. NaN content): answered with 422."""


@contextmanager
def _store_input() -> Iterator[None]:
    # The store raises TypeError for values JSON cannot hold. Only around the
    # store's write calls: a TypeError elsewhere is a bug and stays a 500.
    try:
        yield
    except TypeError as exc:
        raise BadInput(str(exc)) from exc


def _validation_text(errors: Sequence[Any]) -> str:
    """pydantic's error list as one readable line: ``body.content: Input should be ...``.

    Two of pydantic's messages name its own workings rather than the request; they are said in
    the request's terms: a body that is not JSON (its loc ends with a character's index), and
    a text holding a lone surrogate, in the words of the stores' own refusal.
    """
    parts = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid" and loc[-1:] and isinstance(loc[-1], int):
            reason = (error.get("ctx") or {}).get("error")
            message = f"not valid JSON at character {loc[-1]}" + (f": {reason}" if reason else "")
            loc = loc[:-1]
        elif error.get("type") == "string_unicode":
            message = "holds a lone surrogate (U+D800-U+DFFF), which no UTF-8 text can carry"
        where = ".".join(str(part) for part in loc)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


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

    # The token the auth middleware expects: b"" (refuse all) until a token file is read at startup.
    token: list[bytes | None] = [
        settings.token.encode() if settings.token is not None else (b"" if settings.token_file else None)
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.token_file is not None:
            text = await asyncio.to_thread(read_token_file, str(settings.token_file))
            token[0] = check_token(text).encode()
        # Touches nothing until first use; the cache and open-file bounds are the JSONL store's.
        store = open_store(
            settings.resolved_events_url,
            max_page_bytes=settings.max_page_bytes,
            max_cache_bytes=settings.max_cache_bytes,
            max_open_files=settings.max_open_files,
        )
        registry = RunRegistry(settings.resolved_sqlite_url)
        try:
            await registry.open()
            try:
                skills = LocalSkillStorage(
                    settings.resolved_skills_dir,
                    max_file_bytes=settings.max_skill_file_bytes,
                    max_expanded_size=settings.max_skill_expanded_size,
                )
                found = await skills.load_skills()
                logger.info("runlog: %d skill(s) in %s", len(found), settings.resolved_skills_dir)
                app.state.runlog = Components(store, registry, skills)
                yield
            finally:
                await registry.close()
        finally:
            if isinstance(store, SqlRunEventStore):
                await store.close()

    app = FastAPI(
        title="runlog",
        version=__version__,
        description='Event streams of agent runs. Every 4xx answers `{"detail": "..."}`; a request '
        "naming a Host the service does not serve answers 400.",
        lifespan=lifespan,
        # A JSON body must say it is JSON (application/json, or a +json type): an HTML form cannot
        # send that across sites without the page asking first (CORS), so a form cannot post events.
        strict_content_type=True,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    app.add_middleware(BearerAuth, expected=lambda: token[0])  # before a body is read
    app.add_middleware(HostCheck, hosts=settings.served_hosts)  # outermost: a foreign Host gets nothing

    def check_size(event: EventBody, where: str = "") -> None:
        size = event_size(event.content, event.metadata)
        if size > settings.max_event_bytes:
            raise ValueError(
                f"{where}content and metadata take {size} bytes as JSON; the limit is {settings.max_event_bytes}"
            )

    @app.exception_handler(ValueError)
    async def bad_input(request: Request, exc: Exception) -> JSONResponse:
        status = 409 if isinstance(exc, RunExistsError) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(PydanticSerializationError)
    async def unreturnable(request: Request, exc: Exception) -> JSONResponse:
        # A ValueError to Python, but not the client's: the answer could not be serialized (a
        # record stored before the store refused such content, say). A 500 in words; the
        # serializer's own message goes to the log only.
        logger.error("%s %s: the answer could not be serialized: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "the answer could not be written as JSON (the server's log says why)"}, status_code=500
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_text(exc.errors())}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route matching
            # the path; a path served by several routes allows all of theirs.
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    for unavailable in {*UNAVAILABLE, sqlalchemy.exc.DBAPIError}:
        app.add_exception_handler(unavailable, store_unavailable)

    @app.get("/health", response_model=HealthOut)
    async def health() -> dict[str, str]:
        """Liveness: the process answers. Touches no store (see /ready)."""
        return {"status": "ok"}

    @app.get("/ready", response_model=ReadyOut, responses=errors(503))
    async def ready(request: Request) -> Any:
        """Readiness: one read from the event store and one from the run registry; 503 if either fails."""
        components = _components(request)
        down = []
        for name, probe in (
            ("event store", lambda: components.store.count_messages(READY_PROBE_THREAD)),
            ("run registry", components.registry.check),
        ):
            try:
                await probe()
            except Exception as exc:  # any failure to answer is "not ready"; the log says which
                logger.error("not ready: the %s did not answer: %s", name, cause(exc))
                down.append(name)
        if down:
            return unavailable_response(
                f"not ready: the {' and the '.join(down)} did not answer; retry later"
            )
        return {"status": "ready"}

    @app.post(
        "/threads/{thread_id}/runs/{run_id}/events",
        status_code=201,
        response_model=EventOut,
        responses=errors(400, 413, 422, 503),
    )
    async def append_event(
        request: Request, thread_id: ThreadIdPath, run_id: RunIdPath, event: EventIn
    ) -> dict[str, Any]:
        check_size(event)
        store = _components(request).store
        with _store_input():
            return await store.put(thread_id=thread_id, run_id=run_id, **event.model_dump())

    @app.put(
        "/threads/{thread_id}/runs/{run_id}/events/{event_type}",
        response_model=OnceOut,
        responses={201: {"model": OnceOut, "description": "created"}, **errors(400, 413, 422, 503)},
    )
    async def append_event_once(
        request: Request,
        thread_id: ThreadIdPath,
        run_id: RunIdPath,
        event_type: EventTypePath,
        event: EventBody,
    ) -> JSONResponse:
        """Append unless the run already has an event of this type (put_if_absent): 201 created, 200 existing."""
        check_size(event)
        store = _components(request).store
        with _store_input():
            record, created = await store.put_if_absent(
                thread_id=thread_id, run_id=run_id, event_type=event_type, **event.model_dump()
            )
        return JSONResponse({"event": record, "created": created}, status_code=201 if created else 200)

    @app.post(
        "/events/batch", status_code=201, response_model=list[EventOut], responses=errors(400, 413, 422, 503)
    )
    async def append_batch(request: Request, events: list[BatchEventIn]) -> list[dict[str, Any]]:
        for index, event in enumerate(events):
            check_size(event, f"events[{index}]: ")
        check_threads((event.thread_id for event in events), settings.max_threads_per_request)
        store = _components(request).store
        with _store_input():
            return await store.put_batch([e.model_dump() for e in events])

    @app.get("/threads/{thread_id}/messages", response_model=list[EventOut], responses=errors(422, 503))
    async def thread_messages(
        request: Request,
        thread_id: ThreadIdPath,
        limit: int = page_limit(50),
        before_seq: BeforeSeq = None,
        after_seq: AfterSeq = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_messages(thread_id, limit=limit, before_seq=before_seq, after_seq=after_seq)

    @app.get("/threads/{thread_id}/messages/count", response_model=CountOut, responses=errors(422, 503))
    async def count_thread_messages(request: Request, thread_id: ThreadIdPath) -> dict[str, int]:
        return {"count": await _components(request).store.count_messages(thread_id)}

    @app.get(
        "/threads/{thread_id}/runs/{run_id}/events", response_model=list[EventOut], responses=errors(422, 503)
    )
    async def run_events(
        request: Request,
        thread_id: ThreadIdPath,
        run_id: RunIdPath,
        # Not nullable: a query cannot carry a null, only an absent parameter (every type).
        event_types: list[Annotated[str, Field(min_length=1, json_schema_extra=NO_NUL)]] = Query(
            default_factory=list, description="repeat to ask for several types; absent: every type"
        ),
        task_id: str | None = None,
        limit: int = page_limit(500),
        after_seq: EventsAfterSeq = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_events(
            thread_id,
            run_id,
            event_types=event_types or None,
            task_id=task_id,
            limit=limit,
            after_seq=after_seq,
        )

    @app.get(
        "/threads/{thread_id}/runs/{run_id}/messages",
        response_model=list[EventOut],
        responses=errors(422, 503),
    )
    async def run_messages(
        request: Request,
        thread_id: ThreadIdPath,
        run_id: RunIdPath,
        limit: int = page_limit(50),
        before_seq: BeforeSeq = None,
        after_seq: AfterSeq = None,
    ) -> list[dict[str, Any]]:
        store = _components(request).store
        return await store.list_messages_by_run(
            thread_id, run_id, limit=limit, before_seq=before_seq, after_seq=after_seq
        )

    @app.delete("/threads/{thread_id}/runs/{run_id}", response_model=DeletedOut, responses=errors(422, 503))
    async def delete_run(request: Request, thread_id: ThreadIdPath, run_id: RunIdPath) -> dict[str, int]:
        return {"deleted": await _components(request).store.delete_by_run(thread_id, run_id)}

    @app.delete("/threads/{thread_id}", response_model=DeletedOut, responses=errors(422, 503))
    async def delete_thread(request: Request, thread_id: ThreadIdPath) -> dict[str, int]:
        return {"deleted": await _components(request).store.delete_by_thread(thread_id)}

    @app.get("/skills", response_model=list[SkillOut], responses=errors(503))
    async def list_skills(request: Request) -> list[dict[str, Any]]:
        return [s.to_dict() for s in await _components(request).skills.load_skills()]

    @app.get("/skills/{name}", response_model=SkillOut, responses=errors(404, 422, 503))
    async def get_skill(request: Request, name: str) -> dict[str, Any]:
        skill = await _components(request).skills.get_skill(name)
        if skill is None:
            raise NotFound(f"unknown skill {name!r}")
        return skill.to_dict()

    @app.post("/runs", status_code=201, response_model=RunOut, responses=errors(400, 409, 413, 422, 503))
    async def create_run(request: Request, run: RunIn) -> dict[str, Any]:
        return await _components(request).registry.create_run(run.run_id, run.thread_id, run.status)

    @app.get("/runs/{run_id}", response_model=RunOut, responses=errors(404, 422, 503))
    async def get_run(request: Request, run_id: RunIdPath) -> dict[str, Any]:
        found = await _components(request).registry.get_run(run_id)
        if found is None:
            raise NotFound(f"unknown run {run_id!r}")
        return found

    @app.patch("/runs/{run_id}", response_model=RunOut, responses=errors(400, 404, 413, 422, 503))
    async def set_run_status(request: Request, run_id: RunIdPath, body: StatusIn) -> dict[str, Any]:
        try:
            return await _components(request).registry.set_status(run_id, body.status)
        except KeyError as exc:
            raise NotFound(f"unknown run {run_id!r}") from exc

    @app.get("/threads/{thread_id}/runs", response_model=list[RunOut], responses=errors(422, 503))
    async def thread_runs(request: Request, thread_id: ThreadIdPath) -> list[dict[str, Any]]:
        return await _components(request).registry.list_runs(thread_id)

    if settings.needs_token:
        plain_openapi = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                app.openapi_schema = document_bearer(plain_openapi())
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]

    return app


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
