"""Every public callable of the standard library's IO modules, classified: one table per module family.

The engine (``engine``: entries, enumeration, the index that classifies a
name) is apart from its tables; this package assembles the tables, in the
order of ``MODULES``, into ``TABLE`` and binds them to the engine
(``CLASSIFICATION``). The gate's tests fail on any public callable without a
verdict on the running Python (and, from typeshed's stubs, on macOS and
Windows: ``stubs``), and on entries that match nothing.
"""

from __future__ import annotations

from blockgate.classification import (
    archives,
    databases,
    fcntl_select,
    file_tools,
    io_streams,
    multiprocessing_,
    os_calls,
    other_systems,
    others,
    paths,
    protocols,
    sockets,
    subprocesses,
    threads,
    time_signal,
    tls,
)
from blockgate.classification.blockbuster_defaults import BLOCKBUSTER
from blockgate.classification.engine import (
    MODULES,
    NOT_BLOCKING,
    NOT_TRAPPABLE,
    ONLY,
    RULE,
    VERDICTS,
    Classification,
    Entry,
    Index,
    all_public_callables,
    blind,
    fine,
    module_of,
    on_system,
    public_callables,
    rule,
    rule_entries,
    type_entries,
)

_FAMILIES = (
    os_calls,
    paths,
    io_streams,
    file_tools,
    fcntl_select,
    sockets,
    tls,
    time_signal,
    subprocesses,
    threads,
    multiprocessing_,
    databases,
    archives,
    protocols,
    others,
    other_systems,
)

_OWN: tuple[Entry, ...] = tuple(entry for family in _FAMILIES for entry in family.ENTRIES)
# posix.<name> and nt.<name> share a non-rule os.<name> verdict; PosixPath and WindowsPath inherit
# every pathlib.Path rule.
TABLE: tuple[Entry, ...] = (*_OWN, *os_calls.native_twins(_OWN), *paths.path_twins())

CLASSIFICATION = Classification(BLOCKBUSTER, TABLE)
entries = CLASSIFICATION.entries
classify = CLASSIFICATION.classify
verdict = CLASSIFICATION.verdict
census = CLASSIFICATION.census
stale = CLASSIFICATION.stale

__all__ = [
    "BLOCKBUSTER",
    "CLASSIFICATION",
    "MODULES",
    "NOT_BLOCKING",
    "NOT_TRAPPABLE",
    "ONLY",
    "RULE",
    "TABLE",
    "VERDICTS",
    "Classification",
    "Entry",
    "Index",
    "all_public_callables",
    "blind",
    "census",
    "classify",
    "entries",
    "fine",
    "module_of",
    "on_system",
    "public_callables",
    "rule",
    "rule_entries",
    "stale",
    "type_entries",
    "verdict",
]
