"""The pydantic model of a workflow definition (design section 5)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mcs.definition.nodes import NODE_KINDS, KindConfig, check_timezone, safe_expression

# Unicode word characters, dot and dash: Chinese keys work, spaces and slashes do not. Airflow
# accepts the same characters in dag and task ids.
KEY_PATTERN = r"^[\w.-]+$"
KEY_RE = re.compile(KEY_PATTERN)


RESERVED_KEYS = frozenset({"mcs_result"})


def check_key(value: str) -> str:
    if value in RESERVED_KEYS:
        raise ValueError(f"the key {value!r} is reserved for MCS's own steps")
    if not KEY_RE.match(value):
        raise ValueError(
            f"a key may hold only letters, digits, `_`, `-` and `.` (no spaces or slashes), found {value!r}"
        )
    return value


class Position(BaseModel):
    x: float = 0
    y: float = 0


class Rule(BaseModel):
    """After the node finishes: when ``when`` holds over its output, skip later nodes or end the run."""

    model_config = ConfigDict(extra="forbid")

    when: str = Field(min_length=1, description="Expression over `output`, `nodes` and `params`.")
    action: Literal["skip", "end_success", "end_failure"]
    targets: list[str] = Field(default_factory=list, description="Keys of the later nodes to skip.")
    reason: str = Field("", max_length=1000)

    _safe = field_validator("when")(lambda cls, value: safe_expression(value))


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=100)
    kind: str = Field(description="One of: " + ", ".join(NODE_KINDS))
    name: str = Field("", max_length=200)
    description: str = ""
    parent: str | None = Field(None, description="Key of the group holding this node.")
    config: dict[str, Any] = Field(default_factory=dict)
    retries: int = Field(0, ge=0, le=20)
    retry_delay_seconds: int = Field(10, ge=0, le=24 * 3600)
    timeout_seconds: int | None = Field(None, gt=0, le=90 * 24 * 3600)
    position: Position | None = None
    rules: list[Rule] = Field(default_factory=list, max_length=50)
    on_timeout: Literal["fail", "skip", "branch"] = Field(
        "fail", description="For waiting kinds: fail, skip this node, or follow the edges marked `timeout`."
    )

    _key = field_validator("key")(check_key)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in NODE_KINDS:
            raise ValueError(f"unknown node kind {kind!r}, expected one of {', '.join(NODE_KINDS)}")
        return kind

    def typed_config(self) -> KindConfig:
        return NODE_KINDS[self.kind].model_validate(self.config)


class Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    label: str = ""
    branch: str | None = Field(
        None,
        description="From a condition: the branch it belongs to. From a wait: `timeout` for its timeout path.",
    )


class ParamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "number", "integer", "boolean", "object", "array"] = "string"
    default: Any = None
    description: str = ""
    title: str = ""


class Schedule(BaseModel):
    """When runs start by themselves: never, on a cron, every interval, or again when the last ends."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "cron", "interval", "continuous"] = "none"
    cron: str | None = Field(None, description="Five-field cron, e.g. `0 8 * * 1-5`.")
    timezone: str = "UTC"
    interval_seconds: int | None = Field(None, ge=10, le=366 * 24 * 3600)

    _zone = field_validator("timezone")(lambda cls, value: check_timezone(value))

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Schedule:
        if self.kind == "cron":
            from croniter import croniter

            if not self.cron or not croniter.is_valid(self.cron):
                raise ValueError(f"`cron` must be a valid cron expression, found {self.cron!r}")
        if self.kind == "interval" and not self.interval_seconds:
            raise ValueError("`interval_seconds` is required for an interval schedule")
        return self


class AlertWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", max_length=2000)
    format: Literal["json", "dingtalk", "wecom", "feishu"] = "json"


class Alerts(BaseModel):
    """Where alerts go when a run fails or a wait times out."""

    model_config = ConfigDict(extra="forbid")

    on: list[Literal["run_failed", "wait_timeout"]] = Field(
        default_factory=lambda: ["run_failed", "wait_timeout"]
    )
    mqtt: bool = Field(True, description="Publish alerts on `mcs/workflows/{key}/events`.")
    webhooks: list[AlertWebhook] = Field(default_factory=list, max_length=10)


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    owner: str = ""
    tags: list[str] = Field(default_factory=list, max_length=20)
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    schedule: Schedule = Field(default_factory=Schedule)
    max_active_runs: int = Field(16, ge=1, le=1000)
    alerts: Alerts = Field(default_factory=Alerts)
    nodes: list[Node] = Field(min_length=1, max_length=1000)
    edges: list[Edge] = Field(default_factory=list, max_length=5000)

    _key = field_validator("key")(check_key)
