"""The accepted file: what a project accepts on purpose, with a reason for each entry.

One TOML file, read by the static half and by teeth (``--accepted FILE``):

* ``[[unguarded]]`` (``path``, ``function``, ``primitive``, ``reason``): a
  blocking call the loop can reach that no gate test can run. The static half
  with ``--coverage`` fails on an unguarded call this table does not list,
  and on an entry that matches no unguarded call (stale). Prefer a gate test:
  an entry is for a call no test can drive.
* ``[[outside]]`` (``site``, ``reason``): an offload whose blocking work
  happens inside a library, which the static half does not read, so teeth's
  static half cannot see its reversal. ``site`` is ``path::qualname``, the
  path relative to the scanned packages' folder.

A missing file accepts nothing. An entry without a reason, or with an
unknown key, is an error.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass(frozen=True)
class Accepted:
    path: str
    function: str
    primitive: str
    reason: str


_KEYS = {"unguarded": ("path", "function", "primitive", "reason"), "outside": ("site", "reason")}


def _entries(path: Path | None, table: str) -> tuple[list[dict[str, str]], list[str]]:
    if path is None or not path.exists():
        return [], []
    keys = _KEYS[table]
    entries, errors = [], []
    for n, raw in enumerate(read_toml(path).get(table, []), 1):
        missing = [k for k in keys if not str(raw.get(k, "")).strip()]
        unknown = sorted(set(raw) - set(keys))
        if missing or unknown:
            errors.append(
                f"{path.name} [[{table}]] entry {n}: "
                + "; ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"unknown key {', '.join(unknown)}"] if unknown else [])
                )
            )
            continue
        entries.append({k: str(raw[k]) for k in keys})
    return entries, errors


def accepted_unguarded(path: Path | None) -> tuple[list[Accepted], list[str]]:
    """The file's ``[[unguarded]]`` entries, and the errors in them."""
    entries, errors = _entries(path, "unguarded")
    return [Accepted(e["path"], e["function"], e["primitive"], e["reason"]) for e in entries], errors


def outside_sites(path: Path | None) -> tuple[dict[str, str], list[str]]:
    """The file's ``[[outside]]`` entries as ``{site: reason}``, and the errors in them."""
    entries, errors = _entries(path, "outside")
    return {e["site"]: e["reason"] for e in entries}, errors
