"""Persistence: the SQLite run registry and its bootstrap helpers."""

from runlog.persistence.bootstrap import (
    ensure_sqlite_parent_dir,
    prepare_sqlite_path,
    resolve_sqlite_conn_str,
)
from runlog.persistence.registry import RUN_STATUSES, RunRegistry

__all__ = [
    "RUN_STATUSES",
    "RunRegistry",
    "ensure_sqlite_parent_dir",
    "prepare_sqlite_path",
    "resolve_sqlite_conn_str",
]
