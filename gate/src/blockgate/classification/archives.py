"""``zipfile``, ``tarfile``, ``gzip``, ``bz2``, ``lzma`` and ``mmap``: archives and compressed files on disk, and their in-memory forms."""

from __future__ import annotations

from blockgate.classification.engine import (
    FILE_IO,
    NOT_BLOCKING,
    PURE,
    RECORD,
    Entry,
    blind,
    each,
    fine,
    rule,
)

_ARCHIVES = (
    fine("zipfile.ZipInfo", "a member record"),
    fine("zipfile.ZipInfo.FileHeader", PURE),
    fine("zipfile.ZipInfo.is_dir", PURE),
    rule("zipfile.ZipInfo.from_file", "blockbuster:os.stat"),
    rule("zipfile.is_zipfile", FILE_IO),
    rule("zipfile.*ZipFile", FILE_IO),
    rule("zipfile.*ZipFile.*", FILE_IO),
    *each(
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
    *(rule(f"zipfile.Path.{m}", FILE_IO) for m in ("open", "read_bytes", "read_text")),
    rule("tarfile.*", FILE_IO),
    fine("tarfile.TarInfo", "a member record"),
    fine("tarfile.TarInfo.*", "builds or parses a header in memory"),
    rule("tarfile.TarInfo.fromtarfile", FILE_IO),
    *(
        fine(f"tarfile.{n}", "decides about a member in memory", since=(3, 12))
        for n in ("data_filter", "fully_trusted_filter", "tar_filter")
    ),
    fine("tarfile.TarFile.tarinfo", "the member record class"),
    rule("gzip.*", FILE_IO),
    *(
        fine(f"{m}.{n}", "compresses or decompresses in memory")
        for m in ("gzip", "bz2", "lzma")
        for n in ("compress", "decompress")
    ),
    rule("bz2.*", FILE_IO),
    rule("lzma.*", FILE_IO),
    fine("lzma.is_check_supported", PURE),
    *(
        fine(f"{m}.{c}*", "compresses or decompresses in memory")
        for m, c in (
            ("bz2", "BZ2Compressor"),
            ("bz2", "BZ2Decompressor"),
            ("lzma", "LZMACompressor"),
            ("lzma", "LZMADecompressor"),
        )
    ),
    *each(
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
    fine("pwd.struct_passwd", RECORD),
    fine("grp.struct_group", RECORD),
)


ENTRIES: tuple[Entry, ...] = (*_ARCHIVES,)
