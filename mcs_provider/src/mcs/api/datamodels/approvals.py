"""Request and response shapes of the approval routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ApprovalState = Literal["pending", "answered", "closed"]


class ApprovalBody(BaseModel):
    answer: str = Field(min_length=1, max_length=100, description="One of the approval's `options`.")
    comment: str = Field("", max_length=1000, description="Why; kept with the answer.")


class ApprovalResponse(BaseModel):
    node_key: str
    subject: str
    body: str | None
    options: list[str]
    state: ApprovalState = Field(
        description="`pending`: waiting for an answer; `answered`; `closed`: no answer and no longer "
        "waiting (timed out, or the run was stopped)."
    )
    answer: str | None = None
    by: str | None = Field(None, description="Name of the user who answered.")
    comment: str = ""
    asked_at: datetime
    answered_at: datetime | None = None
    node_state: str | None = Field(None, description="Airflow's state of the step.")


class ApprovalCollectionResponse(BaseModel):
    approvals: list[ApprovalResponse]
    total_entries: int
