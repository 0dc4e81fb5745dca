#!/usr/bin/env python3
"""Run the processes of a Procfile together, and stop every one of them when this stops.

``make run`` uses it for web, worker and beat. What it guarantees, and honcho did not:

- SIGINT (Ctrl-C), SIGTERM or SIGHUP stop every process: each gets SIGTERM, and whatever has not
  stopped within ``--grace`` seconds (default 8) gets SIGKILL, so nothing is left after 10 s.
- When this runner itself is killed (even by SIGKILL), its processes are told by the kernel
  (Linux ``PR_SET_PDEATHSIG``) and stop too: no worker stays behind as an orphan.
- When one process exits, the others are stopped (as honcho does).

Each Procfile line ``name: command`` runs as ``/bin/sh -c "exec command"`` (so variables such as
``${PORT:-8000}`` expand, and the shell is replaced by the command itself), in a session of its own
so that a Ctrl-C on the terminal reaches only this runner. Output is prefixed ``name.1 | ``.
Standard library only: it must run before anything is installed.
"""

import argparse
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def read_procfile(path: str) -> list[tuple[str, str]]:
    """The ``(name, command)`` pairs of a Procfile, in order; comments and blank lines skipped."""
    entries = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, command = line.partition(":")
            if not sep or not name.strip() or not command.strip():
                raise SystemExit(f"{path}: not a 'name: command' line: {line!r}")
            entries.append((name.strip(), command.strip()))
    return entries


def _die_with_parent() -> None:
    """In the child, before exec: ask the kernel for SIGTERM when the runner dies."""
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the runner's own signal handling still applies
        pass


class Runner:
    """The running processes, their output, and how they are stopped."""

    def __init__(self, entries, *, grace: float):
        self.grace = grace
        self.width = max(len("system"), *(len(name) + 2 for name, _ in entries)) + 1
        self.procs: dict[str, subprocess.Popen] = {}
        self.partial: dict[str, bytes] = {}
        self.selector = selectors.DefaultSelector()
        self.stopping = False
        self.stop_requested: str | None = None
        for name, command in entries:
            self._start(f"{name}.1", command)

    def _start(self, label: str, command: str) -> None:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.procs[label] = proc
        self.partial[label] = b""
        self.selector.register(proc.stdout, selectors.EVENT_READ, label)
        self.say(label, f"started (pid={proc.pid})")

    def say(self, label: str, text: str) -> None:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {label.ljust(self.width)}| {text}\n")
        sys.stdout.flush()

    def pump(self, timeout: float) -> None:
        """Copy whatever output is ready, for at most ``timeout`` seconds."""
        for key, _ in self.selector.select(timeout):
            label = key.data
            chunk = os.read(key.fileobj.fileno(), 65536)  # never blocks on a line without its end
            if not chunk:
                self.selector.unregister(key.fileobj)
                chunk = b"\n" if self.partial[label] else b""
            *lines, self.partial[label] = (self.partial[label] + chunk).split(b"\n")
            for line in lines:
                self.say(label, line.decode("utf-8", "replace").rstrip("\r"))

    def running(self) -> list[str]:
        return [label for label, proc in self.procs.items() if proc.poll() is None]

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.say("system", f"{reason}: stopping {', '.join(self.running()) or 'nothing'}")
        for label in self.running():
            self._signal(label, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while self.running() and time.monotonic() < deadline:
            self.pump(0.1)
        for label in self.running():
            self.say(label, f"did not stop within {self.grace:g} s: killed")
            self._signal(label, signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait()

    def _signal(self, label: str, signum: int) -> None:
        try:
            os.killpg(self.procs[label].pid, signum)  # the process and anything it started
        except ProcessLookupError:
            pass

    def loop(self) -> int:
        while not self.stopping:
            if self.stop_requested:
                self.stop(self.stop_requested)
                return 0
            self.pump(0.2)
            for label, proc in self.procs.items():
                if proc.poll() is not None:
                    self.say(label, f"exited with code {proc.returncode}")
                    self.stop(f"{label} exited")
                    return proc.returncode or 1
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("procfile", nargs="?", default="Procfile")
    parser.add_argument("--grace", type=float, default=8.0, help="seconds between SIGTERM and SIGKILL")
    args = parser.parse_args(argv)
    runner = Runner(read_procfile(args.procfile), grace=args.grace)

    def on_signal(signum, frame):
        runner.stop_requested = signal.Signals(signum).name  # acted on by the loop, within 0.2 s

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    try:
        return runner.loop()
    finally:
        runner.stop("exiting")


if __name__ == "__main__":
    sys.exit(main())
