"""``shutil``, ``glob`` and ``tempfile``: helpers made of many file-system calls."""

from __future__ import annotations

from blockgate.classification.engine import PURE, Entry, fine, rule

_SHUTIL = (
    rule("shutil.copyfileobj", "blockbuster:io.BufferedReader.read + blockbuster:io.BufferedWriter.write"),
    rule("shutil.disk_usage", "blockbuster:os.statvfs"),
    rule("shutil.which", "blockbuster:os.stat + blockbuster:os.access"),
    fine("shutil.get_terminal_size", "reads the environment, then an ioctl on stdout"),
    fine("shutil.ignore_patterns", PURE),
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
    fine("glob.escape", PURE),
    fine("glob.translate", PURE, since=(3, 13)),
    rule(
        "tempfile.gettempdir*", "audit:open"
    ),  # the first call probes candidate directories by writing a file
    fine("tempfile.gettempprefix*", PURE),
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


ENTRIES: tuple[Entry, ...] = (
    *_SHUTIL,
    *_GLOB_TEMPFILE,
)
