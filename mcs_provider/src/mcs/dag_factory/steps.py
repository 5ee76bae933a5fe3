"""The Airflow operator behind each node kind, with MCS templating mixed in."""

from __future__ import annotations

from typing import Any

from mcs.definition.model import Node
from mcs.operators.delay import DelayOperator
from mcs.operators.http import HttpRequestOperator
from mcs.operators.mqtt import MqttPublishOperator
from mcs.operators.templating import NodeTemplateMixin
from mcs.sensors.mqtt import MqttMessageSensor


class HttpRequestStep(NodeTemplateMixin, HttpRequestOperator):
    text_fields = ("endpoint",)


class MqttPublishStep(NodeTemplateMixin, MqttPublishOperator):
    text_fields = ("topic",)


class MqttWaitStep(NodeTemplateMixin, MqttMessageSensor):
    text_fields = ("topic",)


class DelayStep(NodeTemplateMixin, DelayOperator):
    pass


def step_arguments(node: Node) -> tuple[type, dict[str, Any]]:
    """The operator class for ``node`` and the arguments its config turns into."""
    config = node.config
    if node.kind == "http_request":
        return HttpRequestStep, {
            "url": config["url"],
            "method": config.get("method", "GET"),
            "json_body": config.get("json"),
            "body": config.get("body"),
            "headers": config.get("headers") or {},
            "http_conn_id": config.get("conn_id"),
            "fail_on_status": config.get("fail_on_status", True),
        }
    if node.kind == "mqtt_publish":
        return MqttPublishStep, {
            "topic": config["topic"],
            "payload": config.get("payload", ""),
            "qos": config.get("qos", 1),
            "retain": config.get("retain", False),
        }
    if node.kind == "mqtt_wait":
        return MqttWaitStep, {
            "topic": config["topic"],
            "condition": config.get("condition"),
            "timeout_seconds": config.get("timeout_seconds"),
            "since": config.get("since", "upstream"),
        }
    if node.kind == "delay":
        return DelayStep, {"seconds": config["seconds"]}
    raise ValueError(f"no step for node kind {node.kind!r}")
