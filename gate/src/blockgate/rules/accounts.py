"""Account databases: ``pwd``, ``grp`` and ``getpass``' lookups.

They read ``/etc/passwd`` and ``/etc/group``, or ask NSS, which may ask a
directory server over the network.
"""

from __future__ import annotations

import os

from blockgate.rules.factories import os_patches
from blockgate.rules.model import POSIX_SYSTEMS, Audit, Patch, Probe
from blockgate.rules.scenes import ignore_os_error, ignoring, lookup

RULES: tuple[Patch | Audit, ...] = (
    # -- account databases ----------------------------------------------------------------
    *(
        Patch(
            "accounts",
            f"{module}.{function}",
            "reads the account database: /etc files, or NSS (LDAP, SSSD: the network)",
            fires=Probe(call),
            systems=POSIX_SYSTEMS,
        )
        for module, function, call in (
            ("pwd", "getpwuid", lambda s: lookup("pwd.getpwuid")(os.getuid())),
            ("pwd", "getpwnam", lambda s: ignoring(KeyError)(lambda: lookup("pwd.getpwnam")("root"))),
            ("pwd", "getpwall", lambda s: lookup("pwd.getpwall")()),
            ("grp", "getgrgid", lambda s: ignoring(KeyError)(lambda: lookup("grp.getgrgid")(os.getgid()))),
            ("grp", "getgrnam", lambda s: ignoring(KeyError)(lambda: lookup("grp.getgrnam")("root"))),
            ("grp", "getgrall", lambda s: lookup("grp.getgrall")()),
        )
    ),
    *os_patches(
        "accounts",
        "getgrouplist",
        "reads the group database (NSS: maybe the network)",
        lambda s: ("root", 0),
    ),
    *os_patches(
        "accounts", "getlogin", "reads the login records (utmp) on disk", lambda s: (), run=ignore_os_error
    ),
)
