"""The Airflow operator behind each node kind, with MCS templating and flow mixed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcs.definition.model import Node
from mcs.operators.approval import ApprovalStep as ApprovalOperator
from mcs.operators.condition import ConditionOperator
from mcs.operators.delay import DelayOperator
from mcs.operators.end import EndOperator
from mcs.operators.flow import FlowMixin
from mcs.operators.http import HttpRequestOperator
from mcs.operators.mqtt import MqttPublishOperator
from mcs.operators.mqtt_request import MqttRequestOperator
from mcs.operators.sub_workflow import SubWorkflowOperator
from mcs.operators.templating import NodeTemplateMixin
from mcs.operators.wait_until import WaitUntilOperator
from mcs.sensors.http import HttpConditionSensor
from mcs.sensors.mqtt import MqttMessageSensor


class HttpRequestStep(FlowMixin, NodeTemplateMixin, HttpRequestOperator):
    text_fields = ("endpoint",)


class MqttPublishStep(FlowMixin, NodeTemplateMixin, MqttPublishOperator):
    text_fields = ("topic",)


class MqttWaitStep(FlowMixin, NodeTemplateMixin, MqttMessageSensor):
    text_fields = ("topic",)


class MqttRequestStep(FlowMixin, NodeTemplateMixin, MqttRequestOperator):
    text_fields = ("topic", "reply_topic")


class HttpWaitStep(FlowMixin, NodeTemplateMixin, HttpConditionSensor):
    text_fields = ("url",)


class ApprovalStep(FlowMixin, NodeTemplateMixin, ApprovalOperator):
    pass


class SubWorkflowStep(FlowMixin, NodeTemplateMixin, SubWorkflowOperator):
    pass


class DelayStep(FlowMixin, NodeTemplateMixin, DelayOperator):
    pass


class WaitUntilStep(FlowMixin, NodeTemplateMixin, WaitUntilOperator):
    text_fields = ("until",)


class ConditionStep(FlowMixin, NodeTemplateMixin, ConditionOperator):
    def chosen_branches(self, output: Any) -> set[str | None]:
        return set(output["branches"])


class EndStep(FlowMixin, NodeTemplateMixin, EndOperator):
    text_fields = ("reason",)

    def _finish(self, context: Any, output: Any) -> Any:
        reason = output["reason"] or f"end node `{self.task_id}` reached"
        self._end_run(context, output["result"] == "success", reason, {"node": self.task_id})
        return output


def _http_request(config: dict) -> tuple[type, dict[str, Any]]:
    return HttpRequestStep, {
        "url": config["url"],
        "method": config.get("method", "GET"),
        "json_body": config.get("json"),
        "body": config.get("body"),
        "headers": config.get("headers") or {},
        "http_conn_id": config.get("conn_id"),
        "fail_on_status": config.get("fail_on_status", True),
    }


def _mqtt_publish(config: dict) -> tuple[type, dict[str, Any]]:
    return MqttPublishStep, {
        "topic": config["topic"],
        "payload": config.get("payload", ""),
        "qos": config.get("qos", 1),
        "retain": config.get("retain", False),
    }


def _mqtt_wait(config: dict) -> tuple[type, dict[str, Any]]:
    return MqttWaitStep, {
        "topic": config["topic"],
        "condition": config.get("condition"),
        "timeout_seconds": config.get("timeout_seconds"),
        "since": config.get("since", "upstream"),
    }


def _mqtt_request(config: dict) -> tuple[type, dict[str, Any]]:
    names = ("topic", "payload", "reply_topic", "qos", "correlation", "correlation_field", "condition")
    return MqttRequestStep, {
        **{name: config[name] for name in names if name in config},
        "timeout_seconds": config.get("timeout_seconds"),
    }


def _http_wait(config: dict) -> tuple[type, dict[str, Any]]:
    return HttpWaitStep, {
        "url": config["url"],
        "condition": config["condition"],
        "method": config.get("method", "GET"),
        "headers": config.get("headers") or None,
        "json_body": config.get("json"),
        "http_conn_id": config.get("conn_id"),
        "interval_seconds": config.get("interval_seconds", 10),
        "timeout_seconds": config.get("timeout_seconds"),
    }


STEPS: dict[str, Callable[[dict], tuple[type, dict[str, Any]]]] = {
    "mqtt_request": _mqtt_request,
    "http_wait": _http_wait,
    "approval": lambda config: (
        ApprovalStep,
        {
            "subject": config["subject"],
            "body": config.get("body") or None,
            "reject_fails": config.get("reject_fails", False),
            "timeout_seconds": config.get("timeout_seconds"),
        },
    ),
    "sub_workflow": lambda config: (
        SubWorkflowStep,
        {
            "workflow_key": config["workflow"],
            "workflow_params": config.get("params") or {},
            "timeout_seconds": config.get("timeout_seconds"),
        },
    ),
    "http_request": _http_request,
    "mqtt_publish": _mqtt_publish,
    "mqtt_wait": _mqtt_wait,
    "delay": lambda config: (DelayStep, {"seconds": config["seconds"]}),
    "wait_until": lambda config: (
        WaitUntilStep,
        {"until": config["until"], "timezone": config.get("timezone", "UTC")},
    ),
    "condition": lambda config: (
        ConditionStep,
        {
            "branches": config["branches"],
            "default": config.get("default", "default"),
            "mode": config.get("mode", "first"),
        },
    ),
    "end": lambda config: (
        EndStep,
        {"result": config.get("result", "success"), "reason": config.get("reason", "")},
    ),
}


def step_arguments(node: Node) -> tuple[type, dict[str, Any]]:
    """The operator class for ``node`` and the arguments its config turns into."""
    try:
        make = STEPS[node.kind]
    except KeyError:
        raise ValueError(f"node kind {node.kind!r} cannot be built into a step") from None
    return make(node.config)
