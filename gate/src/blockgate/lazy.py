"""Caches that the standard library fills on first use, emptied while a gate is armed.

Some functions do their IO only the first time they run in a process, then
answer from a module-level cache: ``mimetypes.guess_type`` reads the system's
``mime.types`` files, ``platform.uname``/``platform.platform`` run ``uname -p``
or read ``/etc/os-release``, ``uuid.getnode`` finds the MAC address. Under the
gate, whether such a call is caught would depend on which test ran first: a
test run alone goes red, the same test in the full suite passes. So each
armed gate starts from empty caches (``fresh_caches``): the first use inside
it does its IO, on the loop or off it, as it would the first time in
production; when the gate disarms, the caches are put back as they were.

Only caches that can be put back exactly are listed here. Left alone, with
the reason in the blind spots: ``zoneinfo``'s per-key cache (clearing it
would change which ``ZoneInfo`` object code holds, and it cannot be
restored), the C library's locale and time-zone data (C-level, no handle),
``tempfile.gettempdir`` (a project may set ``tempfile.tempdir`` itself, and
emptying it would move its temporary files), ``linecache`` (its readers are
exempt callers: tracebacks read source on the loop by design).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_UNSET = object()


@dataclass(frozen=True)
class Cache:
    """Module attributes that a first call fills, and the values that mean "not filled yet"."""

    module: str
    empty: Callable[[], dict[str, Any]]  # attribute -> its not-yet-filled value (fresh each time)
    why: str


CACHES: tuple[Cache, ...] = (
    Cache(
        "mimetypes",
        lambda: {"inited": False, "_db": None},
        "guess_type and friends read the system's mime.types files on their first call (init)",
    ),
    Cache(
        "platform",
        lambda: {"_uname_cache": None, "_os_release_cache": None, "_platform_cache": {}},
        "uname() may run `uname -p`; platform() and freedesktop_os_release() read /etc/os-release",
    ),
    Cache(
        "uuid",
        lambda: {"_node": None},
        "getnode() finds the MAC address from C, /sys or a subprocess on its first call",
    ),
)

# Attributes a first call writes besides the markers above: saved and put back with them.
_ALSO_WRITTEN = {
    "mimetypes": ("types_map", "encodings_map", "suffix_map", "common_types"),
}


@contextmanager
def fresh_caches(caches: tuple[Cache, ...] = CACHES) -> Iterator[None]:
    """Empty the caches of the modules already imported; put every attribute back on exit."""
    saved: list[tuple[Any, str, Any]] = []
    for cache in caches:
        module = sys.modules.get(cache.module)
        if module is None:  # never imported: nothing cached yet
            continue
        empty = cache.empty()
        for name in (*empty, *_ALSO_WRITTEN.get(cache.module, ())):
            saved.append((module, name, getattr(module, name, _UNSET)))
        for name, value in empty.items():
            setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in reversed(saved):
            if value is _UNSET:
                vars(module).pop(name, None)
            else:
                setattr(module, name, value)
