"""``python -m runlog serve``: run the gateway on 127.0.0.1 with uvicorn."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runlog", description="runlog service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API (JSONL files + SQLite, nothing to install)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--data-dir", help="data folder (default: $RUNLOG_DATA_DIR or ./.runlog)")
    serve.add_argument("--sqlite-url", help="run registry (default: sqlite:///<data-dir>/runlog.db)")
    serve.add_argument("--skills-dir", help="skills folder (default: <data-dir>/skills)")
    serve.add_argument(
        "--events-url",
        help="event store: a folder or jsonl:///dir, sqlite+aiosqlite:///file.db, "
        "postgresql+asyncpg://user@host/db (default: $RUNLOG_EVENTS_URL or <data-dir>/events)",
    )
    args = parser.parse_args(argv)

    import uvicorn

    from runlog.gateway import Settings, create_app

    settings = Settings.from_env(
        data_dir=args.data_dir,
        sqlite_url=args.sqlite_url,
        skills_dir=args.skills_dir,
        events_url=args.events_url,
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
