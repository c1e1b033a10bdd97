"""Every public callable of the standard library's IO modules, classified.

**Blocking**, here: a call can wait on a disk, the network, another process or
thread, a lock or a timer. Pure computation, however slow, is not blocking;
neither is a syscall that only reads or changes kernel state without waiting
(``getpid``, ``kill``, ``dup``, ``pipe``, ``lseek``).

Each public callable of each module in ``MODULES``, and each public method of
its public classes, gets one verdict:

* ``rule``: a rule of the gate catches it, named: a project rule of
  ``rules.py`` (its entry lists what it catches: its target, its ``raised_by``
  names, its ``classifies`` names, so these verdicts are not retyped here) or
  one of blockbuster's defaults (``blockbuster:<name>``, below);
* ``not blocking``: with the reason in one line (pure computation, path
  arithmetic, returns at once by contract, only creates an object, the
  blocking work happens in a method classified on its own);
* ``blocking, not trappable``: with the reason; the README's blind spots list
  these.

A name gets the verdict of the most specific entry that matches it: an exact
name beats a pattern (``fnmatch``: ``*`` also crosses dots), and a longer
literal part beats a shorter one; equally specific entries must agree.
An entry may be version-specific (``since``, ``until``: the first and last
Python that have the name); outside that range it classifies nothing, and
inside it, it must match something (``tests_blocking/meta/test_classification.py``
fails on stale entries, as on unclassified names). Likewise ``systems``: the
``sys.platform`` prefixes where the verdict holds (a name only macOS or
Windows has, or a verdict that differs there); ``optional``: why a Python that
should have the name may lack it (a build option), which exempts the entry
from the stale check. ``posix.<name>`` and, on Windows, ``nt.<name>`` share
the verdict of a non-rule ``os.<name>`` entry (twins, checked through it).

``meta/test_classification_stubs.py`` checks the table for macOS and Windows
on every supported Python from typeshed's stubs (``meta/stubs.py``): what
Linux cannot enumerate is classified before those systems' jobs run.

Enumerated on the running interpreter (``public_callables``): a module's
``__all__`` when it has one, else its public names defined by the module
itself or its C accelerator (``_socket``, ``_io``, ...); of each public class
(exceptions and enums excepted: their methods are the builtins'), every public
attribute that is callable, inherited ones included, except those of
``object``, the builtin types, ``enum`` and ``typing``.
"""

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

try:
    from . import rules as _rules
except ImportError:  # loaded by file path beside rules.py
    import rules as _rules  # type: ignore[no-redef]

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


def _bb(pattern: str, name: str | None = None, **kw: object) -> Entry:
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


def entries() -> list[Entry]:
    """Every entry that applies to this Python: the rules', blockbuster's, the types', the table's."""
    return list(_index().entries)


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


@functools.cache
def _index() -> Index:
    return Index([e for e in (*rule_entries(), *BLOCKBUSTER, *type_entries(), *TABLE) if e.applies()])


def classify(name: str, table: list[Entry] | None = None) -> list[Entry]:
    """The most specific entries matching ``name`` (several only when they agree, or conflict)."""
    return (_index() if table is None else Index(table)).classify(name)


def verdict(name: str, table: list[Entry] | None = None) -> str | None:
    found = classify(name, table)
    return found[0].verdict if found else None


def module_of(name: str) -> str:
    """The listed module a dotted name belongs to (the longest prefix in MODULES)."""
    return max((m for m in MODULES if name == m or name.startswith(m + ".")), key=len)


def census() -> dict[str, dict[str, list[str]]]:
    """Per module: the names of each verdict, and the unclassified, on this interpreter."""
    index = _index()
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


def stale() -> list[Entry]:
    """Entries of this table that apply to this Python but match none of its public callables.

    Rules are not listed: what a rule catches beyond the enumerated names (a
    method of a class its module does not export, another OS's function) is
    checked when the gate installs the rule.
    """
    names = {n for names in all_public_callables().values() for n in names}

    def used(e: Entry) -> bool:
        return any(e.matches(n) for n in names) if e.is_pattern else e.pattern in names

    return [
        e for e in (*BLOCKBUSTER, *TABLE) if e.applies() and not e.twin and not e.optional and not used(e)
    ]


# -- blockbuster's defaults (blockbuster.BlockBuster().functions, by their names) -------------

BLOCKBUSTER: tuple[Entry, ...] = (
    _bb("builtins.input"),
    _bb("time.sleep"),
    *(
        _bb(f"os.{n}")
        for n in (
            "statvfs",
            "rename",
            "remove",
            "rmdir",
            "link",
            "symlink",
            "listdir",
            "access",
            "getcwd",
            "stat",
            "mkdir",
            "replace",
            "readlink",
            "sendfile",
            "unlink",
            "read",
            "write",
        )
    ),
    *(_bb(f"os.path.{n}") for n in ("ismount", "samestat", "sameopenfile", "islink", "abspath")),
    *(
        _bb(f"io.{cls}.{m}")
        for cls in ("BufferedReader", "BufferedRandom", "TextIOWrapper")
        for m in ("read",)
    ),
    *(_bb(f"io.{cls}.write") for cls in ("BufferedWriter", "BufferedRandom", "TextIOWrapper")),
    *(
        _bb(f"socket.socket.{m}")
        for m in (
            "connect",
            "accept",
            "send",
            "sendall",
            "sendto",
            "recv",
            "recv_into",
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
        )
    ),
    *(_bb(f"ssl.SSLSocket.{m}") for m in ("write", "send", "read", "recv")),
    *(
        _bb(f"sqlite3.Cursor.{m}")
        for m in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")
    ),
    *(
        _bb(f"sqlite3.Connection.{m}")
        for m in ("execute", "executemany", "executescript", "commit", "rollback")
    ),
)

# -- the rest, module by module ---------------------------------------------------------------

_POSIX_SYSTEMS = ("linux", "darwin")
_MACOS = ("darwin",)
_WINDOWS = ("win32",)
_PURE = "pure computation"
_RECORD = "a result record: pure data"
_MAKES = "only creates the object; its blocking methods are classified on their own"
_NOW = "a syscall that reads or changes kernel state and returns at once"
_SOCKET_IO = "blockbuster:socket.socket.sendall + blockbuster:socket.socket.recv_into"
_FILE_IO = "audit:open + blockbuster:io.BufferedReader.read + blockbuster:io.BufferedWriter.write"


def _each(
    verdict: str, why: str, owners: tuple[str, ...], names: tuple[str, ...], **kw: object
) -> list[Entry]:
    return [Entry(f"{o}.{n}", verdict, why, **kw) for o in owners for n in names]  # type: ignore[arg-type]


