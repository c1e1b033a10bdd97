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
* ``[[requires]]`` (``site``, ``env``, ``reason``): a coroutine that runs only
  with an outside service (a database server, say) whose gate tests skip when
  the environment variable ``env`` is unset or empty. While it is, the review
  and teeth report the coroutine as not run for that reason instead of
  failing on it; with ``env`` set, the entry changes nothing, so a run with the
  service (CI's) still requires it. ``site`` is ``path::qualname`` as for
  ``[[outside]]``. An entry that names no coroutine, or whose coroutine ran
  under the gate with ``env`` unset, is stale, and an error.

A missing file accepts nothing. An entry without a reason, or with an
unknown key, is an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Requirement:
    """A ``[[requires]]`` entry: ``site`` runs only where the variable ``env`` names a service."""

    site: str
    env: str
    reason: str

    def waived(self, environ: Mapping[str, str] | None = None) -> bool:
        """True while ``env`` is unset or empty: the site's gate tests skip, so it may go unrun."""
        return not (os.environ if environ is None else environ).get(self.env, "").strip()

    def describe(self) -> str:
        return f"needs {self.env}, which is not set: {self.reason}"


_KEYS = {
    "unguarded": ("path", "function", "primitive", "reason"),
    "outside": ("site", "reason"),
    "requires": ("site", "env", "reason"),
}


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


def requirements(path: Path | None) -> tuple[list[Requirement], list[str]]:
    """The file's ``[[requires]]`` entries, and the errors in them."""
    entries, errors = _entries(path, "requires")
    return [Requirement(e["site"], e["env"], e["reason"]) for e in entries], errors


def waived_sites(
    path: Path | None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Requirement], list[str]]:
    """The ``[[requires]]`` entries whose variable is unset here, as ``{site: entry}``, and the errors."""
    entries, errors = requirements(path)
    return {e.site: e for e in entries if e.waived(environ)}, errors


def site_key(path: str, qualname: str, root: Path, source: Path) -> str:
    """``path::qualname`` with ``path`` (relative to ``root``) made relative to the scanned packages' folder."""
    relative = (root / path).resolve().relative_to(source.resolve())
    return f"{relative.as_posix()}::{qualname}"
