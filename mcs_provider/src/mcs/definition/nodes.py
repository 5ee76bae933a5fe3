"""The node kinds and the shape of each kind's ``config``."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TEMPLATE = re.compile(r"{{.*?}}|{%.*?%}", re.S)


def check_publish_topic(topic: str) -> str:
    if "+" in TEMPLATE.sub("", topic) or "#" in TEMPLATE.sub("", topic):
        raise ValueError(f"a publish topic cannot hold the wildcards `+` or `#`, found {topic!r}")
    return topic


def safe_expression(expression: str | None) -> str | None:
    """Reject an expression that could reach Python internals (checked again at run time)."""
    from mcs.errors import ExpressionError
    from mcs.expressions import validate_expression

    if expression and expression.strip():
        try:
            validate_expression(expression)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from exc
    return expression


def check_timezone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {zone!r}, expected an IANA name such as `Asia/Shanghai`"
        ) from exc
    return zone


class KindConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpRequestConfig(KindConfig):
    """Call an HTTP API; the node's output is the status, headers and body of the response."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1, description="Absolute URL, or a path when `conn_id` names a base URL.")
    conn_id: str | None = Field(None, description="Airflow HTTP Connection that holds the base URL and auth.")
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json", description="JSON body; strings inside may be templates.")
    body: str | None = Field(None, description="Raw body, used when `json` is not given.")
    fail_on_status: bool = Field(True, description="Fail the node on a 4xx or 5xx answer.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check_url(self) -> HttpRequestConfig:
        if not self.conn_id and not re.match(r"^(https?://|{{)", self.url):
            raise ValueError(
                f"`url` must start with http:// or https:// when no `conn_id` is set, found {self.url!r}"
            )
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either `json` or `body`, not both")
        return self


class MqttPublishConfig(KindConfig):
    """Publish one MQTT message."""

    topic: str = Field(min_length=1, max_length=400)
    payload: Any = Field("", description="Text, number or JSON; strings inside may be templates.")
    qos: Literal[0, 1, 2] = 1
    retain: bool = False

    _topic = field_validator("topic")(lambda cls, value: check_publish_topic(value))


class MqttWaitConfig(KindConfig):
    """Wait, deferred, until a message whose payload satisfies ``condition`` arrives on ``topic``."""

    topic: str = Field(min_length=1, max_length=400, description="Topic filter; `+` and `#` allowed.")
    condition: str | None = Field(None, description="Expression over `payload`, `topic` and `params`.")
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)
    since: Literal["upstream", "run_start", "now"] = Field(
        "upstream", description="Oldest message that counts: from when the step before started, by default."
    )

    _safe = field_validator("condition")(lambda cls, value: safe_expression(value))


class DelayConfig(KindConfig):
    """Wait, deferred, for a fixed time."""

    seconds: float = Field(gt=0, le=90 * 24 * 3600)


class WaitUntilConfig(KindConfig):
    """Wait, deferred, until a moment: an ISO-8601 time (a template is allowed)."""

    until: str = Field(min_length=1, description="e.g. `2026-12-24T08:00:00+08:00` or a template.")
    timezone: str = Field("UTC", description="Zone of an `until` written without an offset.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return check_timezone(zone)


class Branch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    when: str = Field(min_length=1, description="Expression over `nodes` and `params`.")

    _safe = field_validator("when")(lambda cls, value: safe_expression(value))


class ConditionConfig(KindConfig):
    """Choose branches: each outgoing edge names a branch; the others are skipped all the way down."""

    branches: list[Branch] = Field(min_length=1, max_length=50)
    default: str | None = Field("default", description="Branch taken when no expression holds.")
    mode: Literal["first", "all"] = Field("first", description="Take the first branch that holds, or all.")


class GroupConfig(KindConfig):
    """A container: nodes whose `parent` is this group run inside it."""


class EndConfig(KindConfig):
    """Finish the run now: nothing after it runs."""

    result: Literal["success", "failure"] = "success"
    reason: str = Field("", max_length=1000)


class SubWorkflowConfig(KindConfig):
    """Run another published workflow as its own run and wait for it, deferred."""

    workflow: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)


class MqttRequestConfig(KindConfig):
    """Publish a command and wait for the correlated reply (subscribed before publishing)."""

    topic: str = Field(min_length=1, max_length=400)
    payload: Any = ""
    reply_topic: str = Field(min_length=1, max_length=400)
    qos: Literal[0, 1, 2] = 1
    correlation: Literal["mqtt5", "field"] = "mqtt5"
    correlation_field: str = Field("request_id", min_length=1, max_length=100)
    condition: str | None = None
    timeout_seconds: int | None = Field(60, gt=0, le=90 * 24 * 3600)

    _safe = field_validator("condition")(lambda cls, value: safe_expression(value))
    _topic = field_validator("topic")(lambda cls, value: check_publish_topic(value))


class HttpWaitConfig(KindConfig):
    """Poll an HTTP endpoint, deferred, until an expression over `status`, `headers` and `body` holds."""

    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "HEAD"] = "GET"
    conn_id: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")
    condition: str = Field(min_length=1)
    interval_seconds: int = Field(10, ge=1, le=24 * 3600)
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _safe = field_validator("condition")(lambda cls, value: safe_expression(value))


class ApprovalConfig(KindConfig):
    """Wait for a person to approve or reject, from the MCS API or the console."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=5000)
    reject_fails: bool = Field(False, description="Fail the step on reject instead of passing the answer on.")
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)


NODE_KINDS: dict[str, type[KindConfig]] = {
    "http_request": HttpRequestConfig,
    "mqtt_publish": MqttPublishConfig,
    "mqtt_wait": MqttWaitConfig,
    "mqtt_request": MqttRequestConfig,
    "http_wait": HttpWaitConfig,
    "delay": DelayConfig,
    "wait_until": WaitUntilConfig,
    "approval": ApprovalConfig,
    "condition": ConditionConfig,
    "group": GroupConfig,
    "sub_workflow": SubWorkflowConfig,
    "end": EndConfig,
}

# Kinds that wait and so may time out; `on_timeout` applies to them.
WAITING_KINDS = frozenset({"mqtt_wait", "mqtt_request", "http_wait", "approval", "sub_workflow"})
