"""Statistics, machine facts and the marked sections of ``docs/performance.md`` for the scale benches.

``mqtt_waits.py`` and ``dag_factory.py`` use it. A section sits between two HTML comments,
``<!-- NAME begin ... -->`` and ``<!-- NAME end -->``; a re-run replaces what is between them and
leaves the rest of the page (other benches' sections included) as it is. It imports only the
standard library.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "performance.md"


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, smallest and largest of ``values`` (which must not be empty)."""
    return {
        "count": len(values),
        "median": statistics.median(values),
        "p95": p95(values),
        "min": min(values),
        "max": max(values),
    }


def load_average() -> str:
    """``uptime``'s three load averages (1, 5 and 15 minutes), as it prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    """One line: CPUs, CPU model, memory, kernel, Python."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal")).split()[1])
    return (
        f"{len(os.sched_getaffinity(0))} CPUs ({models[0] if models else platform.processor()}), "
        f"{kib / 1024**2:.1f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write_section(name: str, body: str, written_by: str, doc: Path = DOC) -> None:
    """Replace the marked section ``name`` of ``doc`` with ``body`` (append it if it is missing).

    The page is read just before it is written, so sections that another bench wrote meanwhile stay.
    """
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    begin, end = f"<!-- {name} begin", f"<!-- {name} end -->"
    block = f"<!-- {name} begin: written by {written_by} -->\n{body.rstrip()}\n{end}"
    start, stop = text.find(begin), text.find(end)
    if start >= 0 and stop > start:
        text = text[:start] + block + text[stop + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
