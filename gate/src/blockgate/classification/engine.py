"""The classification engine: every public callable of the standard library's IO modules gets a verdict.

The tables themselves are one module per module family (``os_calls``,
``paths``, ``sockets``, ...), assembled in ``blockgate.classification``.

**Blocking**, here: a call can wait on a disk, the network, another process or
thread, a lock or a timer. Pure computation, however slow, is not blocking;
neither is a syscall that only reads or changes kernel state without waiting
(``getpid``, ``kill``, ``dup``, ``pipe``, ``lseek``).

Each public callable of each module in ``MODULES``, and each public method of
its public classes, gets one verdict:

* ``rule``: a rule of the gate catches it, named: a rule of
  ``blockgate.rules`` (its entry lists what it catches: its target, its ``raised_by``
  names, its ``classifies`` names, so these verdicts are not retyped here) or
  one of blockbuster's defaults (``blockbuster:<name>``, below);
* ``not blocking``: with the reason in one line (pure computation, path
  arithmetic, returns at once by contract, only creates an object, the
  blocking work happens in a method classified on its own);
* ``blocking, not trappable``: with the reason; the blind-spots page lists
  these.

A name gets the verdict of the most specific entry that matches it: an exact
name beats a pattern (``fnmatch``: ``*`` also crosses dots), and a longer
literal part beats a shorter one; equally specific entries must agree.
An entry may be version-specific (``since``, ``until``: the first and last
Python that have the name); outside that range it classifies nothing, and
inside it, it must match something (the gate's tests fail on stale
entries, as on unclassified names). Likewise ``systems``: the
``sys.platform`` prefixes where the verdict holds (a name only macOS or
Windows has, or a verdict that differs there); ``optional``: why a Python that
should have the name may lack it (a build option), which exempts the entry
from the stale check. ``posix.<name>`` and, on Windows, ``nt.<name>`` share
the verdict of a non-rule ``os.<name>`` entry (twins, checked through it).

``stubs`` checks the table for macOS and Windows on every supported Python
from typeshed's stubs: what Linux cannot enumerate is classified before those
systems' jobs run.

Enumerated on the running interpreter (``public_callables``): a module's
``__all__`` when it has one, else its public names defined by the module
itself or its C accelerator (``_socket``, ``_io``, ...); of each public class
(exceptions and enums excepted: their methods are the builtins'), every public
attribute that is callable, inherited ones included, except those of
``object``, the builtin types, ``enum`` and ``typing``.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import importlib
import inspect
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

from blockgate import rules as _rules

RULE = "rule"
NOT_BLOCKING = "not blocking"
NOT_TRAPPABLE = "blocking, not trappable"
VERDICTS = (RULE, NOT_BLOCKING, NOT_TRAPPABLE)

MODULES = (
    "builtins",
    "os",
    "os.path",
    "posix",
    "nt",  # posix's counterpart on Windows: os takes its functions from whichever the system has
    "pathlib",
    "io",
    "shutil",
    "glob",
    "tempfile",
    "fcntl",
    "msvcrt",  # Windows: file locks (fcntl's family) and console reads (getpass's)
    "select",
    "selectors",
    "socket",
    "ssl",
    "time",
    "signal",
    "subprocess",
    "threading",
    "queue",
    "multiprocessing",
    "multiprocessing.connection",
    "multiprocessing.pool",
    "multiprocessing.synchronize",
    "concurrent.futures",
    "sqlite3",
    "dbm",
    "shelve",
    "zipfile",
    "tarfile",
    "gzip",
    "bz2",
    "lzma",
    "mmap",
    "pwd",
    "grp",
    "urllib.request",
    "http.client",
    "ftplib",
    "smtplib",
    "poplib",
    "imaplib",
    "fileinput",
    "getpass",
    "webbrowser",
    "platform",
    "uuid",
)
# builtins is not an IO module: only its two IO callables are classified.
ONLY = {"builtins": ("open", "input")}
# Methods defined by these modules' classes are the language's, not IO.
_FOREIGN_OWNERS = {
    "builtins",
    "enum",
    "typing",
    "abc",
    "_abc",
    "collections.abc",
    "_collections_abc",
    "types",
}


@dataclass(frozen=True)
class Entry:
    pattern: str
    verdict: str
    why: str  # for RULE: the rule's name; otherwise the reason
    since: tuple[int, int] = (3, 10)
    until: tuple[int, int] | None = None
    # The systems (``sys.platform`` prefixes) where the verdict holds; None: every system.
    systems: tuple[str, ...] | None = None
    # Why a Python that should have the name may lack it (a build option, a patch release);
    # the stale check then leaves the entry alone.
    optional: str = ""
    twin: bool = False  # posix.<name> or nt.<name> made from os.<name>: checked through os

    def applies(self, version: tuple[int, int] | None = None, system: str | None = None) -> bool:
        version = version or sys.version_info[:2]
        return (
            self.since <= version
            and (self.until is None or version <= self.until)
            and on_system(self.systems, system)
        )

    @property
    def is_pattern(self) -> bool:
        return any(c in self.pattern for c in "*?[")

    @property
    def specificity(self) -> tuple[int, int]:
        return (0 if self.is_pattern else 1, len(re.sub(r"[*?\[\]]", "", self.pattern)))

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern) if self.is_pattern else name == self.pattern


def rule(pattern: str, name: str, **kw: object) -> Entry:
    return Entry(pattern, RULE, name, **kw)  # type: ignore[arg-type]


def fine(pattern: str, why: str, **kw: object) -> Entry:
    return Entry(pattern, NOT_BLOCKING, why, **kw)  # type: ignore[arg-type]


def blind(pattern: str, why: str, **kw: object) -> Entry:
    return Entry(pattern, NOT_TRAPPABLE, why, **kw)  # type: ignore[arg-type]


def blockbuster_rule(pattern: str, name: str | None = None, **kw: object) -> Entry:
    """Caught by one of blockbuster's default rules (``name`` defaults to ``pattern``)."""
    return rule(pattern, f"blockbuster:{name or pattern}", **kw)


