"""The approval step: wait for a person to approve or reject, on Airflow's human-in-the-loop machinery.

The step is an Airflow :class:`HITLOperator`, so the request shows in Airflow's own "Required
actions" page as well as in MCS (``/mcs/api/v1/runs/{id}/approvals``). While it waits the task is
parked in Airflow's ``awaiting_input`` state: no worker slot, no trigger.

The options are the answer values ``approve`` and ``reject`` themselves, not display labels: the
stored answer, the API and the step's output use one word each, and the MCS UI shows them in the
user's language from its locale files. A rejection is an answer, not an error: the step succeeds
with ``answer == "reject"`` unless ``reject_fails`` is set, so a later condition can branch on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.exceptions import HITLRejectException
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskAwaitingInput

APPROVE = "approve"
REJECT = "reject"
ANSWERS = (APPROVE, REJECT)
# The one form field of the request: a free-text comment that goes with the answer.
COMMENT = "comment"


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value) if value else None


class ApprovalStep(HITLOperator):
    """Ask for an approval and wait, without a worker slot, for the answer.

    Returns (as XCom) ``{"answer": "approve" | "reject", "by", "comment", "answered_at",
    "started_at"}``; ``by`` is the name of the user who answered.

    :param subject: the headline of the request (templated).
    :param body: the details needed to decide, Markdown (templated).
    :param timeout_seconds: fail with :class:`AirflowSensorTimeout` when nobody answered within this
        many seconds (Airflow's ``response_timeout``; an ``execution_timeout`` counts as this when
        it is not given); ``None``: wait forever.
    :param reject_fails: fail the step when the answer is ``reject``; by default it succeeds with
        ``answer == "reject"``.
    :param assigned_users: who may answer, as ``{"id", "name"}`` dicts of Airflow users; ``None``:
        any user allowed to answer human-in-the-loop requests of the DAG.
    """

    template_fields: Sequence[str] = ("subject", "body")
    ui_color = "#fce5cd"

    def __init__(
        self,
        *,
        subject: str,
        body: str | None = None,
        timeout_seconds: int | None = None,
        reject_fails: bool = False,
        assigned_users: list[dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        for fixed in ("options", "multiple", "defaults"):
            if fixed in kwargs:
                raise ValueError(f"ApprovalStep sets `{fixed}` itself; do not pass it")
        # The run's params reach the step through the context; its own params are the answer form.
        kwargs.pop("params", None)
        # A node timeout given as execution_timeout is the time to answer, as in HITLOperator.
        execution_timeout = kwargs.pop("execution_timeout", None)
        if timeout_seconds is None and execution_timeout is not None:
            timeout_seconds = int(execution_timeout.total_seconds())
        super().__init__(
            subject=subject,
            body=body,
            options=list(ANSWERS),
            multiple=False,
            params={COMMENT: Param("", type=["string", "null"], title="Comment", maxLength=1000)},
            assigned_users=assigned_users,
            response_timeout=timedelta(seconds=timeout_seconds) if timeout_seconds else None,
            **kwargs,
        )
        self.timeout_seconds = timeout_seconds
        self.reject_fails = reject_fails

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC).isoformat()
        self.log.info(
            "Asking for approval: %s (answers %s, timeout %s)",
            self.subject,
            "/".join(ANSWERS),
            f"{self.timeout_seconds}s" if self.timeout_seconds else "none",
        )
        try:
            super().execute(context)
        except TaskAwaitingInput as waiting:
            # Carry started_at through the wait, as the deferring steps do with defer kwargs.
            waiting.kwargs = {**(waiting.kwargs or {}), "started_at": started_at}
            raise

    def process_trigger_event_error(self, event: dict[str, Any]) -> None:
        if event.get("error_type") == "timeout":
            raise AirflowSensorTimeout(
                f"nobody answered the approval `{self.subject}` within {self.timeout_seconds}s"
            )
        super().process_trigger_event_error(event)

    def execute_complete(
        self, context: Any, event: dict[str, Any], started_at: str | None = None
    ) -> dict[str, Any]:
        response = super().execute_complete(context=context, event=event)
        user = response.get("responded_by_user") or {}
        output = {
            "answer": response["chosen_options"][0],
            "by": user.get("name") or user.get("id"),
            "comment": (response.get("params_input") or {}).get(COMMENT) or "",
            "answered_at": _iso(response.get("responded_at")),
            "started_at": started_at,
        }
        self.log.info(
            "Approval %s answered %s by %s: %s",
            self.subject,
            output["answer"],
            output["by"],
            output["comment"] or "(no comment)",
        )
        if output["answer"] == REJECT and self.reject_fails:
            raise HITLRejectException(
                f"the approval `{self.subject}` was rejected by {output['by']}"
                + (f": {output['comment']}" if output["comment"] else "")
            )
        return output
