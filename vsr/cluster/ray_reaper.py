"""Stopping a local Ray that vsr started when vsr dies, however it dies (SIGKILL included).

``ray.init`` starts the processes of a head node (GCS, raylet, dashboard, monitors) as children
of the driver, and Ray ties their life to it (the Linux parent-death signal). But the raylet's own
children, the dashboard and runtime-env agents, are not tied: when the driver is killed they wait
minutes for the dead GCS before they exit, holding some 160 MB. A driver killed by SIGKILL runs no
code of its own, so a small watchdog does it for vsr: this script, started beside Ray
(:class:`vsr.cluster.ray_runner.RayCluster`), blocks reading its stdin, a pipe whose only writer
is the driver. The driver writes ``done`` before it stops Ray itself; end of file without it means
the driver died, and the watchdog ends every process of that Ray node: the ones it was given and
all their descendants (the agents, the workers), as it saw them while the driver lived (a start
time tells a pid used again): SIGTERM, then SIGKILL after a short grace.

Standard library only, run as ``python -I ray_reaper.py PID...``: it imports nothing of
vsr or Ray, so no folder in the working directory can shadow them. Linux only (it reads /proc).
It ignores SIGINT, SIGTERM and SIGHUP, which a terminal or ``timeout`` send to the whole process
group: it must outlive the driver to clean up after it, and it exits as soon as the driver has.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

DONE = b"done"
_GRACE_S = 2.0
_LOOK_S = 1.0


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a reused pid), or None if it is
    gone or a zombie (dead, waiting for its parent to collect it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: count the fields after its last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return None if fields[0] in (b"Z", b"X") else int(fields[19])


def _descendants(roots: set[int]) -> dict[int, int]:
    """Every living descendant of the processes ``roots`` (roots included), with its start time."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(b")") + 2 :].split()[1]), []).append(int(name))
    found: dict[int, int] = {}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        started = _start_time(pid)
        if started is not None and pid not in found and pid != os.getpid():
            found[pid] = started
            stack.extend(parents.get(pid, []))
    return found


def _end(pids: set[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + _GRACE_S
        while time.monotonic() < deadline and any(_start_time(pid) is not None for pid in pids):
            time.sleep(0.05)
        pids = {pid for pid in pids if _start_time(pid) is not None}
        if not pids:
            return


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    roots = {int(arg) for arg in argv}
    known: dict[int, int] = {}
    message = b""
    while True:
        # Who belongs to the node, looked at again every second while the driver lives: when it
        # dies, the raylet dies with it and its children are no longer its children.
        known.update(_descendants(roots))
        ready, _, _ = select.select([sys.stdin.buffer], [], [], _LOOK_S)
        if ready:
            data = os.read(sys.stdin.fileno(), 64)
            if not data:  # end of file: the driver has exited
                break
            message += data
    if message == DONE:
        return 0
    known.update(_descendants(roots))
    _end({pid for pid, started in known.items() if _start_time(pid) == started})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
