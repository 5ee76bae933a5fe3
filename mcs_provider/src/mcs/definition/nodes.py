"""The node kinds and the shape of each kind's ``config``."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TEMPLATE = re.compile(r"{{.*?}}|{%.*?%}", re.S)


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

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, topic: str) -> str:
        if "+" in TEMPLATE.sub("", topic) or "#" in TEMPLATE.sub("", topic):
            raise ValueError(f"a publish topic cannot hold the wildcards `+` or `#`, found {topic!r}")
        return topic


class MqttWaitConfig(KindConfig):
    """Wait, deferred, until a message whose payload satisfies ``condition`` arrives on ``topic``."""

    topic: str = Field(min_length=1, max_length=400, description="Topic filter; `+` and `#` allowed.")
    condition: str | None = Field(None, description="Expression over `payload`, `topic` and `params`.")
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)
    since: Literal["upstream", "run_start", "now"] = Field(
        "upstream", description="Oldest message that counts: from when the step before started, by default."
    )

    @field_validator("condition")
    @classmethod
    def _safe_condition(cls, condition: str | None) -> str | None:
        from mcs.errors import ExpressionError
        from mcs.expressions import validate_expression

        if condition and condition.strip():
            try:
                validate_expression(condition)
            except ExpressionError as exc:
                raise ValueError(str(exc)) from exc
        return condition


class DelayConfig(KindConfig):
    """Wait, deferred, for a fixed time."""

    seconds: float = Field(gt=0, le=90 * 24 * 3600)


NODE_KINDS: dict[str, type[KindConfig]] = {
    "http_request": HttpRequestConfig,
    "mqtt_publish": MqttPublishConfig,
    "mqtt_wait": MqttWaitConfig,
    "delay": DelayConfig,
}
