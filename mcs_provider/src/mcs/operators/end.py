"""End step: finish the run now, as success or as failure, with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator


class EndOperator(BaseOperator):
    """
    Mark the run's remaining steps skipped; fail this step when the result is ``failure``.

    The ending itself is done by :class:`mcs.operators.flow.FlowMixin`, which every step has.

    :param result: ``success`` or ``failure``
    :param reason: recorded in the run's history
    """

    template_fields = ("reason",)

    def __init__(self, *, result: str = "success", reason: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result
        self.reason = reason

    def execute(self, context: Any) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, "started_at": datetime.now(UTC).isoformat()}
