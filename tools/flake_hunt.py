"""Run a test command several times while other processes keep every core busy: a flake shows up here.

    python -m tools.flake_hunt --runs 5 -- tox -e py311
    python -m tools.flake_hunt --runs 5 -- tox -e blocking

A test that passes on an idle machine and fails under load waits for
something with a deadline, races another process, or measures time: the
hunt makes those fail where a developer can see them, instead of once in CI.
Each busy process spins in pure Python (``--busy`` of them, default: one per
core), so the command's own processes get about half the CPU they would
alone. The busy processes are ended when the hunt ends, whatever happened.
A failing run is reported with its number and the end of its output, and the
hunt goes on to the next (every run counts; a flake is fixed, never rerun).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SPIN = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.flake_hunt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="how many times to run the command (default: 5)")
    parser.add_argument(
        "--busy", type=int, default=os.cpu_count() or 1, help="busy-loop processes (default: one per core)"
    )
    parser.add_argument("--log", type=Path, help="folder for each run's full output (default: none kept)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. -- tox -e py311")
    if args.log:
        args.log.mkdir(parents=True, exist_ok=True)
    # SIGTERM (kill PID) ends the hunt as Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    busy = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    failed = []
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            returncode, output = _run(command)
            took = time.monotonic() - started
            if args.log:
                (args.log / f"run-{run}.log").write_text(output)
            status = "passed" if returncode == 0 else f"FAILED (exit {returncode})"
            print(f"run {run}/{args.runs}: {status} in {took:.0f} s, {args.busy} busy processes", flush=True)
            if returncode != 0:
                failed.append(run)
                print("\n".join(output.splitlines()[-40:]), flush=True)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    print(f"{args.runs - len(failed)}/{args.runs} runs passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


def _run(command: list[str]) -> tuple[int, str]:
    """The command's status and output; stopped, it and every process it started (its session) end."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = proc.communicate()
    except BaseException:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(20)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        raise
    return proc.returncode, output


if __name__ == "__main__":
    sys.exit(main())
