"""Gateway settings: explicit arguments, else ``RUNLOG_*`` environment variables.

Building settings touches no filesystem: paths stay as given (relative ones are
resolved by the components, in worker threads, when the app starts).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from runlog.gateway.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES
from runlog.persistence.bootstrap import resolve_sqlite_conn_str
from runlog.redact import hide_password
from runlog.skills.storage import DEFAULT_MAX_EXPANDED_SIZE, DEFAULT_MAX_FILE_BYTES

DEFAULT_DATA_DIR = "./.runlog"


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
    max_skill_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # a larger SKILL.md is skipped and reported
    max_skill_expanded_size: int = DEFAULT_MAX_EXPANDED_SIZE  # front matter with aliases expanded
    # Bearer-token access (runlog.gateway.auth): the token, or a file holding it (read when the app
    # starts); neither: no token asked. Never shown in the settings' repr.
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_event_bytes", "max_skill_file_bytes", "max_skill_expanded_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
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
            "max_skill_file_bytes": _positive(env, "RUNLOG_MAX_SKILL_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
            "max_skill_expanded_size": _positive(
                env, "RUNLOG_MAX_SKILL_EXPANDED_SIZE", DEFAULT_MAX_EXPANDED_SIZE
            ),
            "token": env.get("RUNLOG_TOKEN") or None,
            "token_file": Path(env["RUNLOG_TOKEN_FILE"]) if env.get("RUNLOG_TOKEN_FILE") else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(
            data_dir=Path(values["data_dir"]),  # type: ignore[arg-type]
            sqlite_url=values["sqlite_url"],  # type: ignore[arg-type]
            skills_dir=None if values["skills_dir"] is None else Path(values["skills_dir"]),  # type: ignore[arg-type]
            events_url=None if values["events_url"] is None else str(values["events_url"]),
            max_body_bytes=values["max_body_bytes"],  # type: ignore[arg-type]
            max_event_bytes=values["max_event_bytes"],  # type: ignore[arg-type]
            max_skill_file_bytes=values["max_skill_file_bytes"],  # type: ignore[arg-type]
            max_skill_expanded_size=values["max_skill_expanded_size"],  # type: ignore[arg-type]
            token=None if values["token"] is None else str(values["token"]),
            token_file=None if values["token_file"] is None else Path(values["token_file"]),  # type: ignore[arg-type]
        )

    @property
    def needs_token(self) -> bool:
        return self.token is not None or self.token_file is not None

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


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {text!r}") from None


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
        "limits": {
            "max_body_bytes": settings.max_body_bytes,
            "max_event_bytes": settings.max_event_bytes,
            "max_skill_file_bytes": settings.max_skill_file_bytes,
            "max_skill_expanded_size": settings.max_skill_expanded_size,
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
