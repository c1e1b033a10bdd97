"""``os`` (and its native twins ``posix`` and ``nt``): what waits on the disk, a child or a lock, and what only reads kernel state."""

from __future__ import annotations

from blockgate.classification.engine import (
    NOW,
    POSIX_SYSTEMS,
    PURE,
    RECORD,
    RULE,
    WINDOWS,
    Entry,
    blind,
    fine,
    on_system,
    rule,
)

_OS_NOT_BLOCKING = (
    *(
        fine(f"os.W{m}", PURE)
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
    fine("os.waitstatus_to_exitcode", PURE),
    *(
        fine(f"os.{n}", PURE)
        for n in ("fsdecode", "fsencode", "fspath", "major", "minor", "makedev", "strerror", "get_exec_path")
    ),
    *(
        fine(f"os.{n}", RECORD)
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
        fine(f"os.{n}", NOW)
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
    fine("os.login_tty", NOW, since=(3, 11)),
    fine("os.forkpty", "copies the process and allocates a pseudo-terminal in the kernel"),
    fine("os.posix_spawn", "starts a child process without waiting for it"),
    fine("os.posix_spawnp", "starts a child process without waiting for it"),
    *(fine(f"os.{n}", NOW, since=(3, 12)) for n in ("setns", "unshare")),
    *(
        fine(f"os.{n}", NOW, since=(3, 13))
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
        systems=POSIX_SYSTEMS,
    ),
    fine("os.DirEntry", "made by iterating os.scandir (blockbuster:os.scandir), never called"),
    fine("os.DirEntry.inode", "the inode number from the listing: no syscall on POSIX"),
    fine(
        "os.DirEntry.is_symlink",
        "the entry's type from the listing (an lstat only where the filesystem reports no type)",
    ),
    fine("os.DirEntry.is_junction", "always False on POSIX", since=(3, 12), systems=POSIX_SYSTEMS),
    fine(
        "os.DirEntry.is_junction",
        "the reparse tag from the listing: no syscall",
        since=(3, 12),
        systems=WINDOWS,
    ),
)


_OS_RULES = (
    # P_WAIT: on POSIX os._spawnvef waits through os.waitpid(pid, 0)
    rule("os.spawn*", "os.waitpid", systems=POSIX_SYSTEMS),
    rule("os.DirEntry.is_dir", "os.DirEntry.is_dir"),
    rule("os.DirEntry.is_file", "os.DirEntry.is_file"),
)


def native_twins(table: tuple[Entry, ...]) -> list[Entry]:
    """``posix.<name>`` (``nt.<name>`` on Windows) shares the verdict of ``os.<name>`` when it is
    not a rule (rules name their twins). Twins are checked through their os entry, not as stale."""
    twins = []
    for e in table:
        if e.pattern.startswith("os.") and not e.pattern.startswith("os.path.") and e.verdict != RULE:
            for module, systems in (("posix", POSIX_SYSTEMS), ("nt", ("win32",))):
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


ENTRIES: tuple[Entry, ...] = (
    *_OS_NOT_BLOCKING,
    *_OS_RULES,
)
