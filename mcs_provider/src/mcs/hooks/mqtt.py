"""The MQTT hook: a broker described by an Airflow Connection of type ``mqtt``.

Connection fields: host, port (1883), login/password, and extra JSON with ``protocol`` ("3.1.1"
or "5", default "5"), ``tls``, ``ca_certs``, ``certfile``, ``keyfile``, ``tls_insecure``,
``keepalive`` (60) and ``client_id_prefix`` ("mcs"). The same Connection serves the synchronous
paho client (operators) and the asyncio client (triggers, gateway).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from airflow.sdk import BaseHook
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mcs import settings
from mcs.errors import MqttError, ServiceUnavailableError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def build_client_id(prefix: str, *parts: object, readable: int = 24) -> str:
    """Build a short, stable MQTT client id from ``parts`` (only ``[A-Za-z0-9_-]``).

    The same parts always give the same id; different parts give different ids (a hash of all of
    them ends the id), e.g. ``mcs-wait_door-3f2a9c1b7e``.

    :param prefix: the first word of the id, such as ``mcs``.
    :param parts: what identifies the client: dag id, task id, run id, map index, try number...
    :param readable: how many characters of the sanitised parts to keep for people to read.
    """
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:10]
    words = _UNSAFE.sub("_", "_".join(str(p) for p in parts[:2])).strip("_")[:readable]
    prefix = _UNSAFE.sub("_", prefix) or "mcs"
    return "-".join(x for x in (prefix, words, digest) if x)


def encode_payload(payload: Any) -> str:
    """Return ``payload`` as the text to send: strings as they are, anything else as JSON.

    :param payload: a string, dict, list, number, boolean or ``None``.
    """
    if isinstance(payload, str):
        return payload
    if isinstance(payload, bytes):
        return payload.decode("utf-8")
    return json.dumps(payload, ensure_ascii=False)


def decode_payload(text: str | bytes) -> Any:
    """Return ``text`` parsed as JSON when it is JSON, else the text itself.

    :param text: a payload as text (bytes are decoded as UTF-8, bad bytes replaced).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class MqttHook(BaseHook):
    """Publish to an MQTT broker, and describe it to asyncio clients.

    :param mqtt_conn_id: the Airflow Connection of the broker; ``[mcs] mqtt_conn_id`` if not given.
    :param client_id: the MQTT client id; a random one with the Connection's prefix if not given.
    :param timeout: seconds to wait for CONNACK, and for PUBACK/PUBCOMP of a publish.
    """

    conn_name_attr = "mqtt_conn_id"
    default_conn_name = "mcs_mqtt"
    conn_type = "mqtt"
    hook_name = "MQTT"

    def __init__(self, mqtt_conn_id: str | None = None, client_id: str | None = None, timeout: float = 10.0):
        super().__init__()
        self.mqtt_conn_id = mqtt_conn_id or settings.get("mqtt_conn_id")
        self.client_id = client_id
        self.timeout = timeout
        self._connection = None
        self._client: paho.Client | None = None
        self._refused: dict[int, str] = {}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema"],
            "relabeling": {"login": "Username"},
            "placeholders": {
                "host": "127.0.0.1",
                "port": "1883",
                "extra": '{"protocol": "5", "tls": false, "keepalive": 60, "client_id_prefix": "mcs"}',
            },
        }

    def _conn(self):
        if self._connection is None:
            self._connection = self.get_connection(self.mqtt_conn_id)
        return self._connection

    async def aload_connection(self) -> None:
        """Fetch the Connection without blocking the event loop (call before use in a trigger)."""
        if self._connection is None:
            self._connection = await self.aget_connection(self.mqtt_conn_id)

    def _extra(self) -> dict[str, Any]:
        return self._conn().extra_dejson or {}

    @property
    def is_v5(self) -> bool:
        return str(self._extra().get("protocol", "5")).strip() in {"5", "5.0", "v5"}

    @property
    def keepalive(self) -> int:
        return int(self._extra().get("keepalive", 60))

    def _client_id(self, client_id: str | None = None) -> str:
        prefix = self._extra().get("client_id_prefix", "mcs")
        return client_id or self.client_id or build_client_id(prefix, uuid.uuid4().hex)

    def get_conn(self) -> paho.Client:
        """Return a connected paho client with its network loop running (one per hook)."""
        if self._client is not None:
            return self._client
        conn, extra = self._conn(), self._extra()
        client_id = self._client_id()
        protocol = paho.MQTTv5 if self.is_v5 else paho.MQTTv311
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=None if self.is_v5 else True,
        )
        if conn.login:
            client.username_pw_set(conn.login, conn.password)
        if extra.get("tls"):
            client.tls_set(
                ca_certs=extra.get("ca_certs"), certfile=extra.get("certfile"), keyfile=extra.get("keyfile")
            )
            client.tls_insecure_set(bool(extra.get("tls_insecure", False)))

        connected = threading.Event()
        outcome: dict[str, Any] = {}

        def on_connect(_client, _userdata, _flags, reason_code, _properties):
            outcome["reason"] = reason_code
            connected.set()

        def on_publish(_client, _userdata, mid, reason_code, _properties):
            if reason_code.is_failure:
                self._refused[mid] = str(reason_code)

        client.on_connect = on_connect
        client.on_publish = on_publish
        host, port = conn.host or "127.0.0.1", int(conn.port or 1883)
        try:
            client.connect(host, port, keepalive=self.keepalive)
        except OSError as exc:
            raise ServiceUnavailableError(f"cannot reach the MQTT broker {host}:{port}: {exc}") from exc
        client.loop_start()
        if not connected.wait(self.timeout) or outcome["reason"].is_failure:
            client.loop_stop()
            client.disconnect()
            found = outcome.get("reason", f"no CONNACK in {self.timeout}s")
            raise ServiceUnavailableError(
                f"the MQTT broker {host}:{port} did not accept `{client_id}`: {found}"
            )
        self.log.info("Connected to MQTT broker %s:%s as %s", host, port, client_id)
        self._client = client
        return client

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish one message; with ``qos`` 1 or 2, wait until the broker acknowledged it.

        :param topic: the topic to publish to (no wildcards).
        :param payload: the payload.
        :param qos: 0, 1 or 2.
        :param retain: whether the broker keeps it for later subscribers.
        :raises MqttError: the broker refused it or did not acknowledge it within the timeout.
        """
        info = self.get_conn().publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"cannot publish to `{topic}`: {paho.error_string(info.rc)}")
        if qos == 0:
            return
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            raise MqttError(f"publish to `{topic}` failed: {exc}") from exc
        if not info.is_published():
            raise MqttError(f"the broker did not acknowledge the publish to `{topic}` within {self.timeout}s")
        refused = self._refused.pop(info.mid, None)
        if refused:
            raise MqttError(f"the broker refused the publish to `{topic}`: {refused}")

    def close(self) -> None:
        """Disconnect and stop the network loop."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def async_client_kwargs(
        self, client_id: str | None = None, persistent: bool = False, session_expiry: int = 7 * 24 * 3600
    ) -> dict[str, Any]:
        """Return the keyword arguments of :class:`aiomqtt.Client` for this Connection.

        :param client_id: the MQTT client id; the hook's, or a random one, if not given.
        :param persistent: keep the session (subscriptions, queued QoS 1 messages) across reconnects.
        :param session_expiry: with ``persistent`` on MQTT 5, seconds the broker keeps the session.
        """
        import aiomqtt

        conn, extra = self._conn(), self._extra()
        kwargs: dict[str, Any] = {
            "hostname": conn.host or "127.0.0.1",
            "port": int(conn.port or 1883),
            "username": conn.login or None,
            "password": conn.password or None,
            "identifier": self._client_id(client_id),
            "keepalive": self.keepalive,
        }
        if self.is_v5:
            kwargs["protocol"] = aiomqtt.ProtocolVersion.V5
            kwargs["clean_start"] = not persistent
            if persistent:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = session_expiry
                kwargs["properties"] = properties
        else:
            kwargs["protocol"] = aiomqtt.ProtocolVersion.V311
            kwargs["clean_session"] = not persistent
        if extra.get("tls"):
            kwargs["tls_params"] = aiomqtt.TLSParameters(
                ca_certs=extra.get("ca_certs"), certfile=extra.get("certfile"), keyfile=extra.get("keyfile")
            )
            kwargs["tls_insecure"] = bool(extra.get("tls_insecure", False))
        return kwargs
