"""``ssl``: contexts that load certificate files, and TLS sockets."""

from __future__ import annotations

from blockgate.classification.engine import NOW, PURE, RECORD, Entry, fine, rule

_SSL = (
    *(
        fine(f"ssl.{n}", PURE)
        for n in (
            "DER_cert_to_PEM_cert",
            "PEM_cert_to_DER_cert",
            "cert_time_to_seconds",
            "get_protocol_name",
            "DefaultVerifyPaths",
        )
    ),
    fine("ssl.match_hostname", PURE, until=(3, 11)),
    fine("ssl.RAND_*", "the in-process random generator"),
    fine(
        "ssl.get_default_verify_paths",
        "reads the environment and OpenSSL's compiled-in paths: no file is opened",
    ),
    rule("ssl.create_default_context", "ssl.SSLContext.load_default_certs"),
    rule("ssl.get_server_certificate", "audit:socket.getaddrinfo + ssl.SSLSocket.do_handshake"),
    rule("ssl.wrap_socket", "ssl.SSLSocket.do_handshake", until=(3, 11)),
    fine("ssl.MemoryBIO*", "in memory: no IO"),
    fine("ssl.SSLSession", RECORD),
    fine("ssl.SSLObject*", "TLS over memory buffers: no socket, no wait"),
    fine("ssl.SSLContext", "creates a context in memory"),
    *(
        fine(f"ssl.SSLContext.{m}", "configures the context in memory")
        for m in (
            "cert_store_stats",
            "get_ca_certs",
            "get_ciphers",
            "session_stats",
            "set_alpn_protocols",
            "set_ciphers",
            "set_ecdh_curve",
            "set_npn_protocols",
            "set_servername_callback",
            "sslobject_class",
            "wrap_bio",
        )
    ),
    *(
        fine(f"ssl.SSLContext.{m}", "configures the context in memory", since=(3, 13))
        for m in ("set_psk_client_callback", "set_psk_server_callback")
    ),
    rule("ssl.SSLContext.sslsocket_class", "ssl.SSLSocket.do_handshake"),
    fine("ssl.SSLSocket", "made by SSLContext.wrap_socket"),
    *(
        fine(f"ssl.SSLSocket.{m}", "reads the TLS session state in memory")
        for m in (
            "cipher",
            "compression",
            "get_channel_binding",
            "getpeercert",
            "pending",
            "selected_alpn_protocol",
            "selected_npn_protocol",
            "shared_ciphers",
            "version",
            "verify_client_post_handshake",
        )
    ),
    *(
        fine(f"ssl.SSLSocket.{m}", "reads the TLS session state in memory", since=(3, 13))
        for m in ("get_unverified_chain", "get_verified_chain")
    ),
    *(
        fine(f"ssl.SSLSocket.{m}", NOW)
        for m in (
            "close",
            "detach",
            "dup",
            "fileno",
            "get_inheritable",
            "set_inheritable",
            "getblocking",
            "setblocking",
            "gettimeout",
            "settimeout",
            "getpeername",
            "getsockname",
            "getsockopt",
            "setsockopt",
            "listen",
            "shutdown",
            "makefile",
        )
    ),
    rule("ssl.SSLSocket.connect", "blockbuster:socket.socket.connect"),
    rule("ssl.SSLSocket.connect_ex", "audit:socket.connect"),
    rule("ssl.SSLSocket.accept", "blockbuster:socket.socket.accept"),
    rule("ssl.SSLSocket.sendall", "blockbuster:ssl.SSLSocket.send"),
    rule("ssl.SSLSocket.recv_into", "blockbuster:ssl.SSLSocket.read"),
    rule("ssl.SSLSocket.sendfile", "blockbuster:ssl.SSLSocket.send"),
    *(
        fine(f"ssl.SSLSocket.{m}", "refused on a TLS socket: raises at once")
        for m in (
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
            "recvmsg_into",
            "sendmsg",
            "sendto",
            "sendmsg_afalg",
        )
    ),
)


ENTRIES: tuple[Entry, ...] = (*_SSL,)
