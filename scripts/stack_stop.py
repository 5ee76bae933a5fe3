"""Stopping a stack: finding every process a run dir started, signalling them, and their status.

A process counts as the stack's when it is in a component's process group, was seen in an earlier
round, descends from one of those, or carries the run dir's marker in its environment; this finds
task processes that moved to a group of their own and orphans reparented to init. ``stop`` sends
SIGTERM, then SIGKILL, and never signals itself or its parents.

It imports the standard library, ``stack_env`` and ``stack_processes``; it reads ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from stack_env import MARKER, Profile
from stack_processes import STARTED, process_start_time


def _ancestors() -> set[int]:
    """This process and its parents: never signalled, even if they carry a marker."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _process_table() -> dict[int, tuple[int, int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, process group, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19])
    return table


def _marked_processes(run_dir: Path) -> set[int]:
    """Processes whose environment still shows this run dir's marker (setproctitle may erase it)."""
    needle = f"{MARKER}={run_dir}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _our_processes(profile: Profile, groups: dict[int, str | None], known: dict[int, str]) -> dict[int, str]:
    """Live processes this run dir started: pid -> start time.

    They are the members of the components' process groups, every process seen before (a task
    process moves to a group of its own; an orphan is reparented to init), the descendants of all
    of those, and any process carrying the run dir's marker.
    """
    table = _process_table()
    # A group whose leader's pid now belongs to a younger process is not ours any more.
    ours_groups = {g for g, start in groups.items() if g not in table or not start or table[g][2] == start}
    found = {pid: info[2] for pid, info in table.items() if info[1] in ours_groups}
    found.update({pid: start for pid, start in known.items() if pid in table and table[pid][2] == start})
    found.update({pid: table[pid][2] for pid in _marked_processes(profile.run_dir) if pid in table})

    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    pending = list(found)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found[child] = table[child][2]
                pending.append(child)

    for pid in _ancestors():
        found.pop(pid, None)
    return found


def stop(profile: Profile, grace: float = 20, log: Callable[[str], None] = lambda _: None) -> list[int]:
    """Terminate everything this run dir started: SIGTERM, then SIGKILL after ``grace`` seconds.

    Returns the pids still alive at the end (empty when all is well).
    """
    groups: dict[int, str | None] = {}
    pid_files = sorted(profile.pids_dir.glob("*.pid")) if profile.pids_dir.is_dir() else []
    for pid_file in pid_files:
        pid_text, _, start = pid_file.read_text().strip().partition(" ")
        groups[int(pid_text)] = start or None
    known = _our_processes(profile, groups, {})
    if known:
        log(f"stopping {len(known)} processes of {len(pid_files)} components")

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while known and time.monotonic() < deadline:
            # Each round signals the processes that appeared since (a task forked during shutdown).
            for pid in set(known) - signalled:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                signalled.add(pid)
            time.sleep(0.3)
            known = _our_processes(profile, groups, known)
        if not known:
            break

    if not known:
        for pid_file in pid_files:
            pid_file.unlink(missing_ok=True)
    # Reap the components this process started itself, so no zombie outlives the stop.
    for process in STARTED.pop(profile.run_dir, []):
        process.poll()
    return sorted(known)


def _alive(pid: int, start_time: str | None) -> bool:
    current = process_start_time(pid)
    if current is None or (start_time is not None and current != start_time):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def status(profile: Profile) -> dict[str, bool]:
    result = {}
    for pid_file in sorted(profile.pids_dir.glob("*.pid")) if profile.pids_dir.is_dir() else []:
        pid_text, _, start = pid_file.read_text().strip().partition(" ")
        result[pid_file.stem] = _alive(int(pid_text), start or None)
    return result
