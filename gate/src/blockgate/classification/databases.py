"""``sqlite3``, ``dbm`` and ``shelve``: database files and their locks."""

from __future__ import annotations

from blockgate.classification.engine import PURE, RECORD, Entry, blind, fine, rule

_SQLITE = (
    fine("sqlite3.Blob", "made by Connection.blobopen", since=(3, 11)),
    fine("sqlite3.Blob.close", "closes the blob handle", since=(3, 11)),
    fine("sqlite3.Blob.seek", "moves an offset in memory", since=(3, 11)),
    fine("sqlite3.Blob.tell", "reads an offset in memory", since=(3, 11)),
    fine("sqlite3.Connection", "made by sqlite3.connect (a rule)"),
    fine("sqlite3.Cursor", "creates a cursor"),
    *(
        fine(f"sqlite3.Connection.{m}", "registers a callback or reads a setting in memory")
        for m in (
            "create_aggregate",
            "create_collation",
            "create_function",
            "set_authorizer",
            "set_progress_handler",
            "set_trace_callback",
            "interrupt",
            "cursor",
        )
    ),
    *(
        fine(f"sqlite3.Connection.{m}", "reads or sets a limit in memory", since=(3, 11))
        for m in ("create_window_function", "getlimit", "setlimit")
    ),
    *(
        fine(f"sqlite3.Connection.{m}", "reads or sets a configuration flag in memory", since=(3, 12))
        for m in ("getconfig", "setconfig")
    ),
    fine("sqlite3.Cursor.close", "finalizes statements in memory"),
    fine("sqlite3.Cursor.setinputsizes", "does nothing (DB-API compatibility)"),
    fine("sqlite3.Cursor.setoutputsize", "does nothing (DB-API compatibility)"),
    fine("sqlite3.PrepareProtocol", RECORD),
    fine("sqlite3.Row*", "a result row in memory"),
    *(
        fine(f"sqlite3.{n}", PURE)
        for n in (
            "adapt",
            "complete_statement",
            "enable_callback_tracebacks",
            "register_adapter",
            "register_converter",
        )
    ),
)


_DBM_SHELVE = (
    rule("dbm.whichdb", "audit:open"),
    blind(
        "shelve.*Shelf.get",
        "reads through the dbm object's C mapping slots, which no patch can replace and which raise no audit event",
    ),
    blind("shelve.*Shelf.sync", "syncs through the dbm object's C methods (no importable type to patch)"),
    blind("shelve.*Shelf.close", "syncs and closes through the dbm object's C methods"),
    blind("shelve.*Shelf.clear", "deletes through the dbm object's C mapping slots", since=(3, 13)),
    blind(
        "shelve.BsdDbShelf.*", "the underlying bsddb-style object's C methods (no importable type to patch)"
    ),
    fine("shelve.*Shelf", "wraps an open dbm object: no IO"),
    rule("shelve.DbfilenameShelf", "dbm.open"),
    rule("shelve.open", "dbm.open"),
)


ENTRIES: tuple[Entry, ...] = (
    *_SQLITE,
    *_DBM_SHELVE,
)
