"""The figures of ``mqtt_waits.py``: per-message delays, and its section of ``docs/performance.md``.

Every delay starts at the publish, stamped by the bench just before it hands the message to its
MQTT client, and ends at a moment Airflow or the wait recorded on the same machine's clock:

- ``received``: the wait's own ``received_at``, taken when the trigger read the message off its
  MQTT connection (it comes back in the task's return value);
- ``fired``: the "Trigger fired event" line in the task's trigger log, logged by the triggerer
  when ``run()`` yielded the event;
- ``left_deferred``: the task instance's ``scheduled_dttm``, set when the triggerer wrote the
  event to the database and moved the task from DEFERRED to SCHEDULED: the task has resumed,
  from here on it is the scheduler's and the worker's;
- ``queued``: the task instance's ``queued_dttm``, when the scheduler handed it to Celery again;
- ``success``: the task instance's ``end_date`` once ``execute_complete`` returned on a worker.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from figures import summary

MEASURES: list[tuple[str, str, str]] = [
    ("received", "received", "message read by the wait (its `received_at`)"),
    ("fired", "fired", 'trigger fired ("Trigger fired event" in the trigger log)'),
    ("left_deferred", "scheduled", "task left DEFERRED (`scheduled_dttm`)"),
    ("queued", "queued", "task queued to a worker again (`queued_dttm`)"),
    ("success", "end", "task succeeded (`end_date`)"),
]
AIMS = {"memory_mib": 500, "p95_seconds": 1.0}


def _delays(waits: Sequence[Mapping]) -> dict[str, dict]:
    result = {}
    for name, field, _ in MEASURES:
        # A moment before the publish is left over from the deferral (a task not queued again yet);
        # `received_at` is cut to the millisecond, hence the millisecond of slack.
        values = [w[field] - w["published"] for w in waits if (w.get(field) or 0) >= w["published"] - 0.001]
        result[name] = {**(summary(values) if values else {"count": 0}), "missing": len(waits) - len(values)}
    return result


def timings(waits: Sequence[Mapping]) -> dict[str, dict]:
    """Per phase (``probe``, ``burst``) and measure: median, p95, min, max in seconds, and how many
    waits lacked the timestamp; end states; how fast the worker resumed the burst."""
    result: dict[str, dict] = {}
    for phase in ("probe", "burst"):
        chosen = [w for w in waits if w["phase"] == phase]
        states: dict[str, int] = {}
        for wait in chosen:
            states[str(wait.get("state"))] = states.get(str(wait.get("state")), 0) + 1
        result[phase] = {"delays": _delays(chosen), "states": states, "count": len(chosen)}
    burst = [w for w in waits if w["phase"] == "burst"]
    ends = sorted(w["end"] for w in burst if w.get("state") == "success" and w.get("end"))
    first = min(w["published"] for w in burst)
    result["burst"]["succeeded"] = len(ends)
    result["burst"]["resumes_per_minute"] = len(ends) / (ends[-1] - first) * 60 if ends else 0.0
    tenth = max(1, len(burst) // 10)
    result["burst"]["left_deferred_by_tenth"] = [
        statistics.median(
            [w["scheduled"] - w["published"] for w in burst[k : k + tenth] if w.get("scheduled")] or [0]
        )
        for k in range(0, tenth * 10, tenth)
    ]
    result["paths"] = {
        path: _delays([w for w in burst if w["path"] == path])["left_deferred"]
        for path in ("worker", "bench")
    }
    return result


def _row(label: str, figures: Mapping) -> str:
    if not figures.get("count"):
        return f"| {label} | - | - | - | {figures['missing']} |"
    cells = [f"{figures[key]:.3f} s" for key in ("median", "p95", "max")]
    return f"| {label} | {' | '.join(cells)} | {figures['missing']} |"


def _memory_row(label: str, memory: Mapping) -> str:
    return (
        f"| {label} | {memory['rss_mib']:.0f} MiB | {memory['pss_mib']:.0f} MiB | {memory['processes']} | "
        f"{memory['open_files']} | {memory['threads']} | {memory['cpu_percent']:.1f} % | {memory['load']} |"
    )


def _delay_table(delays: Mapping) -> list[str]:
    return [
        "| from the publish to | median | p95 | max | missing |",
        "|---|---:|---:|---:|---:|",
        *[_row(label, delays[name]) for name, _, label in MEASURES],
    ]


def _aim_line(waiting: Mapping, burst: Mapping, waits: int) -> str:
    resumed = burst["delays"]["left_deferred"]
    memory = "met" if waiting["rss_mib"] < AIMS["memory_mib"] else "missed"
    if not resumed.get("count"):
        return f"Aim: memory {memory}; resuming: no figure."
    latency = "met" if resumed["p95"] < AIMS["p95_seconds"] else "missed"
    return (
        f"Aim: under {AIMS['memory_mib']} MB and p95 under {AIMS['p95_seconds']:g} s from message to the task "
        f"resuming. Memory **{memory}** ({waiting['rss_mib']:.0f} MiB RSS, {waiting['pss_mib']:.0f} MiB PSS with "
        f"{waits} waits pending). Resuming, taken as the task leaving DEFERRED: **{latency}** "
        f"(p95 {resumed['p95']:.3f} s over the burst)."
    )


def results_section(record: Mapping) -> str:
    t, args = record["timings"], record["args"]
    waits, waiting = args["waits"], record["triggerer_waiting"]
    probe, burst = t["probe"], t["burst"]
    limits = ", ".join(f"`{key}={value}`" for key, value in record["limits"].items())
    lines = [
        f"### {waits:,} MQTT waits in one triggerer",
        "",
        f"Measured {record['when']} with `bench/mqtt_waits.py --waits {waits} --rate {args['rate']:g}`: "
        f"{record['machine']}. Load average (1, 5, 15 min) at the start {record['load_at_start']}, "
        f"before the burst {record['load_before_burst']}, after it {record['load_after_burst']}, at the end "
        f"{record['load_at_end']}: other people's tests and stacks were running on the same two cores.",
        "",
        f"Settings in the bench's stack (Airflow's defaults and the stack's `PERFORMANCE_SETTINGS`; the bench "
        f"sets nothing else but its own broker, Redis and databases): {limits}; the workflow sets `max_active_runs` {waits}. Open-files limit of the stack's "
        f"processes: {record['open_files_limit'][0]} soft / {record['open_files_limit'][1]} hard.",
        "",
        f"Set-up: {args['real']} waits deferred on the worker (the real path) in {record['real_path_seconds']:.0f} s; "
        f"{record['bench_deferred']} more were deferred by `waits_defer.py` after {waits - args['real']} start "
        f"requests ({record['start_requests_seconds']:.0f} s) in {record['bench_defer_seconds']:.0f} s; "
        f"{record['all_subscribed_seconds']:.0f} s after that began, all {waits} waits were connected to the broker "
        "(the triggerer takes up new triggers while the DAG is paused).",
        "",
        "| triggerer (process and children) | RSS | PSS | processes | open files | threads | CPU | load |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        _memory_row("no wait", record["triggerer_idle"]),
        _memory_row(f"{waits} waits pending", waiting),
        _memory_row("after the burst", record["triggerer_after"]),
        "",
        "RSS and PSS are the largest of one reading a second over "
        f"{args['samples']} s; CPU is the triggerer's over the same seconds, in % of one core.",
        "",
        f"**Probes**: {probe['count']} messages, each published once the task before it had succeeded (the "
        f"worker idle, {waits - 1} and fewer other waits pending):",
        "",
        *_delay_table(probe["delays"]),
        "",
        f"**Burst**: {burst['count']} messages at {args['rate']:g} a second (published in "
        f"{record['burst_seconds']:.1f} s):",
        "",
        *_delay_table(burst["delays"]),
        "",
        "Task left DEFERRED, median of each tenth of the burst in publish order: "
        + ", ".join(f"{value:.2f} s" for value in burst["left_deferred_by_tenth"])
        + ".",
        "",
        f"Within {args['drain_seconds']:.0f} s after the burst the worker resumed {burst['succeeded']} of "
        f"{burst['count']} tasks to success ({burst['resumes_per_minute']:.1f} a minute); end states "
        f'{burst["states"]}. "Missing" counts the tasks that had not reached that moment when the bench stopped.',
        "",
        _aim_line(waiting, burst, waits),
    ]
    return "\n".join(lines)
