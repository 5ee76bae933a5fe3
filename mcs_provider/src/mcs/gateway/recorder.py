"""Recording device messages: the journal (Redis) first, then, off the hot path, ``device_message``.

:meth:`DeviceRecorder.record` returns once the message is in the journal; only then does the
gateway acknowledge it to the broker. If the journal stays unreachable it raises
:class:`JournalUnavailable`, and the gateway drops its connection so that the broker keeps the
message and delivers it again after the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis

from mcs import journal, settings
from mcs.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

DB_QUEUE_SIZE = 10_000
JOURNAL_ATTEMPTS = 5


class JournalUnavailable(ServiceUnavailableError):
    """The device message journal (Redis) cannot be written to."""


def insert_messages(rows: list[dict[str, Any]]) -> None:
    """Store device messages in the ``device_message`` table (``received_ms`` becomes ``received_at``)."""
    from datetime import UTC, datetime

    from mcs.db.engine import session_scope
    from mcs.db.models import DeviceMessage

    with session_scope(settings.database_url()) as session:
        for row in rows:
            received_at = datetime.fromtimestamp(row.pop("received_ms") / 1000, tz=UTC)
            session.add(DeviceMessage(received_at=received_at, **row))


class DeviceRecorder:
    """Writes device messages to the journal and, in batches, to the ``device_message`` table.

    :param redis_client: an asyncio Redis client (``decode_responses=True``) the caller closes.
    """

    def __init__(self, redis_client: Any) -> None:
        self.redis_client = redis_client
        self.db_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(DB_QUEUE_SIZE)

    async def record(self, topic: str, payload: bytes, source: str = "mqtt") -> str:
        """Append one message to the journal and queue it for the table; return its journal id.

        :param topic: the topic it arrived on.
        :param payload: its payload.
        :param source: ``"mqtt"`` or ``"http"``.
        :raises JournalUnavailable: the journal could not be written after several attempts.
        """
        received_ms = int(time.time() * 1000)
        for attempt in range(JOURNAL_ATTEMPTS):
            try:
                entry_id = await journal.aappend(
                    self.redis_client, topic, payload, source=source, received_ms=received_ms
                )
                break
            except redis.RedisError as exc:
                log.warning(
                    "Cannot append the message on %s to the journal (attempt %s): %s", topic, attempt + 1, exc
                )
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        else:
            raise JournalUnavailable(f"the device message journal cannot be written (message on `{topic}`)")
        log.debug("Recorded a message on %s (%s bytes)", topic, len(payload))

        row = {"topic": topic, "payload": payload.decode("utf-8", errors="replace"), "source": source}
        try:
            self.db_queue.put_nowait({**row, "client_id": "", "received_ms": received_ms})
        except asyncio.QueueFull:
            log.warning("The device_message table is behind; not storing the message on %s there", topic)
        return entry_id

    async def write_db(self) -> None:
        """Run until cancelled: store queued messages in the ``device_message`` table, up to 500 at once."""
        while True:
            rows = [await self.db_queue.get()]
            while not self.db_queue.empty() and len(rows) < 500:
                rows.append(self.db_queue.get_nowait())
            try:
                await asyncio.to_thread(insert_messages, rows)
            except Exception as exc:
                log.warning("Cannot store %s device messages in the mcs database: %s", len(rows), exc)
