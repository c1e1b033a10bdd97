"""A password in a store URL is never shown: not in an error for a mistyped or unsupported URL, not in a log.

Every way a URL can be refused is tried, in the library (the ValueError's
message, and what a traceback would show of the exceptions it chains) and on
the command line (``--events-url``, ``--sqlite-url`` and their variables:
one line on stderr, exit 2); then a URL that is accepted but whose server
cannot be reached, through the startup log and a failing /ready.
"""

from __future__ import annotations

import json
import traceback

import httpx
import pytest

from runlog.events import SqlRunEventStore, open_store
from runlog.events.sql import check_url
from runlog.persistence import resolve_sqlite_conn_str
from runlog.persistence.bootstrap import prepare_sqlite_path
from runlog.redact import hide_password
from tests.test_cli import Server, one_line_error, run, wait_for_health

SECRET = "S3cret"

# Refused as an event store URL: misspelled, unsupported, malformed; each carries the password.
BAD_EVENTS_URLS = [
    f"postgresql://postgres:{SECRET}@127.0.0.1:5432/runlog",  # the driver left out
    f"postgres+asyncpg://postgres:{SECRET}@127.0.0.1/runlog",  # a misspelled scheme
    f"mysql+aiomysql://root:{SECRET}@127.0.0.1/runlog",  # an unsupported database
    f"postgresql+asyncpg//postgres:{SECRET}@127.0.0.1/runlog",  # the ':' left out: not a folder
    f"postgresql+asyncpg:/postgres:{SECRET}@127.0.0.1/runlog",  # one '/'
    f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:port/runlog",  # a port that is not a number
    f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1/runlog?synchronous=full",  # SQLite's setting
    f"postgres:{SECRET}@127.0.0.1/runlog",  # the scheme left out
    f"jsonl://postgres:{SECRET}@127.0.0.1/runlog",  # a JSONL URL is a folder
    f"sqlite+aiosqlite://user:{SECRET}@/:memory:",  # in-memory SQLite
    f"sqlite+aiosqlite://user:{SECRET}@/e.db?synchronous=sometimes",  # a bad setting
]
# Refused as the run registry's SQLite URL.
BAD_SQLITE_URLS = [
    f"postgresql://postgres:{SECRET}@127.0.0.1/runlog",
    f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1/runlog",
    f"sqlite://user:{SECRET}@host.db",  # no '/' after the authority
    f"sqlite:/user:{SECRET}@host/x.db",  # a path, were it not for the password
    f"postgresql//postgres:{SECRET}@127.0.0.1/runlog",
    f"x.db?password={SECRET}",
]


def shown(exc: BaseException) -> str:
    """Everything a traceback of ``exc`` prints, chained exceptions included."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


@pytest.mark.parametrize("url", BAD_EVENTS_URLS)
def test_a_refused_events_url_hides_its_password(url):
    with pytest.raises(ValueError) as raised:
        open_store(url)
    assert SECRET not in shown(raised.value)
    assert "***" in str(raised.value) or "synchronous" in str(raised.value)


@pytest.mark.parametrize("url", [u for u in BAD_EVENTS_URLS if "+asyncpg://" in u or "aiosqlite" in u])
def test_the_sql_store_itself_hides_it(url):
    with pytest.raises(ValueError) as raised:
        SqlRunEventStore(url)
    assert SECRET not in shown(raised.value)
    with pytest.raises(ValueError) as again:
        check_url(url) if "port/" in url else SqlRunEventStore(url)
    assert SECRET not in shown(again.value)


@pytest.mark.parametrize("url", BAD_SQLITE_URLS)
def test_a_refused_sqlite_url_hides_its_password(url):
    for resolve in (resolve_sqlite_conn_str, prepare_sqlite_path):
        with pytest.raises(ValueError) as raised:
            resolve(url)
        assert SECRET not in shown(raised.value) and "***" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p/w@x@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pw", "postgresql://u:***"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        ("postgresql://[::1]/db", "postgresql://[::1]/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("user:pw@h/db", "user:***@h/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("/data/events", "/data/events"),
        ("data//events", "data//events"),
        ("C:\\data\\me@home", "C:\\data\\me@home"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_hide_password(url, hidden):
    assert hide_password(url) == hidden


@pytest.mark.parametrize(
    ("option", "variable", "url"),
    [("--events-url", "RUNLOG_EVENTS_URL", u) for u in BAD_EVENTS_URLS[:6]]
    + [("--sqlite-url", "RUNLOG_SQLITE_URL", u) for u in BAD_SQLITE_URLS[:3]],
)
def test_the_command_line_never_prints_it(tmp_path, option, variable, url):
    for done in (run([option, url], tmp_path), run([], tmp_path, env={variable: url})):
        one_line_error(done, 2, "***")
        assert SECRET not in done.stderr + done.stdout


def test_an_unreachable_database_logs_no_password(tmp_path):
    """Accepted, served, and down: the startup line, /ready's 503 and its log line name no password."""
    url = f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:1/runlog?password={SECRET}"
    server = Server(["--log-format", "json", "--data-dir", "d", "--events-url", url], tmp_path)
    try:
        start = json.loads(server.line("serving on"))
        assert start["location"] == "postgresql+asyncpg://postgres:***@127.0.0.1:1/runlog?password=***"
        port = int(start["bind"].rsplit(":", 1)[1])
        assert wait_for_health(port).status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=30)
        assert ready.status_code == 503 and SECRET not in ready.text
        assert "event store" in json.loads(server.line("not ready"))["message"]
    finally:
        server.stop()
    rest = [server.lines.get() for _ in range(server.lines.qsize())]
    assert not any(SECRET in line for line in rest)
