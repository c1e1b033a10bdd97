"""``io``: file objects in every buffering mode, and the in-memory streams that never block."""

from __future__ import annotations

from blockgate.classification.engine import NOT_BLOCKING, PURE, RULE, Entry, each, fine, rule

_IO_ABSTRACT = ("IOBase", "RawIOBase", "BufferedIOBase", "TextIOBase")


_IO = (
    *(fine(f"io.{c}", "an abstract base class") for c in _IO_ABSTRACT),
    *(
        fine(f"io.{c}.*", "the abstract base: its IO methods call the concrete class's, classified there")
        for c in _IO_ABSTRACT
    ),
    fine("io.BytesIO*", "in memory: no IO"),
    fine("io.StringIO*", "in memory: no IO"),
    fine("io.IncrementalNewlineDecoder*", PURE, since=(3, 11)),  # exported by io from 3.11
    fine("io.text_encoding", PURE, since=(3, 11)),
    *(
        fine(f"io.{c}", "wraps an already open file: no IO")
        for c in ("BufferedReader", "BufferedWriter", "BufferedRandom", "BufferedRWPair", "TextIOWrapper")
    ),
    *each(
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
    *each(
        NOT_BLOCKING,
        "moves or reads the file offset (lseek): no IO",
        ("io.FileIO", "io.BufferedReader"),
        ("seek", "tell"),
    ),
    *each(
        NOT_BLOCKING,
        "closing a read-only buffer or raw file releases the descriptor",
        ("io.FileIO", "io.BufferedReader"),
        ("close",),
    ),
    fine("io.FileIO.flush", "a raw file has nothing to flush"),
    fine("io.BufferedReader.flush", "a reader has nothing to flush"),
    fine("io.BufferedReader.detach", "a reader has nothing to flush before handing its raw file back"),
    *each(
        NOT_BLOCKING,
        "not readable: raises at once",
        ("io.BufferedWriter",),
        ("read", "read1", "readinto", "readinto1", "readline", "readlines"),
    ),
    *each(NOT_BLOCKING, "not writable: raises at once", ("io.BufferedReader",), ("write", "writelines")),
    *each(RULE, "io.FileIO.read", ("io.FileIO",), ("readline", "readlines")),  # IOBase's versions call read
    rule("io.FileIO.writelines", "io.FileIO.write"),
    *each(RULE, "io.FileIO.readinto", ("io.BufferedReader", "io.BufferedRandom"), ("readinto1",)),
    rule("io.BufferedRandom.peek", "io.FileIO.readinto"),
    *each(
        RULE,
        "io.FileIO.write",
        ("io.BufferedWriter", "io.BufferedRandom"),
        ("close", "detach", "seek", "flush"),
    ),
    rule("io.BufferedRandom.tell", "io.FileIO.write"),
    rule("io.BufferedWriter.tell", "io.FileIO.write"),
    *each(RULE, "blockbuster:io.BufferedWriter.write", ("io.BufferedWriter",), ("writelines",)),
    rule("io.BufferedRandom.writelines", "blockbuster:io.BufferedRandom.write"),
    *each(
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
    *each(RULE, "io.BufferedWriter.flush", ("io.BufferedRWPair",), ("flush", "close")),
    *each(
        NOT_BLOCKING,
        "a pair of pipes cannot seek, truncate or detach: raises at once",
        ("io.BufferedRWPair",),
        ("seek", "tell", "truncate", "detach"),
    ),
    *each(
        RULE,
        "io.TextIOWrapper.flush",
        ("io.TextIOWrapper",),
        ("close", "detach", "reconfigure", "seek", "tell"),
    ),
    rule("io.TextIOWrapper.writelines", "blockbuster:io.TextIOWrapper.write"),
)


ENTRIES: tuple[Entry, ...] = (*_IO,)
