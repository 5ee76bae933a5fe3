"""Delay step: wait a fixed time without holding a worker slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator


class DelayOperator(BaseOperator):
    """
    Defer for ``seconds``, then finish.

    :param seconds: how long to wait
    """

    def __init__(self, *, seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC)
        moment = started_at + timedelta(seconds=self.seconds)
        self.log.info("Waiting %s s, until %s", self.seconds, moment.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment=moment),
            method_name="execute_complete",
            kwargs={"started_at": started_at.isoformat()},
        )

    def execute_complete(self, context: Any, event: Any = None, started_at: str = "") -> dict[str, Any]:
        return {"waited_seconds": self.seconds, "started_at": started_at}
