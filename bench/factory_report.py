"""The section of ``docs/performance.md`` that ``dag_factory.py`` writes."""

from __future__ import annotations

from collections.abc import Mapping

KINDS = [
    ("full", "full parse (dag-processor): file run + every DAG serialized"),
    ("one_cold", "one DAG for a task (worker), MCS modules not yet imported"),
    ("one_warm", "one DAG for a task (worker), MCS modules already imported"),
]


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _row(label: str, figures: Mapping) -> str:
    wall, cpu = figures["total_seconds"], figures["total_cpu_seconds"]
    return (
        f"| {label} | {figures['dags']} / {figures['tasks']} | {_seconds(wall['median'])} | "
        f"{_seconds(wall['p95'])} | {_seconds(cpu['median'])} | {_seconds(cpu['p95'])} | "
        f"{_seconds(figures['parse_cpu_seconds']['median'])} | {_seconds(figures['serialize_cpu_seconds']['median'])} | "
        f"{figures['rss_growth_mib']['median']:.0f} MiB | {figures['peak_rss_mib']['median']:.0f} MiB |"
    )


def _verdict(name: str, record: Mapping, aim: float) -> str:
    wall = record[name]["total_seconds"]["median"]
    cpu = record[name]["total_cpu_seconds"]["median"]
    if wall < aim:
        return f"**met** (median {_seconds(wall)})"
    if cpu < aim:
        return f"missed on the wall clock (median {_seconds(wall)}) but met in CPU time ({_seconds(cpu)})"
    return f"**missed** (median {_seconds(wall)} wall clock, {_seconds(cpu)} CPU)"


def results_section(record: Mapping) -> str:
    aims = record["aims"]
    loads = sorted({run["load"] for runs in record["runs"].values() for run in runs})
    lines = [
        f"### {record['workflows']:,} published workflows of {record['nodes']} nodes: parsing the DAG file",
        "",
        f"Measured {record['when']} with `bench/dag_factory.py --workflows {record['workflows']} "
        f"--repeats {record['repeats']}`: {record['machine']}. Load average (1, 5, 15 min) at the start "
        f"{record['load_at_start']}, at the end {record['load_at_end']}; after each parse: "
        f"{'; '.join(loads)}. Other people's tests and stacks were running on the same two cores.",
        "",
        f"Creating and publishing the {record['workflows']} workflows through `mcs.api.services.workflows` took "
        f"{record['publish_seconds']:.0f} s. Each parse ran {record['repeats']} times, each time in a fresh "
        "process with Airflow already imported; the time covers only what Airflow does for the file "
        '(`bench/factory_parse.py`). "RSS growth" is the parse process\'s RSS after the parse minus before it.',
        "",
        "| parse | DAGs / tasks | wall median | wall p95 | CPU median | CPU p95 | CPU: file run | CPU: serialize "
        "| RSS growth | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[_row(label, record[name]) for name, label in KINDS],
        "",
        "The wall clock is what a parse took on this busy machine; the CPU time (`time.process_time`) is what "
        "it cost, and close to what it takes on an idle core (a parse runs in one thread).",
        "",
        f"Aim: full parse under {aims['full_seconds']:g} s: {_verdict('full', record, aims['full_seconds'])}. "
        f"One DAG under {_seconds(aims['one_seconds'])}: {_verdict('one_cold', record, aims['one_seconds'])}; "
        f"with the MCS modules already imported: {_verdict('one_warm', record, aims['one_seconds'])}.",
    ]
    timeouts = record["airflow_timeouts"]
    file_run = max(run["parse_seconds"] for run in record["runs"]["full"])
    whole = max(run["total_seconds"] for run in record["runs"]["full"])
    lines += [
        "",
        f"Airflow's limits (defaults, raised to {record['parse_timeout']:.0f} s for this bench so the parse could be "
        f"timed): the file's run took up to {_seconds(file_run)} against `[core] dagbag_import_timeout` "
        f"{timeouts['dagbag_import_timeout']:.0f} s "
        f"({'within' if file_run < timeouts['dagbag_import_timeout'] else '**over**: an import error, every MCS DAG gone'}); "
        f"the whole parse up to {_seconds(whole)} against `[dag_processor] dag_file_processor_timeout` "
        f"{timeouts['dag_file_processor_timeout']:.0f} s "
        f"({'within' if whole < timeouts['dag_file_processor_timeout'] else '**over**: the parse is killed'}).",
    ]
    if record.get("profiled"):
        lines += [
            "",
            "cProfile's output of one full and one single parse: "
            "`test-output/bench/dag_factory_full_profile.txt` and `dag_factory_one_cold_profile.txt`.",
        ]
    return "\n".join(lines)
