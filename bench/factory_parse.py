"""One parse of ``dags/mcs_workflows.py`` the way Airflow does it, timed; run in a fresh process.

``dag_factory.py`` starts it once per timed parse, with the bench's environment, and reads the one
JSON line it prints. Airflow is imported first and not timed (the dag-processor and the worker
have it loaded before they parse); the timer covers what they then do for the file:

- ``full``: the dag-processor: ``BundleDagBag`` over the file, then ``DagSerialization.to_dict``
  of every DAG it built (``airflow/dag_processing/processor.py``, ``_parse_file``);
- ``one``: a worker starting a task: ``BundleDagBag`` over the file inside
  ``_airflow_parsing_context_manager(dag_id, task_id)`` (``task_runner.py``, ``parse``).

With ``--warm`` the modules the file imports (``mcs.dag_factory`` and the operators) are imported
before the timer starts, which leaves the building alone. ``--profile FILE`` writes cProfile's
statistics of the timed part to FILE. Both wall-clock and CPU time (``time.process_time``) are
given: on a busy machine the CPU time says what the parse costs, the wall clock what it took. Memory: RSS before and after, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import time
from pathlib import Path


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["full", "one"])
    parser.add_argument("dag_file")
    parser.add_argument("--dag-id")
    parser.add_argument("--task-id")
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--profile")
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.sdk.definitions._internal.dag_parsing_context import _airflow_parsing_context_manager
    from airflow.serialization.serialized_objects import DagSerialization

    if args.warm:
        import mcs.dag_factory  # noqa: F401
        import mcs.dag_factory.steps  # noqa: F401

    dag_file = Path(args.dag_file)
    rss_before = _rss_mib()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    began, cpu_began = time.perf_counter(), time.process_time()
    if args.mode == "full":
        bag = BundleDagBag(
            dag_folder=dag_file, bundle_path=dag_file.parent, bundle_name="dags-folder", load_op_links=False
        )
        parsed, cpu_parsed = time.perf_counter(), time.process_time()
        serialized = [DagSerialization.to_dict(dag) for dag in bag.dags.values()]
    else:
        with _airflow_parsing_context_manager(dag_id=args.dag_id, task_id=args.task_id):
            bag = BundleDagBag(
                dag_folder=dag_file,
                safe_mode=False,
                load_op_links=False,
                bundle_path=dag_file.parent,
                bundle_name="dags-folder",
            )
        parsed, cpu_parsed = time.perf_counter(), time.process_time()
        serialized = []
    ended, cpu_ended = time.perf_counter(), time.process_time()
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)

    tasks = sum(len(dag.task_dict) for dag in bag.dags.values())
    print(
        json.dumps(
            {
                "parse_seconds": parsed - began,
                "serialize_seconds": ended - parsed,
                "total_seconds": ended - began,
                "parse_cpu_seconds": cpu_parsed - cpu_began,
                "serialize_cpu_seconds": cpu_ended - cpu_parsed,
                "total_cpu_seconds": cpu_ended - cpu_began,
                "dags": len(bag.dags),
                "tasks": tasks,
                "serialized": len(serialized),
                "import_errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
                "rss_before_mib": rss_before,
                "rss_after_mib": _rss_mib(),
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