_OS_NOT_BLOCKING = (
    *(
        fine(f"os.W{m}", _PURE)
        for m in (
            "COREDUMP",
            "EXITSTATUS",
            "IFCONTINUED",
            "IFEXITED",
            "IFSIGNALED",
            "IFSTOPPED",
            "STOPSIG",
            "TERMSIG",
        )
    ),
    fine("os.waitstatus_to_exitcode", _PURE),
    *(
        fine(f"os.{n}", _PURE)
        for n in ("fsdecode", "fsencode", "fspath", "major", "minor", "makedev", "strerror", "get_exec_path")
    ),
    *(
        fine(f"os.{n}", _RECORD)
        for n in (
            "stat_result",
            "statvfs_result",
            "terminal_size",
            "times_result",
            "uname_result",
            "waitid_result",
            "sched_param",
        )
    ),
    fine("os.error", "an exception type"),
    fine("os.abort", "ends the process: the loop never waits on it"),
    fine("os.exec*", "replaces the process: the loop never runs again"),
    fine("os.close", "releases a descriptor; the kernel writes dirty pages back later"),
    fine("os.closerange", "releases descriptors; the kernel writes dirty pages back later"),
    *(
        fine(f"os.{n}", _NOW)
        for n in (
            "confstr",
            "sysconf",
            "cpu_count",
            "ctermid",
            "device_encoding",
            "get_blocking",
            "set_blocking",
            "get_inheritable",
            "set_inheritable",
            "get_terminal_size",
            "getenv",
            "getenvb",
            "putenv",
            "unsetenv",
            "getegid",
            "geteuid",
            "getgid",
            "getuid",
            "getgroups",
            "getpgid",
            "getpgrp",
            "getpid",
            "getppid",
            "getpriority",
            "setpriority",
            "getresgid",
            "getresuid",
            "getsid",
            "setegid",
            "seteuid",
            "setgid",
            "setgroups",
            "setpgid",
            "setpgrp",
            "setregid",
            "setresgid",
            "setresuid",
            "setreuid",
            "setsid",
            "setuid",
            "dup",
            "dup2",
            "pipe",
            "pipe2",
            "eventfd",
            "eventfd_write",
            "memfd_create",
            "pidfd_open",
            "isatty",
            "tcgetpgrp",
            "tcsetpgrp",
            "nice",
            "umask",
            "uname",
            "times",
            "kill",
            "killpg",
            "register_at_fork",
            "fpathconf",
            "lseek",
            "posix_fadvise",
            "openpty",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getaffinity",
            "sched_setaffinity",
            "sched_getparam",
            "sched_setparam",
            "sched_getscheduler",
            "sched_setscheduler",
            "sched_rr_get_interval",
            "sched_yield",
        )
    ),
    fine("os.getloadavg", "reads /proc/loadavg: kernel memory, no disk"),
    fine("os.ttyname", "reads a /proc link: kernel memory, no disk"),
    fine("os.getrandom", "returns at once once the kernel's entropy pool is ready (early boot only waits)"),
    fine("os.urandom", "returns at once once the kernel's entropy pool is ready (early boot only waits)"),
    fine("os.fork", "copies the process without waiting for anything"),
    fine("os.login_tty", _NOW, since=(3, 11)),
    fine("os.forkpty", "copies the process and allocates a pseudo-terminal in the kernel"),
    fine("os.posix_spawn", "starts a child process without waiting for it"),
    fine("os.posix_spawnp", "starts a child process without waiting for it"),
    *(fine(f"os.{n}", _NOW, since=(3, 12)) for n in ("setns", "unshare")),
    *(
        fine(f"os.{n}", _NOW, since=(3, 13))
        for n in (
            "grantpt",
            "unlockpt",
            "ptsname",
            "posix_openpt",
            "timerfd_create",
            "timerfd_settime",
            "timerfd_settime_ns",
            "timerfd_gettime",
            "timerfd_gettime_ns",
        )
    ),
    blind(
        "os.initgroups",
        "reads the group database (NSS: maybe the network), then changes the process's groups: no probe can run it safely in the test process",
        systems=_POSIX_SYSTEMS,
    ),
    fine("os.DirEntry", "made by iterating os.scandir (blockbuster:os.scandir), never called"),
    fine("os.DirEntry.inode", "the inode number from the listing: no syscall on POSIX"),
    fine(
        "os.DirEntry.is_symlink",
        "the entry's type from the listing (an lstat only where the filesystem reports no type)",
    ),
    fine("os.DirEntry.is_junction", "always False on POSIX", since=(3, 12), systems=_POSIX_SYSTEMS),
    fine(
        "os.DirEntry.is_junction",
        "the reparse tag from the listing: no syscall",
        since=(3, 12),
        systems=_WINDOWS,
    ),
)
_OS_RULES = (
    # P_WAIT: on POSIX os._spawnvef waits through os.waitpid(pid, 0)
    rule("os.spawn*", "os.waitpid", systems=_POSIX_SYSTEMS),
    rule("os.DirEntry.is_dir", "os.DirEntry.is_dir"),
    rule("os.DirEntry.is_file", "os.DirEntry.is_file"),
)


def _native_twins(table: tuple[Entry, ...]) -> list[Entry]:
    """``posix.<name>`` (``nt.<name>`` on Windows) shares the verdict of ``os.<name>`` when it is
    not a rule (rules name their twins). Twins are checked through their os entry, not as stale."""
    twins = []
    for e in table:
        if e.pattern.startswith("os.") and not e.pattern.startswith("os.path.") and e.verdict != RULE:
            for module, systems in (("posix", _POSIX_SYSTEMS), ("nt", ("win32",))):
                where = tuple(s for s in systems if on_system(e.systems, s))
                if where:
                    twins.append(
                        Entry(
                            f"{module}.{e.pattern[3:]}",
                            e.verdict,
                            e.why,
                            e.since,
                            e.until,
                            where,
                            e.optional,
                            True,
                        )
                    )
    return twins


_OS_PATH = (
    *(
        fine(f"os.path.{n}", "path arithmetic")
        for n in (
            "basename",
            "commonpath",
            "commonprefix",
            "dirname",
            "isabs",
            "join",
            "normcase",
            "normpath",
            "split",
            "splitdrive",
            "splitext",
            "expandvars",
        )
    ),
    fine("os.path.splitroot", "path arithmetic", since=(3, 12)),
    fine("os.path.isjunction", "always False on POSIX", since=(3, 12), systems=_POSIX_SYSTEMS),
    fine("os.path.isdevdrive", "always False on POSIX", since=(3, 13), systems=_POSIX_SYSTEMS),
    # on Windows some of these are C functions of nt, with rules of their own (below, and rules.py)
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", systems=_POSIX_SYSTEMS)
        for n in ("exists", "isdir", "isfile", "getsize", "getatime", "getctime", "getmtime", "samefile")
    ),
    rule("os.path.lexists", "os.lstat", systems=_POSIX_SYSTEMS),
    rule("os.path.realpath", "os.lstat", systems=_POSIX_SYSTEMS),
    rule("os.path.relpath", "blockbuster:os.path.abspath"),
    # with HOME set it reads only the environment
    rule("os.path.expanduser", "pwd.getpwuid", systems=_POSIX_SYSTEMS),
)

_PATH_CLASSES = ("pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath")
_PATHLIB = (
    fine("pathlib.Pure*Path.*", "path arithmetic"),
    fine("pathlib.Pure*Path", "path arithmetic"),
    fine("pathlib.*Path", "only creates the path object: no IO"),
    *_each(
        NOT_BLOCKING,
        "path arithmetic",
        _PATH_CLASSES,
        (
            "as_posix",
            "as_uri",
            "is_absolute",
            "is_relative_to",
            "is_reserved",
            "joinpath",
            "match",
            "relative_to",
            "with_name",
            "with_stem",
            "with_suffix",
        ),
    ),
    *_each(NOT_BLOCKING, "path arithmetic", _PATH_CLASSES, ("with_segments",), since=(3, 12)),
    *_each(NOT_BLOCKING, "path arithmetic", _PATH_CLASSES, ("full_match", "from_uri"), since=(3, 13)),
    *_each(
        NOT_BLOCKING,
        "always False on POSIX",
        _PATH_CLASSES,
        ("is_junction",),
        since=(3, 12),
        systems=_POSIX_SYSTEMS,
    ),
    *_each(
        RULE,
        "pathlib.Path.stat",
        _PATH_CLASSES,
        ("is_block_device", "is_char_device", "is_fifo", "is_socket"),
    ),
    *_each(RULE, "pathlib.Path.chmod", _PATH_CLASSES, ("lchmod",)),
    *_each(RULE, "audit:os.link", _PATH_CLASSES, ("link_to",), until=(3, 11)),
    *_each(
        RULE, "pwd.getpwuid", _PATH_CLASSES, ("expanduser", "home"), systems=_POSIX_SYSTEMS
    ),  # with HOME set: the environment only
)


