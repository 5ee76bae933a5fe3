"""The MQTT message sensor: a wait for a device message that holds no worker slot.

It always defers to :class:`~mcs.triggers.mqtt.MqttMessageTrigger`. Messages count from the moment
the step that caused them began (``since="upstream"``), so a device reply that arrives before the
wait is running still satisfies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from mcs.hooks.mqtt import build_client_id
from mcs.operators.deferral import deferral_timeout
from mcs.triggers.mqtt import MqttMessageTrigger

SINCE_CHOICES = ("upstream", "run_start", "now")
# The trigger reports its own timeout; Airflow's deferral timeout is only the backstop.


def _to_ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        return None
    return int(moment.timestamp() * 1000)


def _started_ats(values: Any) -> list[int]:
    """Collect ``started_at`` from XCom return values (dicts, or lists of them for mapped tasks)."""
    found = []
    for value in values if isinstance(values, list | tuple) else [values]:
        if isinstance(value, dict):
            ms = _to_ms(value.get("started_at"))
            if ms is not None:
                found.append(ms)
        elif isinstance(value, list | tuple):
            found.extend(_started_ats(value))
    return found


class MqttMessageSensor(BaseOperator):
    """Wait, deferred, until a message on ``topic`` satisfies ``condition``.

    Returns (as XCom) ``{"topic", "payload", "received_at", "started_at"}``.

    :param topic: the topic filter to wait on; ``+`` and ``#`` allowed (templated).
    :param condition: an expression over ``payload``, ``topic`` and ``params``; ``None``: any message
        (templated).
    :param timeout_seconds: fail with :class:`AirflowSensorTimeout` after this many seconds;
        ``None``: wait forever.
    :param since: from when messages count: ``"upstream"`` (the earliest ``started_at`` returned by
        the direct upstream tasks, else the run's start), ``"run_start"`` or ``"now"``.
    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    """

    template_fields: Sequence[str] = ("topic", "condition")
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        topic: str,
        condition: str | None = None,
        timeout_seconds: int | None = None,
        since: str = "upstream",
        mqtt_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if since not in SINCE_CHOICES:
            raise ValueError(f"since must be one of {SINCE_CHOICES}, found {since!r}")
        self.topic = topic
        self.condition = condition
        self.timeout_seconds = timeout_seconds
        self.since = since
        self.mqtt_conn_id = mqtt_conn_id

    def _run_start_ms(self, context: Any) -> int | None:
        dag_run = context.get("dag_run")
        return _to_ms(getattr(dag_run, "start_date", None)) if dag_run is not None else None

    def _since_ms(self, context: Any, now: datetime) -> int:
        now_ms = int(now.timestamp() * 1000)
        if self.since == "now":
            return now_ms
        if self.since == "upstream" and self.upstream_task_ids:
            values = context["ti"].xcom_pull(task_ids=sorted(self.upstream_task_ids))
            started = _started_ats(values)
            if started:
                return min(started)
        return self._run_start_ms(context) or now_ms

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC)
        since_ms = self._since_ms(context, started_at)
        timeout_at = None
        if self.timeout_seconds is not None:
            timeout_at = started_at.timestamp() + self.timeout_seconds

        ti = context["ti"]
        client_id = build_client_id(
            "mcs-wait", ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number
        )
        params = context.get("params") or {}
        trigger = MqttMessageTrigger(
            topic=self.topic,
            condition=self.condition,
            params=params.dump() if hasattr(params, "dump") else dict(params),
            since_ms=since_ms,
            timeout_at=timeout_at,
            mqtt_conn_id=self.mqtt_conn_id,
            client_id=client_id,
        )
        self.log.info(
            "Waiting on %s for %s (messages since %s)",
            self.topic,
            self.condition or "any message",
            datetime.fromtimestamp(since_ms / 1000, tz=UTC).isoformat(),
        )
        timeout = deferral_timeout(self.timeout_seconds)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            kwargs={"started_at": started_at.isoformat()},
            timeout=timeout,
        )

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, started_at: str | None = None
    ) -> dict[str, Any]:
        status = (event or {}).get("status")
        if status == "success":
            message = event["message"]
            return {
                "topic": message["topic"],
                "payload": message["payload"],
                "received_at": message["received_at"],
                "started_at": started_at,
            }
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"no message on `{self.topic}` satisfied `{self.condition or 'any message'}` "
                f"within {self.timeout_seconds}s"
            )
        error = (event or {}).get("error", f"unexpected event {event!r}")
        raise AirflowException(f"waiting on `{self.topic}` failed: {error}")
