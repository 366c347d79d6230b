"""Processes as the kernel shows them (Linux /proc): for tests that kill a run, or a part of one,
and check what is left running."""
from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()  # the name, in parentheses, may hold spaces


def descendants(pid: int) -> dict[int, bytes]:
    """Living descendants of ``pid``: pid -> start time (tells a pid used again)."""
    children: dict[int, list[int]] = {}
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) is not None:
            stats[int(name)] = fields
            children.setdefault(int(fields[1]), []).append(int(name))
    found, stack = {}, [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found[child] = stats[child][19]
            stack.append(child)
    return found


def alive(processes: dict[int, bytes]) -> list[int]:
    """Those of ``processes`` (from :func:`descendants`) still running: not gone, not zombies."""
    living = []
    for pid, started in processes.items():
        fields = _stat(pid)
        if fields is not None and fields[0] not in (b"Z", b"X") and fields[19] == started:
            living.append(pid)
    return living


def title(pid: int) -> bytes:
    """The process's command line as it shows it (Ray's workers: ``ray::FUNCTION``)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
