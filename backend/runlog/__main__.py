"""``python -m runlog serve``: run the gateway with uvicorn, on 127.0.0.1 by default.

Before the server starts, everything a command line can get wrong is checked
here, in this synchronous process (no event loop yet), so that a mistake is
one line on stderr and an exit status, never a traceback: a URL no store
serves, a data folder that cannot be made, a skills folder that is not there,
a port that is taken. Usage errors exit 2, as argparse does; the others 1.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import logging.config
import socket
import sys
from typing import Any, NoReturn

logger = logging.getLogger("runlog.serve")

PROG = "python -m runlog"


class CommandLineError(Exception):
    """A mistake in the command line or its environment: its message says what to do."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (status 2) that points at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from runlog.logs import LOG_FORMATS

    parser = _Parser(prog=PROG, description="runlog service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="serve")
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
    serve.add_argument(
        "--token-file",
        help="a file holding the bearer token every request but /health must send "
        "(default: $RUNLOG_TOKEN_FILE, or the token in $RUNLOG_TOKEN; required unless --host is loopback)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a host name (or address) clients use to reach the service; repeat for several. Requests "
        "naming another Host get 400. localhost, 127.0.0.1 and [::1] are always served, and so is --host "
        "unless it is 0.0.0.0 or :: (then at least one is required) (default: $RUNLOG_ALLOWED_HOSTS, "
        "comma-separated)",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help="close a connection whose request head is not in this long after it connected, or after "
        "the request's first byte (default: $RUNLOG_HEADER_TIMEOUT or 10)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        help="answer 408 to a request whose body is not all in this long after its head "
        "(default: $RUNLOG_BODY_TIMEOUT or 30)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=float,
        metavar="SECONDS",
        help="close an idle connection this long after its last answer (default: $RUNLOG_KEEP_ALIVE_TIMEOUT or 5)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="serve N connections at once: a request arriving on one more, or while N others are in "
        "progress, gets 503 (default: $RUNLOG_MAX_CONNECTIONS or 100)",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="text lines, or JSON lines for a log collector (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _serve(args)
    except CommandLineError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return exc.status


def _serve(args: argparse.Namespace) -> int:
    from runlog.logs import logging_config

    log_config = logging_config(args.log_format)
    logging.config.dictConfig(log_config)
    settings = _settings(args)
    _check_paths(settings, skills_dir_given=args.skills_dir is not None)
    _check_access(settings, args.host)
    settings = _hosts(settings, args.host)
    sock = _bind(args.host, args.port)

    import uvicorn

    from runlog.gateway import create_app
    from runlog.gateway.serving import uvicorn_config

    _log_start(settings, args.host, sock.getsockname()[1])  # the port bound (--port 0: a free one)
    config = uvicorn_config(create_app(settings), settings, log_config=log_config)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 3  # uvicorn's status when the app's startup failed (it logged why)


def _settings(args: argparse.Namespace) -> Any:
    from runlog.events import open_store
    from runlog.gateway import Settings
    from runlog.persistence import resolve_sqlite_conn_str

    try:
        settings = Settings.from_env(
            data_dir=args.data_dir,
            sqlite_url=args.sqlite_url,
            skills_dir=args.skills_dir,
            events_url=args.events_url,
            token_file=args.token_file,
            allowed_hosts=args.allowed_host,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            keep_alive_timeout=args.keep_alive_timeout,
            max_connections=args.max_connections,
        )
        open_store(settings.resolved_events_url)  # refuses a URL no store serves; touches nothing
        resolve_sqlite_conn_str(settings.resolved_sqlite_url)
    except ValueError as exc:
        raise CommandLineError(str(exc), status=2) from None
    return settings


def _check_paths(settings: Any, *, skills_dir_given: bool) -> None:
    from runlog.persistence import prepare_sqlite_path

    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise CommandLineError(f"the data folder {settings.data_dir} is a file: point --data-dir at a folder")
    try:
        prepare_sqlite_path(settings.resolved_sqlite_url)
    except OSError as exc:
        raise CommandLineError(
            f"cannot create the run registry's folder for {settings.resolved_sqlite_url}: "
            f"{exc.strerror or exc}: choose another with --data-dir or --sqlite-url"
        ) from None
    skills = settings.resolved_skills_dir
    if skills_dir_given and not skills.is_dir():
        raise CommandLineError(
            f"the skills folder {skills} does not exist or is not a folder: create it, "
            "or point --skills-dir at a folder of <name>/SKILL.md"
        )


def _check_access(settings: Any, host: str) -> None:
    """A token file that gives a token; and a token whenever others than this host can connect."""
    from runlog.gateway.auth import read_token_file
    from runlog.gateway.settings import check_token

    if settings.token_file is not None:
        try:
            check_token(read_token_file(str(settings.token_file)))
        except OSError as exc:
            raise CommandLineError(
                f"cannot read the token file {settings.token_file}: {exc.strerror or exc}"
            ) from None
        except ValueError as exc:
            raise CommandLineError(f"{exc} ({settings.token_file})") from None
    if not settings.needs_token and not _loopback(host):
        raise CommandLineError(
            f"--host {host} lets other machines connect: set a bearer token first, "
            "RUNLOG_TOKEN=<token> or RUNLOG_TOKEN_FILE=<file> (or --token-file <file>)",
            status=2,
        )


def _hosts(settings: Any, host: str) -> Any:
    """The settings serving the bound name too; a usage error for a wildcard bind with no name given.

    A request names the host its client used: on a wildcard bind (every
    interface) the service cannot know which names those are, and with only the
    loopback names served every other machine's request would be refused.
    """
    from dataclasses import replace

    from runlog.gateway.hosts import host_name

    if host.strip("[]") in ("0.0.0.0", "::", ""):
        if not settings.allowed_hosts:
            raise CommandLineError(
                f"--host {host} answers on every interface: name the host names clients will use, "
                "--allowed-host <name> (repeatable) or RUNLOG_ALLOWED_HOSTS=<name>,<name>; "
                "requests naming any other host are refused",
                status=2,
            )
        return settings
    try:
        name = host_name(host)
    except ValueError:  # not a name a Host header can carry: binding it reports the problem
        return settings
    return replace(settings, allowed_hosts=(*settings.allowed_hosts, name))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may name any interface
        return False


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is one line, not a traceback from uvicorn."""
    if not 0 <= port <= 65535:
        raise CommandLineError(f"--port must be 0-65535, got {port}", status=2)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CommandLineError(f"cannot bind to --host {host}: {exc.strerror}", status=2) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandLineError(
                f"port {port} on {host} is in use: stop what serves it, or choose another with --port"
            ) from None
        raise CommandLineError(f"cannot bind to {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _log_start(settings: Any, host: str, port: int) -> None:
    from runlog.gateway.settings import describe

    fields = {"bind": f"{host}:{port}", **describe(settings)}
    limits = ", ".join(f"{name} {value}" for name, value in fields["limits"].items())
    logger.info(
        "serving on http://%s (%s): events in %s %s; registry %s; skills %s; limits: %s",
        _url_host(host, port),
        fields["access"],
        fields["store"],
        fields["location"],
        fields["registry"],
        fields["skills"],
        limits,
        extra={"fields": fields},
    )


def _url_host(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


if __name__ == "__main__":
    sys.exit(main())
