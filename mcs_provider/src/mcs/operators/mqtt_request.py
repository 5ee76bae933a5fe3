"""The MQTT request operator: send a request to a device and wait, deferred, for its correlated reply."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from mcs.errors import MqttError
from mcs.hooks.mqtt import build_client_id, decode_payload, encode_payload
from mcs.operators.deferral import deferral_timeout
from mcs.operators.mqtt import validate_publish_topic
from mcs.triggers.mqtt_request import CORRELATIONS, MqttRequestTrigger

# The trigger reports its own timeout; Airflow's deferral timeout is only the backstop.


def request_text(payload: Any, correlation: str, correlation_field: str, correlation_id: str) -> str:
    """Return the request as it is sent: with ``"field"``, the JSON object with the id added.

    :param payload: the request payload: text, or a value that is sent as JSON.
    :param correlation: ``"mqtt5"`` (the payload is sent unchanged) or ``"field"``.
    :param correlation_field: the field that receives ``correlation_id`` with ``"field"``.
    :param correlation_id: the request's correlation id.
    :raises MqttError: with ``"field"``, the payload is not a JSON object.
    """
    if correlation != "field":
        return encode_payload(payload)
    document = decode_payload(payload) if isinstance(payload, str | bytes) else payload
    if not isinstance(document, dict):
        raise MqttError(
            f"with correlation `field` the payload must be a JSON object, found {type(document).__name__}"
        )
    return json.dumps({**document, correlation_field: correlation_id}, ensure_ascii=False)


class MqttRequestOperator(BaseOperator):
    """Publish a request and wait, deferred, for the reply that carries its correlation id.

    The trigger subscribes to ``reply_topic`` before it publishes, so the reply cannot be missed.
    The correlation id is made once here; a triggerer restart or a lost broker connection makes
    the trigger publish the request again with the same id, so a device may see it twice (at
    least once delivery: devices should treat a repeated correlation id as one request).

    Returns (as XCom) ``{"topic", "request", "correlation_id", "reply": {"topic", "payload",
    "received_at"}, "started_at"}``.

    :param topic: the topic to publish the request to (templated; no wildcards).
    :param payload: a string, or a dict, list or number sent as JSON (templated); with
        ``correlation="field"`` it must be a JSON object.
    :param reply_topic: the topic the reply arrives on (templated); with ``"field"`` a filter with
        ``+`` and ``#`` is allowed, with ``"mqtt5"`` it is sent as ``ResponseTopic`` and must be exact.
    :param qos: the QoS of the request: 0, 1 or 2.
    :param correlation: ``"mqtt5"``: the request carries the MQTT 5 properties ``ResponseTopic`` and
        ``CorrelationData`` and the reply must echo ``CorrelationData``; ``"field"``: the id goes into
        the JSON payload as ``correlation_field`` and the reply's payload must hold the same value.
    :param correlation_field: the payload field that carries the id with ``"field"``.
    :param condition: an expression over ``payload``, ``topic`` and ``params`` that the correlated reply
        must also satisfy (templated); ``None``: any correlated reply.
    :param timeout_seconds: fail with :class:`AirflowSensorTimeout` after this many seconds;
        ``None``: wait forever.
    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    """

    template_fields: Sequence[str] = ("topic", "payload", "reply_topic", "condition")
    ui_color = "#dae8fc"

    def __init__(
        self,
        *,
        topic: str,
        payload: Any,
        reply_topic: str,
        qos: int = 1,
        correlation: str = "mqtt5",
        correlation_field: str = "request_id",
        condition: str | None = None,
        timeout_seconds: int | None = None,
        mqtt_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, found {qos!r}")
        if correlation not in CORRELATIONS:
            raise ValueError(f"correlation must be one of {CORRELATIONS}, found {correlation!r}")
        if correlation == "field" and not correlation_field:
            raise ValueError("correlation `field` needs a non-empty correlation_field")
        self.topic = topic
        self.payload = payload
        self.reply_topic = reply_topic
        self.qos = qos
        self.correlation = correlation
        self.correlation_field = correlation_field
        self.condition = condition
        self.timeout_seconds = timeout_seconds
        self.mqtt_conn_id = mqtt_conn_id

    def _reply_topic(self) -> str:
        if not isinstance(self.reply_topic, str) or not self.reply_topic.strip():
            raise MqttError(f"the reply topic must be a non-empty string, found {self.reply_topic!r}")
        if self.correlation == "mqtt5":
            # It travels as the ResponseTopic property, which names one topic.
            return validate_publish_topic(self.reply_topic)
        return self.reply_topic

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC)
        topic = validate_publish_topic(self.topic)
        reply_topic = self._reply_topic()
        correlation_id = str(uuid.uuid4())
        text = request_text(self.payload, self.correlation, self.correlation_field, correlation_id)

        ti = context["ti"]
        params = context.get("params") or {}
        trigger = MqttRequestTrigger(
            topic=topic,
            payload=text,
            reply_topic=reply_topic,
            correlation_id=correlation_id,
            correlation=self.correlation,
            correlation_field=self.correlation_field,
            qos=self.qos,
            condition=self.condition,
            params=params.dump() if hasattr(params, "dump") else dict(params),
            timeout_at=None
            if self.timeout_seconds is None
            else started_at.timestamp() + self.timeout_seconds,
            mqtt_conn_id=self.mqtt_conn_id,
            client_id=build_client_id(
                "mcs-req", ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number
            ),
        )
        self.log.info(
            "Sending %s to %s and waiting for the reply on %s (correlation %s, id %s)",
            text[:500],
            topic,
            reply_topic,
            self.correlation,
            correlation_id,
        )
        timeout = deferral_timeout(self.timeout_seconds)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            kwargs={
                "started_at": started_at.isoformat(),
                "correlation_id": correlation_id,
                "request": decode_payload(text),
            },
            timeout=timeout,
        )

    def execute_complete(
        self,
        context: Any,
        event: dict[str, Any] | None = None,
        started_at: str | None = None,
        correlation_id: str | None = None,
        request: Any = None,
    ) -> dict[str, Any]:
        status = (event or {}).get("status")
        if status == "success":
            reply = event["reply"]
            self.log.info(
                "Reply on %s for %s: %s",
                reply["topic"],
                correlation_id,
                json.dumps(reply["payload"], ensure_ascii=False, default=str)[:500],
            )
            return {
                "topic": self.topic,
                "request": request,
                "correlation_id": correlation_id,
                "reply": {k: reply[k] for k in ("topic", "payload", "received_at")},
                "started_at": started_at,
            }
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"no reply on `{self.reply_topic}` to the request sent to `{self.topic}` "
                f"(correlation id `{correlation_id}`) satisfied `{self.condition or 'any reply'}` "
                f"within {self.timeout_seconds}s"
            )
        error = (event or {}).get("error", f"unexpected event {event!r}")
        raise AirflowException(f"the request to `{self.topic}` failed: {error}")
