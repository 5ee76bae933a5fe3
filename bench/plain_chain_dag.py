"""The bench chain as a plain Airflow DAG, written by hand: what MCS is compared against.

Ten TaskFlow tasks, ``step_01`` to ``step_10``, one after the other. Each publishes the message
that the matching ``mqtt_publish`` node of the MCS bench workflow sends (``chain_speed.message``):
the same topic, the same JSON, QoS 1, waiting for the broker's acknowledgement, with paho-mqtt
and nothing of MCS. The broker is the one of the ``mcs_mqtt`` connection URI in the environment.

``chain_speed.py`` copies this file into the dags folder of its own stack. It never belongs in
the repository's ``dags/``.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from airflow.sdk import chain, dag, task

DAG_ID = "bench_chain_plain"
STEPS = 10
TOPIC = "mcs-bench/chain"


def _broker() -> tuple[str, int]:
    parts = urlsplit(os.environ.get("AIRFLOW_CONN_MCS_MQTT", "mqtt://127.0.0.1:1883"))
    return parts.hostname or "127.0.0.1", parts.port or 1883


@task
def publish(step: int) -> None:
    host, port = _broker()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-plain-{uuid.uuid4().hex[:12]}")
    client.connect(host, port)
    client.loop_start()
    try:
        info = client.publish(TOPIC, json.dumps({"bench": "chain_speed", "step": step}), qos=1)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise RuntimeError(f"the broker {host}:{port} did not acknowledge step {step} within 10 s")
    finally:
        client.disconnect()
        client.loop_stop()


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["bench"],
)
def bench_chain_plain() -> None:
    chain(*(publish.override(task_id=f"step_{step:02d}")(step) for step in range(1, STEPS + 1)))


bench_chain_plain()
