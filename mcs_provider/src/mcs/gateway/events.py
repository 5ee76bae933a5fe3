"""Run events on the gateway: the MQTT events topic, alert webhooks, and the run watcher.

:func:`start` adds three tasks to the gateway's event loop, each independent of the others and
of the gateway's own MQTT session, so a broker outage never holds up a webhook:

- ``forward``: every event of the Redis stream ``[mcs] event_stream`` is published (QoS 1, JSON,
  the shape of ``docs/events.md``) on ``mcs/workflows/{key}/events`` by an MQTT client of its own
  (``<gateway client id>-events``). Alert events only when the run's ``alerts.mqtt`` is on.
- ``alerts``: each ``alert`` event is posted to the ``alerts.webhooks`` of the run's published
  version (:func:`mcs.alerts.send_webhook`).
- ``watch``: :class:`mcs.events.watch.RunWatcher` once a second, for the state changes that no
  Airflow listener reports (deferred tasks, skipped tasks, stopped runs).

The first two read the stream through Redis consumer groups, so several gateways share the work
and an event is acknowledged only once it was handled; what a gateway had not acknowledged when
it stopped is handled when it (or, after a minute, another gateway) comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiomqtt
import httpx
import redis
import redis.asyncio
from sqlalchemy.orm import configure_mappers

from mcs import alerts, settings
from mcs.events.record import stream_name
from mcs.events.watch import RunWatcher

log = logging.getLogger(__name__)

EVENTS_TOPIC = "mcs/workflows/{key}/events"
MQTT_GROUP = "mcs-gateway-mqtt"
ALERT_GROUP = "mcs-gateway-alerts"
WATCH_SECONDS = 1.0
SETTINGS_SECONDS = 30.0
CLAIM_IDLE_MS = 60_000
CLAIM_EVERY = 30.0
WEBHOOK_CONCURRENCY = 8
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
# Longer than the 5 s XREADGROUP block, or redis-py gives up on a quiet stream.
SOCKET_TIMEOUT = 30.0

_tasks: set[asyncio.Task] = set()
_settings_cache: dict[int, tuple[float, Any]] = {}


def start(client_kwargs: dict[str, Any]) -> None:
    """Start the run event tasks in the running event loop; they stop when it is cancelled.

    :param client_kwargs: keyword arguments of :class:`aiomqtt.Client` for the events publisher.
    """
    # Configure the ORM here, in the main thread, before any thread of the gateway touches a model:
    # the first configuration imports all of Airflow's models, and doing that in a worker thread
    # while another thread imports Airflow can deadlock both.
    configure_mappers()
    consumer = client_kwargs["identifier"]
    for name, coroutine in (
        ("forward", forward(client_kwargs)),
        ("alerts", send_alerts(consumer)),
        ("watch", watch_runs()),
    ):
        _spawn(coroutine, f"mcs-events-{name}")


def _spawn(coroutine: Coroutine, name: str) -> asyncio.Task:
    task = asyncio.create_task(coroutine, name=name)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def events_topic(workflow_key: str) -> str:
    return EVENTS_TOPIC.format(key=workflow_key)


async def _alert_settings(run_id: int) -> Any:
    """The run's ``(Alerts, workflow name)``, cached for a while; None if the run is gone."""
    cached = _settings_cache.get(run_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    found = await asyncio.to_thread(alerts.run_alert_settings, run_id)
    if len(_settings_cache) > 10_000:
        _settings_cache.clear()
    _settings_cache[run_id] = (time.monotonic() + SETTINGS_SECONDS, found)
    return found


async def _ensure_group(client: redis.asyncio.Redis, group: str) -> None:
    try:
        await client.xgroup_create(stream_name(), group, id="$", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def consume(client: redis.asyncio.Redis, group: str, consumer: str) -> AsyncIterator[tuple[str, dict]]:
    """Yield ``(entry id, event)`` for the ``consumer`` of ``group``; the caller acknowledges each.

    First the entries this consumer was given before and did not acknowledge, then new ones; every
    half minute it also takes over entries another consumer has left unacknowledged for a minute.
    """
    await _ensure_group(client, group)
    stream, pending, claimed_at = stream_name(), "0", time.monotonic()
    while True:
        if pending is not None:
            answer = await client.xreadgroup(group, consumer, {stream: pending}, count=100)
            entries = answer[0][1] if answer else []
            pending = entries[-1][0] if entries else None
        elif time.monotonic() - claimed_at > CLAIM_EVERY:
            claimed_at = time.monotonic()
            answer = await client.xautoclaim(stream, group, consumer, CLAIM_IDLE_MS, "0-0", count=100)
            entries = answer[1] if answer else []
        else:
            answer = await client.xreadgroup(group, consumer, {stream: ">"}, count=100, block=5000)
            entries = answer[0][1] if answer else []
        for entry_id, fields in entries:
            try:
                event = json.loads((fields or {}).get("event", ""))
            except ValueError:
                event = None
            if not isinstance(event, dict):
                # Trimmed from the stream, or not an event: nothing to do but acknowledge it.
                await client.xack(stream, group, entry_id)
                continue
            yield entry_id, event


async def _wanted_on_mqtt(event: dict) -> bool:
    if event.get("kind") != "alert":
        return True
    found = await _alert_settings(int(event.get("run_id") or 0))
    return found is not None and found[0].mqtt


async def forward(client_kwargs: dict[str, Any]) -> None:
    """Publish every run event on its workflow's events topic; reconnect with backoff."""
    client = redis.asyncio.Redis.from_url(
        settings.redis_url(), decode_responses=True, socket_timeout=SOCKET_TIMEOUT
    )
    consumer, backoff = client_kwargs["identifier"], BACKOFF_FIRST
    try:
        while True:
            try:
                async with aiomqtt.Client(**client_kwargs) as mqtt:
                    log.info("Publishing run events as %s", consumer)
                    backoff = BACKOFF_FIRST
                    async for entry_id, event in consume(client, MQTT_GROUP, consumer):
                        if event.get("workflow_key") and await _wanted_on_mqtt(event):
                            payload = json.dumps(event, ensure_ascii=False, default=str)
                            await mqtt.publish(events_topic(event["workflow_key"]), payload, qos=1)
                        await client.xack(stream_name(), MQTT_GROUP, entry_id)
            except (aiomqtt.MqttError, redis.RedisError, OSError) as exc:
                log.warning("Run events to MQTT interrupted (%s); again in %ss", exc, backoff)
            except Exception:
                log.exception("Run events to MQTT failed; again in %ss", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
    finally:
        await client.aclose()


async def _send_alert(
    http: httpx.AsyncClient, client: redis.asyncio.Redis, entry_id: str, event: dict, limit: asyncio.Semaphore
) -> None:
    try:
        async with limit:
            found = await _alert_settings(int(event.get("run_id") or 0))
            webhooks = found[0].webhooks if found is not None else []
            await asyncio.gather(*(alerts.send_webhook(http, w.url, w.format, event) for w in webhooks))
    except Exception:
        log.exception("Could not send the alert of run %s", event.get("run_id"))
    await client.xack(stream_name(), ALERT_GROUP, entry_id)


async def send_alerts(consumer: str) -> None:
    """Post each alert event to the run's webhooks, several alerts at a time."""
    client = redis.asyncio.Redis.from_url(
        settings.redis_url(), decode_responses=True, socket_timeout=SOCKET_TIMEOUT
    )
    limit, backoff = asyncio.Semaphore(WEBHOOK_CONCURRENCY), BACKOFF_FIRST
    try:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            while True:
                try:
                    async for entry_id, event in consume(client, ALERT_GROUP, consumer):
                        backoff = BACKOFF_FIRST
                        if event.get("kind") != "alert":
                            await client.xack(stream_name(), ALERT_GROUP, entry_id)
                            continue
                        _spawn(_send_alert(http, client, entry_id, event, limit), "mcs-events-alert")
                except (redis.RedisError, OSError) as exc:
                    log.warning("Alert webhooks interrupted (%s); again in %ss", exc, backoff)
                except Exception:
                    log.exception("Alert webhooks failed; again in %ss", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
    finally:
        await client.aclose()


async def watch_runs(interval: float = WATCH_SECONDS) -> None:
    """Run the watcher every ``interval`` seconds; a failing database is logged once, not every time."""
    watcher, failing = RunWatcher(), False
    while True:
        try:
            await asyncio.to_thread(watcher.poll)
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("The run watcher cannot read the run states (will retry): %s", exc)
            failing = True
        await asyncio.sleep(interval)
