"""CPU used by a running stack: its components with every descendant, their PostgreSQL backends,
and the machine as a whole (to tell how much else was running beside the bench).

A component is a pid file in the run dir's ``pids/`` (its first word is the pid). A sample adds
up, per process, user + system time including that of its reaped children, so the short processes
a component forks between two samples (a DAG parse, a task) are counted too. Figures are in
percent of one core: 100 % is one core busy all the time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

POSTGRES = "postgres backends"

# One process across samples: its pid and its start time, since pids are reused.
ProcessKey = tuple[int, float]
Sample = dict[ProcessKey, tuple[str, float]]


@dataclass
class CpuUse:
    """CPU over one window, in % of one core; ``per_second`` is the stack's, second by second."""

    seconds: float
    stack: float
    components: dict[str, float]
    postgres: float
    machine: float
    per_second: list[float] = field(default_factory=list)

    @property
    def others(self) -> float:
        """What the rest of the machine used: other programs, and the shared services."""
        return max(self.machine - self.stack - self.postgres, 0.0)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot, all cores together."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def machine_busy(seconds: float) -> float:
    """How busy the whole machine is over the next ``seconds``, in % of one core."""
    before, clock = _machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100 * (_machine_busy_seconds() - before) / (time.monotonic() - clock)


def _component_roots(pids_dir: Path) -> dict[str, int]:
    roots = {}
    for pid_file in sorted(pids_dir.glob("*.pid")):
        words = pid_file.read_text().split()
        if words and words[0].isdigit():
            roots[pid_file.stem] = int(words[0])
    return roots


def _postgres_backends(databases: tuple[str, ...]) -> list[psutil.Process]:
    """Server processes serving one of ``databases``: ``postgres: [cluster:] user database client``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        words = " ".join(process.info["cmdline"] or []).split()
        if process.info["name"] != "postgres" or not words or words[0] != "postgres:":
            continue
        words = words[2:] if len(words) > 1 and words[1].endswith(":") else words[1:]
        if len(words) > 1 and words[1] in databases:
            found.append(process)
    return found


def sample(pids_dir: Path, databases: tuple[str, ...]) -> Sample:
    """Every process of the stack now: key -> (component name, CPU seconds so far)."""
    found: Sample = {}
    groups: list[tuple[str, list[psutil.Process]]] = []
    for name, pid in _component_roots(pids_dir).items():
        try:
            root = psutil.Process(pid)
            groups.append((name, [root, *root.children(recursive=True)]))
        except psutil.NoSuchProcess:
            continue
    groups.append((POSTGRES, _postgres_backends(databases)))

    for name, processes in groups:
        for process in processes:
            try:
                found[(process.pid, process.create_time())] = (name, _cpu_seconds(process))
            except psutil.NoSuchProcess:
                continue
    return found


def _used(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds per component between two samples; a process born in between counts whole."""
    used: dict[str, float] = {}
    for key, (name, seconds) in after.items():
        earlier = before.get(key, (name, 0.0))[1]
        used[name] = used.get(name, 0.0) + max(seconds - earlier, 0.0)
    return used


class CpuMeter:
    """Measures the stack's and the machine's CPU from ``start()`` to ``result()``."""

    def __init__(self, pids_dir: Path, databases: tuple[str, ...]) -> None:
        self.pids_dir = pids_dir
        self.databases = databases

    def _read(self) -> tuple[Sample, float, float]:
        return sample(self.pids_dir, self.databases), _machine_busy_seconds(), time.monotonic()

    def start(self) -> None:
        self._first = self._last = self._read()
        self._per_second: list[float] = []

    def tick(self) -> None:
        """Record the stack's use since the previous tick (or the start) as one more point."""
        current = self._read()
        used = _used(self._last[0], current[0])
        stack = sum(value for name, value in used.items() if name != POSTGRES)
        self._per_second.append(100 * stack / (current[2] - self._last[2]))
        self._last = current

    def result(self) -> CpuUse:
        end = self._read()
        (first, busy_first, clock_first), (last, busy_last, clock_last) = self._first, end
        seconds = clock_last - clock_first
        used = _used(first, last)
        components = {name: 100 * value / seconds for name, value in sorted(used.items()) if name != POSTGRES}
        return CpuUse(
            seconds=seconds,
            stack=sum(components.values()),
            components=components,
            postgres=100 * used.get(POSTGRES, 0.0) / seconds,
            machine=100 * (busy_last - busy_first) / seconds,
            per_second=self._per_second,
        )


def measure_idle(meter: CpuMeter, seconds: float = 20.0) -> CpuUse:
    """Sample the stack once a second for ``seconds`` while nothing runs."""
    meter.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        meter.tick()
    return meter.result()
