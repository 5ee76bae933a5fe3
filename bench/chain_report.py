"""Turn the bench's measurements into the marked sections of ``docs/performance.md``.

Each section sits between two HTML comments, ``<!-- chain_speed:NAME begin ... -->`` and
``<!-- chain_speed:NAME end -->``; a re-run replaces what is between them and leaves the rest of
the page, and the other mode's section, as they are.
"""

from __future__ import annotations

import ast
import math
import os
import platform
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from chain_runs import RunTiming
from stack_cpu import CpuUse

SKELETON = """# Performance

<!-- chain_speed:settings begin -->
<!-- chain_speed:settings end -->

<!-- chain_speed:tuned begin -->
<!-- chain_speed:tuned end -->

<!-- chain_speed:airflow-defaults begin -->
<!-- chain_speed:airflow-defaults end -->
"""

MEASURES: list[tuple[str, str]] = [
    ("total", "start request to run success"),
    ("median_gap", "gap between steps (median of a run)"),
    ("start", "start request to first step running"),
    ("median_duration", "one step running (median of a run)"),
    ("finish", "last step done to run success"),
    ("request", "the start request itself"),
]


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank: with ten values, the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else "MemTotal: 0 kB"
    kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal")).split()[1])
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": models[0] if models else platform.processor() or "unknown",
        "ram": f"{kib / 1024**2:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _comment_above(lines: list[str], row: int) -> str:
    """The comment lines right above line ``row`` (0-based), joined."""
    comments = []
    while row > 0 and lines[row - 1].strip().startswith("#"):
        row -= 1
        comments.insert(0, lines[row].strip().lstrip("#").strip())
    return " ".join(comments)


