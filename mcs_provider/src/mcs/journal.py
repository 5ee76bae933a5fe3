"""The device message journal: a Redis Stream of every message devices sent to MCS.

The gateway (MQTT) and the HTTP hook append to it; waits read it from a saved position, so a
device reply that arrived before its wait subscribed, or while the triggerer restarted, still
satisfies the wait (design section 6). Stream ids are Redis' own millisecond clock, so "since
``t``" means "ids from ``<t>-0`` on". The stream is capped at ``[mcs] journal_maxlen`` entries.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache

import redis
import redis.asyncio
from paho.mqtt.client import topic_matches_sub

from mcs import settings

SOURCES = ("mqtt", "http")


@dataclass(frozen=True)
class JournalEntry:
    """One device message as the journal holds it.

    :param id: the stream id, ``<milliseconds>-<sequence>``.
    :param topic: the MQTT topic (or the hook's topic for HTTP).
    :param payload: the payload as text; base64 when ``encoding`` is ``"base64"``.
    :param encoding: ``"utf-8"`` or ``"base64"`` (the payload was not valid UTF-8).
    :param source: ``"mqtt"`` or ``"http"``.
    :param client_id: who sent it, when known.
    :param received_ms: when MCS received it, epoch milliseconds.
    """

    id: str
    topic: str
    payload: str
    encoding: str
    source: str
    client_id: str
    received_ms: int

    def payload_bytes(self) -> bytes:
        if self.encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")


def stream_name() -> str:
    return settings.get("journal_stream")


def _fields(topic: str, payload: str | bytes, source: str, client_id: str, received_ms: int | None) -> dict:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, found {source!r}")
    encoding = "utf-8"
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    return {
        "topic": topic,
        "payload": payload,
        "encoding": encoding,
        "source": source,
        "client_id": client_id,
        "received_ms": str(received_ms if received_ms is not None else int(time.time() * 1000)),
    }


@lru_cache(maxsize=4)
def _sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def append(
    topic: str,
    payload: str | bytes,
    source: str = "mqtt",
    client_id: str = "",
    received_ms: int | None = None,
) -> str:
    """Append one device message and return its stream id.

    :param topic: the topic the message arrived on.
    :param payload: the payload; bytes that are not UTF-8 are stored as base64.
    :param source: ``"mqtt"`` or ``"http"``.
    :param client_id: who sent it, when known.
    :param received_ms: when it was received, epoch milliseconds; now if not given.
    """
    fields = _fields(topic, payload, source, client_id, received_ms)
    maxlen = int(settings.get("journal_maxlen"))
    return _sync_client(settings.redis_url()).xadd(stream_name(), fields, maxlen=maxlen, approximate=True)


async def aappend(
    client: redis.asyncio.Redis,
    topic: str,
    payload: str | bytes,
    source: str = "mqtt",
    client_id: str = "",
    received_ms: int | None = None,
) -> str:
    """Like :func:`append`, on an asyncio Redis client (``decode_responses=True``) the caller owns.

    :param client: the asyncio Redis client.
    :param topic: the topic the message arrived on.
    :param payload: the payload; bytes that are not UTF-8 are stored as base64.
    :param source: ``"mqtt"`` or ``"http"``.
    :param client_id: who sent it, when known.
    :param received_ms: when it was received, epoch milliseconds; now if not given.
    """
    fields = _fields(topic, payload, source, client_id, received_ms)
    maxlen = int(settings.get("journal_maxlen"))
    return await client.xadd(stream_name(), fields, maxlen=maxlen, approximate=True)


def async_client() -> redis.asyncio.Redis:
    """A new asyncio Redis client for the journal; the caller closes it with ``aclose()``."""
    return redis.asyncio.Redis.from_url(settings.redis_url(), decode_responses=True)


def _entry(entry_id: str, fields: dict) -> JournalEntry:
    return JournalEntry(
        id=entry_id,
        topic=fields.get("topic", ""),
        payload=fields.get("payload", ""),
        encoding=fields.get("encoding", "utf-8"),
        source=fields.get("source", "mqtt"),
        client_id=fields.get("client_id", ""),
        received_ms=int(fields.get("received_ms") or entry_id.split("-")[0]),
    )


async def read_since(
    since_ms: int, count: int = 100, client: redis.asyncio.Redis | None = None, after_id: str | None = None
) -> list[JournalEntry]:
    """Return up to ``count`` entries with a stream id of at least ``<since_ms>-0``, oldest first.

    :param since_ms: epoch milliseconds of the first entry wanted.
    :param count: the most entries to return.
    :param client: an asyncio Redis client; a new one is opened and closed when not given.
    :param after_id: read only entries after this stream id (to page on from the last one read).
    """
    low = f"({after_id}" if after_id else f"{int(since_ms)}-0"
    own = client is None
    client = client or async_client()
    try:
        rows = await client.xrange(stream_name(), min=low, max="+", count=count)
    finally:
        if own:
            await client.aclose()
    return [_entry(entry_id, fields) for entry_id, fields in rows]


async def iter_since(
    since_ms: int, batch: int = 200, client: redis.asyncio.Redis | None = None
) -> AsyncIterator[JournalEntry]:
    """Yield every entry from ``<since_ms>-0`` to the end of the stream as it is now, oldest first.

    :param since_ms: epoch milliseconds of the first entry wanted.
    :param batch: how many entries to read per round trip.
    :param client: an asyncio Redis client; a new one is opened and closed when not given.
    """
    own = client is None
    client = client or async_client()
    try:
        after_id = None
        while True:
            entries = await read_since(since_ms, batch, client=client, after_id=after_id)
            for entry in entries:
                yield entry
            if len(entries) < batch:
                return
            after_id = entries[-1].id
    finally:
        if own:
            await client.aclose()


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Return whether ``topic`` matches the MQTT ``topic_filter`` (``+``, ``#``, ``$share/<group>/``).

    :param topic_filter: a subscription filter, wildcards allowed.
    :param topic: a concrete topic name.
    """
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        topic_filter = parts[2] if len(parts) == 3 else ""
    try:
        return topic_matches_sub(topic_filter, topic)
    except ValueError:
        return False
