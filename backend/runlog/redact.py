"""``hide_password(url)``: a connection URL as errors and logs may show it.

A URL an operator typed (``--events-url``, ``--sqlite-url``, their variables)
can carry a password, and is quoted back when it is wrong: misspelled, an
unsupported scheme, malformed. SQLAlchemy's ``render_as_string(hide_password=
True)`` needs a URL it can parse, and these are precisely the ones it may not
parse, so this works on the text: whatever could be a password is replaced by
``***``, erring on the side of hiding.

Hidden, in what precedes a ``?``: after ``scheme://`` (or ``scheme:/``,
``scheme//``), the part after the first ``:`` of the user information
(everything up to the last ``@``, which may hold a ``/`` or an ``@`` typed
unescaped), or with no ``@`` a "port" that is not digits (``postgresql://user:
secret``, the host forgotten); after a bare ``word:``, everything up to the
last ``@`` (``user:secret@host``, the scheme forgotten). After the ``?``: the
value of a parameter whose name mentions a password, a secret, a token or a key.
"""

from __future__ import annotations

import re

MASK = "***"

# A scheme (two characters at least: C:\ is a drive) and what may follow it in a mistyped URL.
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+(?::/*|/{2,})")
_SECRET_PARAMETER = re.compile(r"(?i)([?&;][^=&;#]*(?:pass|pwd|secret|token|key)[^=&;#]*=)[^&;#]*")


def hide_password(url: str) -> str:
    """``url`` with every part that may be a password replaced by ``***``; other text unchanged."""
    head, mark, query = url.partition("?")
    query = _SECRET_PARAMETER.sub(lambda m: m.group(1) + MASK, mark + query)
    match = _PREFIX.match(head)
    if match is None:
        return head + query
    prefix, rest = head[: match.end()], head[match.end() :]
    at = rest.rfind("@")
    if at >= 0 and prefix.endswith("/"):
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}:{MASK}{rest[at:]}" if colon else rest
    elif at >= 0:  # word:...@host: the word may be the user and the rest the password
        rest = MASK + rest[at:]
    elif prefix.endswith("/"):
        authority, slash, path = rest.partition("/")
        host, colon, port = authority.rpartition(":")
        if colon and port and not port.isdigit() and not authority.endswith("]"):
            rest = f"{host}:{MASK}{slash}{path}"
    return prefix + rest + query


def shows_password(text: str) -> bool:
    """True when ``text`` holds something ``hide_password`` would hide: a URL, not a path."""
    return hide_password(text) != text
