"""The gate's own rules, by family: one entry per primitive, with the probes that prove it.

blockbuster patches a fixed list of callables (``os.stat``, buffered
``read``/``write``, ``socket.socket.*``, sqlite cursor methods, ...). Measured
on CPython 3.10-3.13, that list misses ``open()`` itself, line reads,
unbuffered files, ``fsync``, ``lstat``, ``pathlib`` on 3.10 (it binds ``os``
functions at import), ``sqlite3.connect``, file locks, subprocesses, name
resolution, waits on threads, futures, descriptors and inter-process
connections, account-database lookups and TLS setup that reads certificate
files. These tables close those holes; ``blockgate.classification`` proves
that every public callable of the standard library's IO modules is either
caught by one of these rules (or a blockbuster default), not blocking, or a
listed blind spot.

One family is one module (``FAMILIES``), and one rule is one entry of its
``RULES``; the entry holds everything about its primitive (``model``):

* ``area`` and ``reason``: where it belongs and why it blocks;
* ``fires``: its **probe**, run by the gate's own tests on the loop with the
  rule armed alone (it must fire), offloaded (it must not), under the full
  gate (it must fire) and with no loop (it must not);
* ``nonblocking_if``: given the call's arguments (or the audit event's), True
  when this call cannot block; and then ``passes``, its **must-pass probe**;
* ``exempt_callers``: library frames that may make this call on the loop
  (``EXEMPT_CALLERS`` holds those that may make any blocking call);
* ``classifies``: the public callables it catches besides its own target or
  ``raised_by`` names (the classification reads them);
* ``min_version``, ``systems``, ``platform_has_it``: where the primitive exists.

The probes are defined in these modules on purpose: the gate's own tests scan
this package, so a probe's call is "scanned code on the loop". The package
imports nothing outside the standard library. Adding a rule: see the
maintainer's guide (docs/maintaining.md).
"""

from __future__ import annotations

from types import ModuleType

from blockgate.rules import (
    accounts,
    descriptors,
    directories,
    durability,
    files,
    hostinfo,
    ipc,
    locks,
    metadata,
    network,
    processes,
    sleep,
    sqlite,
    waits,
)
from blockgate.rules.exemptions import EXEMPT_CALLERS
from blockgate.rules.forms import is_console
from blockgate.rules.model import LINUX_ONLY, POSIX_SYSTEMS, Audit, Exemption, Patch, Probe, Scene, caller

# In the order a reader meets them: files and the file system, then processes,
# the network, waits, and the rest.
FAMILIES: tuple[ModuleType, ...] = (
    files,
    metadata,
    directories,
    durability,
    sleep,
    processes,
    network,
    hostinfo,
    descriptors,
    waits,
    ipc,
    accounts,
    sqlite,
    locks,
)

RULES: tuple[Patch | Audit, ...] = tuple(rule for family in FAMILIES for rule in family.RULES)

__all__ = [
    "EXEMPT_CALLERS",
    "FAMILIES",
    "LINUX_ONLY",
    "POSIX_SYSTEMS",
    "RULES",
    "Audit",
    "Exemption",
    "Patch",
    "Probe",
    "Scene",
    "caller",
    "is_console",
]
