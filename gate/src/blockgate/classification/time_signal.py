"""``time`` and ``signal``: timers and waits for a signal."""

from __future__ import annotations

from blockgate.classification.engine import NOW, RECORD, Entry, blind, fine

_TIME_SIGNAL = (
    *(
        fine(f"time.{n}", "reads or formats a clock: no wait")
        for n in (
            "asctime",
            "clock_getres",
            "clock_gettime",
            "clock_gettime_ns",
            "ctime",
            "get_clock_info",
            "gmtime",
            "localtime",
            "mktime",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "process_time",
            "process_time_ns",
            "pthread_getcpuclockid",
            "strftime",
            "strptime",
            "thread_time",
            "thread_time_ns",
            "time",
            "time_ns",
            "struct_time",
        )
    ),
    fine("time.clock_settime*", NOW),
    *(
        fine(f"signal.{n}", NOW)
        for n in (
            "alarm",
            "default_int_handler",
            "getitimer",
            "setitimer",
            "getsignal",
            "pthread_kill",
            "pthread_sigmask",
            "raise_signal",
            "set_wakeup_fd",
            "siginterrupt",
            "signal",
            "sigpending",
            "strsignal",
            "valid_signals",
            "pidfd_send_signal",
        )
    ),
    fine("signal.struct_siginfo", RECORD),
    blind(
        "signal.pause",
        "waits for any signal; no probe can make one arrive safely in a test thread, so no rule can prove itself",
    ),
)


ENTRIES: tuple[Entry, ...] = (*_TIME_SIGNAL,)
