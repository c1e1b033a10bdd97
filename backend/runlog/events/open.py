"""``open_store(url)``: one entry point from a configured URL to a run-event store.

| URL | store |
|---|---|
| a plain path (``./data/events``, ``/var/lib/runlog/events``) or ``jsonl:///abs/dir`` | ``JsonlRunEventStore`` |
| ``memory:`` | ``MemoryRunEventStore`` (tests, throwaway demos) |
| ``sqlite+aiosqlite:///path.db``, ``postgresql+asyncpg://user@host/db`` | ``SqlRunEventStore`` |

Opening is cheap and touches nothing: the JSONL store creates its folders on
the first write, the SQL store connects on first use.
"""

from __future__ import annotations

import os
import re

from runlog.events.base import RunEventStore
from runlog.events.jsonl import DEFAULT_MAX_CACHE_BYTES, DEFAULT_MAX_OPEN_FILES, JsonlRunEventStore
from runlog.events.memory import MemoryRunEventStore
from runlog.events.sql import DRIVERS, SqlRunEventStore
from runlog.redact import hide_password, shows_password

# A scheme is letters, digits, '+', '-', '.' before ':'; a Windows drive
# letter (C:\x) is one letter, so it reads as a path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def open_store(
    url: str | os.PathLike[str],
    *,
    max_page_bytes: int | None = None,
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
    max_open_files: int = DEFAULT_MAX_OPEN_FILES,
) -> RunEventStore:
    """The store a URL names; ValueError for a scheme no store serves (quoting the URL, password hidden).

    ``max_page_bytes``: every store's page limit (None: none); ``max_cache_bytes``: the JSONL
    store's read cache (the other stores keep no records between calls); ``max_open_files``:
    the JSONL store's bound on the descriptors it keeps open (the others keep no files open).
    """

    def jsonl(base_dir: str | os.PathLike[str]) -> JsonlRunEventStore:
        return JsonlRunEventStore(
            base_dir,
            max_page_bytes=max_page_bytes,
            max_cache_bytes=max_cache_bytes,
            max_open_files=max_open_files,
        )

    if isinstance(url, os.PathLike):
        return jsonl(url)
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"an event store URL must be a non-empty string, got {url!r}")
    if url == "memory:":
        return MemoryRunEventStore(max_page_bytes=max_page_bytes)
    match = _SCHEME.match(url)
    if match is None:
        if shows_password(url):  # a URL with its ':' missing (postgresql+asyncpg//user:secret@host)
            raise ValueError(
                f"{hide_password(url)!r} is not a folder but a URL with a password, mistyped: "
                "write it as postgresql+asyncpg://user:password@host/db"
            )
        return jsonl(url)
    scheme = match.group(1).lower()
    if scheme == "jsonl":
        if not url.startswith("jsonl://") or len(url) == len("jsonl://") or shows_password(url):
            raise ValueError(
                "a JSONL store URL reads jsonl:///absolute/dir or jsonl://relative/dir, "
                f"got {hide_password(url)!r}"
            )
        return jsonl(url[len("jsonl://") :])
    if scheme in DRIVERS:
        return SqlRunEventStore(url, max_page_bytes=max_page_bytes)
    raise ValueError(
        f"unknown event store URL {hide_password(url)!r}: use a directory path, jsonl:///dir, memory:, "
        "sqlite+aiosqlite:///file.db or postgresql+asyncpg://user@host/db"
    )
