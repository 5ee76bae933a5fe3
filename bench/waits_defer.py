"""Put the not yet started waits of ``mqtt_waits.py`` into DEFERRED without running them on a worker.

``mqtt_waits.py`` runs this in a process with its stack's environment while the workflow's DAG is
paused, so the scheduler has not taken the task instances. For each task instance of the DAG that
has no state yet it does what a worker does when ``MqttMessageSensor.execute`` defers: it builds
the same ``MqttMessageTrigger`` (topic ``bench/waits/<i>`` from the run's params, the client id
the sensor would use, messages counted from now), stores its kwargs the way Airflow's execution
API does for a deferring task (``routes/task_instances.py``, ``TIDeferredStatePayload``), and
moves the task instance to DEFERRED with ``next_method="execute_complete"``. From there on
everything is Airflow's own: the triggerer runs the triggers, the scheduler and the worker resume
the tasks.

It checks its trigger against one that a worker wrote for a wait of the same workflow (the bench
lets a few waits take the real path first) and stops if the class or the kwargs' names differ.
Prints one JSON line: how many it deferred.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from datetime import UTC, datetime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("task_id")
    parser.add_argument("topic_prefix")
    args = parser.parse_args()

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk.serde import serialize
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from mcs.hooks.mqtt import build_client_id
    from mcs.triggers.mqtt import MqttMessageTrigger

    deferred = 0
    with create_session() as session:
        real = session.scalars(
            select(Trigger)
            .join(TaskInstance, TaskInstance.trigger_id == Trigger.id)
            .where(TaskInstance.dag_id == args.dag_id)
        ).first()
        if real is None:
            raise SystemExit(
                "no trigger written by a worker to compare with; let a few waits take the real path"
            )
        pending = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == args.dag_id,
                TaskInstance.task_id == args.task_id,
                TaskInstance.state.is_(None),
            )
        ).all()
        for ti in pending:
            now = datetime.now(UTC)
            params = dict(ti.dag_run.conf or {})
            trigger = MqttMessageTrigger(
                topic=f"{args.topic_prefix}/{params['i']}",
                params=params,
                since_ms=int(now.timestamp() * 1000),
                client_id=build_client_id("mcs-wait", ti.dag_id, ti.task_id, ti.run_id, ti.map_index, 1),
            )
            classpath, kwargs = trigger.serialize()
            if classpath != real.classpath or set(kwargs) != set(real.kwargs):
                raise SystemExit(
                    f"the bench's trigger {classpath} {sorted(kwargs)} differs from a worker's: {real.classpath} {sorted(real.kwargs)}"
                )
            row = Trigger(classpath=classpath, kwargs={})
            row.encrypted_kwargs = json.dumps(serialize(kwargs))
            session.add(row)
            session.flush()

            ti.state = TaskInstanceState.DEFERRED
            ti.try_number = 1
            ti.start_date = ti.scheduled_dttm = ti.queued_dttm = now
            ti.hostname, ti.unixname, ti.pid = (
                socket.gethostname(),
                os.environ.get("USER", "root"),
                os.getpid(),
            )
            ti.trigger_id = row.id
            ti.next_method = "execute_complete"
            ti.next_kwargs = serialize({"started_at": now.isoformat()})
            deferred += 1
            if deferred % 100 == 0:
                session.commit()
    print(json.dumps({"deferred": deferred}))


if __name__ == "__main__":
    main()
