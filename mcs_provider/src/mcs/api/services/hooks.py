"""HTTP hooks: a URL and a token per workflow action, for devices and services that cannot log in.

A hook is a ``trigger_binding`` row of kind ``http`` whose ``action`` is ``start``, ``stop`` or
``message``. Its token is 32 random bytes (URL-safe base64), shown once when the hook is created or
rotated. Only its SHA-256 is stored: the token is random and 256 bits long, so a fast hash cannot
be brute forced, and a deliberately slow one (bcrypt, scrypt) would only let anyone holding a
hook's URL make the server burn CPU on every request. Tokens are compared with
:func:`hmac.compare_digest`; a request for a hook that does not exist is answered exactly like a
request with a wrong token, after the same work.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from paho.mqtt.client import topic_matches_sub
from sqlalchemy import select
from sqlalchemy.orm import Session

from mcs import journal, settings
from mcs.api.services.workflows import get_workflow
from mcs.db.engine import session_scope
from mcs.db.models import DeviceMessage, TriggerBinding, Workflow
from mcs.errors import McsError, MqttError, NotFoundError
from mcs.gateway.client import JOURNALED_PROPERTY
from mcs.gateway.topics import subscribable_filter, wait_topics, workflow_topic
from mcs.hooks.mqtt import MqttHook, encode_payload

log = logging.getLogger(__name__)

HOOK_ACTIONS = ("start", "stop", "message")
TOKEN_BYTES = 32
HASH_PREFIX = "sha256:"
RATE_WINDOW_SECONDS = 60
# Compared against when the hook does not exist, so that case takes the same work as a wrong token.
_NO_HOOK_HASH = HASH_PREFIX + hashlib.sha256(b"no such hook").hexdigest()


class HookUnauthorized(McsError):
    """The hook does not exist, is switched off, or the token is missing or wrong (one answer for all)."""


class MessageRefused(McsError):
    """A message posted to a hook that the hook may not send; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    """Whether ``token`` is the one behind ``stored_hash``, in time independent of where they differ."""
    return hmac.compare_digest(
        hash_token(token).encode("ascii"), (stored_hash or _NO_HOOK_HASH).encode("ascii")
    )


# ---------------------------------------------------------------- managing hooks (logged-in users)


def _hook_of(session: Session, key: str, hook_id: int) -> TriggerBinding:
    workflow = get_workflow(session, key)
    binding = session.get(TriggerBinding, hook_id)
    if binding is None or binding.workflow_id != workflow.id or binding.kind != "http":
        raise NotFoundError(f"hook `{hook_id}` of workflow `{key}` does not exist")
    return binding


def create_hook(session: Session, key: str, action: str, topic: str | None) -> tuple[TriggerBinding, str]:
    """Create a hook; return it and its token (the only time the token is available).

    :param session: a session of the ``mcs`` database; the caller commits.
    :param key: the workflow key.
    :param action: ``start``, ``stop`` or ``message``.
    :param topic: for ``message``, a topic filter the posted topics must match; ``None``: the
        topics the workflow's waits listen on.
    """
    workflow = get_workflow(session, key)
    token = new_token()
    binding = TriggerBinding(
        workflow_id=workflow.id,
        kind="http",
        action=action,
        topic=topic if action == "message" else None,
        token_hash=hash_token(token),
        enabled=True,
    )
    session.add(binding)
    session.flush()
    log.info("Created %s hook %s of workflow %s", action, binding.id, key)
    return binding, token


def list_hooks(session: Session, key: str) -> list[TriggerBinding]:
    workflow = get_workflow(session, key)
    return list(
        session.scalars(
            select(TriggerBinding)
            .where(TriggerBinding.workflow_id == workflow.id, TriggerBinding.kind == "http")
            .order_by(TriggerBinding.id)
        )
    )


def rotate_hook(session: Session, key: str, hook_id: int) -> tuple[TriggerBinding, str]:
    """Give the hook a new token (the old one stops working at once); return it and the token."""
    binding = _hook_of(session, key, hook_id)
    token = new_token()
    binding.token_hash = hash_token(token)
    binding.rotated_at = datetime.now(UTC)
    log.info("Rotated the token of hook %s of workflow %s", hook_id, key)
    return binding, token


def revoke_hook(session: Session, key: str, hook_id: int) -> None:
    session.delete(_hook_of(session, key, hook_id))
    log.info("Revoked hook %s of workflow %s", hook_id, key)


# ---------------------------------------------------------------- calling hooks (public)


def authenticate(session: Session, hook_id: int, token: str | None) -> tuple[TriggerBinding, Workflow | None]:
    """Return the hook and its live workflow (``None`` if deleted), or raise :class:`HookUnauthorized`.

    :param session: a session of the ``mcs`` database.
    :param hook_id: the id in the hook's URL.
    :param token: the token the caller sent, ``None`` if none.
    """
    binding = session.get(TriggerBinding, hook_id)
    usable = binding is not None and binding.kind == "http" and binding.enabled
    matches = token_matches(token or "", binding.token_hash if usable else None)
    if not (usable and token and matches):
        raise HookUnauthorized("missing or wrong hook token")
    workflow = session.get(Workflow, binding.workflow_id)
    return binding, (workflow if workflow is not None and workflow.deleted_at is None else None)