def on_system(systems: tuple[str, ...] | None, system: str | None = None) -> bool:
    """``system`` (default: this one) is one of ``systems`` (None: every system)."""
    system = system or sys.platform
    return systems is None or any(system.startswith(s) for s in systems)


# -- enumeration ------------------------------------------------------------------------


def _own(module: types.ModuleType, obj: object) -> bool:
    obj = inspect.unwrap(obj) if callable(obj) else obj  # see through an installed checker
    home = getattr(obj, "__module__", None)
    return home is None or home == module.__name__ or home.startswith("_") or home in ("posix", "nt")


def _methods(cls: type) -> Iterator[str]:
    if issubclass(cls, (BaseException, enum.Enum)):
        return
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or owner.__module__ in _FOREIGN_OWNERS:
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, (classmethod, staticmethod)) or callable(raw):
            yield name


def public_callables(module_name: str) -> list[str]:
    """Dotted names of the module's public callables and their classes' public methods, here."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []  # not on this system (fcntl, pwd on Windows; nt, msvcrt elsewhere)
    listed = getattr(module, "__all__", None)
    names = ONLY.get(module_name) or listed or [n for n in dir(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name, None)
        if name.startswith("_") or obj is None or isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        if listed is None and module_name not in ONLY and not _own(module, obj):
            continue  # imported from elsewhere (uuid's Enum), classified where it lives
        found.append(f"{module_name}.{name}")
        if isinstance(obj, type):
            found.extend(f"{module_name}.{name}.{method}" for method in _methods(obj))
    return found


@functools.cache
def all_public_callables() -> dict[str, list[str]]:
    """Per module, its public callables on this interpreter (enumerated once per process)."""
    return {module: public_callables(module) for module in MODULES}


# -- the table ------------------------------------------------------------------------------


def rule_entries(version: tuple[int, int] | None = None, system: str | None = None) -> list[Entry]:
    """What the project's rules catch, read from each rule's entry.

    Here (no arguments): the rules armed on this interpreter. For another
    system or Python (the stub check): the rules whose ``systems`` and
    ``min_version`` admit it. An audit event is raised by the C function under
    either of its names, and a patched type is one type under both, so what
    such a rule catches as ``posix.<name>`` it catches as ``nt.<name>`` on Windows.
    """
    here = version is None and system is None
    found = []
    for r in _rules.RULES:
        if not (
            r.applies() if here else r.applies_on(version or sys.version_info[:2], system or sys.platform)
        ):
            continue
        for name in r.catches:
            found.append(rule(name, r.name))
            native_too = isinstance(r, _rules.Audit) or name.count(".") > 1
            if name.startswith("posix.") and native_too:
                found.append(rule(f"nt.{name[6:]}", r.name, systems=("win32",)))
    return found


def type_entries() -> list[Entry]:
    """Exception and enum types: constructing one does no IO, and their methods are the builtins'."""
    found = []
    for names in all_public_callables().values():
        for name in names:
            obj = _resolve(name)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                found.append(fine(name, "an exception type"))
            elif isinstance(obj, type) and issubclass(obj, enum.Enum):
                found.append(fine(name, "an enum type"))
    return found