def _path_twins() -> list[Entry]:
    """PosixPath and WindowsPath inherit every ``pathlib.Path`` rule."""
    return [
        rule(f"pathlib.{cls}.{r.target.rsplit('.', 1)[1]}", r.name, since=r.min_version)
        for r in _rules.RULES
        if isinstance(r, _rules.Patch) and r.target.startswith("pathlib.Path.")
        for cls in ("PosixPath", "WindowsPath")
    ]


_IO_ABSTRACT = ("IOBase", "RawIOBase", "BufferedIOBase", "TextIOBase")
_IO = (
    *(fine(f"io.{c}", "an abstract base class") for c in _IO_ABSTRACT),
    *(
        fine(f"io.{c}.*", "the abstract base: its IO methods call the concrete class's, classified there")
        for c in _IO_ABSTRACT
    ),
    fine("io.BytesIO*", "in memory: no IO"),
    fine("io.StringIO*", "in memory: no IO"),
    fine("io.IncrementalNewlineDecoder*", _PURE, since=(3, 11)),  # exported by io from 3.11
    fine("io.text_encoding", _PURE, since=(3, 11)),
    *(
        fine(f"io.{c}", "wraps an already open file: no IO")
        for c in ("BufferedReader", "BufferedWriter", "BufferedRandom", "BufferedRWPair", "TextIOWrapper")
    ),
    *_each(
        NOT_BLOCKING,
        "asks the open file object or the kernel, no wait",
        (
            "io.FileIO",
            "io.BufferedReader",
            "io.BufferedWriter",
            "io.BufferedRandom",
            "io.BufferedRWPair",
            "io.TextIOWrapper",
        ),
        ("fileno", "isatty", "readable", "writable", "seekable"),
    ),
    *_each(
        NOT_BLOCKING,
        "moves or reads the file offset (lseek): no IO",
        ("io.FileIO", "io.BufferedReader"),
        ("seek", "tell"),
    ),
    *_each(
        NOT_BLOCKING,
        "closing a read-only buffer or raw file releases the descriptor",
        ("io.FileIO", "io.BufferedReader"),
        ("close",),
    ),
    fine("io.FileIO.flush", "a raw file has nothing to flush"),
    fine("io.BufferedReader.flush", "a reader has nothing to flush"),
    fine("io.BufferedReader.detach", "a reader has nothing to flush before handing its raw file back"),
    *_each(
        NOT_BLOCKING,
        "not readable: raises at once",
        ("io.BufferedWriter",),
        ("read", "read1", "readinto", "readinto1", "readline", "readlines"),
    ),
    *_each(NOT_BLOCKING, "not writable: raises at once", ("io.BufferedReader",), ("write", "writelines")),
    *_each(RULE, "io.FileIO.read", ("io.FileIO",), ("readline", "readlines")),  # IOBase's versions call read
    rule("io.FileIO.writelines", "io.FileIO.write"),
    *_each(RULE, "io.FileIO.readinto", ("io.BufferedReader", "io.BufferedRandom"), ("readinto1",)),
    rule("io.BufferedRandom.peek", "io.FileIO.readinto"),
    *_each(
        RULE,
        "io.FileIO.write",
        ("io.BufferedWriter", "io.BufferedRandom"),
        ("close", "detach", "seek", "flush"),
    ),
    rule("io.BufferedRandom.tell", "io.FileIO.write"),
    rule("io.BufferedWriter.tell", "io.FileIO.write"),
    *_each(RULE, "blockbuster:io.BufferedWriter.write", ("io.BufferedWriter",), ("writelines",)),
    rule("io.BufferedRandom.writelines", "blockbuster:io.BufferedRandom.write"),
    *_each(
        RULE,
        "io.FileIO.truncate",
        ("io.BufferedReader", "io.BufferedWriter", "io.BufferedRandom", "io.TextIOWrapper"),
        ("truncate",),
    ),
    *(rule(f"io.BufferedRWPair.{m}", f"blockbuster:io.BufferedReader.{m}") for m in ("read",)),
    *(
        rule(f"io.BufferedRWPair.{m}", f"io.BufferedReader.{m}")
        for m in ("read1", "readinto", "peek", "readline", "readlines")
    ),
    rule("io.BufferedRWPair.readinto1", "io.FileIO.readinto"),
    rule("io.BufferedRWPair.write", "blockbuster:io.BufferedWriter.write"),
    rule("io.BufferedRWPair.writelines", "blockbuster:io.BufferedWriter.write"),
    *_each(RULE, "io.BufferedWriter.flush", ("io.BufferedRWPair",), ("flush", "close")),
    *_each(
        NOT_BLOCKING,
        "a pair of pipes cannot seek, truncate or detach: raises at once",
        ("io.BufferedRWPair",),
        ("seek", "tell", "truncate", "detach"),
    ),
    *_each(
        RULE,
        "io.TextIOWrapper.flush",
        ("io.TextIOWrapper",),
        ("close", "detach", "reconfigure", "seek", "tell"),
    ),
    rule("io.TextIOWrapper.writelines", "blockbuster:io.TextIOWrapper.write"),
)

_SHUTIL = (
    rule("shutil.copyfileobj", "blockbuster:io.BufferedReader.read + blockbuster:io.BufferedWriter.write"),
    rule("shutil.disk_usage", "blockbuster:os.statvfs"),
    rule("shutil.which", "blockbuster:os.stat + blockbuster:os.access"),
    fine("shutil.get_terminal_size", "reads the environment, then an ioctl on stdout"),
    fine("shutil.ignore_patterns", _PURE),
    *(
        fine(f"shutil.{n}", "edits an in-memory registry")
        for n in (
            "get_archive_formats",
            "get_unpack_formats",
            "register_archive_format",
            "register_unpack_format",
            "unregister_archive_format",
            "unregister_unpack_format",
        )
    ),
)

_SPOOLED = "in memory until rolled over; then the file object's methods, classified in io"
_SPOOLED_310 = {
    "close",
    "flush",
    "isatty",
    "read",
    "readline",
    "readlines",
    "seek",
    "tell",
    "truncate",
    "write",
    "writelines",
}
_GLOB_TEMPFILE = (
    fine("glob.escape", _PURE),
    fine("glob.translate", _PURE, since=(3, 13)),
    rule(
        "tempfile.gettempdir*", "audit:open"
    ),  # the first call probes candidate directories by writing a file
    fine("tempfile.gettempprefix*", _PURE),
    rule("tempfile.mktemp", "os.lstat"),  # checks each candidate name with os.path.lexists
    fine("tempfile.SpooledTemporaryFile", "starts in memory"),
    *(
        fine(f"tempfile.SpooledTemporaryFile.{m}", _SPOOLED, since=(3, 10) if m in _SPOOLED_310 else (3, 11))
        for m in (
            "close",
            "detach",
            "flush",
            "isatty",
            "read",
            "read1",
            "readable",
            "readinto",
            "readinto1",
            "readline",
            "readlines",
            "seek",
            "seekable",
            "tell",
            "truncate",
            "writable",
            "write",
            "writelines",
        )
    ),
    rule("tempfile.TemporaryDirectory.cleanup", "audit:shutil.rmtree"),
)

