"""Console writes: the runtime half exempts them; a write to a file is still found."""

import io
import sys
from sys import stdout


class Reporter:
    def __init__(self) -> None:
        self.out = sys.stderr

    def say(self, text: str) -> None:
        self.out.write(text)  # twin: an attribute only ever set to sys.stderr


async def report_error(error: Exception, log: io.TextIOWrapper):
    sys.stderr.write(f"failed: {error}\n")  # twin: a console write
    sys.stderr.flush()  # twin: the console
    stdout.write("done\n")  # twin: sys.stdout, imported by name
    sys.stdout.buffer.write(b"\n")  # twin: the console's buffer
    Reporter().say("x")
    log.write(f"failed: {error}\n")  # blocking: io.TextIOWrapper.write
    log.flush()  # blocking: io.TextIOWrapper.flush


async def console_or_file(log: io.TextIOWrapper, to_file: bool):
    out = log if to_file else sys.stderr
    out.write("x")  # blocking: io.TextIOWrapper.write
    err = sys.stderr
    err.write("y")  # twin: a local copy of the console