def retry_after(hook_id: int, limit: int | None = None) -> int | None:
    """Count one request to the hook; return seconds to wait when over the limit, else ``None``.

    A fixed one-minute window per hook in Redis. If Redis cannot be reached the request goes
    through: a hook's token is its protection, the limit only keeps one caller from flooding.

    :param hook_id: the hook.
    :param limit: requests a minute; ``[mcs] hook_rate_limit`` if not given.
    """
    limit = int(settings.get("hook_rate_limit")) if limit is None else limit
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"mcs:hook-rate:{hook_id}:{window}"
    try:
        client = redis.Redis.from_url(settings.redis_url(), socket_timeout=2)
        try:
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, RATE_WINDOW_SECONDS * 2)
            count = pipe.execute()[0]
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("Cannot count requests to hook %s, letting this one through: %s", hook_id, exc)
        return None
    if count <= limit:
        return None
    return max(1, int((window + 1) * RATE_WINDOW_SECONDS - now + 0.999))


def allowed_filters(binding: TriggerBinding, workflow: Workflow) -> set[str]:
    """The topic filters a message hook may post to: its own, else those of the workflow's waits."""
    if binding.topic:
        return {binding.topic}
    return {f for f in map(subscribable_filter, wait_topics(workflow.key)) if f}


def check_message_topic(topic: Any, allowed: set[str]) -> str:
    """Return ``topic`` if a message hook may post to it, else raise :class:`MessageRefused`."""
    if not isinstance(topic, str) or not topic.strip():
        raise MessageRefused("topic", f"`topic` must be a non-empty string, found {topic!r}"[:200])
    if "+" in topic or "#" in topic or topic.startswith("$") or "\x00" in topic:
        raise MessageRefused(
            "topic", f"`topic` must be one exact topic without `+`, `#` or `$`, found `{topic}`"
        )
    if any(topic_matches_sub(workflow_topic("+", leaf), topic) for leaf in ("command", "ack", "events")):
        raise MessageRefused(
            "topic", f"`topic` `{topic}` is a control topic; post commands to a start or stop hook"
        )
    if not any(topic_matches_sub(f, topic) for f in allowed):
        expected = ", ".join(f"`{f}`" for f in sorted(allowed)) or "none (the workflow waits on no topic)"
        raise MessageRefused(
            "topic", f"`topic` `{topic}` is not one this hook may post to; allowed: {expected}"
        )
    return topic


@dataclass(frozen=True)
class PostedMessage:
    journal_id: str
    topic: str
    published: bool


def _publish(topic: str, text: str, journal_id: str) -> None:
    """Publish at QoS 1, marked as journaled so the gateway does not record it a second time."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    hook = MqttHook(client_id=f"mcs-hook-{uuid.uuid4().hex[:12]}", timeout=5.0)
    try:
        client = hook.get_conn()
        properties = None
        if hook.is_v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = (JOURNALED_PROPERTY, journal_id)
        info = client.publish(topic, text, qos=1, properties=properties)
        info.wait_for_publish(hook.timeout)
        if not info.is_published():
            raise MqttError(f"the broker did not acknowledge the message on `{topic}`")
    finally:
        hook.close()


def post_message(binding: TriggerBinding, workflow: Workflow, body: Any) -> PostedMessage:
    """Record a device message posted to a hook and publish it on MQTT, as if the device had.

    It goes to the journal first (so a wait that is not listening yet finds it there) and to the
    ``device_message`` table, then on MQTT (so a wait that is listening gets it at once).

    :param binding: the message hook.
    :param workflow: its workflow.
    :param body: the request body, ``{"topic": ..., "payload": ...}``.
    """
    if not isinstance(body, dict):
        raise MessageRefused("body", f"the body must be a JSON object, found {type(body).__name__}")
    unknown = sorted(set(body) - {"topic", "payload"})
    if unknown:
        raise MessageRefused(unknown[0], f"`{unknown[0]}` is not a known field; known: ['payload', 'topic']")
    if "payload" not in body:
        raise MessageRefused("payload", "`payload` is required")
    topic = check_message_topic(body.get("topic"), allowed_filters(binding, workflow))
    text = encode_payload(body["payload"])
    client_id = f"http_hook:{binding.id}"

    received_ms = int(time.time() * 1000)
    journal_id = journal.append(topic, text, source="http", client_id=client_id, received_ms=received_ms)
    with session_scope() as session:
        session.add(
            DeviceMessage(
                topic=topic,
                payload=text,
                source="http",
                client_id=client_id,
                received_at=datetime.fromtimestamp(received_ms / 1000, tz=UTC),
            )
        )
    try:
        _publish(topic, text, journal_id)
        published = True
    except (McsError, RuntimeError, ValueError, OSError) as exc:
        # It is in the journal: a wait reads it there when it next subscribes.
        log.warning(
            "Recorded the message posted to hook %s on %s, but could not publish it: %s",
            binding.id,
            topic,
            exc,
        )
        published = False
    log.info("Hook %s posted a device message on %s (journal %s)", binding.id, topic, journal_id)
    return PostedMessage(journal_id=journal_id, topic=topic, published=published)
