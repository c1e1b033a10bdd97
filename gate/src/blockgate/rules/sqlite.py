"""sqlite: connecting, executing, committing, backups and blobs.

blockbuster patches cursor and connection ``execute``; ``sqlite3.connect``,
``commit``, ``backup``, ``serialize`` and blob IO also read and write the
database file and wait for its locks.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignoring, lookup


def _sqlite(scene: Scene) -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    scene.keep("conn", conn, conn.close)  # when the gate stopped the probe's close


def _sqlite_extensions(scene: Scene) -> None:
    _sqlite(scene)
    scene.extra["conn"].enable_load_extension(True)


def _sqlite_pair(scene: Scene) -> None:
    _sqlite(scene)
    target = sqlite3.connect(":memory:", check_same_thread=False)
    scene.keep("target", target, target.close)


def _sqlite_in_transaction(scene: Scene) -> None:
    _sqlite(scene)
    conn = scene.extra["conn"]
    conn.execute("create table t (x)")
    conn.execute("insert into t values (1)")  # the driver opens a transaction before an insert


def _commit_at_block_end(scene: Scene) -> None:
    with scene.extra["conn"]:  # __exit__: commit
        pass


def _not_in_transaction(conn: Any, *_: Any, **__: Any) -> bool:
    return not conn.in_transaction


def _sqlite_blob(scene: Scene) -> None:
    _sqlite(scene)
    conn = scene.extra["conn"]
    conn.execute("create table t (b blob)")
    conn.execute("insert into t values (zeroblob(8))")
    blob = conn.blobopen("t", "b", 1)
    scene.keep("blob", blob, blob.close)


def _sqlite_image(scene: Scene) -> None:
    _sqlite_blob(scene)
    scene.extra["blob"].close()
    scene.extra["image"] = scene.extra["conn"].serialize()


_prebound_connect = sqlite3.connect  # likewise: only the audit event sees it


RULES: tuple[Patch | Audit, ...] = (
    # -- sqlite ---------------------------------------------------------------------
    Audit(
        "sqlite",
        "sqlite3.connect",
        "opens (and may create or lock) a database file",
        fires=Probe(lambda s: _prebound_connect(":memory:").close()),
        raised_by=("sqlite3.connect",),
    ),
    Patch(
        "sqlite",
        "sqlite3.connect",
        "opens (and may create or lock) a database file",
        fires=Probe(lambda s: sqlite3.connect(":memory:").close()),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.close",
        "closing may checkpoint and write the database file",
        fires=Probe(lambda s: s.extra["conn"].close(), _sqlite),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.load_extension",
        "loads a shared library from disk",
        fires=Probe(
            lambda s: ignoring(sqlite3.OperationalError)(
                lambda: s.extra["conn"].load_extension(str(s.tmp / "missing-extension"))
            ),
            _sqlite_extensions,
        ),
        # a build option: python.org's macOS and Windows builds have it, this Linux build may not
        platform_has_it=hasattr(sqlite3.Connection, "load_extension"),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.backup",
        "copies a whole database, page by page",
        fires=Probe(lambda s: s.extra["conn"].backup(s.extra["target"]), _sqlite_pair),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.iterdump",
        "reads the whole database",
        fires=Probe(lambda s: list(s.extra["conn"].iterdump()), _sqlite),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.serialize",
        "reads the whole database",
        fires=Probe(lambda s: s.extra["conn"].serialize(), _sqlite_blob),
        min_version=(3, 11),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.deserialize",
        "replaces the whole database",
        fires=Probe(lambda s: s.extra["conn"].deserialize(s.extra["image"]), _sqlite_image),
        min_version=(3, 11),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.blobopen",
        "opens a blob: reads the database file",
        fires=Probe(lambda s: s.extra["conn"].blobopen("t", "b", 1).close(), _sqlite_blob),
        min_version=(3, 11),
    ),
    *(
        Patch(
            "sqlite",
            f"sqlite3.Blob.{method}",
            "reads or writes the database file",
            fires=Probe(call, _sqlite_blob),
            min_version=(3, 11),
        )
        for method, call in (
            ("read", lambda s: s.extra["blob"].read(1)),
            ("write", lambda s: s.extra["blob"].write(b"x")),
        )
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.__exit__",
        "the end of a with block commits (or rolls back) in C, past the commit rule: waits for the "
        "database file and its lock",
        fires=Probe(_commit_at_block_end, _sqlite_in_transaction),
        nonblocking_if=_not_in_transaction,
        passes=Probe(_commit_at_block_end, _sqlite),
        runtime_only="a with statement calls no name the static half could resolve to the connection's __exit__",
    ),
    Patch(
        "files",
        "dbm.open",
        "opens (and may create) a database file; with flag 'n' no 'open' event is raised",
        fires=Probe(lambda s: lookup("dbm.open")(str(s.fresh("db")), "n").close()),
    ),
)
