"""The gateway's MQTT client: a stable identity, a persistent session, and acknowledgements on demand.

aiomqtt acknowledges a QoS 1 message (PUBACK) as soon as it has read it, before the gateway has
done anything with it; a gateway killed at that moment would lose the message. This client turns
on paho's manual acknowledgement instead: the gateway calls :meth:`GatewayClient.ack` only once a
device message is in the journal or a command has been answered. Until then the broker keeps the
message in the gateway's persistent session and sends it again when the gateway reconnects.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import aiomqtt

from mcs import settings
from mcs.hooks.mqtt import build_client_id

# A message the HTTP hook has put in the journal already carries this MQTT 5 user property.
JOURNALED_PROPERTY = "mcs-journal-id"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _installation() -> str:
    """The name of the ``mcs`` database: what tells two MCS installations on one broker apart."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(settings.database_url()).database or "mcs"
    except Exception:
        return "mcs"


def gateway_client_id() -> str:
    """``[mcs] gateway_client_id``, else one per host and installation, the same at every start."""
    return settings.get("gateway_client_id") or build_client_id(
        "mcs-gateway", socket.gethostname(), _installation()
    )


def share_group() -> str:
    """``[mcs] gateway_share_group``, else ``mcs-gateway-<mcs database name>``."""
    group = settings.get("gateway_share_group").strip()
    return group or f"mcs-gateway-{_UNSAFE.sub('_', _installation())}"


class GatewayClient(aiomqtt.Client):
    """An :class:`aiomqtt.Client` whose QoS 1 messages are acknowledged only by :meth:`ack`.

    aiomqtt 2.x has no switch for this, so the paho client it wraps is reached directly; a test
    (``tests/integration/test_gateway_commands.py``) pins that an unacknowledged message comes back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client.manual_ack_set(True)

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge ``message`` to the broker (QoS 1: PUBACK); nothing to do for QoS 0.

        :param message: a message received on this connection.
        """
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)


def journaled_already(message: aiomqtt.Message) -> bool:
    """Whether the message was published by MCS's HTTP hook, which journaled it itself."""
    pairs = getattr(message.properties, "UserProperty", None) or []
    return any(name == JOURNALED_PROPERTY for name, _ in pairs)