_FCNTL_SELECT = (
    fine("fcntl.ioctl", "driver requests on a descriptor answer at once (terminals, sockets)"),
    fine(
        "select.poll",
        "creates a poll object; its poll() method has no importable type to patch (see blind spots)",
    ),
    blind(
        "select.poll*",
        "a poll object's poll(): its type has no importable name, so no rule can patch it (selectors.PollSelector.select is caught)",
    ),
    fine("select.epoll", "creates an epoll object"),
    *(
        fine(f"select.epoll.{m}", _NOW)
        for m in ("close", "fileno", "fromfd", "modify", "register", "unregister")
    ),
    fine("selectors.SelectorKey", _RECORD),
    fine("selectors.*Selector", "creates a selector"),
    *(
        fine(f"selectors.*Selector.{m}", "bookkeeping in memory (and epoll_ctl): no wait")
        for m in ("close", "fileno", "get_key", "get_map", "modify", "register", "unregister")
    ),
    fine("selectors.BaseSelector.select", "abstract: the concrete selectors' select is classified"),
)

_SOCKET = (
    *(
        fine(f"socket.{n}", _PURE)
        for n in (
            "CMSG_LEN",
            "CMSG_SPACE",
            "htonl",
            "htons",
            "ntohl",
            "ntohs",
            "inet_aton",
            "inet_ntoa",
            "inet_ntop",
            "inet_pton",
        )
    ),
    *(
        fine(f"socket.{n}", _NOW)
        for n in (
            "close",
            "dup",
            "fromfd",
            "getdefaulttimeout",
            "setdefaulttimeout",
            "has_dualstack_ipv6",
            "if_indextoname",
            "if_nameindex",
            "if_nametoindex",
            "gethostname",
            "sethostname",
        )
    ),
    fine("socket.socketpair", _NOW, systems=_POSIX_SYSTEMS),
    # Windows has no socketpair(2): socket.py listens on localhost, connects and accepts
    rule("socket.socketpair", "blockbuster:socket.socket.accept", systems=_WINDOWS),
    fine("socket.socket", "creates a socket"),
    fine("socket.SocketType", "the C socket type: creating one makes a socket"),
    *(fine(f"socket.socket.{m}", _NOW) for m in ("dup", "get_inheritable", "set_inheritable")),
    rule("socket.SocketType.bind", "audit:socket.bind"),
    rule("socket.create_server", "audit:socket.bind"),
    *(
        fine(f"socket.{c}.{m}", _NOW)
        for c in ("socket", "SocketType")
        for m in (
            "close",
            "detach",
            "fileno",
            "getblocking",
            "setblocking",
            "gettimeout",
            "settimeout",
            "getpeername",
            "getsockname",
            "getsockopt",
            "setsockopt",
            "listen",
            "shutdown",
        )
    ),
    fine(
        "socket.socket.makefile",
        "wraps the socket in a file object: its reads and writes go through recv_into and send",
    ),
    *(
        rule(f"socket.{c}.{m}", f"blockbuster:socket.socket.{m}")
        for c in ("SocketType",)
        for m in (
            "connect",
            "recv",
            "recv_into",
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
            "send",
            "sendall",
            "sendto",
        )
    ),
    rule("socket.SocketType.connect_ex", "audit:socket.connect"),
    *(rule(f"socket.{c}.sendmsg", "audit:socket.sendmsg") for c in ("socket", "SocketType")),
    *(rule(f"socket.{c}.sendmsg_afalg", "audit:socket.sendmsg") for c in ("socket", "SocketType")),
    rule("socket.socket.sendfile", "blockbuster:os.sendfile"),
    rule("socket.SocketType.recvmsg_into", "socket.socket.recvmsg_into"),
    rule("socket.send_fds", "audit:socket.sendmsg"),
    rule("socket.recv_fds", "blockbuster:socket.socket.recvmsg"),
)

_SSL = (
    *(
        fine(f"ssl.{n}", _PURE)
        for n in (
            "DER_cert_to_PEM_cert",
            "PEM_cert_to_DER_cert",
            "cert_time_to_seconds",
            "get_protocol_name",
            "DefaultVerifyPaths",
        )
    ),
    fine("ssl.match_hostname", _PURE, until=(3, 11)),
    fine("ssl.RAND_*", "the in-process random generator"),
    fine(
        "ssl.get_default_verify_paths",
        "reads the environment and OpenSSL's compiled-in paths: no file is opened",
    ),
    rule("ssl.create_default_context", "ssl.SSLContext.load_default_certs"),
    rule("ssl.get_server_certificate", "audit:socket.getaddrinfo + ssl.SSLSocket.do_handshake"),
    rule("ssl.wrap_socket", "ssl.SSLSocket.do_handshake", until=(3, 11)),
    fine("ssl.MemoryBIO*", "in memory: no IO"),
    fine("ssl.SSLSession", _RECORD),
    fine("ssl.SSLObject*", "TLS over memory buffers: no socket, no wait"),
    fine("ssl.SSLContext", "creates a context in memory"),
    *(
        fine(f"ssl.SSLContext.{m}", "configures the context in memory")
        for m in (
            "cert_store_stats",
            "get_ca_certs",
            "get_ciphers",
            "session_stats",
            "set_alpn_protocols",
            "set_ciphers",
            "set_ecdh_curve",
            "set_npn_protocols",
            "set_servername_callback",
            "sslobject_class",
            "wrap_bio",
        )
    ),
    *(
        fine(f"ssl.SSLContext.{m}", "configures the context in memory", since=(3, 13))
        for m in ("set_psk_client_callback", "set_psk_server_callback")
    ),
    rule("ssl.SSLContext.sslsocket_class", "ssl.SSLSocket.do_handshake"),
    fine("ssl.SSLSocket", "made by SSLContext.wrap_socket"),
    *(
        fine(f"ssl.SSLSocket.{m}", "reads the TLS session state in memory")
        for m in (
            "cipher",
            "compression",
            "get_channel_binding",
            "getpeercert",
            "pending",
            "selected_alpn_protocol",
            "selected_npn_protocol",
            "shared_ciphers",
            "version",
            "verify_client_post_handshake",
        )
    ),
    *(
        fine(f"ssl.SSLSocket.{m}", "reads the TLS session state in memory", since=(3, 13))
        for m in ("get_unverified_chain", "get_verified_chain")
    ),
    *(
        fine(f"ssl.SSLSocket.{m}", _NOW)
        for m in (
            "close",
            "detach",
            "dup",
            "fileno",
            "get_inheritable",
            "set_inheritable",
            "getblocking",
            "setblocking",
            "gettimeout",
            "settimeout",
            "getpeername",
            "getsockname",
            "getsockopt",
            "setsockopt",
            "listen",
            "shutdown",
            "makefile",
        )
    ),
    rule("ssl.SSLSocket.connect", "blockbuster:socket.socket.connect"),
    rule("ssl.SSLSocket.connect_ex", "audit:socket.connect"),
    rule("ssl.SSLSocket.accept", "blockbuster:socket.socket.accept"),
    rule("ssl.SSLSocket.sendall", "blockbuster:ssl.SSLSocket.send"),
    rule("ssl.SSLSocket.recv_into", "blockbuster:ssl.SSLSocket.read"),
    rule("ssl.SSLSocket.sendfile", "blockbuster:ssl.SSLSocket.send"),
    *(
        fine(f"ssl.SSLSocket.{m}", "refused on a TLS socket: raises at once")
        for m in (
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
            "recvmsg_into",
            "sendmsg",
            "sendto",
            "sendmsg_afalg",
        )
    ),
)

