"""``urllib.request``, ``http.client``, ``ftplib``, ``smtplib``, ``poplib``, ``imaplib``: outbound protocol clients."""

from __future__ import annotations

from blockgate.classification.engine import NOT_BLOCKING, PURE, SOCKET_IO, Entry, blind, each, fine, rule

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
    rule("http.client.HTTP*Connection.*", "audit:socket.getaddrinfo + " + SOCKET_IO),
    *each(
        NOT_BLOCKING,
        "edits the request in memory",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("putheader", "putrequest", "set_debuglevel", "set_tunnel", "close"),
    ),
    *each(
        NOT_BLOCKING,
        "reads headers in memory",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("get_proxy_response_headers",),
        since=(3, 12),
    ),
    *each(
        NOT_BLOCKING,
        "the response class: made by getresponse",
        ("http.client.HTTPConnection", "http.client.HTTPSConnection"),
        ("response_class",),
    ),
    fine("http.client.HTTPResponse", "made by getresponse"),
    rule("http.client.HTTPResponse.*", SOCKET_IO),
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
    rule("ftplib.FTP*.*", "audit:socket.getaddrinfo + " + SOCKET_IO),
    rule("smtplib.*SMTP*.*", "audit:socket.getaddrinfo + " + SOCKET_IO),
    rule("poplib.POP3*.*", "audit:socket.getaddrinfo + " + SOCKET_IO),
    rule("imaplib.IMAP4*.*", "audit:socket.getaddrinfo + " + SOCKET_IO),
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
    *(fine(f"smtplib.{n}", PURE) for n in ("quoteaddr", "quotedata")),
    *(
        fine(f"imaplib.{n}", PURE)
        for n in ("Int2AP", "Internaldate2tuple", "ParseFlags", "Time2Internaldate")
    ),
    # IMAP4_stream talks to a subprocess through its pipes' buffered file objects.
    rule(
        "imaplib.IMAP4_stream.*",
        "blockbuster:io.BufferedReader.read + io.BufferedReader.readline + blockbuster:io.BufferedWriter.write",
    ),
    rule("imaplib.IMAP4_stream.open", "audit:subprocess.Popen"),
)


ENTRIES: tuple[Entry, ...] = (*_PROTOCOLS,)