def _resolve(name: str) -> object:
    obj: object = importlib.import_module(module_of(name))
    for part in name[len(module_of(name)) + 1 :].split("."):
        obj = getattr(obj, part, None)
    return obj


class Index:
    """A table ready to classify names: exact names in a dict, patterns scanned."""

    def __init__(self, table: list[Entry]) -> None:
        self.entries = tuple(table)
        self.exact: dict[str, list[Entry]] = {}
        self.patterns = [e for e in table if e.is_pattern]
        for e in table:
            if not e.is_pattern:
                self.exact.setdefault(e.pattern, []).append(e)

    def classify(self, name: str) -> list[Entry]:
        if name in self.exact:  # an exact name beats any pattern
            return self.exact[name]
        matching = [e for e in self.patterns if e.matches(name)]
        if not matching:
            return []
        best = max(e.specificity for e in matching)
        return [e for e in matching if e.specificity == best]


def module_of(name: str) -> str:
    """The listed module a dotted name belongs to (the longest prefix in MODULES)."""
    return max((m for m in MODULES if name == m or name.startswith(m + ".")), key=len)


class Classification:
    """A table of entries bound to this interpreter: what classifies a name, counts and checks.

    ``blockbuster`` holds the entries of blockbuster's defaults, ``table`` the
    rest; the rules' own entries (``rule_entries``) and the exception and enum
    types (``type_entries``) are added here, once, when first needed.
    """

    def __init__(self, blockbuster: tuple[Entry, ...], table: tuple[Entry, ...]) -> None:
        self.blockbuster = blockbuster
        self.table = table

    @functools.cached_property
    def index(self) -> Index:
        return Index(
            [e for e in (*rule_entries(), *self.blockbuster, *type_entries(), *self.table) if e.applies()]
        )

    def entries(self) -> list[Entry]:
        """Every entry that applies to this Python: the rules', blockbuster's, the types', the table's."""
        return list(self.index.entries)

    def classify(self, name: str, table: list[Entry] | None = None) -> list[Entry]:
        """The most specific entries matching ``name`` (several only when they agree, or conflict)."""
        return (self.index if table is None else Index(table)).classify(name)

    def verdict(self, name: str, table: list[Entry] | None = None) -> str | None:
        found = self.classify(name, table)
        return found[0].verdict if found else None

    def census(self) -> dict[str, dict[str, list[str]]]:
        """Per module: the names of each verdict, and the unclassified, on this interpreter."""
        index = self.index
        result: dict[str, dict[str, list[str]]] = {}
        for module, names in all_public_callables().items():
            counts: dict[str, list[str]] = {v: [] for v in (*VERDICTS, "unclassified", "conflict")}
            for name in names:
                found = index.classify(name)
                verdicts = {e.verdict for e in found}
                key = "unclassified" if not found else "conflict" if len(verdicts) > 1 else found[0].verdict
                counts[key].append(name)
            result[module] = counts
        return result

    def stale(self) -> list[Entry]:
        """Entries of this table that apply to this Python but match none of its public callables.

        Rules are not listed: what a rule catches beyond the enumerated names (a
        method of a class its module does not export, another OS's function) is
        checked when the gate installs the rule.
        """
        names = {n for names in all_public_callables().values() for n in names}

        def used(e: Entry) -> bool:
            return any(e.matches(n) for n in names) if e.is_pattern else e.pattern in names

        return [
            e
            for e in (*self.blockbuster, *self.table)
            if e.applies() and not e.twin and not e.optional and not used(e)
        ]


POSIX_SYSTEMS = ("linux", "darwin")
MACOS = ("darwin",)
WINDOWS = ("win32",)
PURE = "pure computation"
RECORD = "a result record: pure data"
MAKES = "only creates the object; its blocking methods are classified on their own"
NOW = "a syscall that reads or changes kernel state and returns at once"
SOCKET_IO = "blockbuster:socket.socket.sendall + blockbuster:socket.socket.recv_into"
FILE_IO = "audit:open + blockbuster:io.BufferedReader.read + blockbuster:io.BufferedWriter.write"


def each(
    verdict: str, why: str, owners: tuple[str, ...], names: tuple[str, ...], **kw: object
) -> list[Entry]:
    return [Entry(f"{o}.{n}", verdict, why, **kw) for o in owners for n in names]  # type: ignore[arg-type]
