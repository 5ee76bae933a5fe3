"""Definitions shared by the unit tests."""

from __future__ import annotations

import copy


def demo() -> dict:
    """Publish a command, wait for the device's reply, POST a value from the reply."""
    return copy.deepcopy(
        {
            "key": "pump_check",
            "name": "水泵读数",
            "description": "Read a pump and report the value.",
            "tags": ["demo"],
            "params": {"device_id": {"type": "string", "default": "pump-1"}},
            "nodes": [
                {
                    "key": "send",
                    "kind": "mqtt_publish",
                    "name": "发送命令",
                    "config": {"topic": "devices/{{ params.device_id }}/command", "payload": {"cmd": "read"}},
                },
                {
                    "key": "reply",
                    "kind": "mqtt_wait",
                    "config": {"topic": "devices/+/reply", "condition": "payload.ok", "timeout_seconds": 60},
                },
                {
                    "key": "report",
                    "kind": "http_request",
                    "retries": 2,
                    "timeout_seconds": 30,
                    "config": {
                        "method": "POST",
                        "url": "http://127.0.0.1:8099/readings",
                        "json": {"value": "{{ nodes.reply.payload.value }}"},
                    },
                },
            ],
            "edges": [{"source": "send", "target": "reply"}, {"source": "reply", "target": "report"}],
        }
    )
