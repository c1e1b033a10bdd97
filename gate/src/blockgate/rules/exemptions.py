"""Callers that may block on the loop thread on behalf of scanned code, for every rule.

blockbuster's defaults included. A frame listed here, met before any scanned
frame while walking out from the blocking call, exempts the call. Each entry
is work every asyncio program does once or by design (a lazy import reading
bytecode, a traceback reading source lines, a thread signalling that it
started), not the scanned package's IO.
"""

from __future__ import annotations

from blockgate.rules.model import Exemption, caller

# Callers that may block on the loop thread on behalf of scanned code, for every
# rule (blockbuster's defaults included). A frame listed here, met before any
# scanned frame while walking out from the blocking call, exempts the call.
EXEMPT_CALLERS: tuple[Exemption, ...] = (
    # A lazy import reads the module's source or bytecode: one-off, and what
    # every Python program does; not the backend's IO.
    caller("<frozen importlib._bootstrap>", "_find_and_load", "_load_unlocked", "_find_spec"),
    caller(
        "<frozen importlib._bootstrap_external>",
        "get_data",
        "get_code",
        "path_stats",
        "find_spec",
        "_path_stat",
    ),
    caller("<frozen zipimport>", "_get_data", "get_code"),
    # Formatting a traceback or a warning reads source lines for display.
    caller("linecache.py", "checkcache", "updatecache", "getlines"),
    caller("<frozen linecache>", "checkcache", "updatecache", "getlines"),
    # From 3.13, formatting a traceback re-parses the source line for its carets.
    caller("traceback.py", "format_frame_summary", "_extract_caret_anchors_from_line_segment"),
    # FastAPI (0.120+) reads an endpoint's source file (stat, then linecache)
    # on its first request, to name it in error messages; cached per endpoint
    # after that. A one-off per route and process, like a lazy import.
    caller("fastapi/routing.py", "_extract_endpoint_context"),
    # Thread start waits for the new thread to signal it runs (microseconds);
    # asyncio.to_thread and aiosqlite start their workers this way.
    caller("threading.py", "start"),
    caller("concurrent/futures/thread.py", "submit", "_adjust_thread_count"),
    # A process pool's submit (loop.run_in_executor with a ProcessPoolExecutor)
    # starts its workers and wakes its manager thread through a pipe: the
    # non-blocking half of an offload.
    caller("concurrent/futures/process.py", "submit"),
    # asyncio's own subprocess transport: fork/exec and the pipe setup are
    # part of the non-blocking create_subprocess_* API.
    caller("asyncio/base_events.py", "subprocess_exec", "subprocess_shell", "_make_subprocess_transport"),
    caller("asyncio/unix_events.py", "_make_subprocess_transport"),
    caller("asyncio/base_subprocess.py", "__init__", "_start"),
)
