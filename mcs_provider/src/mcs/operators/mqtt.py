"""The MQTT publish operator: send one message to a device and return what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from mcs.errors import MqttError
from mcs.hooks.mqtt import MqttHook, build_client_id, decode_payload, encode_payload


def validate_publish_topic(topic: object) -> str:
    """Return ``topic`` if it is a valid topic to publish to, else raise :class:`MqttError`.

    :param topic: the topic name; it must be a non-empty string without ``+`` or ``#``.
    """
    if not isinstance(topic, str) or not topic.strip():
        raise MqttError(f"the topic to publish to must be a non-empty string, found {topic!r}")
    if "+" in topic or "#" in topic:
        raise MqttError(
            f"the topic `{topic}` contains a wildcard (`+` or `#`); a publish needs one exact topic"
        )
    if "\x00" in topic:
        raise MqttError(f"the topic `{topic!r}` contains a NUL character")
    return topic


class MqttPublishOperator(BaseOperator):
    """Publish one MQTT message and wait for the broker's acknowledgement (QoS 1 and 2).

    Returns (as XCom) ``{"topic", "payload", "qos", "retain", "started_at", "published_at"}``;
    ``started_at`` tells a later wait from when on a device's reply counts.

    :param topic: the topic to publish to (templated; no wildcards).
    :param payload: a string, or a dict, list or number that is sent as JSON (templated).
    :param qos: 0, 1 or 2.
    :param retain: whether the broker keeps the message for later subscribers.
    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    """

    template_fields: Sequence[str] = ("topic", "payload")
    ui_color = "#d5e8d4"

    def __init__(
        self,
        *,
        topic: str,
        payload: Any = "",
        qos: int = 1,
        retain: bool = False,
        mqtt_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, found {qos!r}")
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.mqtt_conn_id = mqtt_conn_id

    def _client_id(self, context: Any) -> str:
        ti = context["ti"]
        return build_client_id(
            "mcs-pub", ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number
        )

    def execute(self, context: Any) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        topic = validate_publish_topic(self.topic)
        text = encode_payload(self.payload)

        hook = MqttHook(mqtt_conn_id=self.mqtt_conn_id, client_id=self._client_id(context))
        try:
            hook.publish(topic, text, qos=self.qos, retain=self.retain)
        finally:
            hook.close()
        published_at = datetime.now(UTC)
        self.log.info("Published to %s (qos %s, %s bytes)", topic, self.qos, len(text.encode("utf-8")))

        return {
            "topic": topic,
            "payload": decode_payload(text),
            "qos": self.qos,
            "retain": self.retain,
            "started_at": started_at.isoformat(),
            "published_at": published_at.isoformat(),
        }
