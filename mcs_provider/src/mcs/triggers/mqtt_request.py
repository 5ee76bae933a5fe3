"""The MQTT request trigger: publish a request and wait, in the triggerer, for its correlated reply.

The trigger subscribes to the reply topic first and publishes the request only once the broker
has acknowledged the subscription, so a fast device can never answer before anyone listens. A
reply counts when it carries the request's correlation id (MQTT 5 ``CorrelationData``, or a field
of a JSON payload) and satisfies the condition.

Each (re)connection subscribes and then publishes the request again with the same correlation
id, so after a lost connection or a triggerer restart a device may receive the request twice:
delivery is at least once, and devices should treat a repeated correlation id as one request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
from airflow.triggers.base import BaseTrigger, TriggerEvent
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from mcs.errors import MqttError
from mcs.expressions import matches
from mcs.hooks.mqtt import MqttHook, build_client_id, decode_payload
from mcs.triggers.mqtt import BACKOFF_FIRST, BACKOFF_MAX, _iso, _raise_if_refused

CORRELATIONS = ("mqtt5", "field")


def reply_correlates(
    correlation: str,
    correlation_id: str,
    payload: Any,
    correlation_data: bytes | None = None,
    correlation_field: str = "request_id",
) -> bool:
    """Return whether a reply belongs to the request with ``correlation_id``.

    :param correlation: ``"mqtt5"`` (compare the reply's ``CorrelationData``) or ``"field"``
        (compare the field ``correlation_field`` of the reply's JSON object payload).
    :param correlation_id: the id the request carried.
    :param payload: the reply's payload, JSON-decoded when it was JSON.
    :param correlation_data: the reply's MQTT 5 ``CorrelationData`` property, if any.
    :param correlation_field: the payload field that holds the id with ``"field"``.
    """
    if correlation == "mqtt5":
        return correlation_data is not None and bytes(correlation_data) == correlation_id.encode("utf-8")
    if not isinstance(payload, dict) or correlation_field not in payload:
        return False
    return str(payload[correlation_field]) == correlation_id


class MqttRequestTrigger(BaseTrigger):
    """Publish ``payload`` to ``topic`` after subscribing to ``reply_topic``; fire on the correlated reply.

    Yields one event: ``{"status": "success", "reply": {"topic", "payload", "received_at"},
    "published_at"}``, ``{"status": "timeout", "timeout_at"}`` or ``{"status": "error", "error"}``.
    A restarted trigger publishes the request again with the same correlation id (at least once).

    :param topic: the topic to publish the request to (no wildcards).
    :param payload: the request exactly as it is sent (text; with ``"field"`` it already holds the id).
    :param reply_topic: the topic (filter, with ``"field"``) the reply arrives on.
    :param correlation_id: the id that ties the reply to the request; made once by the operator.
    :param correlation: ``"mqtt5"`` (``ResponseTopic`` and ``CorrelationData`` properties) or ``"field"``.
    :param correlation_field: the JSON payload field that carries the id with ``"field"``.
    :param qos: the QoS of the request (0, 1 or 2); the reply subscription uses QoS 1.
    :param condition: an expression over ``payload``, ``topic`` and ``params`` that a correlated reply
        must also satisfy; ``None``: any correlated reply.
    :param params: the run's params, available to the condition as ``params``.
    :param timeout_at: epoch seconds at which to give up; ``None``: wait forever.
    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    :param client_id: the MQTT client id; a random one if not given.
    """

    def __init__(
        self,
        topic: str,
        payload: str,
        reply_topic: str,
        correlation_id: str,
        correlation: str = "mqtt5",
        correlation_field: str = "request_id",
        qos: int = 1,
        condition: str | None = None,
        params: dict[str, Any] | None = None,
        timeout_at: float | None = None,
        mqtt_conn_id: str | None = None,
        client_id: str | None = None,
    ) -> None:
        super().__init__()
        if correlation not in CORRELATIONS:
            raise ValueError(f"correlation must be one of {CORRELATIONS}, found {correlation!r}")
        self.topic = topic
        self.payload = payload
        self.reply_topic = reply_topic
        self.correlation_id = correlation_id
        self.correlation = correlation
        self.correlation_field = correlation_field
        self.qos = qos
        self.condition = condition
        self.params = params or {}
        self.timeout_at = timeout_at
        self.mqtt_conn_id = mqtt_conn_id
        self.client_id = client_id or f"{build_client_id('mcs-req', topic)}-{uuid.uuid4().hex[:8]}"
        self._published_at: str | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "topic": self.topic,
                "payload": self.payload,
                "reply_topic": self.reply_topic,
                "correlation_id": self.correlation_id,
                "correlation": self.correlation,
                "correlation_field": self.correlation_field,
                "qos": self.qos,
                "condition": self.condition,
                "params": self.params,
                "timeout_at": self.timeout_at,
                "mqtt_conn_id": self.mqtt_conn_id,
                "client_id": self.client_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = None if self.timeout_at is None else self.timeout_at - time.time()
        try:
            async with asyncio.timeout(remaining) as deadline:
                reply = await self._request()
        except TimeoutError:
            if deadline.expired():
                self.log.info(
                    "No reply on %s for correlation id %s before %s",
                    self.reply_topic,
                    self.correlation_id,
                    _iso(int(self.timeout_at * 1000)),
                )
                yield TriggerEvent({"status": "timeout", "timeout_at": self.timeout_at})
                return
            yield TriggerEvent(
                {"status": "error", "error": f"the request to `{self.topic}` timed out internally"}
            )
            return
        except Exception as exc:
            self.log.exception("The request to %s failed", self.topic)
            yield TriggerEvent({"status": "error", "error": f"the request to `{self.topic}` failed: {exc}"})
            return
        yield TriggerEvent({"status": "success", "reply": reply, "published_at": self._published_at})

    def _match(self, message: aiomqtt.Message, sent: bytes) -> dict[str, Any] | None:
        topic = message.topic.value
        raw = message.payload or b""
        if raw == sent and topic == self.topic:
            # Our own request, seen because the reply topic filter also covers the request topic.
            return None
        payload = decode_payload(raw)
        correlation_data = getattr(message.properties, "CorrelationData", None)
        if not reply_correlates(
            self.correlation, self.correlation_id, payload, correlation_data, self.correlation_field
        ):
            self.log.debug("Message on %s carries another correlation id", topic)
            return None
        if not matches(self.condition, {"payload": payload, "topic": topic, "params": self.params}):
            self.log.info("Reply on %s for %s does not satisfy the condition", topic, self.correlation_id)
            return None
        self.log.info("Matched the reply on %s for correlation id %s", topic, self.correlation_id)
        return {"topic": topic, "payload": payload, "received_at": _iso(int(time.time() * 1000))}

    def _properties(self) -> Properties | None:
        if self.correlation != "mqtt5":
            return None
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = self.reply_topic
        properties.CorrelationData = self.correlation_id.encode("utf-8")
        return properties

    async def _request(self) -> dict[str, Any]:
        hook = MqttHook(mqtt_conn_id=self.mqtt_conn_id)
        await hook.aload_connection()
        if self.correlation == "mqtt5" and not hook.is_v5:
            raise MqttError(
                f"correlation `mqtt5` needs an MQTT 5 connection, but `{hook.mqtt_conn_id}` uses "
                "protocol 3.1.1; use correlation `field`"
            )
        kwargs = hook.async_client_kwargs(self.client_id)
        sent = self.payload.encode("utf-8")
        backoff = BACKOFF_FIRST

        while True:
            try:
                async with aiomqtt.Client(**kwargs) as client:
                    if hook.is_v5:
                        # noLocal: the broker does not echo our own request back to us.
                        options = SubscribeOptions(qos=1, noLocal=True)
                        granted = await client.subscribe(self.reply_topic, options=options)
                    else:
                        granted = await client.subscribe(self.reply_topic, qos=1)
                    _raise_if_refused(self.reply_topic, granted)
                    self.log.info("Subscribed to %s as %s", self.reply_topic, self.client_id)
                    backoff = BACKOFF_FIRST

                    await client.publish(self.topic, sent, qos=self.qos, properties=self._properties())
                    self._published_at = _iso(int(time.time() * 1000))
                    self.log.info(
                        "Published the request to %s (qos %s, correlation %s, id %s, %s bytes)",
                        self.topic,
                        self.qos,
                        self.correlation,
                        self.correlation_id,
                        len(sent),
                    )
                    async for message in client.messages:
                        found = self._match(message, sent)
                        if found:
                            return found
            except aiomqtt.MqttError as exc:
                self.log.warning(
                    "MQTT connection for the request to %s lost (%s); reconnecting in %ss",
                    self.topic,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
