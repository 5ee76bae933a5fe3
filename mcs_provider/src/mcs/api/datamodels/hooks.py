"""Request and response shapes of the hook and control routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HookAction = Literal["start", "stop", "message"]


class HookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: HookAction = Field(description="What a call to the hook does.")
    topic: str | None = Field(
        None,
        max_length=400,
        description="`message` hooks only: a topic filter (`+`, `#` allowed) the posted topics must match. "
        "Default: the topics the workflow's waits listen on.",
    )


class HookResponse(BaseModel):
    id: int
    workflow_key: str
    action: HookAction
    url: str = Field(description="POST here with `Authorization: Bearer <token>` or `X-MCS-Token: <token>`.")
    topic: str | None
    enabled: bool
    created_at: datetime
    rotated_at: datetime | None


class HookTokenResponse(HookResponse):
    token: str = Field(description="The hook's token. Shown only now: store it, MCS keeps only its hash.")


class HookCollectionResponse(BaseModel):
    hooks: list[HookResponse]
    total_entries: int


class ControlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=1000)


class StopWorkflowResponse(BaseModel):
    workflow_key: str
    stopped_runs: list[int] = Field(description="The MCS runs that were stopped.")
    stopped_dag_runs: list[str] = Field(description="Every Airflow run that was stopped, scheduled ones too.")
    loop_stopped: bool = Field(description="True when the workflow loops and was disabled to stop the loop.")


class EnabledResponse(BaseModel):
    workflow_key: str
    enabled: bool


class CommandAnswer(BaseModel):
    """What a start or stop hook answers; the same shape as the MQTT command's ack."""

    model_config = ConfigDict(extra="allow")

    command_id: str | None
    action: str | None
    ok: bool
    duplicate: bool
    run_id: int | None = None
    error: str | None = None


class MessageAnswer(BaseModel):
    ok: bool = True
    journal_id: str = Field(description="Where the message sits in the device message journal.")
    topic: str
    published: bool = Field(
        description="False when the MQTT broker could not be reached; waits still see it."
    )
