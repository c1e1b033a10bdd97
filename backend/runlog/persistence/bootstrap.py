"""Turn a SQLite connection string into a database path ready to open.

These are synchronous on purpose: resolving a relative path reads the current
directory and creating the parent touches the disk, so the async open path runs
them in a worker thread (see ``RunRegistry.open``), never on the event loop.
"""

from __future__ import annotations

import os
from pathlib import Path

from runlog.redact import hide_password, shows_password

MEMORY = ":memory:"
ACCEPTED_FORMS = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "a plain filesystem path",
    ":memory: (or sqlite:///:memory:)",
)


def _malformed(text: str) -> ValueError:
    return ValueError(
        f"malformed SQLite URL {hide_password(text)!r}; accepted forms: {', '.join(ACCEPTED_FORMS)}"
    )


def resolve_sqlite_conn_str(conn_str: str | os.PathLike[str]) -> str:
    """Return an absolute database path, or ``":memory:"``.

    Raises ValueError for an empty string or a URL scheme other than sqlite; the
    message quotes the string with any password hidden.
    """
    text = os.fspath(conn_str)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty SQLite connection string; accepted forms: {', '.join(ACCEPTED_FORMS)}")
    if text == MEMORY:
        return MEMORY
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in ("sqlite", "sqlite+aiosqlite"):
            raise ValueError(
                f"unsupported connection string scheme {scheme!r} in {hide_password(text)!r}; "
                f"accepted forms: {', '.join(ACCEPTED_FORMS)}"
            )
        if not rest.startswith("/") or rest == "/":
            raise _malformed(text)
        # sqlite:///x -> rest "/x" (relative x); sqlite:////x -> rest "//x" (absolute /x)
        path = rest[1:]
        if path == MEMORY:
            return MEMORY
        text = path
    elif shows_password(text):  # a mistyped URL (postgresql//user:secret@host), not a file name
        raise _malformed(text)
    return str(Path(text).expanduser().resolve())


def ensure_sqlite_parent_dir(db_path: str) -> None:
    """Create the folder that will hold ``db_path`` (nothing for :memory:)."""
    if db_path != MEMORY:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)


def prepare_sqlite_path(conn_str: str | os.PathLike[str]) -> str:
    """Resolve the connection string and create its parent directory."""
    path = resolve_sqlite_conn_str(conn_str)
    ensure_sqlite_parent_dir(path)
    return path
