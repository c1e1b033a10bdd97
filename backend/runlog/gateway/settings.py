"""Gateway settings: explicit arguments, else ``RUNLOG_*`` environment variables.

Building settings touches no filesystem: paths stay as given (relative ones are
resolved by the components, in worker threads, when the app starts).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from runlog.events.jsonl import DEFAULT_MAX_CACHE_BYTES, DEFAULT_MAX_OPEN_FILES
from runlog.gateway.hosts import LOOPBACK_HOSTS, host_name
from runlog.gateway.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_PAGE_BYTES,
    DEFAULT_MAX_THREADS_PER_REQUEST,
)
from runlog.persistence.bootstrap import resolve_sqlite_conn_str
from runlog.redact import hide_password
from runlog.skills.storage import DEFAULT_MAX_EXPANDED_SIZE, DEFAULT_MAX_FILE_BYTES

DEFAULT_DATA_DIR = "./.runlog"

T = TypeVar("T")

# How long a connection may take, and how many the server holds (runlog.gateway.serving).
DEFAULT_HEADER_TIMEOUT = 10.0  # seconds from connecting (or from the last answer) to a request's full head
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0  # seconds an idle connection is kept after an answer (uvicorn's default)
DEFAULT_MAX_CONNECTIONS = 100  # connections served at once; a request on one more: 503
DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # a request head still unfinished past this: 400 (h11's default)

_TIMEOUTS = ("header_timeout", "body_timeout", "keep_alive_timeout")
_COUNTS = (
    "max_body_bytes",
    "max_event_bytes",
    "max_page_bytes",
    "max_cache_bytes",
    "max_skill_file_bytes",
    "max_skill_expanded_size",
    "max_threads_per_request",
    "max_connections",
    "max_header_bytes",
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    sqlite_url: str | None = None  # default: sqlite:///<data_dir>/runlog.db
    skills_dir: Path | None = None  # default: <data_dir>/skills
    events_url: str | None = (
        None  # default: the JSONL store in <data_dir>/events (see runlog.events.open_store)
    )
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger request bodies: 413
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES  # an event's content + metadata as JSON; larger: 422
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES  # one page of events; past it the page ends early
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES  # the JSONL store's read cache
    max_skill_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # a larger SKILL.md is skipped and reported
    max_skill_expanded_size: int = DEFAULT_MAX_EXPANDED_SIZE  # front matter with aliases expanded
    max_threads_per_request: int = (
        DEFAULT_MAX_THREADS_PER_REQUEST  # distinct threads a batch names; more: 422
    )
    max_open_files: int = DEFAULT_MAX_OPEN_FILES  # descriptors the JSONL store keeps open between writes
    # Bearer-token access (runlog.gateway.auth): the token, or a file holding it (read when the app
    # starts); neither: no token asked. Never shown in the settings' repr.
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    # Host names served besides the loopback ones (runlog.gateway.hosts); other Hosts: 400.
    allowed_hosts: tuple[str, ...] = ()
    # Slow and idle clients (runlog.gateway.serving): seconds, and a count of connections.
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # the whole body, from its request's head on; later: 408
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES

    def __post_init__(self) -> None:
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        value = self.max_open_files
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"max_open_files must be an integer >= 2 (a thread's two files), got {value!r}")
        for name in _TIMEOUTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(self.allowed_hosts, str):
            raise ValueError("allowed_hosts is a tuple of host names, not one string")
        object.__setattr__(
            self, "allowed_hosts", tuple(dict.fromkeys(host_name(h) for h in self.allowed_hosts))
        )
        if self.token is not None and self.token_file is not None:
            raise ValueError("set RUNLOG_TOKEN or RUNLOG_TOKEN_FILE (--token-file), not both")
        if self.token is not None:
            check_token(self.token)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("RUNLOG_DATA_DIR", DEFAULT_DATA_DIR)),
            "sqlite_url": env.get("RUNLOG_SQLITE_URL") or None,
            "skills_dir": Path(env["RUNLOG_SKILLS_DIR"]) if env.get("RUNLOG_SKILLS_DIR") else None,
            "events_url": env.get("RUNLOG_EVENTS_URL") or None,
            "max_body_bytes": _positive(env, "RUNLOG_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            "max_event_bytes": _positive(env, "RUNLOG_MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES),
            "max_page_bytes": _positive(env, "RUNLOG_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES),
            "max_cache_bytes": _positive(env, "RUNLOG_MAX_CACHE_BYTES", DEFAULT_MAX_CACHE_BYTES),
            "max_skill_file_bytes": _positive(env, "RUNLOG_MAX_SKILL_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
            "max_skill_expanded_size": _positive(
                env, "RUNLOG_MAX_SKILL_EXPANDED_SIZE", DEFAULT_MAX_EXPANDED_SIZE
            ),
            "max_threads_per_request": _positive(
                env, "RUNLOG_MAX_THREADS_PER_REQUEST", DEFAULT_MAX_THREADS_PER_REQUEST
            ),
            "max_open_files": _positive(env, "RUNLOG_MAX_OPEN_FILES", DEFAULT_MAX_OPEN_FILES),
            "token": env.get("RUNLOG_TOKEN") or None,
            "token_file": Path(env["RUNLOG_TOKEN_FILE"]) if env.get("RUNLOG_TOKEN_FILE") else None,
            "allowed_hosts": tuple(h for h in env.get("RUNLOG_ALLOWED_HOSTS", "").split(",") if h.strip()),
            "header_timeout": _seconds(env, "RUNLOG_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
            "body_timeout": _seconds(env, "RUNLOG_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT),
            "keep_alive_timeout": _seconds(env, "RUNLOG_KEEP_ALIVE_TIMEOUT", DEFAULT_KEEP_ALIVE_TIMEOUT),
            "max_connections": _positive(env, "RUNLOG_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
            "max_header_bytes": _positive(env, "RUNLOG_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(
            data_dir=Path(values["data_dir"]),  # type: ignore[arg-type]
            sqlite_url=values["sqlite_url"],  # type: ignore[arg-type]
            skills_dir=None if values["skills_dir"] is None else Path(values["skills_dir"]),  # type: ignore[arg-type]
            events_url=None if values["events_url"] is None else str(values["events_url"]),
            max_body_bytes=values["max_body_bytes"],  # type: ignore[arg-type]
            max_event_bytes=values["max_event_bytes"],  # type: ignore[arg-type]
            max_page_bytes=values["max_page_bytes"],  # type: ignore[arg-type]
            max_cache_bytes=values["max_cache_bytes"],  # type: ignore[arg-type]
            max_skill_file_bytes=values["max_skill_file_bytes"],  # type: ignore[arg-type]
            max_skill_expanded_size=values["max_skill_expanded_size"],  # type: ignore[arg-type]
            max_threads_per_request=values["max_threads_per_request"],  # type: ignore[arg-type]
            max_open_files=values["max_open_files"],  # type: ignore[arg-type]
            token=None if values["token"] is None else str(values["token"]),
            token_file=None if values["token_file"] is None else Path(values["token_file"]),  # type: ignore[arg-type]
            allowed_hosts=tuple(values["allowed_hosts"]),  # type: ignore[arg-type]
            header_timeout=values["header_timeout"],  # type: ignore[arg-type]
            body_timeout=values["body_timeout"],  # type: ignore[arg-type]
            keep_alive_timeout=values["keep_alive_timeout"],  # type: ignore[arg-type]
            max_connections=values["max_connections"],  # type: ignore[arg-type]
            max_header_bytes=values["max_header_bytes"],  # type: ignore[arg-type]
        )

    @property
    def needs_token(self) -> bool:
        return self.token is not None or self.token_file is not None

    @property
    def served_hosts(self) -> tuple[str, ...]:
        """Every host name a request may name: the loopback ones, then the configured ones."""
        return tuple(dict.fromkeys((*LOOPBACK_HOSTS, *self.allowed_hosts)))

    @property
    def events_dir(self) -> Path:
        return self.data_dir / "events"

    @property
    def resolved_events_url(self) -> str:
        return self.events_url or str(self.events_dir)

    @property
    def resolved_sqlite_url(self) -> str:
        return self.sqlite_url or f"sqlite:///{self.data_dir / 'runlog.db'}"

    @property
    def resolved_skills_dir(self) -> Path:
        return self.skills_dir if self.skills_dir is not None else self.data_dir / "skills"


def check_token(token: str) -> str:
    """A token a header can carry as it is: printable ASCII, no spaces (RFC 6750's b64token, loosely)."""
    if not token or not all("!" <= char <= "~" for char in token):
        raise ValueError("the token must be printable ASCII without spaces (e.g. from: openssl rand -hex 32)")
    return token


def _number(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    """The variable ``name`` parsed, ``default`` when unset or empty; ValueError naming it if not a number."""
    text = env.get(name)
    if not text:
        return default
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {text!r}") from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, "a positive integer")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, "a positive number of seconds")


def describe(settings: Settings) -> dict[str, Any]:
    """What the settings serve, for the startup log: store kind, location (no password), registry, limits.

    Paths are made absolute (this reads the current directory: call it off the event loop).
    """
    url = settings.resolved_events_url
    kind = store_kind(url)
    if kind == "jsonl":
        folder = url[len("jsonl://") :] if url.startswith("jsonl://") else url
        location = str(Path(folder).expanduser().resolve())
    elif kind == "memory":
        location = "memory (nothing kept)"
    else:
        location = hide_password(make_url(url).render_as_string(hide_password=True))  # and ?password=
    return {
        "store": kind,
        "location": location,
        "registry": resolve_sqlite_conn_str(settings.resolved_sqlite_url),
        "skills": str(settings.resolved_skills_dir.expanduser().resolve()),
        "access": "bearer token" if settings.needs_token else "open (no token)",
        "hosts": list(settings.served_hosts),
        "limits": {
            "max_body_bytes": settings.max_body_bytes,
            "max_event_bytes": settings.max_event_bytes,
            "max_page_bytes": settings.max_page_bytes,
            **({"max_cache_bytes": settings.max_cache_bytes} if kind == "jsonl" else {}),
            "max_skill_file_bytes": settings.max_skill_file_bytes,
            "max_skill_expanded_size": settings.max_skill_expanded_size,
            "max_threads_per_request": settings.max_threads_per_request,
            "max_open_files": settings.max_open_files,
            "header_timeout": settings.header_timeout,
            "body_timeout": settings.body_timeout,
            "keep_alive_timeout": settings.keep_alive_timeout,
            "max_connections": settings.max_connections,
            "max_header_bytes": settings.max_header_bytes,
        },
    }


def store_kind(url: str) -> str:
    """``jsonl``, ``memory``, ``sqlite`` or ``postgresql``: which store ``open_store(url)`` gives."""
    if url == "memory:":
        return "memory"
    scheme, colon, _ = url.partition(":")
    if not colon or len(scheme) < 2 or scheme.lower() == "jsonl":  # a path (C:\x is one too)
        return "jsonl"
    return scheme.lower().split("+", 1)[0]
