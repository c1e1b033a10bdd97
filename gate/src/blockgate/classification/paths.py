"""``os.path`` and ``pathlib``: path arithmetic is pure; what stats or touches the disk is a rule."""

from __future__ import annotations

from blockgate import rules as _rules
from blockgate.classification.engine import NOT_BLOCKING, POSIX_SYSTEMS, RULE, Entry, each, fine, rule

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
    fine("os.path.isjunction", "always False on POSIX", since=(3, 12), systems=POSIX_SYSTEMS),
    fine("os.path.isdevdrive", "always False on POSIX", since=(3, 13), systems=POSIX_SYSTEMS),
    # on Windows some of these are C functions of nt, with rules of their own (below, and rules.py)
    *(
        rule(f"os.path.{n}", "blockbuster:os.stat", systems=POSIX_SYSTEMS)
        for n in ("exists", "isdir", "isfile", "getsize", "getatime", "getctime", "getmtime", "samefile")
    ),
    rule("os.path.lexists", "os.lstat", systems=POSIX_SYSTEMS),
    rule("os.path.realpath", "os.lstat", systems=POSIX_SYSTEMS),
    rule("os.path.relpath", "blockbuster:os.path.abspath"),
    # with HOME set it reads only the environment
    rule("os.path.expanduser", "pwd.getpwuid", systems=POSIX_SYSTEMS),
)


PATH_CLASSES = ("pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath")


_PATHLIB = (
    fine("pathlib.Pure*Path.*", "path arithmetic"),
    fine("pathlib.Pure*Path", "path arithmetic"),
    fine("pathlib.*Path", "only creates the path object: no IO"),
    *each(
        NOT_BLOCKING,
        "path arithmetic",
        PATH_CLASSES,
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
    *each(NOT_BLOCKING, "path arithmetic", PATH_CLASSES, ("with_segments",), since=(3, 12)),
    *each(NOT_BLOCKING, "path arithmetic", PATH_CLASSES, ("full_match", "from_uri"), since=(3, 13)),
    *each(
        NOT_BLOCKING,
        "always False on POSIX",
        PATH_CLASSES,
        ("is_junction",),
        since=(3, 12),
        systems=POSIX_SYSTEMS,
    ),
    *each(
        RULE,
        "pathlib.Path.stat",
        PATH_CLASSES,
        ("is_block_device", "is_char_device", "is_fifo", "is_socket"),
    ),
    *each(RULE, "pathlib.Path.chmod", PATH_CLASSES, ("lchmod",)),
    *each(RULE, "audit:os.link", PATH_CLASSES, ("link_to",), until=(3, 11)),
    *each(
        RULE, "pwd.getpwuid", PATH_CLASSES, ("expanduser", "home"), systems=POSIX_SYSTEMS
    ),  # with HOME set: the environment only
)


def path_twins() -> list[Entry]:
    """PosixPath and WindowsPath inherit every ``pathlib.Path`` rule."""
    return [
        rule(f"pathlib.{cls}.{r.target.rsplit('.', 1)[1]}", r.name, since=r.min_version)
        for r in _rules.RULES
        if isinstance(r, _rules.Patch) and r.target.startswith("pathlib.Path.")
        for cls in ("PosixPath", "WindowsPath")
    ]


ENTRIES: tuple[Entry, ...] = (
    *_OS_PATH,
    *_PATHLIB,
)
