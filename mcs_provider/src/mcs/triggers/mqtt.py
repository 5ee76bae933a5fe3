"""The MQTT message trigger: wait in the triggerer until a matching device message arrives.

A message counts when its topic matches the filter and the condition holds for
``{"payload", "topic", "params"}``. After each subscription is acknowledged, the device message
journal is read from ``since_ms`` (or from when the connection dropped), so a reply that arrived
before the wait subscribed, or while the broker was away, still satisfies it (design section 6).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from airflow.triggers.base import BaseTrigger, TriggerEvent

from mcs import journal
from mcs.expressions import matches
from mcs.hooks.mqtt import MqttHook, build_client_id, decode_payload

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat()


class MqttMessageTrigger(BaseTrigger):
    """Fire once a message on ``topic`` satisfies ``condition``, or when ``timeout_at`` passes.

    Yields one event: ``{"status": "success", "message": {"topic", "payload", "received_at",
    "source"}}``, ``{"status": "timeout", "timeout_at"}`` or ``{"status": "error", "error"}``.

    :param topic: the topic filter to subscribe to; ``+`` and ``#`` allowed.
    :param condition: an expression (see :mod:`mcs.expressions`); blank or ``None`` means any message.
    :param params: the run's params, available to the condition as ``params``.
    :param since_ms: epoch milliseconds from which journaled messages count; ``None``: live only.
    :param timeout_at: epoch seconds at which to give up; ``None``: wait forever.
    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    :param client_id: the MQTT client id; a random one if not given.
    """

    def __init__(
        self,
        topic: str,
        condition: str | None = None,
        params: dict[str, Any] | None = None,
        since_ms: int | None = None,
        timeout_at: float | None = None,
        mqtt_conn_id: str | None = None,
        client_id: str | None = None,
    ) -> None:
        super().__init__()
        self.topic = topic
        self.condition = condition
        self.params = params or {}
        self.since_ms = since_ms
        self.timeout_at = timeout_at
        self.mqtt_conn_id = mqtt_conn_id
        self.client_id = client_id or f"{build_client_id('mcs-wait', topic)}-{uuid.uuid4().hex[:8]}"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "topic": self.topic,
                "condition": self.condition,
                "params": self.params,
                "since_ms": self.since_ms,
                "timeout_at": self.timeout_at,
                "mqtt_conn_id": self.mqtt_conn_id,
                "client_id": self.client_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = None if self.timeout_at is None else self.timeout_at - time.time()
        try:
            async with asyncio.timeout(remaining) as deadline:
                message = await self._wait()
        except TimeoutError:
            if deadline.expired():
                self.log.info(
                    "No matching message on %s before %s", self.topic, _iso(int(self.timeout_at * 1000))
                )
                yield TriggerEvent({"status": "timeout", "timeout_at": self.timeout_at})
                return
            yield TriggerEvent(
                {"status": "error", "error": f"waiting on `{self.topic}` timed out internally"}
            )
            return
        except Exception as exc:
            self.log.exception("Waiting on %s failed", self.topic)
            yield TriggerEvent({"status": "error", "error": f"waiting on `{self.topic}` failed: {exc}"})
            return
        yield TriggerEvent({"status": "success", "message": message})

    def _match(self, topic: str, payload: Any, received_ms: int, source: str) -> dict[str, Any] | None:
        if not journal.topic_matches(self.topic, topic):
            return None
        variables = {"payload": payload, "topic": topic, "params": self.params}
        if not matches(self.condition, variables):
            self.log.debug("Message on %s does not satisfy the condition", topic)
            return None
        self.log.info("Matched a message on %s (from %s) for %s", topic, source, self.topic)
        return {"topic": topic, "payload": payload, "received_at": _iso(received_ms), "source": source}

    async def _scan_journal(self, since_ms: int) -> dict[str, Any] | None:
        try:
            async for entry in journal.iter_since(since_ms):
                found = self._match(
                    entry.topic, decode_payload(entry.payload_bytes()), entry.received_ms, "journal"
                )
                if found:
                    return found
        except Exception as exc:
            # A journal that cannot be read must not stop the live wait.
            self.log.warning("Cannot read the device message journal from %s: %s", _iso(since_ms), exc)
        return None

    async def _wait(self) -> dict[str, Any]:
        hook = MqttHook(mqtt_conn_id=self.mqtt_conn_id)
        await hook.aload_connection()
        kwargs = hook.async_client_kwargs(self.client_id)
        scan_from, backoff = self.since_ms, BACKOFF_FIRST

        while True:
            live_since_ms = None
            try:
                async with aiomqtt.Client(**kwargs) as client:
                    granted = await client.subscribe(self.topic, qos=1)
                    _raise_if_refused(self.topic, granted)
                    subscribed_ms = int(time.time() * 1000)
                    self.log.info("Subscribed to %s as %s", self.topic, self.client_id)
                    backoff = BACKOFF_FIRST

                    if scan_from is not None:
                        found = await self._scan_journal(scan_from)
                        if found:
                            return found
                    live_since_ms = subscribed_ms
                    async for message in client.messages:
                        received_ms = int(time.time() * 1000)
                        payload = decode_payload(message.payload or b"")
                        found = self._match(message.topic.value, payload, received_ms, "mqtt")
                        if found:
                            return found
            except aiomqtt.MqttError as exc:
                dropped_ms = int(time.time() * 1000)
                self.log.warning(
                    "MQTT connection for %s lost (%s); reconnecting in %ss", self.topic, exc, backoff
                )
                if live_since_ms is not None:
                    # A broken link is noticed within 1.5 keepalives; read the journal from before that.
                    scan_from = max(live_since_ms, dropped_ms - int(hook.keepalive * 1500))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)


def _raise_if_refused(topic: str, granted: Any) -> None:
    for code in granted or ():
        value = getattr(code, "value", code)
        if isinstance(value, int) and value >= 0x80:
            raise PermissionError(f"the broker refused the subscription to `{topic}`: {code}")
