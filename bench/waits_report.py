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


def timings(waits: Sequence[Mapping]) -> dict[str, dict]:
    """Per measure: median, p95, min, max in seconds, and how many waits lacked the timestamp."""
    result = {}
    for name, field, _ in MEASURES:
        values = [w[field] - w["published"] for w in waits if w.get(field) is not None]
        result[name] = {**(summary(values) if values else {"count": 0}), "missing": len(waits) - len(values)}
    states: dict[str, int] = {}
    for wait in waits:
        states[str(wait.get("state"))] = states.get(str(wait.get("state")), 0) + 1
    ends = [w["end"] for w in waits if w.get("end")]
    result["states"] = states
    result["last_success_after_first_publish"] = (
        (max(ends) - min(w["published"] for w in waits)) if ends else None
    )
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


def results_section(record: Mapping) -> str:
    t, waits = record["timings"], record["waits_count"]
    waiting = record["triggerer_waiting"]
    success_p95 = t["left_deferred"].get("p95")
    memory_ok = waiting["rss_mib"] < AIMS["memory_mib"]
    latency_ok = success_p95 is not None and success_p95 < AIMS["p95_seconds"]
    limits = ", ".join(f"`{key}={value}`" for key, value in record["limits"].items())
    lines = [
        f"### {waits:,} MQTT waits in one triggerer",
        "",
        f"Measured {record['when']} with `bench/mqtt_waits.py --waits {waits} --rate {record['rate']:g}`: "
        f"{record['machine']}. Load average (1, 5, 15 min) at the start {record['load_at_start']}, "
        f"just before the messages {record['load_before_publish']}, after them {record['load_after_publish']}, "
        f"at the end {record['load_at_end']}; other people's tests and stacks were running on the machine.",
        "",
        f"Airflow settings in the bench's stack (defaults unless said): {limits}. The workflow sets "
        f"`max_active_runs` {waits}. Open-files limit of the stack's processes: "
        f"{record['open_files_limit'][0]} soft / {record['open_files_limit'][1]} hard.",
        "",
        f"Set-up: {waits} start requests took {record['start_requests_seconds']:.0f} s; all {waits} tasks were "
        f"DEFERRED {record['all_deferred_seconds']:.0f} s and all waits connected to the broker "
        f"{record['all_subscribed_seconds']:.0f} s after the first request.",
        "",
        "| triggerer (process and children) | RSS | PSS | processes | open files | threads | CPU | load |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        _memory_row("no wait", record["triggerer_idle"]),
        _memory_row(f"{waits} waits pending", waiting),
        _memory_row("after all fired", record["triggerer_after"]),
        "",
        "RSS and PSS are the largest of one reading a second; CPU is the triggerer's over the same "
        "seconds, in % of one core.",
        "",
        f"Then {waits} messages, one per wait, published at {record['rate']:g} a second "
        f"(took {record['publish_seconds']:.1f} s). Delay from each publish to:",
        "",
        "| moment | median | p95 | max | missing |",
        "|---|---:|---:|---:|---:|",
        *[_row(label, t[name]) for name, _, label in MEASURES],
        "",
        f"End states: {t['states']}; the last task succeeded "
        f"{t['last_success_after_first_publish']:.0f} s after the first message.",
        "",
        f"Aim: under {AIMS['memory_mib']} MB and p95 under {AIMS['p95_seconds']:g} s from message to the task "
        f"resuming (leaving DEFERRED). Memory: {'met' if memory_ok else 'missed'} "
        f"({waiting['rss_mib']:.0f} MiB RSS). Resuming: {'met' if latency_ok else 'missed'} "
        f"(p95 {success_p95:.3f} s)."
        if success_p95 is not None
        else "Resuming: no figure.",
    ]
    return "\n".join(lines)
