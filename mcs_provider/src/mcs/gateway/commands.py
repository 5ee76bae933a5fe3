"""Commands on ``mcs/workflows/{key}/command``: check them, carry them out, answer on ``.../ack``.

A command is ``{"action": "start" | "stop" | "enable" | "disable", "command_id": "...",
"conf": {...}, "reason": "...", "client": "..."}``. :func:`parse_command` checks its shape and
names the bad field; :func:`mcs.api.services.control.execute_command` carries it out once per
command id. :class:`CommandLanes` runs commands in the background, those of one workflow in the
order they came, publishes each answer (QoS 1) and only then acknowledges the command to the broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import aiomqtt

from mcs.gateway.client import GatewayClient
from mcs.gateway.topics import ack_topic

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "enable", "disable")
FIELDS = {"action", "command_id", "conf", "reason", "client"}
MAX_ID, MAX_REASON, MAX_CLIENT = 200, 1000, 200
RETRY_FIRST, RETRY_MAX = 0.5, 10.0


class CommandRefused(Exception):
    """A command whose shape is wrong; ``field`` names the culprit."""

    def __init__(self, field: str, message: str, command_id: str | None = None, action: str | None = None):
        super().__init__(message)
        self.field = field
        self.command_id = command_id
        self.action = action


@dataclass(frozen=True)
class ParsedCommand:
    action: str
    command_id: str
    conf: dict[str, Any]
    reason: str
    client: str


def _text(body: dict, name: str, limit: int, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        found = "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]
        expected = "a non-empty string" if required else "a string"
        raise CommandRefused(name, f"`{name}` must be {expected}, found {found}")
    if len(value) > limit:
        raise CommandRefused(name, f"`{name}` must be at most {limit} characters, found {len(value)}")
    return value


def parse_command(payload: bytes) -> ParsedCommand:
    """Check a command's payload and return it, or raise :class:`CommandRefused` naming the field.

    :param payload: the MQTT payload as received.
    """
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise CommandRefused("payload", f"the payload is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise CommandRefused("payload", f"the payload must be a JSON object, found {type(body).__name__}")

    command_id = body.get("command_id") if isinstance(body.get("command_id"), str) else None
    action = body.get("action") if isinstance(body.get("action"), str) else None
    try:
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise CommandRefused(unknown[0], f"`{unknown[0]}` is not a known field; known: {sorted(FIELDS)}")
        if action not in ACTIONS:
            raise CommandRefused(
                "action", f"`action` must be one of {', '.join(ACTIONS)}, found {body.get('action')!r}"
            )
        command_id = _text(body, "command_id", MAX_ID, required=True)
        conf = body.get("conf") or {}
        if not isinstance(conf, dict):
            raise CommandRefused("conf", f"`conf` must be a JSON object, found {type(conf).__name__}")
        return ParsedCommand(
            action=action,
            command_id=command_id,
            conf=conf,
            reason=_text(body, "reason", MAX_REASON),
            client=_text(body, "client", MAX_CLIENT),
        )
    except CommandRefused as exc:
        exc.command_id, exc.action = command_id, action
        raise


def refusal(exc: CommandRefused) -> dict[str, Any]:
    """The answer to a command whose shape is wrong."""
    from mcs.api.services.control import error_answer

    return {**error_answer(exc.command_id, exc.action, "invalid", str(exc)), "field": exc.field}


def carry_out(key: str, parsed: ParsedCommand) -> dict[str, Any]:
    """Carry out one checked command (blocking: run it in a thread); return the answer.

    :param key: the workflow key from the topic.
    :param parsed: the command.
    """
    from mcs.api.services.control import Command, execute_command

    sent_by = f"mqtt:{parsed.client}" if parsed.client else "mqtt"
    log.info("Command %s: %s workflow %s (from %s)", parsed.command_id, parsed.action, key, sent_by)
    return execute_command(
        Command(
            key=key,
            action=parsed.action,
            command_id=parsed.command_id,
            conf=parsed.conf,
            reason=parsed.reason,
            source="mqtt",
            sent_by=sent_by,
        )
    )


def _retryable(exc: Exception, attempt: int) -> bool:
    """Whether to try the same command again: a database or the network is away for a moment.

    A clash on a unique index (two gateways, one command) is retried a few times: the retry finds
    the other's answer.
    """
    from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

    from mcs.errors import ServiceUnavailableError

    if isinstance(exc, IntegrityError):
        return attempt < 3
    return isinstance(exc, OperationalError | InterfaceError | ServiceUnavailableError | OSError)


class CommandLanes:
    """Carry out commands in the background on one connection, in order per workflow.

    A workflow's commands always go to the same lane (a hash of its key), so a stop sent after a
    start is handled after it; different workflows' commands run side by side.

    :param client: the connection the commands came on; answers and acknowledgements go back on it.
    :param lanes: how many commands run at the same time.
    """

    def __init__(self, client: GatewayClient, lanes: int) -> None:
        self.client = client
        self.queues: list[asyncio.Queue[tuple[str, aiomqtt.Message]]] = [
            asyncio.Queue() for _ in range(lanes)
        ]

    def submit(self, key: str, message: aiomqtt.Message) -> None:
        lane = zlib.crc32(key.encode("utf-8")) % len(self.queues)
        self.queues[lane].put_nowait((key, message))

    async def run(self, tasks: asyncio.TaskGroup) -> None:
        for queue in self.queues:
            tasks.create_task(self._work(queue))

    async def _answer(self, key: str, payload: bytes) -> dict[str, Any]:
        try:
            parsed = parse_command(payload)
        except CommandRefused as exc:
            log.info("Refused a command for %s: %s", key, exc)
            return refusal(exc)

        delay, attempt = RETRY_FIRST, 0
        while True:
            attempt += 1
            try:
                return await asyncio.to_thread(carry_out, key, parsed)
            except Exception as exc:
                if not _retryable(exc, attempt):
                    log.exception("Command %s for %s failed", parsed.command_id, key)
                    return {
                        "command_id": parsed.command_id,
                        "action": parsed.action,
                        "ok": False,
                        "duplicate": False,
                        "code": "internal",
                        "error": f"the gateway could not carry out the command: {type(exc).__name__}",
                    }
                log.warning(
                    "Command %s for %s must wait, a service is unavailable (%s); retrying",
                    parsed.command_id,
                    key,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _work(self, queue: asyncio.Queue[tuple[str, aiomqtt.Message]]) -> None:
        while True:
            key, message = await queue.get()
            answer = await self._answer(key, bytes(message.payload or b""))
            await self.client.publish(
                ack_topic(key), json.dumps(answer, ensure_ascii=False, default=str), qos=1
            )
            # Acknowledged only now: a gateway killed before this line gets the command again.
            self.client.ack(message)
