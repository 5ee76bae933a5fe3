"""``mcs gateway``: MCS's one persistent MQTT session, for device messages and commands.

The gateway connects with a stable client id and a persistent session (MQTT 5 session expiry, or
clean session off on 3.1.1), subscribes at QoS 1 to

- the device topics the published waits listen on (:mod:`mcs.gateway.topics`), refreshed every few
  seconds; each message goes to the journal (:mod:`mcs.gateway.recorder`);
- ``$share/<group>/mcs/workflows/+/command`` (``mcs`` is ``[mcs] topic_prefix``), a shared subscription, so that of several gateways
  one takes each command (:mod:`mcs.gateway.commands`). A broker without shared subscriptions gets
  the plain filter: each gateway then receives every command, and the command table still makes
  only the first act; the others answer it as a duplicate.

Messages are acknowledged to the broker only once recorded or answered (:mod:`mcs.gateway.client`),
so a gateway killed at any moment loses nothing: the broker sends the rest again on reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import aiomqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from mcs import journal, settings
from mcs.gateway import events as run_events
from mcs.gateway.client import GatewayClient, gateway_client_id, journaled_already, share_group
from mcs.gateway.commands import CommandLanes
from mcs.gateway.recorder import DeviceRecorder, JournalUnavailable
from mcs.gateway.topics import command_filter, command_key, subscribable_filter, wait_topics, wanted_filters
from mcs.hooks.mqtt import MqttHook

log = logging.getLogger(__name__)

# Short, so a newly published wait topic is recorded before Airflow has even loaded the new DAG.
REFRESH_SECONDS = 1.0
PURGE_SECONDS = 3600.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0

__all__ = ["Gateway", "gateway_client_id", "run", "subscribable_filter", "wait_topics"]


def _refused(granted: Any) -> str | None:
    for code in granted or ():
        value = getattr(code, "value", code)
        if isinstance(value, int) and value >= 0x80:
            return str(code)
    return None


class Gateway:
    """The gateway's MQTT session, journal writer and command handler.

    :param client_kwargs: keyword arguments of :class:`aiomqtt.Client`.
    :param refresh_seconds: how often to re-read the wait topics from the database.
    :param commands: whether to take commands (off for a gateway that only records device messages).
    """

    def __init__(
        self, client_kwargs: dict[str, Any], refresh_seconds: float = REFRESH_SECONDS, commands: bool = True
    ) -> None:
        self.client_kwargs = client_kwargs
        self.refresh_seconds = refresh_seconds
        self.commands = commands
        self.command_lanes = max(1, int(settings.get("gateway_command_workers")))
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

    async def _subscribe_commands(self, client: aiomqtt.Client) -> None:
        v5 = self.client_kwargs.get("protocol") == aiomqtt.ProtocolVersion.V5
        # A retained command is an old one: never replay it at a (re)subscription.
        options = {"options": SubscribeOptions(qos=1, retainHandling=2)} if v5 else {"qos": 1}
        shared = f"$share/{share_group()}/{command_filter()}"
        refused = _refused(await client.subscribe(shared, **options))
        if refused is None:
            log.info("Taking commands on %s", shared)
            return
        log.warning(
            "The broker refused the shared subscription %s (%s); subscribing to %s. Several gateways "
            "will each receive every command; only the first acts, the others answer it as a duplicate.",
            shared,
            refused,
            command_filter(),
        )
        refused = _refused(await client.subscribe(command_filter(), **options))
        if refused is not None:
            raise PermissionError(f"the broker refused the subscription to `{command_filter()}`: {refused}")

    async def _purge_commands(self, control: Any) -> None:
        while True:
            try:
                await asyncio.to_thread(control.forget_old_commands)
            except Exception as exc:
                log.warning("Cannot delete old commands from the mcs database: %s", exc)
            await asyncio.sleep(PURGE_SECONDS)

    async def _session(self, client: GatewayClient, recorder: DeviceRecorder) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._keep_subscribed(client))
            lanes = None
            if self.commands:
                lanes = CommandLanes(client, self.command_lanes)
                await lanes.run(tasks)
                await self._subscribe_commands(client)
            async for message in client.messages:
                key = command_key(message.topic.value)
                if message.retain:
                    # Sent from the broker's store at subscription time: old state, not a new message.
                    client.ack(message)
                elif key is not None and lanes is not None:
                    lanes.submit(key, message)
                else:
                    if not journaled_already(message):
                        await recorder.record(message.topic.value, bytes(message.payload or b""))
                    client.ack(message)

    async def serve(self) -> None:
        """Run until cancelled: connect, subscribe, record and answer; reconnect with backoff."""
        if self.commands:
            # Imported before any thread runs: importing Airflow's models from a thread while another
            # runs queries can deadlock on the import lock and SQLAlchemy's mapper lock.
            from mcs.api.services import control
        redis_client = journal.async_client()
        recorder = DeviceRecorder(redis_client)
        background = [asyncio.create_task(recorder.write_db())]
        if self.commands:
            background.append(asyncio.create_task(self._purge_commands(control)))
        backoff = BACKOFF_FIRST
        try:
            while True:
                try:
                    async with GatewayClient(**self.client_kwargs) as client:
                        log.info("Connected to the MQTT broker as %s", self.client_kwargs["identifier"])
                        backoff = BACKOFF_FIRST
                        await self._session(client, recorder)
                except* (aiomqtt.MqttError, JournalUnavailable) as group:
                    log.warning("MQTT session ended (%s); reconnecting in %ss", group.exceptions[0], backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            for task in background:
                task.cancel()
            await redis_client.aclose()


async def _main() -> None:
    hook = MqttHook()
    await hook.aload_connection()
    gateway = Gateway(hook.async_client_kwargs(gateway_client_id(), persistent=True))
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    # Run events: the MQTT events topic, alert webhooks and the run watcher (mcs.gateway.events).
    run_events.start(hook.async_client_kwargs(gateway_client_id() + "-events"))
    try:
        await gateway.serve()
    except asyncio.CancelledError:
        log.info("Gateway stopped")


def run() -> int:
    """Run the gateway until SIGTERM or SIGINT; return the process exit code."""
    asyncio.run(_main())
    return 0
