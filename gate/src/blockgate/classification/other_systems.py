"""What only macOS or Windows has, and what differs there.

Checked on Linux from typeshed's stubs (``blockgate.classification.stubs``); the
runtime census on each system in the workflow stays the authority.
"""

from __future__ import annotations

from blockgate.classification.engine import (
    MACOS,
    NOT_BLOCKING,
    NOW,
    RECORD,
    RULE,
    WINDOWS,
    Entry,
    blind,
    each,
    fine,
    rule,
)
from blockgate.classification.paths import PATH_CLASSES

_LOCKS_AND_CONSOLE = "a console call that returns at once (no key is awaited)"


_OTHER_SYSTEMS = (
    # macOS (and the BSDs): kqueue, file flags, no mremap
    fine("select.kqueue", "creates a kqueue", systems=MACOS),
    *(fine(f"select.kqueue.{m}", NOW, systems=MACOS) for m in ("close", "fileno", "fromfd")),
    fine("select.kevent", "an event record: pure data", systems=MACOS),
    fine("mmap.mmap.resize", "raises at once on macOS: no mremap", systems=MACOS),
    # which class DefaultSelector is, per system
    rule("selectors.DefaultSelector.select", "selectors.EpollSelector.select", systems=("linux",)),
    rule("selectors.DefaultSelector.select", "selectors.KqueueSelector.select", systems=MACOS),
    rule("selectors.DefaultSelector.select", "selectors.SelectSelector.select", systems=WINDOWS),
    # Windows: os (and its nt twins)
    fine(
        "os.startfile",
        "hands the file to the shell and returns once the application is launched, without waiting for it",
        systems=WINDOWS,
    ),
    *(fine(f"os.{n}", NOW, systems=WINDOWS) for n in ("get_handle_inheritable", "set_handle_inheritable")),
    fine(
        "os.listdrives",
        "asks the kernel for the drive letters: no disk read",
        since=(3, 12),
        systems=WINDOWS,
    ),
    *(
        fine(
            f"os.{n}", "asks the mount manager for its volumes: no disk read", since=(3, 12), systems=WINDOWS
        )
        for n in ("listmounts", "listvolumes")
    ),
    fine("os.getlogin", "GetUserNameW: the user of the process's token, no file", systems=WINDOWS),
    blind(
        "os.waitpid",
        "on Windows, waits on a process handle; the waitpid rule and its probe are POSIX-only so far",
        systems=WINDOWS,
    ),
    blind(
        "os.spawn*",
        "on Windows, P_WAIT waits inside nt's C spawn; its os.spawn audit event could trap it, "
        "but no rule is proven on Windows yet",
        systems=WINDOWS,
    ),
    *(
        blind(
            f"nt.{n}",
            f"blockbuster patches the os name only; nt.{n} has no rule on Windows yet "
            "(the posix twin's must-pass probe needs a non-blocking pipe, Windows has them from 3.12)",
            systems=WINDOWS,
        )
        for n in ("read", "write")
    ),
    fine("os.path.isreserved", "path arithmetic", since=(3, 13), systems=WINDOWS),
    rule("os.path.isdevdrive", "blockbuster:os.path.abspath", since=(3, 12), systems=WINDOWS),
    rule("os.path.lexists", "os.lstat", until=(3, 12), systems=WINDOWS),  # then a C function: its own rule
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", until=(3, 11), systems=WINDOWS)
        for n in ("exists", "isfile")  # then C functions: their own rules
    ),
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", systems=WINDOWS)
        for n in ("getsize", "getatime", "getctime", "getmtime", "samefile")
    ),
    fine(
        "os.path.expanduser",
        "reads USERPROFILE (or HOMEDRIVE and HOMEPATH) from the environment",
        systems=WINDOWS,
    ),
    *each(
        NOT_BLOCKING,
        "reads USERPROFILE (or HOMEDRIVE and HOMEPATH) from the environment",
        PATH_CLASSES,
        ("expanduser", "home"),
        systems=WINDOWS,
    ),
    *each(RULE, "os.path.isjunction", PATH_CLASSES, ("is_junction",), since=(3, 12), systems=WINDOWS),
    fine(
        "shutil.chown",
        "fails at once on Windows, which has no os.chown (after its audit event)",
        systems=WINDOWS,
    ),
    # Windows: sockets, TLS, subprocess
    *(
        fine(f"{c}.{m}", NOW, systems=WINDOWS)
        for c in ("socket.socket", "socket.SocketType", "ssl.SSLSocket")
        for m in ("ioctl", "share")
    ),
    fine("socket.fromshare", "makes a socket from shared data: " + NOW, systems=WINDOWS),
    fine("subprocess.STARTUPINFO*", RECORD, systems=WINDOWS),
    # Windows: msvcrt (file locks, console, descriptors)
    blind(
        "msvcrt.get*ch*",
        "waits for a key press on the console; no probe can press a key, so no rule can prove itself",
        systems=WINDOWS,
    ),
    *(
        fine(f"msvcrt.{n}", _LOCKS_AND_CONSOLE, systems=WINDOWS)
        for n in ("kbhit", "putch", "putwch", "ungetch", "ungetwch")
    ),
    *(
        fine(f"msvcrt.{n}", NOW, systems=WINDOWS)
        for n in ("setmode", "open_osfhandle", "get_osfhandle", "heapmin", "SetErrorMode", "GetErrorMode")
    ),
    # build options
    fine(
        "sqlite3.Connection.enable_load_extension",
        "sets a flag on the connection",
        optional="only where sqlite3 is built with extension loading",
    ),
)


ENTRIES: tuple[Entry, ...] = (*_OTHER_SYSTEMS,)