def setting_reasons(settings: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The file that defines ``PERFORMANCE_SETTINGS``, and the comment above each of its keys.

    The dict is looked up in every loaded module under ``scripts/``, so it is found wherever the
    stack keeps it. A key right below another one shares that key's comment.
    """
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    for module in list(sys.modules.values()):
        path = Path(getattr(module, "__file__", None) or "/nonexistent").resolve()
        if not path.is_relative_to(scripts) or path.suffix != ".py":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            target = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            if not (isinstance(target, ast.Name) and target.id == "PERFORMANCE_SETTINGS"):
                continue
            if not isinstance(node.value, ast.Dict):
                continue
            reasons: dict[str, str] = {}
            previous: tuple[str, int] | None = None
            for key in node.value.keys:
                if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
                    continue
                reason = _comment_above(lines, key.lineno - 1)
                if not reason and previous is not None and previous[1] == key.lineno - 1:
                    reason = f"(With `{previous[0]}`, for the same reason.)"
                reasons[key.value] = reason
                previous = (key.value, key.lineno)
            where = path.relative_to(scripts.parent).as_posix()
            return where, {key: reason for key, reason in reasons.items() if key in settings}
    return "scripts/", {}


def settings_section(tuned: Mapping[str, str], defaults: Mapping[str, str]) -> str:
    where, reasons = setting_reasons(tuned)
    lines = [
        f"The settings every stack starts with (`PERFORMANCE_SETTINGS` in `{where}`), Airflow's own",
        "default for each (what `--airflow-defaults` runs with), and why the value was chosen, from the",
        "comment above it in the source:",
        "",
    ]
    for key, value in tuned.items():
        why = reasons.get(key) or "(no comment in the source)"
        lines.append(f"- `{key}` = `{value}` (Airflow's default `{defaults.get(key, '?')}`). {why}")
    return "\n".join(lines)


def _runs(count: int) -> str:
    return "run" if count == 1 else "runs"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _figures(runs: Sequence[RunTiming], attribute: str) -> tuple[str, str]:
    values = [getattr(run, attribute) for run in runs]
    return _seconds(statistics.median(values)), _seconds(p95(values))


def runs_table(runs: Sequence[RunTiming]) -> list[str]:
    mcs = [run for run in runs if run.system == "mcs"]
    plain = [run for run in runs if run.system == "plain"]
    lines = [
        "| measure | MCS median | MCS p95 | plain Airflow median | plain Airflow p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    for attribute, label in MEASURES:
        lines.append(f"| {label} | {' | '.join((*_figures(mcs, attribute), *_figures(plain, attribute)))} |")
    return lines


def cpu_lines(busy: CpuUse, idle: CpuUse, databases: Sequence[str], nproc: str) -> list[str]:
    backends = " and ".join(f"`{db}`" for db in databases)
    lines = [
        f"CPU in % of one core ({nproc} cores: {int(nproc) * 100} %). While the timed runs ran "
        f"({busy.seconds:.0f} s), the stack used {busy.stack:.0f} % and the whole machine "
        f"{busy.machine:.0f} %, so {busy.others:.0f} % went to other programs and the shared "
        "services (PostgreSQL, Redis, Mosquitto).",
        "",
        f"Idle, {idle.seconds:.0f} s with no run after the timed runs: the stack's processes used "
        f"**{idle.stack:.1f} %** in all (second by second: median "
        f"{statistics.median(idle.per_second):.1f} %, p95 {p95(idle.per_second):.1f} %), "
        f"PostgreSQL's backends for {backends} a further "
        f"{idle.postgres:.1f} %; the whole machine meanwhile {idle.machine:.0f} %.",
        "",
        "| idle component (with its children) | % of one core |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.1f} |" for name, value in idle.components.items()]
    return lines


def warmup_lines(first: Mapping[str, RunTiming]) -> list[str]:
    if set(first) != {"mcs", "plain"}:
        return []
    return [
        f"The first runs after the stack started (the warm-up, not in the table) took "
        f"{_seconds(first['mcs'].total)} (MCS) and {_seconds(first['plain'].total)} (plain); their "
        f"slowest step ran {_seconds(max(first['mcs'].durations))} and "
        f"{_seconds(max(first['plain'].durations))}: a worker child's first task imports what later "
        "tasks find already loaded.",
        "",
    ]


def mode_section(
    *,
    title: str,
    command: str,
    when: str,
    machine_info: Mapping[str, str],
    airflow_version: str,
    settings: Mapping[str, str],
    warmups: Sequence[RunTiming],
    runs: Sequence[RunTiming],
    busy: CpuUse,
    idle: CpuUse,
    databases: Sequence[str],
) -> str:
    count = sum(1 for run in runs if run.system == "mcs")
    warm = len(warmups) // 2
    first = {run.system: run for run in reversed(warmups)}
    lines = [
        f"### {title}",
        "",
        f"Measured {when} with `{command}`: {machine_info['nproc']} CPUs ({machine_info['cpu']}), "
        f"{machine_info['ram']} RAM, {machine_info['os']}, Python {machine_info['python']}, "
        f"Airflow {airflow_version} with the CeleryExecutor (one worker). {count} {_runs(count)} of "
        f"each chain after {warm} untimed warm-up {_runs(warm)} of each, MCS and plain alternating, "
        "one run at a time.",
        "",
        "Settings: "
        + ", ".join(f"`{key.removeprefix('AIRFLOW__')}={value}`" for key, value in settings.items()),
        "",
        *runs_table(runs),
        "",
        *warmup_lines(first),
        *cpu_lines(busy, idle, databases, machine_info["nproc"]),
    ]
    return "\n".join(lines)


def write_section(doc: Path, name: str, body: str) -> None:
    """Replace the marked section ``name`` of ``doc`` with ``body`` (append it if it is missing)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else SKELETON
    begin, end = f"<!-- chain_speed:{name} begin", f"<!-- chain_speed:{name} end -->"
    block = f"<!-- chain_speed:{name} begin: written by bench/chain_speed.py -->\n{body.rstrip()}\n{end}"
    start, stop = text.find(begin), text.find(end)
    if start >= 0 and stop > start:
        text = text[:start] + block + text[stop + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
