"""``mcs gateway``: one persistent MQTT session that records every device message.

The gateway subscribes (QoS 1, persistent session, stable client id) to the topic filters of the
``mqtt_wait`` nodes of every workflow's latest published version, refreshed every few seconds,
plus ``[mcs] device_topics``. Each message goes to the journal (Redis) first, then, best effort
and off the hot path, to the ``device_message`` table.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import time
from typing import Any

import aiomqtt
import redis

from mcs import journal, settings
from mcs.hooks.mqtt import MqttHook, build_client_id

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
DB_QUEUE_SIZE = 10_000
JOURNAL_ATTEMPTS = 5
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def gateway_client_id() -> str:
    return settings.get("gateway_client_id") or build_client_id("mcs-gateway", socket.gethostname())


def subscribable_filter(topic: str) -> str | None:
    """Return the filter to subscribe to for a wait's ``topic``, or ``None`` (logged) if there is none.

    A level that is wholly a template (``devices/{{ params.id }}/reply``) becomes ``+``; a template
    inside a level or across levels cannot be subscribed to and the filter is skipped.

    :param topic: the topic filter as the workflow names it.
    """
    topic = (topic or "").strip()
    if not topic:
        return None
    if any("/" in span for span in _TEMPLATE.findall(topic)):
        log.warning("Skipping topic %s: a template spans several levels", topic)
        return None
    levels = []
    for level in topic.split("/"):
        if _TEMPLATE.fullmatch(level.strip()):
            levels.append("+")
        elif "{{" in level or "{%" in level or "}}" in level:
            log.warning("Skipping topic %s: a level mixes text and a template", topic)
            return None
        else:
            levels.append(level)
    if _TEMPLATE.search(topic) and all(level == "+" for level in levels):
        log.warning("Skipping topic %s: it is wholly a template", topic)
        return None
    result = "/".join(levels)
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            log.warning("Skipping topic %s: not a valid MQTT topic filter", topic)
            return None
    return result


def wait_topics() -> set[str]:
    """Return the topics of the ``mqtt_wait`` nodes of every live workflow's latest published version."""
    from sqlalchemy import and_, select

    from mcs.db.engine import session_scope
    from mcs.db.models import TaskNode, Workflow, WorkflowVersion

    query = (
        select(TaskNode.config["topic"].astext)
        .join(WorkflowVersion, TaskNode.version_id == WorkflowVersion.id)
        .join(
            Workflow,
            and_(
                Workflow.id == WorkflowVersion.workflow_id, Workflow.latest_version == WorkflowVersion.version
            ),
        )
        .where(TaskNode.kind == "mqtt_wait", Workflow.deleted_at.is_(None))
        .distinct()
    )
    with session_scope(settings.database_url()) as session:
        return {topic for topic in session.scalars(query) if topic}


def wanted_filters(from_db: set[str]) -> set[str]:
    configured = {t.strip() for t in settings.get("device_topics").split(",") if t.strip()}
    return {f for f in map(subscribable_filter, from_db | configured) if f}


def _insert_messages(rows: list[dict[str, Any]]) -> None:
    from datetime import UTC, datetime

    from mcs.db.engine import session_scope
    from mcs.db.models import DeviceMessage

    with session_scope(settings.database_url()) as session:
        for row in rows:
            received_at = datetime.fromtimestamp(row.pop("received_ms") / 1000, tz=UTC)
            session.add(DeviceMessage(received_at=received_at, **row))


class Gateway:
    """The gateway's MQTT session, journal writer and database writer.

    :param client_kwargs: keyword arguments of :class:`aiomqtt.Client`.
    :param refresh_seconds: how often to re-read the wait topics from the database.
    """

    def __init__(self, client_kwargs: dict[str, Any], refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.client_kwargs = client_kwargs
        self.refresh_seconds = refresh_seconds
        self.db_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(DB_QUEUE_SIZE)
        self.db_topics: set[str] = set()
        self._db_failing = False

    async def _refresh_db_topics(self) -> None:
        try:
            self.db_topics = await asyncio.to_thread(wait_topics)
            self._db_failing = False
        except Exception as exc:
            if not self._db_failing:
                log.warning("Cannot read wait topics from the mcs database (keeping the last ones): %s", exc)
            self._db_failing = True

    async def _keep_subscribed(self, client: aiomqtt.Client) -> None:
        subscribed: set[str] = set()
        while True:
            await self._refresh_db_topics()
            wanted = wanted_filters(self.db_topics)
            for topic_filter in sorted(wanted - subscribed):
                await client.subscribe(topic_filter, qos=1)
                log.info("Subscribed to %s", topic_filter)
            for topic_filter in sorted(subscribed - wanted):
                await client.unsubscribe(topic_filter)
                log.info("Unsubscribed from %s", topic_filter)
            subscribed = wanted
            await asyncio.sleep(self.refresh_seconds)

    async def _record(self, redis_client: Any, message: aiomqtt.Message) -> None:
        received_ms = int(time.time() * 1000)
        topic, payload = message.topic.value, bytes(message.payload or b"")
        for attempt in range(JOURNAL_ATTEMPTS):
            try:
                await journal.aappend(redis_client, topic, payload, source="mqtt", received_ms=received_ms)
                break
            except redis.RedisError as exc:
                log.warning(
                    "Cannot append the message on %s to the journal (attempt %s): %s", topic, attempt + 1, exc
                )
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        else:
            log.error("Dropped the message on %s: the journal is unreachable", topic)
        log.debug("Recorded a message on %s (%s bytes)", topic, len(payload))
        row = {"topic": topic, "payload": payload.decode("utf-8", errors="replace"), "source": "mqtt"}
        try:
            self.db_queue.put_nowait({**row, "client_id": "", "received_ms": received_ms})
        except asyncio.QueueFull:
            log.warning("The device_message table is behind; not storing the message on %s there", topic)

    async def _write_db(self) -> None:
        while True:
            rows = [await self.db_queue.get()]
            while not self.db_queue.empty() and len(rows) < 500:
                rows.append(self.db_queue.get_nowait())
            try:
                await asyncio.to_thread(_insert_messages, rows)
            except Exception as exc:
                log.warning("Cannot store %s device messages in the mcs database: %s", len(rows), exc)

    async def serve(self) -> None:
        """Run until cancelled: connect, subscribe, record; reconnect with backoff."""
        redis_client = journal.async_client()
        db_writer = asyncio.create_task(self._write_db())
        backoff = BACKOFF_FIRST
        try:
            while True:
                try:
                    async with aiomqtt.Client(**self.client_kwargs) as client, asyncio.TaskGroup() as tasks:
                        log.info("Connected to the MQTT broker as %s", self.client_kwargs["identifier"])
                        backoff = BACKOFF_FIRST
                        tasks.create_task(self._keep_subscribed(client))
                        async for message in client.messages:
                            await self._record(redis_client, message)
                except* aiomqtt.MqttError as group:
                    log.warning(
                        "MQTT connection lost (%s); reconnecting in %ss", group.exceptions[0], backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            db_writer.cancel()
            await redis_client.aclose()


async def _main() -> None:
    hook = MqttHook()
    await hook.aload_connection()
    gateway = Gateway(hook.async_client_kwargs(gateway_client_id(), persistent=True))
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await gateway.serve()
    except asyncio.CancelledError:
        log.info("Gateway stopped")


def run() -> int:
    """Run the gateway until SIGTERM or SIGINT; return the process exit code."""
    asyncio.run(_main())
    return 0