_TIME_SIGNAL = (
    *(
        fine(f"time.{n}", "reads or formats a clock: no wait")
        for n in (
            "asctime",
            "clock_getres",
            "clock_gettime",
            "clock_gettime_ns",
            "ctime",
            "get_clock_info",
            "gmtime",
            "localtime",
            "mktime",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "process_time",
            "process_time_ns",
            "pthread_getcpuclockid",
            "strftime",
            "strptime",
            "thread_time",
            "thread_time_ns",
            "time",
            "time_ns",
            "struct_time",
        )
    ),
    fine("time.clock_settime*", _NOW),
    *(
        fine(f"signal.{n}", _NOW)
        for n in (
            "alarm",
            "default_int_handler",
            "getitimer",
            "setitimer",
            "getsignal",
            "pthread_kill",
            "pthread_sigmask",
            "raise_signal",
            "set_wakeup_fd",
            "siginterrupt",
            "signal",
            "sigpending",
            "strsignal",
            "valid_signals",
            "pidfd_send_signal",
        )
    ),
    fine("signal.struct_siginfo", _RECORD),
    blind(
        "signal.pause",
        "waits for any signal; no probe can make one arrive safely in a test thread, so no rule can prove itself",
    ),
)

_SUBPROCESS = (
    fine("subprocess.CompletedProcess*", _RECORD),
    *(
        fine(f"subprocess.Popen.{m}", "sends a signal (after a non-blocking WNOHANG poll)")
        for m in ("kill", "send_signal", "terminate")
    ),
    fine("subprocess.Popen.poll", "waitpid with WNOHANG: returns at once"),
)

_THREADING = (
    *(
        fine(f"threading.{c}", _MAKES)
        for c in (
            "Barrier",
            "BoundedSemaphore",
            "Condition",
            "Event",
            "RLock",
            "Semaphore",
            "Thread",
            "Timer",
            "local",
            "ExceptHookArgs",
            "Lock",
        )
    ),
    fine("threading.RLock", "creates a lock; its acquire is a blind spot (see README)"),
    *(
        fine(f"threading.{n}", "reads or sets interpreter state")
        for n in (
            "active_count",
            "current_thread",
            "enumerate",
            "get_ident",
            "get_native_id",
            "getprofile",
            "gettrace",
            "main_thread",
            "setprofile",
            "settrace",
            "stack_size",
            "excepthook",
        )
    ),
    *(
        fine(f"threading.{n}", "reads or sets interpreter state", since=(3, 12))
        for n in ("setprofile_all_threads", "settrace_all_threads")
    ),
    fine("threading.Barrier.abort", "takes the barrier's lock briefly and wakes the waiters"),
    fine("threading.Barrier.reset", "takes the barrier's lock briefly and wakes the waiters"),
    *(fine(f"threading.{c}.release", "releases: never waits") for c in ("Semaphore", "BoundedSemaphore")),
    *(
        fine(f"threading.Condition.{m}", "wakes waiters: never waits")
        for m in ("notify", "notifyAll", "notify_all")
    ),
    *(
        fine(f"threading.Event.{m}", "sets or reads a flag under a lock held for microseconds")
        for m in ("clear", "isSet", "is_set", "set")
    ),
    *(
        fine(f"threading.{c}.{m}", "reads or sets thread attributes")
        for c in ("Thread", "Timer")
        for m in ("getName", "setName", "isDaemon", "setDaemon", "is_alive")
    ),
    *(
        fine(f"threading.{c}.start", "starts the thread; the wait for it to begin is exempt (microseconds)")
        for c in ("Thread", "Timer")
    ),
    *(
        fine(
            f"threading.{c}.run",
            "runs the thread's target in the caller: what it does is classified on its own",
        )
        for c in ("Thread", "Timer")
    ),
    fine("threading.Timer.cancel", "sets an event"),
    rule("threading.Timer.join", "threading.Thread.join"),
    *(
        rule(f"threading.Lock.{m}", "blockbuster:threading.Lock.acquire", since=(3, 13))
        for m in ("acquire", "acquire_lock")
    ),
    *(
        fine(f"threading.Lock.{m}", "releases or reads a lock: never waits", since=(3, 13))
        for m in ("release", "release_lock", "locked", "locked_lock")
    ),
)

