"""Memory and open files of one process and all its descendants, read from ``/proc``.

RSS counts a page once per process that maps it, so the RSS of a parent and a forked child that
share pages adds up to more than they use together; PSS divides each shared page among the
processes sharing it, so the PSS of a tree is what the tree costs the machine. Both are given.
``memory_samples`` reads a tree once a second for a while and keeps the largest figures.
It imports only the standard library.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TreeMemory:
    """One reading of a process tree; memory in MiB."""

    pids: tuple[int, ...]
    rss_mib: float
    pss_mib: float
    largest_rss_mib: float
    open_files: int
    threads: int


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [root], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def tree_memory(root: int) -> TreeMemory:
    """Read RSS, PSS, open file descriptors and threads of ``root`` and its descendants."""
    pids, rss, pss, largest, files, threads = [], 0, 0, 0, 0, 0
    for pid in descendants(root):
        try:
            own_rss = _status_kib(pid, "VmRSS")
            rss += own_rss
            largest = max(largest, own_rss)
            pss += _pss_kib(pid)
            files += len(os.listdir(f"/proc/{pid}/fd"))
            threads += _status_kib(pid, "Threads")
        except OSError:
            continue
        pids.append(pid)
    return TreeMemory(tuple(pids), rss / 1024, pss / 1024, largest / 1024, files, threads)


def cpu_seconds(pids: list[int] | tuple[int, ...]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def memory_samples(pid: int, seconds: int) -> dict:
    """The triggerer tree's largest RSS and PSS over ``seconds``, and its CPU in % of one core."""
    samples = [tree_memory(pid)]
    cpu_before, clock = cpu_seconds(samples[0].pids), time.monotonic()
    for _ in range(seconds):
        time.sleep(1)
        samples.append(tree_memory(pid))
    cpu = (cpu_seconds(samples[-1].pids) - cpu_before) / (time.monotonic() - clock) * 100
    return {
        "processes": len(samples[-1].pids),
        "rss_mib": max(s.rss_mib for s in samples),
        "pss_mib": max(s.pss_mib for s in samples),
        "largest_rss_mib": max(s.largest_rss_mib for s in samples),
        "open_files": samples[-1].open_files,
        "threads": samples[-1].threads,
        "cpu_percent": cpu,
        "load": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
    }
