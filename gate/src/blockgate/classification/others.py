"""The rest: account databases, ``fileinput``, ``getpass``, ``webbrowser``, ``platform``, ``uuid``."""

from __future__ import annotations

from blockgate.classification.engine import POSIX_SYSTEMS, PURE, WINDOWS, Entry, blind, fine, rule

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
        fine(f"platform.{n}", "reads a registry value (the hive is mapped in memory)", systems=WINDOWS)
        for n in ("win32_edition", "win32_is_iot")
    ),
    *(
        fine(f"platform.{n}", "returns an empty answer at once off Windows", systems=POSIX_SYSTEMS)
        for n in ("win32_edition", "win32_is_iot", "win32_ver")
    ),
    # uname's fields: os.uname on POSIX; on Windows, up to 3.11, sys.getwindowsversion and the
    # registry (from 3.12 WMI, another process: audit:_wmi.exec_query); cached after the first call
    *(
        fine(f"platform.{n}", "uname's field: os.uname, cached", systems=POSIX_SYSTEMS)
        for n in ("machine", "node", "release", "system", "version")
    ),
    *(
        fine(
            f"platform.{n}",
            "the Windows version and the environment, cached",
            until=(3, 11),
            systems=WINDOWS,
        )
        for n in ("machine", "node", "release", "system", "version", "uname", "win32_ver")
    ),
    fine(
        "platform.uname",
        "os.uname, cached (its processor field is computed lazily)",
        systems=POSIX_SYSTEMS,
    ),
    rule("platform.processor", "audit:subprocess.Popen", systems=POSIX_SYSTEMS),  # runs `uname -p` on Linux
    fine(
        "platform.processor",
        "reads PROCESSOR_IDENTIFIER from the environment",
        until=(3, 11),
        systems=WINDOWS,
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
    fine("uuid.UUID", PURE),
    fine("uuid.SafeUUID", "an enum type"),
    *(fine(f"uuid.{n}", PURE) for n in ("uuid3", "uuid4", "uuid5")),
    fine("uuid.main", "the command-line entry point: prints UUIDs", since=(3, 12)),
)


ENTRIES: tuple[Entry, ...] = (*_OTHERS,)