_QUEUE = (
    *(fine(f"queue.{c}", _MAKES) for c in ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue")),
    *_each(
        NOT_BLOCKING,
        "reads the size under a lock held for microseconds",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue"),
        ("empty", "qsize"),
    ),
    *_each(
        NOT_BLOCKING,
        "reads the size under a lock held for microseconds",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("full",),
    ),
    *_each(
        NOT_BLOCKING,
        "get(block=False) or put(block=False): never waits",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue"),
        ("get_nowait", "put_nowait"),
    ),
    fine("queue.SimpleQueue.put", "an unbounded queue: never waits"),
    *_each(
        NOT_BLOCKING,
        "marks a task done and wakes joiners",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("task_done",),
    ),
    *_each(
        NOT_BLOCKING,
        "marks the queue shut down and wakes waiters",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("shutdown",),
        since=(3, 13),
    ),
    fine("queue.SimpleQueue.get_nowait", "get(False): never waits"),
)

_MULTIPROCESSING = (
    *(
        fine(f"multiprocessing.{n}", _MAKES)
        for n in (
            "Array",
            "Barrier",
            "BoundedSemaphore",
            "Condition",
            "Event",
            "JoinableQueue",
            "Lock",
            "Pipe",
            "Process",
            "Queue",
            "RLock",
            "RawArray",
            "RawValue",
            "Semaphore",
            "SimpleQueue",
            "Value",
        )
    ),
    rule("multiprocessing.Manager", "multiprocessing.connection.Connection.recv"),
    fine("multiprocessing.Pool", "forks the workers and starts its handler threads: no wait"),
    *(
        fine(f"multiprocessing.{n}", "reads or sets process-wide settings")
        for n in (
            "allow_connection_pickling",
            "cpu_count",
            "current_process",
            "freeze_support",
            "get_all_start_methods",
            "get_context",
            "get_logger",
            "get_start_method",
            "log_to_stderr",
            "parent_process",
            "set_executable",
            "set_forkserver_preload",
            "set_start_method",
        )
    ),
    fine("multiprocessing.active_children", "polls each child with WNOHANG: returns at once"),
    *(
        fine(f"multiprocessing.Process.{m}", "signals or inspects the child (WNOHANG)")
        for m in ("close", "is_alive", "kill", "terminate")
    ),
    fine("multiprocessing.Process.start", "forks (or spawns) the child without waiting for it"),
    fine("multiprocessing.Process.run", "runs the target in the caller: classified on its own"),
    rule("multiprocessing.Process.join", "os.waitpid + multiprocessing.connection.wait"),
    rule(
        "multiprocessing.connection.Client",
        "audit:socket.connect + multiprocessing.connection.Connection.recv_bytes",
    ),
    fine("multiprocessing.connection.Listener", "binds and listens: no wait"),
    fine("multiprocessing.connection.Listener.close", _NOW),
    fine("multiprocessing.connection.Pipe", "creates a pipe or socket pair"),
    fine("multiprocessing.pool.*Pool", "starts workers and handler threads: no wait"),
    *_each(
        NOT_BLOCKING,
        "queues work and returns a result object",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("apply_async", "map_async", "starmap_async", "imap", "imap_unordered", "close", "Process"),
    ),
    *_each(
        RULE,
        "threading.Event.wait",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("apply", "map", "starmap"),
    ),
    *_each(
        RULE,
        "threading.Thread.join",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("join", "terminate"),
    ),
    *(
        fine(f"multiprocessing.synchronize.{c}", _MAKES)
        for c in ("BoundedSemaphore", "Condition", "Event", "Lock", "RLock", "Semaphore")
    ),
    *(fine(f"multiprocessing.synchronize.{c}.get_value", _NOW) for c in ("BoundedSemaphore", "Semaphore")),
    *(
        fine(f"multiprocessing.synchronize.{m}", "releases a semaphore: never waits")
        for m in ("Condition.notify", "Condition.notify_all", "Event.clear", "Event.set")
    ),
    fine("multiprocessing.synchronize.Event.is_set", "tries the semaphore without blocking"),
    *(
        blind(
            f"multiprocessing.synchronize.{m}",
            "waits on the C semaphore's acquire, which each lock binds when it is made: a patch misses every lock made before it",
        )
        for m in ("Condition.wait", "Condition.wait_for", "Event.wait")
    ),
)

_FUTURES = (
    fine("concurrent.futures.Future", _MAKES),
    *(
        fine(
            f"concurrent.futures.Future.{m}",
            "reads or sets the future's state under a lock held for microseconds",
        )
        for m in (
            "add_done_callback",
            "cancel",
            "cancelled",
            "done",
            "running",
            "set_exception",
            "set_result",
            "set_running_or_notify_cancel",
        )
    ),
    fine("concurrent.futures.*Executor", "creates an executor (workers start on first submit)"),
    fine("concurrent.futures.Executor.submit", "abstract: raises NotImplementedError"),
    fine(
        "concurrent.futures.*Executor.submit", "queues the call (starting a worker is exempt: microseconds)"
    ),
    rule("concurrent.futures.*Executor.map", "concurrent.futures.Future.result"),
    rule("concurrent.futures.*Executor.shutdown", "threading.Thread.join"),
)

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
    fine("sqlite3.PrepareProtocol", _RECORD),
    fine("sqlite3.Row*", "a result row in memory"),
    *(
        fine(f"sqlite3.{n}", _PURE)
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

_ARCHIVES = (
    fine("zipfile.ZipInfo", "a member record"),
    fine("zipfile.ZipInfo.FileHeader", _PURE),
    fine("zipfile.ZipInfo.is_dir", _PURE),
    rule("zipfile.ZipInfo.from_file", "blockbuster:os.stat"),
    rule("zipfile.is_zipfile", _FILE_IO),
    rule("zipfile.*ZipFile", _FILE_IO),
    rule("zipfile.*ZipFile.*", _FILE_IO),
    *_each(
        NOT_BLOCKING,
        "reads the central directory already in memory",
        ("zipfile.ZipFile", "zipfile.PyZipFile"),
        ("getinfo", "infolist", "namelist", "setpassword"),
    ),
    fine("zipfile.*ZipFile.printdir", "prints the central directory already in memory"),
    fine("zipfile.Path", "wraps an open ZipFile"),
    *(
        fine(f"zipfile.Path.{m}", "asks the central directory in memory")
        for m in ("exists", "is_dir", "is_file", "iterdir", "joinpath")
    ),
    *(
        fine(f"zipfile.Path.{m}", "asks the central directory in memory", since=(3, 12))
        for m in ("glob", "rglob", "is_symlink", "match", "relative_to")
    ),
    *(rule(f"zipfile.Path.{m}", _FILE_IO) for m in ("open", "read_bytes", "read_text")),
    rule("tarfile.*", _FILE_IO),
    fine("tarfile.TarInfo", "a member record"),
    fine("tarfile.TarInfo.*", "builds or parses a header in memory"),
    rule("tarfile.TarInfo.fromtarfile", _FILE_IO),
    *(
        fine(f"tarfile.{n}", "decides about a member in memory", since=(3, 12))
        for n in ("data_filter", "fully_trusted_filter", "tar_filter")
    ),
    fine("tarfile.TarFile.tarinfo", "the member record class"),
    rule("gzip.*", _FILE_IO),
    *(
        fine(f"{m}.{n}", "compresses or decompresses in memory")
        for m in ("gzip", "bz2", "lzma")
        for n in ("compress", "decompress")
    ),
    rule("bz2.*", _FILE_IO),
    rule("lzma.*", _FILE_IO),
    fine("lzma.is_check_supported", _PURE),
    *(
        fine(f"{m}.{c}*", "compresses or decompresses in memory")
        for m, c in (
            ("bz2", "BZ2Compressor"),
            ("bz2", "BZ2Decompressor"),
            ("lzma", "LZMACompressor"),
            ("lzma", "LZMADecompressor"),
        )
    ),
    *_each(
        NOT_BLOCKING,
        "asks the file object, no wait",
        ("gzip.GzipFile", "bz2.BZ2File", "lzma.LZMAFile"),
        ("fileno", "isatty", "readable", "writable", "seekable", "tell"),
    ),
    fine("mmap.mmap", "maps a file: no read until a page is touched"),
    *(
        fine(f"mmap.mmap.{m}", "works on the mapping in memory")
        for m in ("close", "madvise", "size", "tell", "seek")
    ),
    fine("mmap.mmap.seekable", "always True", since=(3, 13)),
    *(
        blind(
            f"mmap.mmap.{m}",
            "touching a page of a mapped file may wait for the disk (a page fault): no call to trap",
        )
        for m in ("find", "rfind", "move", "read", "read_byte", "readline", "write", "write_byte")
    ),
    fine("pwd.struct_passwd", _RECORD),
    fine("grp.struct_group", _RECORD),
)

_PROTOCOLS = (
    fine("urllib.request.Request", "builds a request in memory"),
    fine("urllib.request.Request.*", "reads or edits the request in memory"),
    fine("urllib.request.*Handler", "creates a handler"),
    fine("urllib.request.*Processor", "creates a handler"),
    fine("urllib.request.*.add_parent", "links the handler to its opener"),
    fine(
        "urllib.request.*.close",
        "drops references (CacheFTPHandler's closes idle FTP connections: socket close)",
    ),
    fine("urllib.request.*.http_request", "adds headers to the request in memory"),
    fine("urllib.request.*.https_request", "adds headers to the request in memory"),
    fine("urllib.request.*.do_request_", "adds headers to the request in memory"),
    fine("urllib.request.*.set_http_debuglevel", "sets a number"),
    rule(
        "urllib.request.*.http_response", "audit:urllib.Request"
    ),  # an error status may retry through the opener
    rule("urllib.request.*.https_response", "audit:urllib.Request"),
    rule("urllib.request.*.http_error_*", "audit:urllib.Request"),
    rule("urllib.request.*.retry_*", "audit:urllib.Request"),
    rule("urllib.request.*_open", "audit:socket.getaddrinfo + audit:open"),
    rule("urllib.request.*.do_open", "audit:socket.getaddrinfo"),
    rule("urllib.request.*.connect_ftp", "audit:socket.getaddrinfo"),
    rule("urllib.request.FileHandler.open_local_file", "audit:open"),
    fine(
        "urllib.request.FileHandler.get_names",
        "resolves localhost once (audit:socket.gethostbyname) and caches it",
    ),
    fine("urllib.request.*.get_*", "computes authentication headers in memory"),
    fine("urllib.request.*.reset_retry_count", "sets a number"),
    rule("urllib.request.*.http_error_auth_reqed", "audit:urllib.Request"),
    fine("urllib.request.*.redirect_request", "builds the redirected request in memory"),
    fine("urllib.request.CacheFTPHandler.set*", "sets a number"),
    fine("urllib.request.CacheFTPHandler.check_cache", "drops expired connections (socket close)"),
    fine("urllib.request.CacheFTPHandler.clear_cache", "closes cached connections (socket close)"),
    fine("urllib.request.HTTPPasswordMgr*", "a password table in memory"),
    fine("urllib.request.OpenerDirector", "creates an opener"),
    fine("urllib.request.OpenerDirector.add_handler", "registers a handler in memory"),
    rule("urllib.request.OpenerDirector.error", "audit:urllib.Request"),
    *(
        fine(f"urllib.request.{n}", "builds or installs an opener in memory")
        for n in ("build_opener", "install_opener", "getproxies", "pathname2url", "url2pathname")
    ),
    rule("urllib.request.urlretrieve", "audit:urllib.Request + audit:open"),
    rule("urllib.request.urlcleanup", "audit:os.remove"),
    fine("urllib.request.*URLopener", "creates the legacy opener"),
    rule("urllib.request.*URLopener.*", "audit:socket.getaddrinfo + audit:open"),
    *(
        fine(f"urllib.request.*URLopener.{m}", "edits the opener in memory")
        for m in ("addheader", "close", "cleanup")
    ),
    blind(
        "urllib.request.FancyURLopener.prompt_user_passwd",
        "reads the terminal through getpass (input on a C-level stream)",
    ),
    blind(
        "urllib.request.FancyURLopener.get_user_passwd", "reads the terminal through getpass on a cache miss"
    ),
    fine("http.client.HTTP*Connection", "creates a connection object: nothing is connected yet"),
    rule("http.client.HTTP*Connection.*", "audit:socket.getaddrinfo + " + _SOCKET_IO),
    *_each(
        NOT_BLOCKING,
        "edits the request in memory",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("putheader", "putrequest", "set_debuglevel", "set_tunnel", "close"),
    ),
    *_each(
        NOT_BLOCKING,
        "reads headers in memory",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("get_proxy_response_headers",),
        since=(3, 12),
    ),
    *_each(
        NOT_BLOCKING,
        "the response class: made by getresponse",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("response_class",),
    ),
    fine("http.client.HTTPResponse", "made by getresponse"),
    rule("http.client.HTTPResponse.*", _SOCKET_IO),
    *(
        fine(f"http.client.HTTPResponse.{m}", "reads the parsed response in memory")
        for m in (
            "getcode",
            "getheader",
            "getheaders",
            "geturl",
            "info",
            "isclosed",
            "fileno",
            "isatty",
            "readable",
            "writable",
            "seekable",
            "close",
            "flush",
            "detach",
            "seek",
            "tell",
            "truncate",
            "write",
            "writelines",
        )
    ),
    *(
        fine(f"{m}.{c}", "creates a client object (the constructor connects when given a host: a rule)")
        for m, c in (
            ("ftplib", "FTP*"),
            ("smtplib", "SMTP*"),
            ("poplib", "POP3*"),
            ("imaplib", "IMAP4*"),
        )
    ),
    rule("ftplib.FTP*.*", "audit:socket.getaddrinfo + " + _SOCKET_IO),
    rule("smtplib.*SMTP*.*", "audit:socket.getaddrinfo + " + _SOCKET_IO),
    rule("poplib.POP3*.*", "audit:socket.getaddrinfo + " + _SOCKET_IO),
    rule("imaplib.IMAP4*.*", "audit:socket.getaddrinfo + " + _SOCKET_IO),
    *(
        fine(f"ftplib.FTP*.{m}", "reads or sets client state in memory")
        for m in ("debug", "getwelcome", "sanitize", "set_debuglevel", "set_pasv")
    ),
    *(fine(f"smtplib.*.{m}", "reads or sets client state in memory") for m in ("has_extn", "set_debuglevel")),
    *(
        fine(f"poplib.POP3*.{m}", "reads or sets client state in memory")
        for m in ("getwelcome", "set_debuglevel")
    ),
    *(
        fine(f"imaplib.IMAP4*.{m}", "reads client state or an exception type")
        for m in ("error", "abort", "readonly", "print_log", "response", "socket")
    ),
    *(fine(f"smtplib.{n}", _PURE) for n in ("quoteaddr", "quotedata")),
    *(
        fine(f"imaplib.{n}", _PURE)
        for n in ("Int2AP", "Internaldate2tuple", "ParseFlags", "Time2Internaldate")
    ),
    # IMAP4_stream talks to a subprocess through its pipes' buffered file objects.
    rule(
        "imaplib.IMAP4_stream.*",
        "blockbuster:io.BufferedReader.read + io.BufferedReader.readline + blockbuster:io.BufferedWriter.write",
    ),
    rule("imaplib.IMAP4_stream.open", "audit:subprocess.Popen"),
)

_OTHERS = (
    fine("fileinput.FileInput", "opens nothing until read"),
    rule("fileinput.input", "audit:open"),
    rule("fileinput.FileInput.readline", "audit:open + io.TextIOWrapper.readline"),
    rule("fileinput.FileInput.nextfile", "audit:open"),
    rule("fileinput.nextfile", "audit:open"),
    rule("fileinput.FileInput.close", "audit:os.remove"),  # in place: removes the backup
    rule("fileinput.close", "audit:os.remove"),
    *(
        fine(f"fileinput.{p}{m}", "reads the reader's state in memory")
        for p in ("", "FileInput.")
        for m in ("filelineno", "filename", "fileno", "isfirstline", "isstdin", "lineno")
    ),
    *(fine(f"fileinput.{n}", "returns an opener function") for n in ("hook_compressed", "hook_encoded")),
    blind("getpass.getpass", "reads the terminal through /dev/tty and C-level stream reads"),
    rule("getpass.getuser", "pwd.getpwuid"),  # after the environment
    rule("webbrowser.open*", "audit:subprocess.Popen"),
    rule(
        "webbrowser.get", "blockbuster:os.stat + blockbuster:os.access"
    ),  # shutil.which over PATH on first use
    fine("webbrowser.register", "edits a registry in memory"),
    *(
        fine(f"platform.{n}", "reads the interpreter's build information")
        for n in (
            "python_branch",
            "python_build",
            "python_compiler",
            "python_implementation",
            "python_revision",
            "python_version",
            "python_version_tuple",
            "system_alias",
            "uname_result",
            "java_ver",
        )
    ),
    *(
        fine(f"platform.{n}", "reads a registry value (the hive is mapped in memory)", systems=_WINDOWS)
        for n in ("win32_edition", "win32_is_iot")
    ),
    *(
        fine(f"platform.{n}", "returns an empty answer at once off Windows", systems=_POSIX_SYSTEMS)
        for n in ("win32_edition", "win32_is_iot", "win32_ver")
    ),
    # uname's fields: os.uname on POSIX; on Windows, up to 3.11, sys.getwindowsversion and the
    # registry (from 3.12 WMI, another process: audit:_wmi.exec_query); cached after the first call
    *(
        fine(f"platform.{n}", "uname's field: os.uname, cached", systems=_POSIX_SYSTEMS)
        for n in ("machine", "node", "release", "system", "version")
    ),
    *(
        fine(
            f"platform.{n}",
            "the Windows version and the environment, cached",
            until=(3, 11),
            systems=_WINDOWS,
        )
        for n in ("machine", "node", "release", "system", "version", "uname", "win32_ver")
    ),
    fine(
        "platform.uname",
        "os.uname, cached (its processor field is computed lazily)",
        systems=_POSIX_SYSTEMS,
    ),
    rule("platform.processor", "audit:subprocess.Popen", systems=_POSIX_SYSTEMS),  # runs `uname -p` on Linux
    fine(
        "platform.processor",
        "reads PROCESSOR_IDENTIFIER from the environment",
        until=(3, 11),
        systems=_WINDOWS,
    ),
    rule(
        "platform.platform", "audit:open"
    ),  # libc_ver reads the executable; freedesktop_os_release reads /etc
    rule("platform.architecture", "audit:open + audit:subprocess.Popen"),
    rule("platform.libc_ver", "audit:open"),
    rule("platform.freedesktop_os_release", "audit:open"),
    rule("platform.mac_ver", "audit:open"),
    *(
        fine(f"platform.{n}", "reads the interpreter's build information", since=(3, 13))
        for n in ("AndroidVer", "IOSVersionInfo", "android_ver", "ios_ver")
    ),
    fine("uuid.UUID", _PURE),
    fine("uuid.SafeUUID", "an enum type"),
    *(fine(f"uuid.{n}", _PURE) for n in ("uuid3", "uuid4", "uuid5")),
    rule("uuid.getnode", "audit:subprocess.Popen + audit:open"),  # may run ip/ifconfig or read /sys
    rule("uuid.uuid1", "audit:subprocess.Popen + audit:open"),  # through getnode when the C library cannot
    fine("uuid.main", "the command-line entry point: prints UUIDs", since=(3, 12)),
)


# -- what only macOS or Windows has, and what differs there ---------------------------------
#
# Checked on Linux from typeshed's stubs (meta/test_classification_stubs.py); the runtime
# census on each system in the workflow stays the authority.

_LOCKS_AND_CONSOLE = "a console call that returns at once (no key is awaited)"
_OTHER_SYSTEMS = (
    # macOS (and the BSDs): kqueue, file flags, no mremap
    fine("select.kqueue", "creates a kqueue", systems=_MACOS),
    *(fine(f"select.kqueue.{m}", _NOW, systems=_MACOS) for m in ("close", "fileno", "fromfd")),
    fine("select.kevent", "an event record: pure data", systems=_MACOS),
    fine("mmap.mmap.resize", "raises at once on macOS: no mremap", systems=_MACOS),
    # which class DefaultSelector is, per system
    rule("selectors.DefaultSelector.select", "selectors.EpollSelector.select", systems=("linux",)),
    rule("selectors.DefaultSelector.select", "selectors.KqueueSelector.select", systems=_MACOS),
    rule("selectors.DefaultSelector.select", "selectors.SelectSelector.select", systems=_WINDOWS),
    # Windows: os (and its nt twins)
    fine(
        "os.startfile",
        "hands the file to the shell and returns once the application is launched, without waiting for it",
        systems=_WINDOWS,
    ),
    *(fine(f"os.{n}", _NOW, systems=_WINDOWS) for n in ("get_handle_inheritable", "set_handle_inheritable")),
    fine(
        "os.listdrives",
        "asks the kernel for the drive letters: no disk read",
        since=(3, 12),
        systems=_WINDOWS,
    ),
    *(
        fine(
            f"os.{n}", "asks the mount manager for its volumes: no disk read", since=(3, 12), systems=_WINDOWS
        )
        for n in ("listmounts", "listvolumes")
    ),
    fine("os.getlogin", "GetUserNameW: the user of the process's token, no file", systems=_WINDOWS),
    blind(
        "os.waitpid",
        "on Windows, waits on a process handle; the waitpid rule and its probe are POSIX-only so far",
        systems=_WINDOWS,
    ),
    blind(
        "os.spawn*",
        "on Windows, P_WAIT waits inside nt's C spawn; its os.spawn audit event could trap it, "
        "but no rule is proven on Windows yet",
        systems=_WINDOWS,
    ),
    *(
        blind(
            f"nt.{n}",
            f"blockbuster patches the os name only; nt.{n} has no rule on Windows yet "
            "(the posix twin's must-pass probe needs a non-blocking pipe, Windows has them from 3.12)",
            systems=_WINDOWS,
        )
        for n in ("read", "write")
    ),
    fine("os.path.isreserved", "path arithmetic", since=(3, 13), systems=_WINDOWS),
    rule("os.path.isdevdrive", "blockbuster:os.path.abspath", since=(3, 12), systems=_WINDOWS),
    rule("os.path.lexists", "os.lstat", until=(3, 12), systems=_WINDOWS),  # then a C function: its own rule
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", until=(3, 11), systems=_WINDOWS)
        for n in ("exists", "isfile")  # then C functions: their own rules
    ),
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", systems=_WINDOWS)
        for n in ("getsize", "getatime", "getctime", "getmtime", "samefile")
    ),
    fine(
        "os.path.expanduser",
        "reads USERPROFILE (or HOMEDRIVE and HOMEPATH) from the environment",
        systems=_WINDOWS,
    ),
    *_each(
        NOT_BLOCKING,
        "reads USERPROFILE (or HOMEDRIVE and HOMEPATH) from the environment",
        _PATH_CLASSES,
        ("expanduser", "home"),
        systems=_WINDOWS,
    ),
    *_each(RULE, "os.path.isjunction", _PATH_CLASSES, ("is_junction",), since=(3, 12), systems=_WINDOWS),
    fine(
        "shutil.chown",
        "fails at once on Windows, which has no os.chown (after its audit event)",
        systems=_WINDOWS,
    ),
    # Windows: sockets, TLS, subprocess
    *(
        fine(f"{c}.{m}", _NOW, systems=_WINDOWS)
        for c in ("socket.socket", "socket.SocketType", "ssl.SSLSocket")
        for m in ("ioctl", "share")
    ),
    fine("socket.fromshare", "makes a socket from shared data: " + _NOW, systems=_WINDOWS),
    fine("subprocess.STARTUPINFO*", _RECORD, systems=_WINDOWS),
    # Windows: msvcrt (file locks, console, descriptors)
    blind(
        "msvcrt.get*ch*",
        "waits for a key press on the console; no probe can press a key, so no rule can prove itself",
        systems=_WINDOWS,
    ),
    *(
        fine(f"msvcrt.{n}", _LOCKS_AND_CONSOLE, systems=_WINDOWS)
        for n in ("kbhit", "putch", "putwch", "ungetch", "ungetwch")
    ),
    *(
        fine(f"msvcrt.{n}", _NOW, systems=_WINDOWS)
        for n in ("setmode", "open_osfhandle", "get_osfhandle", "heapmin", "SetErrorMode", "GetErrorMode")
    ),
    # build options
    fine(
        "sqlite3.Connection.enable_load_extension",
        "sets a flag on the connection",
        optional="only where sqlite3 is built with extension loading",
    ),
)

TABLE: tuple[Entry, ...] = (
    *_OS_NOT_BLOCKING,
    *_OS_RULES,
    *_OS_PATH,
    *_PATHLIB,
    *_IO,
    *_SHUTIL,
    *_GLOB_TEMPFILE,
    *_FCNTL_SELECT,
    *_SOCKET,
    *_SSL,
    *_TIME_SIGNAL,
    *_SUBPROCESS,
    *_THREADING,
    *_QUEUE,
    *_MULTIPROCESSING,
    *_FUTURES,
    *_SQLITE,
    *_DBM_SHELVE,
    *_ARCHIVES,
    *_PROTOCOLS,
    *_OTHERS,
    *_OTHER_SYSTEMS,
)
TABLE = (*TABLE, *_native_twins(TABLE), *_path_twins())
